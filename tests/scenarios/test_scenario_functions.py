"""The example's functions on a real org (SQLite and PostgreSQL), run one by one as a workflow,
button, related list, validation or REST call would run them, against the stand-in services.

The org is built the way the demo builds it (``floodway.demo.install_demo``), so these tests
also cover the demo: the deploy, the sample records and pointing the integrations at the
stand-ins. The same scenarios driven by real workflow rules on a real server are in
``test_e2e.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from floodway.crm.service import Actor
from floodway.demo import DemoReport, DemoServices, install_demo
from floodway.functions.secrets import load_keyring
from floodway.functions.service import Functions

ROLLOUT = "Brightwater Labs - Platform rollout"


@pytest.fixture(scope="module")
def org(
    crm: Any,
    services: DemoServices,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Any, Functions, DemoReport]:
    keys = tmp_path_factory.mktemp("keys")
    keyring = load_keyring(None, data_dir=keys).keyring
    fx = Functions(crm, {"invokeurl_allow": [services.allow]}, keyring=keyring)
    report = install_demo(
        keys,
        crm=crm,
        functions=fx,
        services=services,
        floodway_url="http://127.0.0.1:9",  # payments are reported in test_e2e.py
        zapikey="unused",
    )
    return crm, fx, report


def run(fx: Functions, name: str, **arguments: Any) -> Any:
    result = fx.run(name, arguments, trigger={"type": "cli"})
    assert result.status == "success", (name, result.error, result.info)
    return result


def actor(crm: Any) -> Actor:
    return Actor(crm.primary_admin_id, "api")


def test_demo_installs_example_and_sample_records(org: Any) -> None:
    crm, fx, report = org
    counts = {module: len(ids) for module, ids in report.records.items()}
    assert counts == {"Accounts": 3, "Contacts": 5, "Deals": 6, "Tasks": 2}
    assert report.summary.startswith("3 accounts, 5 contacts, 6 deals, 2 tasks")
    assert {f.api_name for f in fx.registry.list()} >= {
        "rollup_revenue",
        "create_pm_project",
        "copy_billing_address",
        "push_to_accounting",
        "invoice_paid",
    }
    assert fx.variables.get("pm_base_url") == report.services.pm_url  # type: ignore[union-attr]
    again = install_demo(None, crm=crm, functions=fx, services=report.services)
    assert again.records == {}
    # Deploying again publishes nothing new (the variables and connections are pointed at the
    # stand-ins again after the deploy).
    assert again.deploy.versions == {}
    assert not again.deploy.kinds["function"].created + again.deploy.kinds["function"].updated
    assert fx.variables.get("pm_base_url") == report.services.pm_url  # type: ignore[union-attr]
    assert "sample records already exist; none created" in again.notes


def test_revenue_rollup_and_tier(org: Any) -> None:
    crm, fx, report = org
    account = report.records["Accounts"]["Brightwater Labs"]
    run(fx, "rollup_revenue", accountId=account)
    stored = crm.records.get("Accounts", account)
    assert (stored["Total_Revenue"], stored["Customer_Tier"]) == (24500.0, "B")
    crm.records.update(
        "Deals",
        [{"Stage": "Closed Won"}],
        actor=actor(crm),
        record_id=report.records["Deals"][ROLLOUT],
    )
    result = run(fx, "rollup_revenue", accountId=account)
    stored = crm.records.get("Accounts", account)
    assert (stored["Total_Revenue"], stored["Customer_Tier"]) == (108500.0, "A")
    assert result.info == ["Brightwater Labs: 2 won deals, 108500.0 -> tier A"]
    kestrel = report.records["Accounts"]["Kestrel Freight"]
    run(fx, "refresh_tiers")
    assert crm.records.get("Accounts", kestrel)["Customer_Tier"] == "C"


def test_project_created_once_with_oauth_connection(org: Any, services: DemoServices) -> None:
    crm, fx, report = org
    deal = report.records["Deals"]["Kestrel Freight - Pilot"]
    run(fx, "project_for_won_deal", dealId=deal)
    link = crm.records.get("Deals", deal)["Project_Link"]
    project = next(p for p in services.projects.values() if p.external_id == deal)
    assert link == project.url and link.startswith(services.pm_url + "/projects/")
    assert project.client == "Kestrel Freight"
    token_calls = services.requests_to("/pm/oauth/token")
    assert token_calls and "grant_type=client_credentials" in token_calls[-1].body
    clicked = run(fx, "create_project", dealId=deal)
    assert clicked.output == f"This deal already has a project: {link}"
    assert sum(p.external_id == deal for p in services.projects.values()) == 1


def test_billing_address_copied_to_contacts(org: Any) -> None:
    crm, fx, report = org
    account = report.records["Accounts"]["Kestrel Freight"]
    crm.records.update(
        "Accounts",
        [{"Billing_Street": "Am Sandtorkai 1", "Billing_Code": "20457", "Billing_State": None}],
        actor=actor(crm),
        record_id=account,
    )
    run(fx, "copy_billing_address", accountId=account)
    for last in ("Becker", "Albers"):
        contact = crm.records.get("Contacts", report.records["Contacts"][last])
        assert (contact["Mailing_Street"], contact["Mailing_City"], contact["Mailing_Zip"]) == (
            "Am Sandtorkai 1",
            "Hamburg",
            "20457",
        )
        assert contact["Mailing_Country"] == "Germany"
    other = crm.records.get("Contacts", report.records["Contacts"]["Raman"])
    assert other["Mailing_Street"] is None


def test_accounting_push_and_payment(org: Any, services: DemoServices) -> None:
    crm, fx, report = org
    deal = report.records["Deals"]["Marlow & Finch - Advisory retainer"]
    run(fx, "push_to_accounting", dealId=deal)
    stored = crm.records.get("Deals", deal)
    assert stored["Invoice_Status"] == "Invoiced"
    invoice = services.invoices[stored["Invoice_Number"]]
    assert invoice.payload["customer"]["name"] == "Marlow & Finch"
    assert invoice.payload["contact"]["email"] == "priya.raman@marlowfinch.example"
    assert (
        services.requests_to("/accounting/v1/invoices")[-1].headers["x-api-key"]
        == (services.credentials["ACCOUNTING_API_KEY"])
    )
    listed = run(fx, "account_invoices", accountId=report.records["Accounts"]["Marlow & Finch"])
    assert f'<FL val="Invoice">{invoice.invoice_number}</FL>' in listed.output

    def paid(body: dict[str, Any]) -> dict[str, Any]:
        request = {"http_method": "POST", "params": {}, "headers": {}, "body": body}
        # Declared string: the crmAPIResponse map comes back as its JSON text.
        out: dict[str, Any] = json.loads(run(fx, "invoice_paid", crmAPIRequest=request).output)
        return out

    wrong = paid({"reference": deal, "invoice_number": "INV-0000"})
    assert wrong["crmAPIResponse"]["status_code"] == 409
    assert crm.records.get("Deals", deal)["Invoice_Status"] == "Invoiced"
    ok = paid({"reference": deal, "invoice_number": invoice.invoice_number, "status": "paid"})
    assert ok["crmAPIResponse"] == {
        "status_code": 200,
        "body": {
            "deal_id": deal,
            "invoice_number": invoice.invoice_number,
            "invoice_status": "Paid",
        },
    }
    assert crm.records.get("Deals", deal)["Invoice_Status"] == "Paid"


def test_validation_requires_amount_on_won_deals(org: Any) -> None:
    _, fx, _ = org
    blocked = run(fx, "validate_deal", crmAPIRequest={"record": {"Stage": "Closed Won"}})
    assert blocked.output == {"status": "error", "message": "A Closed Won deal needs an Amount"}
    allowed = run(
        fx, "validate_deal", crmAPIRequest={"record": {"Stage": "Closed Won", "Amount": 10.0}}
    )
    assert allowed.output == {"status": "success"}


def test_example_dir_is_found(tmp_path: Path) -> None:
    from floodway.demo import example_project

    assert (example_project() / "floodway.toml").is_file()
