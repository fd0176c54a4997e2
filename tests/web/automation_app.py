"""An app with the real automation service for the console's automation, executions and settings
tests: functions of every category published, users of the conftest with known passwords."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from typing import Any

from .conftest import ADMIN, NO_DEALS, PASSWORD, STANDARD, _no_deals_profile

SOURCES = (
    'void automation.rollup(Int dealId)\n{\n    info "rolled " + dealId;\n}\n',
    "void automation.explode(Int dealId)\n{\n    x = 0;\n    y = 10 / x;\n}\n",
    'string button.greet(String dealId)\n{\n    return "Hello " + dealId;\n}\n',
    'string related_list.invoices(String accountId)\n{\n    return "<record></record>";\n}\n',
    'map validation.check_deal(map crmAPIRequest)\n{\n    return {"status": "success"};\n}\n',
    'void schedule.nightly()\n{\n    info "night";\n}\n',
)
WORKFLOW_ADMIN = "wanda@example.test"


def build_app(crm: Any) -> Iterator[Any]:
    """The console app with ``Functions`` and ``Automation`` (its queue is not started: actions
    of rules are enqueued, tests that need them run ``queue.start()`` themselves)."""
    from floodway.api.app import create_app
    from floodway.automation.service import Automation
    from floodway.functions.secrets import Keyring
    from floodway.functions.service import Functions
    from floodway.jobs import open_queue
    from floodway.settings import Settings

    _no_deals_profile(crm)
    _workflow_profile(crm)
    for email, name, profile in (
        (ADMIN, "Alice", "Administrator"),
        (STANDARD, "Sam", "Standard"),
        (NO_DEALS, "Nina", "NoDeals"),
        (WORKFLOW_ADMIN, "Wanda", "WorkflowOnly"),
    ):
        if crm.users.by_email(email) is None:
            crm.users.create(email, last_name=name, profile=profile, password=PASSWORD)
    settings = Settings(invokeurl_allow=["127.0.0.1"])
    keyring = Keyring.from_text(base64.b64encode(secrets.token_bytes(32)).decode(), "test")
    fx = Functions(crm, settings, keyring=keyring)
    queue = open_queue(crm.engine, settings, clock=crm.clock)
    auto = Automation(crm, fx, queue, settings)
    for source in SOURCES:
        fx.registry.save(source.split(".")[1].split("(")[0], source, create=True, publish=True)
    app = create_app(crm, settings, functions=fx, automation=auto)
    try:
        yield app
    finally:
        queue.stop(timeout=5)
        auto.close()


def _workflow_profile(crm: Any) -> None:
    from floodway.crm import schema as t
    from floodway.db import write_transaction

    if crm.users.profile_named("WorkflowOnly") is not None:
        return
    rights = {
        "modules": {"*": ["read", "create", "edit", "delete"]},
        "permissions": ["manage_workflow"],
    }
    with write_transaction(crm.engine) as conn:
        conn.execute(
            t.profiles.insert().values(
                id=crm.ids.next_id(),
                org_id=crm.org_id,
                name="WorkflowOnly",
                rights=rights,
                created_time=crm.now_ms(),
            )
        )
