"""``floodway deploy`` / ``floodway pull`` end to end through the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .conftest import EXAMPLE, Org, names, write_project

BROKEN = """\
string standalone.broken(String a)
{
    x = ;
    return a;
}
"""


def test_example_first_deploy_then_nothing_changes(org: Org) -> None:
    code, report = org.deploy_json(EXAMPLE)
    assert code == 0, report
    assert report["status"] == "success" and report["changed"] is True
    assert names(report, "org", "updated") == ["time_zone", "currency"]
    assert names(report, "field", "created") == ["Accounts.Total_Revenue", "Accounts.Customer_Tier"]
    assert names(report, "variable", "created") == ["tier_a_min", "tier_b_min"]
    assert names(report, "function", "created") == ["account_tier", "rollup_won_deals"]
    assert report["versions"] == {"account_tier": 1, "rollup_won_deals": 1}
    assert "not_applied" not in report

    crm, fx = org.open()
    assert crm.time_zone_name == "Europe/Berlin"
    assert crm.org_json()["iso_code"] == "EUR"
    accounts = crm.metadata.module("Accounts")
    total, tier = accounts.field("Total_Revenue"), accounts.field("Customer_Tier")
    assert total is not None and total.type == "currency" and total.label == "Total Revenue"
    assert tier is not None and tier.type == "picklist" and tier.pick_list_values == ("A", "B", "C")
    assert fx.variables.get("tier_a_min") == "100000"
    rest = fx.registry.get("account_tier")
    assert rest.rest_enabled is True and rest.live_version == 1
    assert rest.display_name == "Account tier"
    rollup = fx.registry.get("rollup_won_deals")
    assert rollup.rest_enabled is False and rollup.timeout_s == 30.0
    assert rollup.description.startswith("Sums the Closed Won deals")
    source = (EXAMPLE / "functions" / "rollup_won_deals.dg").read_text("utf-8")
    assert fx.registry.version("rollup_won_deals").source == source

    # Second deploy of the same directory: nothing changes, no new versions.
    code, again = org.deploy_json(EXAMPLE)
    assert code == 0
    assert again["changed"] is False
    assert again["summary"] == {"created": 0, "updated": 0, "deleted": 0, "unchanged": 10}
    assert [v.number for v in fx.registry.versions("rollup_won_deals")] == [1]

    text = org.cli("deploy", EXAMPLE)
    assert text.exit_code == 0
    assert text.stdout.splitlines()[-1] == "no changes (10 unchanged)"


def test_example_functions_run_on_the_deployed_org(org: Org) -> None:
    """The example does what it says: won deals rolled up into the new fields."""
    from floodway.crm import Actor

    assert org.deploy_json(EXAMPLE)[0] == 0
    crm, fx = org.open()
    actor = Actor(crm.primary_admin_id or "")
    acc = crm.records.create("Accounts", [{"Account_Name": "Acme"}], actor=actor)
    aid = acc[0]["details"]["id"]
    deals = [
        {"Deal_Name": "Renewal", "Stage": "Closed Won", "Amount": 30000},
        {"Deal_Name": "Pilot", "Stage": "Qualification", "Amount": 500000},
        {"Deal_Name": "Support", "Stage": "Closed Won", "Amount": 1500.5},
    ]
    for d in deals:
        d["Account_Name"] = {"id": aid}
    crm.records.create("Deals", deals, actor=actor)
    result = fx.run("rollup_won_deals", {"accountId": aid})
    assert result.status == "success", result.error
    assert result.output == {
        "status": "success",
        "won_deals": 2,
        "total_revenue": 31500.5,
        "tier": "B",
    }
    record = crm.records.get("Accounts", aid)
    assert record is not None
    assert record["Customer_Tier"] == "B" and record["Total_Revenue"] == 31500.5
    tier = fx.run("account_tier", {"accountId": aid})
    assert tier.output == {"found": True, "name": "Acme", "total_revenue": 31500.5, "tier": "B"}


def test_dry_run_writes_nothing(org: Org) -> None:
    code, report = org.deploy_json(EXAMPLE, "--dry-run")
    assert code == 0
    assert report["dry_run"] is True
    assert names(report, "function", "created") == ["account_tier", "rollup_won_deals"]
    crm, fx = org.open()
    assert fx.registry.list() == []
    assert crm.metadata.module("Accounts").field("Total_Revenue") is None
    assert crm.time_zone_name == "UTC"
    text = org.cli("deploy", EXAMPLE, "--dry-run")
    assert "would create: account_tier, rollup_won_deals" in text.stdout
    assert "nothing was written" in text.stdout.splitlines()[-1]


def test_changed_function_gets_a_new_version(org: Org, example: Path) -> None:
    assert org.deploy_json(example)[0] == 0
    path = example / "functions" / "account_tier.dg"
    path.write_text(path.read_text("utf-8").replace('{"found": false}', '{"found": null}'))
    code, report = org.deploy_json(example)
    assert code == 0
    assert names(report, "function", "updated") == ["account_tier"]
    assert names(report, "function", "unchanged") == ["rollup_won_deals"]
    assert report["versions"] == {"account_tier": 2}
    assert report["summary"]["created"] == 0
    _, fx = org.open()
    assert fx.registry.get("account_tier").live_version == 2
    assert fx.registry.version("account_tier").source == path.read_text("utf-8")
    assert [v.number for v in fx.registry.versions("rollup_won_deals")] == [1]
    text = org.cli("deploy", example)
    assert text.exit_code == 0 and "no changes" in text.stdout


def test_syntax_error_rejects_the_whole_deploy(org: Org, example: Path) -> None:
    (example / "functions" / "broken.dg").write_text(BROKEN, "utf-8")
    result = org.cli("deploy", example)
    assert result.exit_code == 1
    assert "nothing was applied" in result.stderr
    assert f"{example / 'functions' / 'broken.dg'}:3:9: " in result.stderr
    crm, fx = org.open()
    assert fx.registry.list() == []
    assert fx.variables.list() == []
    assert crm.metadata.module("Accounts").field("Total_Revenue") is None
    assert crm.time_zone_name == "UTC"

    code, report = org.deploy_json(example)
    assert code == 1 and report["status"] == "error" and report["applied"] is False
    [problem] = report["problems"]
    assert (problem["file"], problem["line"], problem["column"]) == ("functions/broken.dg", 3, 9)


def test_syntax_error_in_a_changed_function_keeps_the_live_version(org: Org, example: Path) -> None:
    assert org.deploy_json(example)[0] == 0
    path = example / "functions" / "account_tier.dg"
    path.write_text(path.read_text("utf-8").replace("return {", "return {{", 1), "utf-8")
    (example / "floodway.toml").write_text(
        (example / "floodway.toml").read_text("utf-8").replace("value = 20000", "value = 25000")
    )
    result = org.cli("deploy", example)
    assert result.exit_code == 1
    assert f"{path}:" in result.stderr
    _, fx = org.open()
    assert fx.registry.get("account_tier").live_version == 1
    assert fx.variables.get("tier_b_min") == "20000"  # the other change was not applied either


def test_missing_environment_variable_applies_nothing(org: Org, tmp_path: Path) -> None:
    project = write_project(
        tmp_path / "proj",
        """
        [org]
        currency = "EUR"

        [[field]]
        module = "Accounts"
        api_name = "Region"
        type = "text"

        [[connection]]
        name = "billing"
        type = "basic"
        user_env = "FLOODWAY_TEST_BILLING_USER"
        password_env = "FLOODWAY_TEST_BILLING_PASSWORD"
        hosts = ["billing.example.com"]
        """,
        {"hello": 'string standalone.hello()\n{\n    return "hi";\n}\n'},
    )
    for name in ("FLOODWAY_TEST_BILLING_USER", "FLOODWAY_TEST_BILLING_PASSWORD"):
        assert name not in os.environ
    result = org.cli("deploy", project, env={"FLOODWAY_TEST_BILLING_USER": "svc"})
    assert result.exit_code == 1
    assert "nothing was applied" in result.stderr
    assert 'environment variable "FLOODWAY_TEST_BILLING_PASSWORD" is not set' in result.stderr
    assert "FLOODWAY_TEST_BILLING_USER" not in result.stderr
    crm, fx = org.open()
    assert fx.registry.list() == [] and fx.connections.list() == []
    assert crm.metadata.module("Accounts").field("Region") is None
    assert crm.org_json()["iso_code"] == "USD"


def test_unknown_manifest_key_names_table_and_key(org: Org, tmp_path: Path) -> None:
    project = write_project(
        tmp_path / "proj",
        """
        [[field]]
        module = "Accounts"
        api_name = "Region"
        type = "text"
        colour = "red"
        """,
    )
    result = org.cli("deploy", project)
    assert result.exit_code == 1
    assert (
        f'{project / "floodway.toml"}: [[field]] #1 "Region", key "colour": unknown key "colour"'
        in result.stderr
    )
    code, report = org.deploy_json(project)
    assert code == 1
    [problem] = report["problems"]
    assert (problem["table"], problem["key"]) == ("field", "colour")
    crm, _ = org.open()
    assert crm.metadata.module("Accounts").field("Region") is None


def test_pull_writes_the_live_functions_back(org: Org, example: Path, tmp_path: Path) -> None:
    assert org.deploy_json(EXAMPLE)[0] == 0
    target = tmp_path / "pulled"
    result = org.cli("pull", target, "--json")
    assert result.exit_code == 0, result.output
    for name in ("account_tier", "rollup_won_deals"):
        assert (target / "functions" / f"{name}.dg").read_bytes() == (
            EXAMPLE / "functions" / f"{name}.dg"
        ).read_bytes()
    again = org.cli("pull", target)
    assert again.exit_code == 0 and "no changes (2 unchanged)" in again.stdout

    # A version published in the org (the editor, the API) comes back with pull, and a deploy
    # of the pulled directory then changes nothing.
    _, fx = org.open()
    edited = fx.registry.version("account_tier").source.replace("found", "exists")
    fx.registry.save("account_tier", edited, publish=True)
    pulled = org.cli("pull", example, "--json")
    assert pulled.exit_code == 0
    assert '"updated": ["account_tier"]' in pulled.stdout
    assert (example / "functions" / "account_tier.dg").read_text("utf-8") == edited
    code, report = org.deploy_json(example)
    assert code == 0 and report["changed"] is False


TRIGGERS = """
[[workflow]]
name = "Roll up revenue"
module = "Deals"
on = "create_or_edit"
criteria = "(Stage:equals:Closed Won)"

[[workflow.actions]]
function = "rollup"
arguments = { accountId = "${Deals.Account_Name.id}" }

[[schedule]]
name = "Nightly"
function = "nightly"
cron = "0 2 * * *"
"""
TRIGGER_FUNCTIONS = {
    "rollup": "void automation.rollup(Int accountId)\n{\n    info accountId;\n}\n",
    "nightly": 'void schedule.nightly()\n{\n    info "night";\n}\n',
}


def test_trigger_tables_are_applied_then_unchanged(org: Org, tmp_path: Path) -> None:
    from floodway.automation.store import AutomationStore

    project = write_project(tmp_path / "proj", TRIGGERS, TRIGGER_FUNCTIONS)
    code, report = org.deploy_json(project)
    assert code == 0, report
    assert names(report, "workflow", "created") == ["Deals/Roll up revenue"]
    assert names(report, "schedule", "created") == ["Nightly"]
    assert names(report, "function", "created") == ["nightly", "rollup"]
    crm, fx = org.open()
    store = AutomationStore(crm, fx)
    [rule] = store.list("workflow")
    assert (rule.name, rule.module, rule.enabled) == ("Roll up revenue", "Deals", True)
    assert rule.spec.criteria == "(Stage:equals:Closed Won)"
    assert [s.name for s in store.active("schedule")] == ["Nightly"]

    code, again = org.deploy_json(project)
    assert code == 0 and again["changed"] is False
    assert names(again, "workflow", "unchanged") == ["Deals/Roll up revenue"]
    text = org.cli("deploy", project)
    assert text.exit_code == 0
    assert "not applied" not in text.stdout
    assert text.stdout.splitlines()[-1] == "no changes (4 unchanged)"


def test_trigger_changes_and_removals_are_reported_in_text(org: Org, tmp_path: Path) -> None:
    project = write_project(tmp_path / "proj", TRIGGERS, TRIGGER_FUNCTIONS)
    assert org.deploy_json(project)[0] == 0
    changed = TRIGGERS.replace("Closed Won", "Closed Lost").split("[[schedule]]")[0]
    write_project(project, changed)
    dry = org.cli("deploy", project, "--dry-run")
    assert dry.exit_code == 0
    assert "  workflow           would update: Deals/Roll up revenue" in dry.stdout
    assert "  schedule           would delete: Nightly" in dry.stdout
    assert "1 to delete" in dry.stdout.splitlines()[-1]
    text = org.cli("deploy", project)
    assert text.exit_code == 0
    assert "  schedule           deleted: Nightly" in text.stdout
    assert text.stdout.splitlines()[-1] == "0 created, 1 updated, 1 deleted, 2 unchanged"


def test_pull_writes_trigger_tables_back_and_a_redeploy_changes_nothing(
    org: Org, tmp_path: Path
) -> None:
    from floodway.automation.store import AutomationStore

    project = write_project(tmp_path / "proj", "# my org\n" + TRIGGERS, TRIGGER_FUNCTIONS)
    assert org.deploy_json(project)[0] == 0
    untouched = org.cli("pull", project, "--json")
    assert untouched.exit_code == 0
    assert '"manifest": {"changed": false' in untouched.stdout
    # A button added in the console comes back with pull; the rest of the file stays.
    crm, fx = org.open()
    fx.registry.save(
        "make_task",
        'string button.make_task(Int dealId)\n{\n    return "ok";\n}\n',
        publish=True,
        create=True,
    )
    AutomationStore(crm, fx).create(
        "button",
        {
            "name": "Make task",
            "module": "Deals",
            "function": "make_task",
            "arguments": {"dealId": "${Deals.id}"},
        },
    )
    pulled = org.cli("pull", project)
    assert pulled.exit_code == 0, pulled.stdout
    assert "floodway.toml trigger tables (1 workflow, 1 button, 1 schedule)" in pulled.stdout
    text = (project / "floodway.toml").read_text("utf-8")
    assert text.startswith("# my org\n")
    assert '[[button]]\nname = "Make task"\nmodule = "Deals"\nfunction = "make_task"\n' in text
    assert 'arguments = { dealId = "${Deals.id}" }' in text
    assert (project / "functions" / "make_task.dg").is_file()
    code, report = org.deploy_json(project)
    assert code == 0 and report["changed"] is False, report


def test_not_a_directory_is_a_usage_error(org: Org, tmp_path: Path) -> None:
    result = org.cli("deploy", tmp_path / "missing")
    assert result.exit_code == 2 and "not a directory" in result.stderr
    shutil.rmtree(tmp_path / "data", ignore_errors=True)
