"""Mail queued by sendmail is viewable through the admin API when no SMTP server is set."""

from __future__ import annotations

from typing import Any

MAILER = """string standalone.notify_ops()
{
    sendmail
    [
        from: zoho.adminuserid
        to: "ops@example.com"
        subject: "Deal won"
        message: "Amount 12500"
    ]
    return "queued";
}"""


def test_queued_mail_is_listed_with_its_execution(client: Any, auth: dict[str, str]) -> None:
    made = client.post("/api/functions", headers=auth, json={"source": MAILER, "publish": True})
    assert made.status_code == 201, made.text
    run = client.post("/api/functions/notify_ops/execute", headers=auth, json={}).json()
    assert run["status"] == "success"
    listed = client.get("/api/outbox", headers=auth, params={"status": "pending"})
    assert listed.status_code == 200, listed.text
    mine = [m for m in listed.json()["mails"] if m["execution_id"] == run["id"]]
    assert len(mine) == 1
    assert mine[0]["to"] == ["ops@example.com"] and mine[0]["subject"] == "Deal won"
    assert mine[0]["status"] == "pending" and mine[0]["attempts"] == 0


def test_outbox_rejects_bad_parameters_and_needs_a_token(client: Any, auth: dict[str, str]) -> None:
    assert client.get("/api/outbox").status_code == 401
    bad = client.get("/api/outbox", headers=auth, params={"status": "lost"})
    assert bad.status_code == 400 and bad.json()["details"] == {"param_name": "status"}
    bad = client.get("/api/outbox", headers=auth, params={"limit": "0"})
    assert bad.status_code == 400
