"""The demo org (console-ux.md §4): ``examples/crm-scenarios`` deployed, sample records, and
stand-ins for the two outside services the scenarios call, so that everything runs offline.

Where the example comes from. ``examples/crm-scenarios`` in the repository is the only copy that
is edited. A wheel carries it as ``floodway/examples_data/crm-scenarios`` (``setup.py`` copies it
in at build time, ``MANIFEST.in`` puts it in the sdist); a checkout or an editable install reads
the repository directory itself. ``example_project()`` finds whichever exists.

Typical use, by whatever starts a demo server::

    report = install_demo(data_dir, crm=crm, functions=fx, automation=auto,
                          floodway_url="http://127.0.0.1:8000")
    echo(f"demo installed ({report.summary})")   # stand-in services started on 127.0.0.1

``install_demo`` may run on every start: deploying the example again publishes nothing new (only
the variables and connections are pointed at the new stand-ins), and the sample records are
created only when the org has none of them yet.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import httpx

__all__ = [
    "DEMO_CREDENTIALS",
    "EXAMPLE_NAME",
    "DemoReport",
    "DemoServices",
    "example_project",
    "install_demo",
]

log = logging.getLogger("floodway.demo")

EXAMPLE_NAME: Final = "crm-scenarios"
# The secrets the example's [[connection]] tables read from the environment; the stand-ins accept
# exactly these. Real values in the environment win (a demo pointed at real services).
DEMO_CREDENTIALS: Final = {
    "PM_CLIENT_ID": "demo-pm-client",
    "PM_CLIENT_SECRET": "demo-pm-secret",
    "ACCOUNTING_API_KEY": "demo-accounting-key",
}
# The first account's name marks an org that already holds the sample records.
_MARKER_ACCOUNT: Final = "Brightwater Labs"


def example_project() -> Path:
    """The directory of the example project: the packaged copy, else the repository's."""
    packaged = resources.files("floodway") / "examples_data" / EXAMPLE_NAME
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[2] / "examples" / EXAMPLE_NAME
    if (checkout / "floodway.toml").is_file():
        return checkout
    raise FileNotFoundError(
        f"the example project {EXAMPLE_NAME} is not installed (looked in {packaged} and "
        f"{checkout}); reinstall floodway from a wheel or a checkout"
    )


# ---------------------------------------------------------------------------------------------
# Stand-in services


@dataclass
class Project:
    id: str
    name: str
    client: str | None
    budget: Any
    external_id: str | None
    url: str


@dataclass
class Invoice:
    invoice_number: str
    reference: str
    description: str | None
    amount: Any
    customer: dict[str, Any] | None
    contact: dict[str, Any] | None
    status: str
    url: str
    payload: dict[str, Any] = field(repr=False, default_factory=dict)


@dataclass(frozen=True)
class Seen:
    """One request a stand-in received (tests assert on these)."""

    method: str
    path: str
    headers: dict[str, str]
    body: str


class DemoServices:
    """A project-management service (OAuth 2 client credentials) and an accounting service (API
    key) on one loopback HTTP server, under ``/pm`` and ``/accounting``:

    - ``POST /pm/oauth/token`` (form, client id and secret in the body or Basic) → a bearer token
    - ``POST /pm/api/projects`` (JSON, bearer token) → ``201 {"id", "name", "url"}``
    - ``GET  /pm/projects/<id>`` → a small HTML page (the project link opens something)
    - ``POST /accounting/v1/invoices`` (JSON, ``X-Api-Key``) → ``201 {"invoice_number", ...}``
    - ``GET  /accounting/v1/invoices?customer=<account id>`` → ``{"invoices": [...]}``
    - ``POST /accounting/v1/invoices/<number>/pay`` → marks it paid and reports the payment to
      floodway's REST function ``invoice_paid`` (``callback_url``), answering with what floodway said

    Unauthenticated calls get 401, so a wrong connection shows up as a failed execution.
    """

    def __init__(self, server: ThreadingHTTPServer, credentials: Mapping[str, str]) -> None:
        self._server = server
        self._thread: threading.Thread | None = None
        self.credentials = dict(credentials)
        host, port = server.server_address[:2]
        self.origin = f"http://{host}:{port}"
        self.allow = f"{host}:{port}"  # the FLOODWAY_INVOKEURL_ALLOW entry for these services
        self.pm_url = f"{self.origin}/pm"
        self.accounting_url = f"{self.origin}/accounting"
        self.callback_url: str | None = None  # invoice_paid, with the API key in the query
        self.projects: dict[str, Project] = {}
        self.invoices: dict[str, Invoice] = {}
        self.tokens: set[str] = set()
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._numbers = itertools.count(1001)

    @classmethod
    def start(
        cls, host: str = "127.0.0.1", port: int = 0, credentials: Mapping[str, str] | None = None
    ) -> DemoServices:
        creds = dict(DEMO_CREDENTIALS if credentials is None else credentials)
        box: list[DemoServices] = []

        class Handler(_Handler):
            services_box = box

        server = ThreadingHTTPServer((host, port), Handler)
        server.daemon_threads = True
        services = cls(server, creds)
        box.append(services)
        services._thread = threading.Thread(
            target=server.serve_forever, name="floodway-demo-services", daemon=True
        )
        services._thread.start()
        return services

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> DemoServices:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- helpers for tests and the console ------------------------------------------------------

    def requests_to(self, path_prefix: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.path.startswith(path_prefix)]

    def pay(self, invoice_number: str) -> httpx.Response:
        """What the accounting service does when the customer pays: the invoice becomes paid
        and floodway hears about it through the REST function."""
        with self._lock:
            invoice = self.invoices.get(invoice_number)
            if invoice is None:
                raise KeyError(f"no invoice {invoice_number}")
            invoice.status = "paid"
            callback = self.callback_url
        if callback is None:
            raise RuntimeError("callback_url is not set: where is floodway's invoice_paid?")
        body = {"reference": invoice.reference, "invoice_number": invoice_number, "status": "paid"}
        return httpx.post(callback, json=body, timeout=30, trust_env=False)

    # -- the services ------------------------------------------------------------------------

    def handle(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> tuple[int, str, bytes]:
        """(status, content type, body) for one request."""
        with self._lock:
            self.seen.append(Seen(method, path, headers, body.decode("utf-8", "replace")))
        if path == "/pm/oauth/token" and method == "POST":
            return self._token(headers, body)
        if path == "/pm/api/projects" and method == "POST":
            return self._create_project(headers, body)
        if path.startswith("/pm/projects/") and method == "GET":
            return self._project_page(path.rsplit("/", 1)[1])
        if path.startswith("/accounting/"):
            if headers.get("x-api-key") != self.credentials["ACCOUNTING_API_KEY"]:
                return _json(401, {"error": "a valid X-Api-Key header is required"})
            if path == "/accounting/v1/invoices" and method == "POST":
                return self._create_invoice(body)
            if path == "/accounting/v1/invoices" and method == "GET":
                return self._list_invoices(query.get("customer"))
            if path.startswith("/accounting/v1/invoices/") and path.endswith("/pay"):
                number = path.split("/")[-2]
                if number not in self.invoices:
                    return _json(404, {"error": f"no invoice {number}"})
                answer = self.pay(number)
                return answer.status_code, "application/json", answer.content
        return _json(404, {"error": f"no such endpoint: {method} {path}"})

    def _token(self, headers: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        client_id, secret = form.get("client_id"), form.get("client_secret")
        auth = headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            import base64

            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        if form.get("grant_type") != "client_credentials":
            return _json(400, {"error": "unsupported_grant_type"})
        if (client_id, secret) != (
            self.credentials["PM_CLIENT_ID"],
            self.credentials["PM_CLIENT_SECRET"],
        ):
            return _json(401, {"error": "invalid_client"})
        token = "pm-" + os.urandom(12).hex()
        with self._lock:
            self.tokens.add(token)
        return _json(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600})

    def _create_project(self, headers: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
            return _json(401, {"error": "invalid_token"})
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            return _json(400, {"error": "the body must be JSON"})
        if not isinstance(data, dict) or not data.get("name"):
            return _json(400, {"error": "name is required"})
        with self._lock:
            pid = f"P-{next(self._numbers)}"
            project = Project(
                pid,
                str(data["name"]),
                data.get("client"),
                data.get("budget"),
                data.get("external_id"),
                f"{self.pm_url}/projects/{pid}",
            )
            self.projects[pid] = project
        return _json(201, {"id": pid, "name": project.name, "url": project.url})

    def _project_page(self, pid: str) -> tuple[int, str, bytes]:
        project = self.projects.get(pid)
        if project is None:
            return 404, "text/plain; charset=utf-8", b"no such project"
        import html

        text = (
            f"<!doctype html><title>{html.escape(project.name)}</title>"
            f"<h1>{html.escape(project.name)}</h1><p>Project {pid} for "
            f"{html.escape(project.client or 'no client')} (demo project service)</p>"
        )
        return 200, "text/html; charset=utf-8", text.encode()

    def _create_invoice(self, body: bytes) -> tuple[int, str, bytes]:
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            return _json(400, {"error": "the body must be JSON"})
        if not isinstance(data, dict) or not data.get("reference"):
            return _json(400, {"error": "reference is required"})
        with self._lock:
            number = f"INV-{time.gmtime().tm_year}-{next(self._numbers):04d}"
            invoice = Invoice(
                number,
                str(data["reference"]),
                data.get("description"),
                data.get("amount"),
                data.get("customer"),
                data.get("contact"),
                "open",
                f"{self.accounting_url}/v1/invoices/{number}.pdf",
                data,
            )
            self.invoices[number] = invoice
        return _json(201, {"invoice_number": number, "status": "open", "url": invoice.url})

    def _list_invoices(self, customer: str | None) -> tuple[int, str, bytes]:
        with self._lock:
            found = [
                {
                    "invoice_number": i.invoice_number,
                    "description": i.description,
                    "amount": i.amount,
                    "status": i.status,
                    "url": i.url,
                }
                for i in self.invoices.values()
                if customer is None or (i.customer or {}).get("reference") == customer
            ]
        return _json(200, {"invoices": found})


def _json(status: int, value: Any) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(value).encode()


class _Handler(BaseHTTPRequestHandler):
    services_box: list[DemoServices] = []
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            status, ctype, out = self.services_box[0].handle(
                self.command, parts.path, query, headers, body
            )
        except Exception as exc:  # a stand-in must answer, never hang the caller
            log.warning("demo service failed on %s %s: %s", self.command, parts.path, exc)
            status, ctype, out = _json(500, {"error": str(exc)})
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:  # quiet: no lines on stderr
        log.debug("demo service: " + format, *args)


# ---------------------------------------------------------------------------------------------
# Installing the demo


@dataclass
class DemoReport:
    """What ``install_demo`` did: the deploy report, the sample records it created
    (``{"Accounts": {name: id}, ...}``; empty when they already existed), the deal it moved to
    Closed Won and the stand-in services it started."""

    deploy: Any
    records: dict[str, dict[str, str]] = field(default_factory=dict)
    won_deal: str | None = None
    services: DemoServices | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        """One line for the console: ``3 accounts, 5 contacts, 6 deals, 2 tasks; ...``."""
        parts = [
            ", ".join(f"{len(ids)} {module.lower()}" for module, ids in self.records.items())
            or "sample records already there"
        ]
        if self.services is not None:
            parts.append(f"stand-in services on {self.services.origin}")
        return "; ".join(parts)


def install_demo(
    data_dir: Path | str | None = None,
    *,
    crm: Any,
    functions: Any,
    automation: Any = None,
    services: DemoServices | None = None,
    start_services: bool = True,
    floodway_url: str | None = None,
    zapikey: str | None = None,
    env: Mapping[str, str] | None = None,
) -> DemoReport:
    """Deploy ``examples/crm-scenarios`` into the org of ``crm`` and add the sample records.

    - ``data_dir``: the org's data directory; the demo keeps nothing there (everything is in
      the database), it is accepted so that callers can pass what they have.
    - ``services``: stand-ins to point the org variables and connections at. Without them,
      ``start_services`` starts a set on 127.0.0.1 for the life of this process; with
      ``start_services=False`` the example keeps its ``*.example.com`` addresses and the two
      integrations fail visibly until configured. The stand-ins' address is appended to the
      functions platform's ``invokeurl_allow``, which takes effect while the platform has not
      made an outbound call yet (right after start-up). Separate ``floodway worker`` processes
      need it in their own settings (``FLOODWAY_INVOKEURL_ALLOW``).
    - ``floodway_url``: where the accounting stand-in reports payments (``invoice_paid``), with
      ``zapikey`` (default: the functions platform's ``zapikey()``); without both the stand-in
      cannot report payments.
    - ``automation``: when given (its rules subscribed to this CRM's changes), one deal is moved
      to Closed Won after the records exist, so the rules run at once.
    - ``env``: connection secrets; default the process environment, then ``DEMO_CREDENTIALS``.
    """
    from .crm.service import Actor
    from .deploy import deploy

    secrets = {**DEMO_CREDENTIALS, **dict(os.environ if env is None else env)}
    # A running server's rule store, so that its cache sees the new rules at once.
    store = getattr(automation, "store", None)
    report = DemoReport(deploy(crm, functions, example_project(), env=secrets, store=store))
    if services is None and start_services:
        services = DemoServices.start()
    if services is not None:
        report.services = services
        if not _point_at(functions, services, floodway_url, zapikey):
            report.notes.append(
                "payments cannot be reported: the accounting stand-in needs floodway's URL and "
                "an API key (floodway apikey)"
            )
    admin = crm.primary_admin_id
    if admin is None:
        raise RuntimeError("the org has no primary admin yet (bootstrap first)")
    actor = Actor(admin, "api")
    if _has_sample_records(crm):
        report.notes.append("sample records already exist; none created")
        return report
    report.records = _create_records(crm, actor)
    if automation is not None:
        deal_id = report.records["Deals"]["Brightwater Labs - Platform rollout"]
        crm.records.update("Deals", [{"Stage": "Closed Won"}], actor=actor, record_id=deal_id)
        report.won_deal = deal_id
    else:
        report.notes.append("no automation given: no deal was moved to Closed Won")
    return report


def _point_at(
    functions: Any, services: DemoServices, floodway_url: str | None, zapikey: str | None
) -> bool:
    """Variables and connections to the stand-ins; False when payments cannot be reported."""
    from .functions.connections import ConnectionSpec

    allow = getattr(functions, "invokeurl_allow", None)
    if isinstance(allow, list) and services.allow not in allow:
        allow.append(services.allow)
    functions.variables.set("pm_base_url", services.pm_url)
    functions.variables.set("accounting_base_url", services.accounting_url)
    creds = services.credentials
    functions.connections.put(
        ConnectionSpec(
            name="pm_service",
            type="oauth2_client_credentials",
            token_url=f"{services.pm_url}/oauth/token",
            client_id=creds["PM_CLIENT_ID"],
            client_secret=creds["PM_CLIENT_SECRET"],
            hosts=(services.allow,),
        )
    )
    functions.connections.put(
        ConnectionSpec(
            name="accounting",
            type="api_key",
            api_key=creds["ACCOUNTING_API_KEY"],
            api_key_header="X-Api-Key",
            hosts=(services.allow,),
        )
    )
    key = zapikey
    if key is None and callable(getattr(functions, "zapikey", None)):
        key = functions.zapikey()
    if floodway_url is None or key is None:
        return False
    services.callback_url = (
        f"{floodway_url.rstrip('/')}/crm/v8/functions/invoice_paid/actions/execute"
        f"?auth_type=apikey&zapikey={key}"
    )
    return True


def _has_sample_records(crm: Any) -> bool:
    found = crm.records.search("Accounts", criteria=f"(Account_Name:equals:{_MARKER_ACCOUNT})")
    return bool(found.data)


# Invented names (console-ux.md §4): 3 accounts, 5 contacts, 6 deals across stages, 2 tasks.
_ACCOUNTS: Final = (
    {
        "Account_Name": "Brightwater Labs",
        "Industry": "Biotechnology",
        "Billing_Street": "12 Harbour Road",
        "Billing_City": "Bristol",
        "Billing_Code": "BS1 5TY",
        "Billing_Country": "United Kingdom",
    },
    {
        "Account_Name": "Kestrel Freight",
        "Industry": "Transportation",
        "Billing_Street": "Hafenstraße 8",
        "Billing_City": "Hamburg",
        "Billing_Code": "20457",
        "Billing_Country": "Germany",
    },
    {
        "Account_Name": "Marlow & Finch",
        "Industry": "Consulting",
        "Billing_Street": "5 Chancery Lane",
        "Billing_City": "London",
        "Billing_Code": "WC2A 1LG",
        "Billing_Country": "United Kingdom",
    },
)
_CONTACTS: Final = (
    ("Brightwater Labs", "Ines", "Okafor", "ines.okafor@brightwater.example"),
    ("Brightwater Labs", "Tomas", "Lindqvist", "tomas.lindqvist@brightwater.example"),
    ("Kestrel Freight", "Hanna", "Becker", "hanna.becker@kestrel.example"),
    ("Kestrel Freight", "Jonas", "Albers", "jonas.albers@kestrel.example"),
    ("Marlow & Finch", "Priya", "Raman", "priya.raman@marlowfinch.example"),
)
# (account, contact last name, deal name, stage, amount, closing date offset in days)
_DEALS: Final = (
    (
        "Brightwater Labs",
        "Okafor",
        "Brightwater Labs - Platform rollout",
        "Negotiation/Review",
        84_000,
        14,
    ),
    ("Brightwater Labs", "Lindqvist", "Brightwater Labs - Support plan", "Closed Won", 24_500, -30),
    (
        "Kestrel Freight",
        "Becker",
        "Kestrel Freight - Fleet tracking",
        "Proposal/Price Quote",
        36_000,
        30,
    ),
    ("Kestrel Freight", "Albers", "Kestrel Freight - Pilot", "Closed Won", 9_800, -60),
    ("Marlow & Finch", "Raman", "Marlow & Finch - Advisory retainer", "Qualification", 15_000, 45),
    ("Marlow & Finch", "Raman", "Marlow & Finch - Workshop", "Closed Lost", 4_200, -10),
)


def _create_records(crm: Any, actor: Any) -> dict[str, dict[str, str]]:
    import datetime as _dt

    def made(module: str, rows: list[dict[str, Any]]) -> list[str]:
        ids = []
        for row, result in zip(rows, crm.records.create(module, rows, actor=actor)):
            if result.get("status") != "success":
                raise RuntimeError(f"demo {module} record {row} not created: {result}")
            ids.append(str(result["details"]["id"]))
        return ids

    out: dict[str, dict[str, str]] = {}
    accounts = dict(
        zip([a["Account_Name"] for a in _ACCOUNTS], made("Accounts", [dict(a) for a in _ACCOUNTS]))
    )
    out["Accounts"] = accounts
    contact_rows = [
        {
            "First_Name": first,
            "Last_Name": last,
            "Email": email,
            "Account_Name": {"id": accounts[account]},
        }
        for account, first, last, email in _CONTACTS
    ]
    contacts = dict(zip([c[2] for c in _CONTACTS], made("Contacts", contact_rows)))
    out["Contacts"] = contacts
    today = crm.clock().astimezone(crm.tz).date()
    deal_rows = [
        {
            "Deal_Name": name,
            "Stage": stage,
            "Amount": amount,
            "Closing_Date": (today + _dt.timedelta(days=days)).isoformat(),
            "Account_Name": {"id": accounts[account]},
            "Contact_Name": {"id": contacts[last]},
        }
        for account, last, name, stage, amount, days in _DEALS
    ]
    deals = dict(zip([d[2] for d in _DEALS], made("Deals", deal_rows)))
    out["Deals"] = deals
    task_rows = [
        {
            "Subject": "Send the rollout plan to Ines",
            "Due_Date": (today + _dt.timedelta(days=2)).isoformat(),
            "What_Id": {"id": deals["Brightwater Labs - Platform rollout"]},
            "$se_module": "Deals",
        },
        {
            "Subject": "Call Hanna about the tracking quote",
            "Due_Date": (today + _dt.timedelta(days=5)).isoformat(),
            "What_Id": {"id": deals["Kestrel Freight - Fleet tracking"]},
            "$se_module": "Deals",
        },
    ]
    out["Tasks"] = dict(zip([t["Subject"] for t in task_rows], made("Tasks", task_rows)))
    return out
