"""The four scenarios end to end: a real ``floodway serve`` on 127.0.0.1 with a fresh data
directory, the example project applied with ``floodway deploy``, and everything else done over
HTTP as users and outside systems do it: records written through the REST API, the effects
awaited (workflow actions run in the background), the outside services played by real HTTP
servers on 127.0.0.1, and the accounting service reporting a payment through the REST function.

SQLite: one ``serve`` process runs the jobs itself. PostgreSQL: ``serve --no-worker`` and a
separate ``floodway worker`` process, as a multi-node installation runs.
"""

from __future__ import annotations

import contextlib
import itertools
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from floodway.crm.testing import temporary_postgres_database
from floodway.demo import DemoServices

from .conftest import EXAMPLE, Api, Process, cli, cli_json, start_process, wait_for

_names = itertools.count(1)


def name(prefix: str) -> str:
    """Record names unique within the module's org."""
    return f"{prefix} {next(_names)} {secrets.token_hex(2)}"


@dataclass
class Stack:
    api: Api
    url: str
    zapikey: str
    processes: list[Process] = field(default_factory=list)

    def logs(self) -> str:
        return "\n".join(p.tail() for p in self.processes)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def stack(
    request: pytest.FixtureRequest,
    services: DemoServices,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    data = tmp_path_factory.mktemp("e2e") / "data"  # created by the first command
    with _database(request.param) as db_args:
        args = ["--data", str(data), *db_args]
        env = {
            # loopback is refused unless the operator allows it; exactly the stand-ins' port
            "FLOODWAY_INVOKEURL_ALLOW": services.allow,
            "FLOODWAY_RATE_LIMIT_PER_S": "0",
        }
        client = cli_json("clients", "create", "scenarios-e2e", *args, "--json", env=env)
        zapikey = cli_json("apikey", *args, "--json", env=env)["zapikey"]
        # The connection secrets come from the environment of the deploy, never from a file.
        deployed = cli("deploy", str(EXAMPLE), *args, "--json", env={**env, **services.credentials})
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        processes: list[Process] = []
        try:
            if request.param == "postgresql":
                server, url = start_process(
                    "serve", ["serve", "--port", "0", "--no-worker", *args], "serving on ", env
                )
                processes.append(server)
                worker, _ = start_process("worker", ["worker", *args], "worker running", env)
                processes.append(worker)
            else:
                server, url = start_process(
                    "serve", ["serve", "--port", "0", *args], "serving on ", env
                )
                processes.append(server)
            token = httpx.post(
                f"{url}/oauth/v2/token",
                data={"grant_type": "refresh_token", **client},
                trust_env=False,
            ).json()["access_token"]
            api = Api(url, token)
            _point_integrations_at(api, services, url, zapikey)
            yield Stack(api, url, zapikey, processes)
            api.close()
        finally:
            codes = {p.name: p.stop() for p in processes}
        assert all(code == 0 for code in codes.values()), (
            codes,
            "\n".join(p.tail() for p in processes),
        )


@contextlib.contextmanager
def _database(backend: str) -> Iterator[list[str]]:
    """``--database-url`` arguments: none for SQLite, a fresh PostgreSQL database otherwise."""
    if backend == "sqlite":
        yield []
        return
    with temporary_postgres_database() as url:
        yield ["--database-url", url]


def _point_integrations_at(api: Api, services: DemoServices, url: str, zapikey: str) -> None:
    """What an operator does for a staging org: the org variables and connections moved to the
    local services (the example ships with *.example.com), all through the admin API."""
    for variable, value in (
        ("pm_base_url", services.pm_url),
        ("accounting_base_url", services.accounting_url),
    ):
        put = api.http.put(f"/api/variables/{variable}", json={"value": value})
        assert put.status_code in (200, 201), put.text
    creds = services.credentials
    for connection, body in (
        (
            "pm_service",
            {
                "type": "oauth2_client_credentials",
                "token_url": f"{services.pm_url}/oauth/token",
                "client_id": creds["PM_CLIENT_ID"],
                "client_secret": creds["PM_CLIENT_SECRET"],
                "hosts": [services.allow],
            },
        ),
        (
            "accounting",
            {
                "type": "api_key",
                "api_key": creds["ACCOUNTING_API_KEY"],
                "api_key_header": "X-Api-Key",
                "hosts": [services.allow],
            },
        ),
    ):
        put = api.http.put(f"/api/connections/{connection}", json=body)
        assert put.status_code in (200, 201), put.text
    # The accounting service is told where to report payments: floodway's REST function.
    services.callback_url = (
        f"{url}/crm/v8/functions/invoice_paid/actions/execute?auth_type=apikey&zapikey={zapikey}"
    )


def _account(api: Api, **extra: Any) -> str:
    return api.create("Accounts", {"Account_Name": name("Account"), **extra})


def _deal(api: Api, account: str | None, amount: float, contact: str | None = None) -> str:
    record: dict[str, Any] = {
        "Deal_Name": name("Deal"),
        "Stage": "Qualification",
        "Amount": amount,
        "Closing_Date": "2026-09-30",
    }
    if account is not None:
        record["Account_Name"] = {"id": account}
    if contact is not None:
        record["Contact_Name"] = {"id": contact}
    return api.create("Deals", record)


def _executions(stack: Stack, function: str) -> str:
    rows = stack.api.executions(function)
    shown = [(r.get("status"), r.get("error")) for r in rows[:5]]
    return f"executions of {function}: {shown}\n{stack.logs()}"


# ---- scenario 1 -----------------------------------------------------------------------------


def test_won_deals_roll_up_revenue_and_tier(stack: Stack) -> None:
    api = stack.api
    account = _account(api)
    first = _deal(api, account, 80_000)
    second = _deal(api, account, 30_000)
    api.update("Deals", first, {"Stage": "Negotiation/Review"})  # not won: no roll-up
    api.update("Deals", first, {"Stage": "Closed Won"})

    def tier_is(tier: str) -> Any:
        record = api.get("Accounts", account)
        return record if record.get("Customer_Tier") == tier else None

    diagnose = lambda: _executions(stack, "rollup_revenue")  # noqa: E731
    rolled = wait_for("tier B after the first won deal", lambda: tier_is("B"), diagnose=diagnose)
    assert rolled["Total_Revenue"] == 80_000
    api.update("Deals", second, {"Stage": "Closed Won"})
    rolled = wait_for("tier A after the second won deal", lambda: tier_is("A"), diagnose=diagnose)
    assert rolled["Total_Revenue"] == 110_000
    runs = api.executions("rollup_revenue")
    assert runs and all(r["status"] == "success" for r in runs), runs


# ---- scenario 2 -----------------------------------------------------------------------------


def test_won_deal_gets_a_project_link(stack: Stack, services: DemoServices) -> None:
    api = stack.api
    deal = _deal(api, _account(api), 45_000)
    api.update("Deals", deal, {"Stage": "Closed Won"})
    record = wait_for(
        "the deal's Project_Link",
        lambda: (r := api.get("Deals", deal)).get("Project_Link") and r,
        diagnose=lambda: _executions(stack, "project_for_won_deal"),
    )
    project = next(p for p in services.projects.values() if p.external_id == deal)
    assert record["Project_Link"] == project.url
    assert project.budget == 45_000
    # The token came from the client-credentials grant; the project call carried it.
    assert any(
        "grant_type=client_credentials" in s.body for s in services.requests_to("/pm/oauth/token")
    )
    calls = [s for s in services.requests_to("/pm/api/projects") if deal in s.body]
    assert calls and calls[0].headers["authorization"].removeprefix("Bearer ") in services.tokens
    assert httpx.get(project.url, trust_env=False).status_code == 200


# ---- scenario 3 -----------------------------------------------------------------------------


def test_billing_address_change_reaches_all_contacts(stack: Stack) -> None:
    api = stack.api
    account = _account(api, Billing_Street="1 Old Road", Billing_City="Leeds")
    other = _account(api, Billing_Street="9 Elsewhere")
    ours = [
        api.create("Contacts", {"Last_Name": name("Contact"), "Account_Name": {"id": account}})
        for _ in range(3)
    ]
    theirs = api.create("Contacts", {"Last_Name": name("Contact"), "Account_Name": {"id": other}})
    new = {
        "Billing_Street": "27 Canal Street",
        "Billing_City": "Manchester",
        "Billing_State": "Greater Manchester",
        "Billing_Code": "M1 3HE",
        "Billing_Country": "United Kingdom",
    }
    api.update("Accounts", account, new)
    expected = {
        "Mailing_Street": "27 Canal Street",
        "Mailing_City": "Manchester",
        "Mailing_State": "Greater Manchester",
        "Mailing_Zip": "M1 3HE",
        "Mailing_Country": "United Kingdom",
    }

    def copied() -> bool:
        for contact in ours:
            record = api.get("Contacts", contact)
            if any(record.get(k) != v for k, v in expected.items()):
                return False
        return True

    wait_for(
        "the mailing address on all contacts",
        copied,
        diagnose=lambda: _executions(stack, "copy_billing_address"),
    )
    assert api.get("Contacts", theirs).get("Mailing_Street") is None


# ---- scenario 4 -----------------------------------------------------------------------------


def test_won_deal_invoiced_and_payment_marks_it_paid(stack: Stack, services: DemoServices) -> None:
    api = stack.api
    account = _account(api, Billing_Street="4 Quay Street", Billing_City="Cork")
    contact = api.create(
        "Contacts",
        {
            "First_Name": "Aoife",
            "Last_Name": name("Byrne"),
            "Email": "aoife@example.com",
            "Account_Name": {"id": account},
        },
    )
    deal = _deal(api, account, 12_500, contact)
    api.update("Deals", deal, {"Stage": "Closed Won"})
    record = wait_for(
        "the deal to be invoiced",
        lambda: (r := api.get("Deals", deal)).get("Invoice_Status") == "Invoiced" and r,
        diagnose=lambda: _executions(stack, "push_to_accounting"),
    )
    number = record["Invoice_Number"]
    invoice = services.invoices[number]
    assert invoice.reference == deal
    assert invoice.payload["customer"]["reference"] == account
    assert invoice.payload["customer"]["street"] == "4 Quay Street"
    assert invoice.payload["contact"]["email"] == "aoife@example.com"
    assert invoice.amount == 12_500

    # A call for another invoice number is refused and changes nothing.
    rest = f"{stack.url}/crm/v8/functions/invoice_paid/actions/execute"
    wrong = httpx.post(
        rest,
        params={"auth_type": "apikey", "zapikey": stack.zapikey},
        json={"reference": deal, "invoice_number": "INV-0000-0000", "status": "paid"},
        trust_env=False,
    )
    assert wrong.status_code == 409, wrong.text
    assert api.get("Deals", deal)["Invoice_Status"] == "Invoiced"

    # The customer pays: the accounting service reports it to floodway's REST function.
    paid = httpx.post(
        f"{services.accounting_url}/v1/invoices/{number}/pay",
        headers={"X-Api-Key": services.credentials["ACCOUNTING_API_KEY"]},
        trust_env=False,
        timeout=60,
    )
    assert paid.status_code == 200, paid.text
    assert paid.json() == {"deal_id": deal, "invoice_number": number, "invoice_status": "Paid"}
    assert api.get("Deals", deal)["Invoice_Status"] == "Paid"


def test_every_example_function_is_live(stack: Stack) -> None:
    response = stack.api.http.get("/api/functions")
    assert response.status_code == 200, response.text
    live = {f["api_name"] for f in response.json()["functions"] if f["live_version"]}
    assert live == {p.stem for p in (EXAMPLE / "functions").glob("*.dg")}


# ---- around the scenarios: buttons, related list, validation rule ---------------------------


def _item_id(api: Api, path: str, key: str, name: str) -> str:
    response = api.http.get(path)
    assert response.status_code == 200, response.text
    return next(str(i["id"]) for i in response.json()[key] if i["name"] == name)


def test_buttons_and_related_list(stack: Stack, services: DemoServices) -> None:
    api = stack.api
    account = _account(api)
    deal = _deal(api, account, 5_000)
    create = _item_id(api, "/api/buttons", "buttons", "Create project")
    clicked = api.http.post(f"/api/buttons/{create}/run", json={"ids": [deal]})
    assert clicked.status_code == 200, clicked.text
    link = api.get("Deals", deal)["Project_Link"]
    assert clicked.json()["message"] == f"Project created: {link}"
    again = api.http.post(f"/api/buttons/{create}/run", json={"ids": [deal]}).json()
    assert again["message"] == f"This deal already has a project: {link}"

    api.update("Deals", deal, {"Stage": "Closed Won"})
    record = wait_for(
        "the deal to be invoiced",
        lambda: (r := api.get("Deals", deal)).get("Invoice_Number") and r,
        diagnose=lambda: _executions(stack, "push_to_accounting"),
    )
    assert api.get("Deals", deal)["Project_Link"] == link  # the rule kept the button's project
    invoices = _item_id(api, "/api/related-lists", "related_lists", "Invoices")
    shown = api.http.get(f"/api/records/Accounts/{account}/related-functions/{invoices}")
    assert shown.status_code == 200, shown.text
    table = shown.json()
    assert table["error"] is None, table
    assert [row["Invoice"] for row in table["rows"]] == [record["Invoice_Number"]]

    recalc = _item_id(api, "/api/buttons", "buttons", "Recalculate revenue")
    clicked = api.http.post(f"/api/buttons/{recalc}/run", json={"ids": [deal]})
    assert clicked.json()["message"] == "Recalculated 1 account(s).", clicked.text
    assert api.get("Accounts", account)["Total_Revenue"] == 5_000


def test_validation_rule_refuses_won_deal_without_amount(stack: Stack) -> None:
    api = stack.api
    deal = api.create(
        "Deals", {"Deal_Name": name("Deal"), "Stage": "Qualification", "Closing_Date": "2026-09-30"}
    )
    refused = api.http.put(f"/crm/v8/Deals/{deal}", json={"data": [{"Stage": "Closed Won"}]})
    item = refused.json()["data"][0]
    assert item["code"] == "INVALID_DATA", refused.text
    assert item["message"] == "A Closed Won deal needs an Amount"
    assert item["details"] == {"validation_rule": "Won deals need an amount"}
    assert api.get("Deals", deal)["Stage"] == "Qualification"
