"""The example of project-format.md loads into the expected model, with and without org metadata."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import pytest

from floodway.crm.criteria import Condition
from floodway.crm.standard import standard_modules
from floodway.project import (
    Connection,
    Duration,
    EmailAction,
    Field,
    FieldUpdateAction,
    FunctionAction,
    FunctionSetting,
    FunctionSignature,
    Module,
    Offset,
    Org,
    ProjectError,
    TaskAction,
    Variable,
    WebhookAction,
    load_project,
    parse_template,
    plan_entries,
    plan_functions,
)

from .conftest import EXAMPLE, write


def full_schema() -> dict[str, dict[str, str]]:
    """The standard modules as an org would report them (name -> {field: type})."""
    return {m.api_name: {f.api_name: f.type for f in m.fields.values()} for m in standard_modules()}


def test_example_loads_into_the_model() -> None:
    p = load_project(EXAMPLE)
    assert p.org == Org("Europe/Berlin", "EUR")
    assert p.fields == [Field("Accounts", "Total_Revenue", "currency", "Total Revenue")]
    assert p.modules == [Module("Projects", "Project", "Projects")]
    assert p.variables == [Variable("pm_base_url", "https://pm.example.com")]
    assert p.function_settings == [FunctionSetting("invoice_paid", rest=True, timeout_s=60.0)]
    assert p.connections == [
        Connection(
            "pm_service",
            "oauth2_client_credentials",
            hosts=("pm.example.com",),
            token_url="https://pm.example.com/oauth/token",
            client_id_env="PM_CLIENT_ID",
            client_secret_env="PM_CLIENT_SECRET",
        )
    ]
    assert p.connections[0].env == {
        "client_id_env": "PM_CLIENT_ID",
        "client_secret_env": "PM_CLIENT_SECRET",
    }
    (wf,) = p.workflows
    assert (wf.name, wf.module, wf.on, wf.fields, wf.repeat, wf.order) == (
        "Roll up revenue",
        "Deals",
        "create_or_edit",
        ("Stage",),
        "every_time",
        1,
    )
    assert wf.criteria == "(Stage:equals:Closed Won)"
    assert wf.criteria_tree == Condition("Stage", "equals", ("Closed Won",), None, 1)
    assert wf.actions == (
        FunctionAction("rollup_revenue", {"accountId": parse_template("${Deals.Account_Name.id}")}),
        FieldUpdateAction({"Next_Step": parse_template("Follow up")}, after=Duration(3, "d")),
    )
    (button,) = p.buttons
    assert (button.name, button.module, button.placement, button.function) == (
        "Create project",
        "Deals",
        "detail",
        "create_project",
    )
    assert button.arguments == {"dealId": parse_template("${Deals.id}")}
    (rl,) = p.related_lists
    assert (rl.name, rl.module, rl.function) == ("Invoices", "Accounts", "account_invoices")
    (val,) = p.validations
    assert (val.name, val.module, val.function) == (
        "Amount must be positive",
        "Deals",
        "validate_deal",
    )
    (sched,) = p.schedules
    assert (sched.name, sched.function, sched.timezone, sched.catch_up) == (
        "Nightly classification",
        "classify_accounts",
        "UTC",
        True,
    )
    assert (sched.timing.kind, sched.timing.expression) == ("cron", "0 2 * * *")
    assert sorted(f.api_name for f in p.functions) == [
        "account_invoices",
        "classify_accounts",
        "create_project",
        "invoice_paid",
        "rollup_revenue",
        "validate_deal",
    ]
    fn = p.function("ROLLUP_REVENUE")
    assert fn is not None
    assert (fn.category, fn.return_type, fn.params) == (
        "automation",
        "void",
        (("accountId", "Int"),),
    )
    assert fn.source == (EXAMPLE / "functions" / "rollup_revenue.dg").read_text("utf-8")
    assert p.external_functions == []
    assert p.has_triggers


def test_example_is_valid_against_org_metadata() -> None:
    load_project(EXAMPLE, schema=full_schema(), org_functions={})


def test_schema_as_field_name_sets_is_enough() -> None:
    schema = {m: set(fields) for m, fields in full_schema().items()}
    load_project(EXAMPLE, schema=schema)


def test_commented_alternatives_of_the_document_are_valid(example: Path) -> None:
    """The other action kinds, a date rule and a list button, as the comments show them."""
    manifest = example / "floodway.toml"
    manifest.write_text(
        manifest.read_text("utf-8")
        + """
[[workflow]]
name = "Follow up before closing"
module = "Deals"
on = "date"
date_field = "Closing_Date"
offset = "-2d"
at = "09:00"
repeat = "first_time"

[[workflow.actions]]
webhook = { url = "https://hooks.example.com/deal", method = "POST", headers = { X-Key = "k-${Deals.id}" }, body = "{\\"id\\": \\"${Deals.id}\\"}" }

[[workflow.actions]]
email = { to = "${Deals.Owner.email}", subject = "Won: ${Deals.Deal_Name}", body = "..." }

[[workflow.actions]]
after = "1w"
task = { Subject = "Call ${Deals.Contact_Name.name}", Due_Date = "+2d" }

[[button]]
name = "Bulk create projects"
module = "Deals"
placement = "list"
function = "create_projects"
arguments = { ids = "${selected_ids}" }
""",
        "utf-8",
    )
    (example / "functions" / "create_projects.dg").write_text(
        'string button.create_projects(List ids)\n{\n    return ids.size() + " selected";\n}\n',
        "utf-8",
    )
    p = load_project(example, schema=full_schema())
    wf = p.workflows[1]
    assert (wf.on, wf.date_field, wf.offset, wf.at, wf.repeat) == (
        "date",
        "Closing_Date",
        Offset(-2, "d"),
        _dt.time(9, 0),
        "first_time",
    )
    webhook, email, task = wf.actions
    assert isinstance(webhook, WebhookAction) and webhook.body_is_json
    assert webhook.headers == {"X-Key": parse_template("k-${Deals.id}")}
    assert isinstance(email, EmailAction) and email.to == parse_template("${Deals.Owner.email}")
    assert isinstance(task, TaskAction)
    assert task.after == Duration(1, "w")
    assert task.values == {
        "Subject": parse_template("Call ${Deals.Contact_Name.name}"),
        "Due_Date": Offset(2, "d"),
    }
    assert p.buttons[1].placement == "list"


def test_date_rule_offset_defaults_to_zero_days(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        """
        [[workflow]]
        name = "On closing day"
        module = "Deals"
        on = "date"
        date_field = "Closing_Date"

        [[workflow.actions]]
        field_update = { Next_Step = "Close it" }
        """,
    )
    wf = load_project(root).workflows[0]
    assert (wf.offset, wf.at) == (Offset(0, "d"), None)


def test_functions_missing_from_the_directory_must_exist_in_the_org(example: Path) -> None:
    (example / "functions" / "rollup_revenue.dg").unlink()
    (example / "functions" / "invoice_paid.dg").unlink()
    p = load_project(example)
    refs = [(r.api_name, r.category, r.arguments, r.key) for r in p.external_functions]
    assert refs == [
        ("invoice_paid", "", (), "api_name"),
        ("rollup_revenue", "automation", ("accountId",), "function"),
    ]
    org = {
        "Rollup_Revenue": FunctionSignature("automation", (("accountId", "Int"),)),
        "invoice_paid": FunctionSignature("standalone", (("dealId", "String"),)),
    }
    load_project(example, org_functions=org)
    with pytest.raises(ProjectError) as info:
        load_project(example, org_functions={"rollup_revenue": FunctionSignature("button")})
    assert [str(p) for p in info.value.items] == [
        'floodway.toml: [[function]] #1 "invoice_paid", key "api_name": function "invoice_paid" '
        "is neither in functions/ nor in the org",
        'floodway.toml: [[workflow]] #1 "Roll up revenue", [[workflow.actions]] #1, key "function": '
        'function "rollup_revenue" is a button function; a workflow action needs an automation '
        "function",
    ]
    org = {**org, "rollup_revenue": FunctionSignature("automation")}
    with pytest.raises(ProjectError) as info:
        load_project(example, org_functions=org)
    assert [str(p) for p in info.value.items] == [
        'floodway.toml: [[workflow]] #1 "Roll up revenue", [[workflow.actions]] #1, '
        'key "arguments.accountId": "accountId" is not a parameter of rollup_revenue '
        "(it has no parameters)",
    ]


def test_plan_functions_tells_new_changed_and_unchanged() -> None:
    p = load_project(EXAMPLE)
    live = {f.api_name: f.source for f in p.functions}
    live["ROLLUP_REVENUE"] = live.pop("rollup_revenue") + "\n"
    del live["invoice_paid"]
    plan = plan_functions(p, live)
    assert [f.api_name for f in plan.create] == ["invoice_paid"]
    assert [f.api_name for f in plan.update] == ["rollup_revenue"]
    assert sorted(plan.unchanged) == [
        "account_invoices",
        "classify_accounts",
        "create_project",
        "validate_deal",
    ]


def test_plan_entries_compares_by_value() -> None:
    p = load_project(EXAMPLE)
    current = [
        Field("accounts", "total_revenue", "currency", "Total Revenue"),
        Field("Accounts", "Legacy", "text"),
    ]
    plan = plan_entries(p.fields, current, lambda f: f"{f.module}.{f.api_name}")
    assert plan.update == [(current[0], p.fields[0])]  # the spelling differs: an update
    assert plan.extra == [current[1]]
    again = plan_entries(p.fields, p.fields, lambda f: f"{f.module}.{f.api_name}")
    assert (again.unchanged, again.changed) == (p.fields, False)


def test_connection_types(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        """
        [[connection]]
        name = "crm_oauth_connection"
        type = "oauth2_authorization_code"
        authorize_url = "https://accounts.example.com/oauth/authorize"
        token_url = "http://127.0.0.1:8123/token"
        client_id_env = "CLIENT_ID"
        client_secret_env = "CLIENT_SECRET"
        scope = "projects.write"

        [[connection]]
        name = "billing"
        type = "api_key"
        header = "X-Api-Key"
        key_env = "BILLING_KEY"
        hosts = ["Billing.Example.com", "api.billing.example.com:8443", "[::1]"]

        [[connection]]
        name = "legacy"
        type = "basic"
        user_env = "LEGACY_USER"
        password_env = "LEGACY_PASSWORD"
        hosts = ["10.0.0.5"]

        [[connection]]
        name = "maps"
        type = "api_key"
        query = "key"
        key_env = "MAPS_KEY"
        hosts = ["maps.example.com"]
        """,
    )
    oauth, billing, basic, maps = load_project(root).connections
    assert oauth.hosts == ("127.0.0.1",)  # default: the token URL's host
    assert (oauth.scope, oauth.authorize_url) == (
        "projects.write",
        "https://accounts.example.com/oauth/authorize",
    )
    assert billing.hosts == ("billing.example.com", "api.billing.example.com:8443", "[::1]")
    assert (billing.header, billing.query, billing.env) == (
        "X-Api-Key",
        None,
        {"key_env": "BILLING_KEY"},
    )
    assert basic.env == {"user_env": "LEGACY_USER", "password_env": "LEGACY_PASSWORD"}
    assert (maps.query, maps.header) == ("key", None)


def test_variables_and_function_settings(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        """
        [[variable]]
        api_name = "limit"
        value = 10

        [[variable]]
        api_name = "enabled"
        value = true

        [[function]]
        api_name = "tool"
        display_name = "Tool"
        description = ""
        timeout_s = 2.5
        """,
        {"tool": 'string standalone.tool()\n{\n    return "x";\n}\n'},
    )
    p = load_project(root)
    assert p.variables == [Variable("limit", 10), Variable("enabled", True)]
    assert p.function_settings == [
        FunctionSetting("tool", rest=None, timeout_s=2.5, display_name="Tool", description="")
    ]


def test_module_names_take_the_known_spelling(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        """
        [[field]]
        module = "accounts"
        api_name = "Parent_Project"
        type = "lookup"
        lookup_module = "projects"

        [[module]]
        api_name = "Projects"

        [[validation]]
        name = "V"
        module = "DEALS"
        function = "check"
        """,
        {"check": "map validation.check(map crmAPIRequest)\n{\n    return Map();\n}\n"},
    )
    p = load_project(root, schema=full_schema())
    assert (p.fields[0].module, p.fields[0].lookup_module) == ("Accounts", "Projects")
    assert p.validations[0].module == "Deals"
