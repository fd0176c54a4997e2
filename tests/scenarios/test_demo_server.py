"""``floodway serve --demo``: a new user's first start shows the scenarios working offline. The
demo deploys the example, adds the sample records, starts the stand-in services on 127.0.0.1
inside the server and moves one deal to Closed Won, whose rules then run in the background."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from .conftest import Api, cli_json, start_process, wait_for


def test_serve_demo_runs_the_scenarios(tmp_path: Path) -> None:
    data = tmp_path / "data"
    client = cli_json("clients", "create", "demo-check", "--data", str(data), "--json")
    server, url = start_process(
        "serve", ["serve", "--demo", "--port", "0", "--data", str(data)], "serving on ", {}
    )
    try:
        assert any("demo installed (3 accounts, 5 contacts, 6 deals" in x for x in server.lines)
        token = httpx.post(
            f"{url}/oauth/v2/token",
            data={"grant_type": "refresh_token", **client},
            trust_env=False,
        ).json()["access_token"]
        api = Api(url, token)
        found = api.http.get(
            "/crm/v8/Deals/search", params={"criteria": "(Stage:equals:Closed Won)"}
        ).json()["data"]
        rollout = next(d for d in found if d["Deal_Name"] == "Brightwater Labs - Platform rollout")

        def done() -> Any:
            deal = api.get("Deals", rollout["id"])
            account = api.get("Accounts", deal["Account_Name"]["id"])
            ready = deal.get("Project_Link") and deal.get("Invoice_Status") == "Invoiced"
            return (deal, account) if ready and account.get("Customer_Tier") else None

        deal, account = wait_for("the demo's won deal to be processed", done)
        assert (account["Total_Revenue"], account["Customer_Tier"]) == (108_500, "A")
        assert httpx.get(deal["Project_Link"], trust_env=False).status_code == 200
        api.close()
    finally:
        assert server.stop() == 0, server.tail()
