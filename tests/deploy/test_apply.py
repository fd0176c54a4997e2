"""``floodway.deploy`` in-process on SQLite and PostgreSQL: connections and their secrets, field
and module updates that keep data, function settings, and refusals found before any write."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from floodway.crm import Actor, Crm
from floodway.crm.testing import fresh_crm  # noqa: F401  (fixture)
from floodway.deploy import DeployReport, deploy, pull
from floodway.functions import schema as fn_tables
from floodway.functions.secrets import Keyring, SecretKey, generate_key
from floodway.functions.service import Functions
from floodway.project import ProjectError

from .conftest import write_project

CONNECTION = """
[[connection]]
name = "billing"
type = "oauth2_client_credentials"
token_url = "https://auth.billing.example.com/oauth/token"
client_id_env = "BILLING_ID"
client_secret_env = "BILLING_SECRET"
scope = "invoices.read invoices.write"
hosts = ["api.billing.example.com"]

[[connection]]
name = "maps"
type = "api_key"
query = "key"
key_env = "MAPS_KEY"
hosts = ["maps.example.com:8443"]
"""
SECRET = "s3cr3t-canary-7f1e9a"
ENV = {"BILLING_ID": "client-42", "BILLING_SECRET": SECRET, "MAPS_KEY": "maps-canary-91c2"}


@pytest.fixture
def fx(fresh_crm: Crm) -> Functions:  # noqa: F811
    return Functions(fresh_crm, keyring=Keyring([SecretKey("k1", generate_key())]))


def run(
    fx: Functions, project: Path, env: dict[str, str] | None = None, **kw: object
) -> DeployReport:
    return deploy(fx.crm, fx, project, env=env or {}, **kw)  # type: ignore[arg-type]


def problems(fx: Functions, project: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ProjectError) as caught:
        run(fx, project, env)
    return [str(p) for p in caught.value.items]


def test_connections_stored_encrypted_and_unchanged_on_redeploy(
    fx: Functions, tmp_path: Path
) -> None:
    project = write_project(tmp_path / "p", CONNECTION)
    report = run(fx, project, ENV)
    assert report.kinds["connection"].created == ["billing", "maps"]
    spec = fx.connections.spec("billing")
    assert (spec.client_id, spec.client_secret) == ("client-42", SECRET)
    assert spec.scopes == ("invoices.read", "invoices.write")
    assert spec.hosts == ("api.billing.example.com",)
    maps = fx.connections.spec("maps")
    assert (maps.api_key, maps.api_key_query, maps.hosts) == (
        "maps-canary-91c2",
        "key",
        ("maps.example.com:8443",),
    )
    # Encrypted at rest: no secret in the stored row, nor in the report.
    with fx.crm.engine.connect() as conn:
        rows = conn.execute(sa.select(fn_tables.connections)).all()
    dump = repr([tuple(r) for r in rows])
    assert SECRET not in dump and "maps-canary-91c2" not in dump
    shown = json.dumps(report.to_json()) + "\n".join(report.text())
    assert SECRET not in shown and "maps-canary" not in shown

    again = run(fx, project, ENV)
    assert again.changed is False
    assert again.kinds["connection"].unchanged == ["billing", "maps"]

    rotated = run(fx, project, {**ENV, "BILLING_SECRET": "rotated-canary"})
    assert rotated.kinds["connection"].updated == ["billing"]
    assert rotated.details["connection"] == {"billing": ["secrets"]}
    assert "rotated-canary" not in json.dumps(rotated.to_json())
    assert fx.connections.spec("billing").client_secret == "rotated-canary"


def test_empty_environment_variable_is_an_error(fx: Functions, tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", CONNECTION)
    found = problems(fx, project, {**ENV, "MAPS_KEY": ""})
    assert found == [
        'floodway.toml: [[connection]] #2 "maps", key "key_env": environment variable '
        '"MAPS_KEY" is empty (connection "maps")'
    ]
    assert fx.connections.list() == []


def test_connections_need_a_secrets_key(fresh_crm: Crm, tmp_path: Path) -> None:  # noqa: F811
    fx = Functions(fresh_crm)  # no keyring
    project = write_project(tmp_path / "p", CONNECTION)
    found = problems(fx, project, ENV)
    assert len(found) == 2 and all("no secrets key is configured" in p for p in found)


def test_authorization_code_connection_is_refused_before_anything_is_written(
    fx: Functions, tmp_path: Path
) -> None:
    project = write_project(
        tmp_path / "p",
        """
        [[variable]]
        api_name = "x"
        value = true

        [[connection]]
        name = "crm2"
        type = "oauth2_authorization_code"
        authorize_url = "https://accounts.example.com/oauth/authorize"
        token_url = "https://accounts.example.com/oauth/token"
        client_id_env = "ID"
        client_secret_env = "SECRET"
        """,
    )
    [found] = problems(fx, project, {"ID": "i", "SECRET": "s"})
    assert 'key "type": an oauth2_authorization_code connection needs an authorisation' in found
    assert fx.variables.list() == []


FIELDS = """
[[module]]
api_name = "Projects"
singular = "Project"

[[field]]
module = "Accounts"
api_name = "Customer_Tier"
type = "picklist"
values = ["A", "B", "C"]

[[field]]
module = "Projects"
api_name = "Account"
type = "lookup"
lookup_module = "Accounts"

[[field]]
module = "Accounts"
api_name = "Code"
type = "text"
"""


def test_field_and_module_updates_keep_the_data(fx: Functions, tmp_path: Path) -> None:
    crm = fx.crm
    project = write_project(tmp_path / "p", FIELDS)
    first = run(fx, project)
    assert first.kinds["module"].created == ["Projects"]
    assert first.kinds["field"].created == [
        "Accounts.Customer_Tier",
        "Projects.Account",
        "Accounts.Code",
    ]
    projects = crm.metadata.module("Projects")
    link = projects.field("Account")
    assert projects.singular_label == "Project" and link is not None
    assert link.targets == ("Accounts",)
    actor = Actor(crm.primary_admin_id or "")
    rows = crm.records.create(
        "Accounts",
        [
            {"Account_Name": "One", "Customer_Tier": "C", "Code": "x1"},
            {"Account_Name": "Two", "Customer_Tier": "A", "Code": "x2"},
        ],
        actor=actor,
    )
    ids = [r["details"]["id"] for r in rows]

    edited = write_project(
        tmp_path / "p",
        FIELDS.replace('values = ["A", "B", "C"]', 'values = ["A", "B"]\nlabel = "Tier"')
        .replace('singular = "Project"', 'singular = "Project"\nplural = "All projects"')
        .replace('type = "text"', 'type = "text"\nunique = true\nrequired = true\nlength = 20'),
    )
    second = run(fx, edited)
    assert second.kinds["field"].updated == ["Accounts.Customer_Tier", "Accounts.Code"]
    assert second.details["field"] == {
        "Accounts.Customer_Tier": ["label", "values"],
        "Accounts.Code": ["length", "required", "unique"],
    }
    assert second.kinds["module"].updated == ["Projects"]
    accounts = crm.metadata.module("Accounts")
    tier, code = accounts.field("Customer_Tier"), accounts.field("Code")
    assert tier is not None and tier.label == "Tier" and tier.pick_list_values == ("A", "B")
    assert code is not None and code.unique and code.mandatory and code.length == 20
    assert "Code" in accounts.duplicate_fields
    assert crm.metadata.module("Projects").plural_label == "All projects"
    record = crm.records.get("Accounts", ids[0])
    assert record is not None and record["Customer_Tier"] == "C"  # data is never dropped
    assert run(fx, edited).changed is False


def test_refused_field_changes_are_found_before_anything_is_written(
    fx: Functions, tmp_path: Path
) -> None:
    crm = fx.crm
    project = write_project(tmp_path / "p", FIELDS)
    run(fx, project)
    actor = Actor(crm.primary_admin_id or "")
    crm.records.create(
        "Accounts",
        [{"Account_Name": "One", "Code": "Same"}, {"Account_Name": "Two", "Code": "same"}],
        actor=actor,
    )
    bad = write_project(
        tmp_path / "p",
        FIELDS.replace('type = "picklist"', 'type = "multiselectpicklist"')
        .replace('lookup_module = "Accounts"', 'lookup_module = "Contacts"')
        .replace('type = "text"', 'type = "text"\nunique = true')
        + '\n[[variable]]\napi_name = "v"\nvalue = 1\n',
    )
    found = problems(fx, bad)
    assert found == [
        'floodway.toml: [[field]] #1 "Customer_Tier", key "type": Accounts.Customer_Tier is a '
        "picklist field in the org; its type cannot change to multiselectpicklist (existing "
        "values would not fit): add a new field instead",
        'floodway.toml: [[field]] #2 "Account", key "lookup_module": Projects.Account looks up '
        "Accounts in the org; it cannot change to Contacts (existing values hold ids of the "
        "other module): add a new field instead",
        'floodway.toml: [[field]] #3 "Code", key "unique": Accounts.Code cannot become unique: '
        'records already share the value "same"',
    ]
    assert fx.variables.list() == []


def test_function_settings_change_without_a_new_version(fx: Functions, tmp_path: Path) -> None:
    source = 'string standalone.ping(String who)\n{\n    return "pong " + who;\n}\n'
    project = write_project(
        tmp_path / "p", '[[function]]\napi_name = "ping"\nrest = true\n', {"ping": source}
    )
    first = run(fx, project)
    assert first.kinds["function_settings"].created == ["ping"]
    assert fx.registry.get("ping").rest_enabled is True
    write_project(tmp_path / "p", '[[function]]\napi_name = "ping"\nrest = false\ntimeout_s = 5\n')
    second = run(fx, project)
    assert second.kinds["function"].unchanged == ["ping"]
    assert second.kinds["function_settings"].updated == ["ping"]
    assert second.details["function_settings"] == {"ping": ["rest_enabled", "timeout_s"]}
    info = fx.registry.get("ping")
    assert (info.rest_enabled, info.timeout_s, info.live_version) == (False, 5.0, 1)
    assert run(fx, project).changed is False


def test_settings_of_a_function_that_lives_only_in_the_org(fx: Functions, tmp_path: Path) -> None:
    fx.registry.create("void standalone.legacy()\n{\n}\n", publish=True)
    project = write_project(
        tmp_path / "p", '[[function]]\napi_name = "legacy"\ndescription = "kept in the org"\n'
    )
    report = run(fx, project)
    assert report.kinds["function_settings"].updated == ["legacy"]
    assert fx.registry.get("legacy").description == "kept in the org"
    missing = write_project(tmp_path / "q", '[[function]]\napi_name = "nowhere"\nrest = true\n')
    [found] = problems(fx, missing)
    assert 'function "nowhere" is neither in functions/ nor in the org' in found


def test_timeout_beyond_the_registry_limit_is_refused(fx: Functions, tmp_path: Path) -> None:
    project = write_project(
        tmp_path / "p",
        '[[function]]\napi_name = "slow"\ntimeout_s = 100000\n',
        {"slow": "void standalone.slow()\n{\n}\n"},
    )
    [found] = problems(fx, project)
    assert found == (
        'floodway.toml: [[function]] #1 "slow", key "timeout_s": must be at most 86400 seconds'
    )
    assert fx.registry.list() == []


def test_function_drafts_and_unpublished_functions(fx: Functions, tmp_path: Path) -> None:
    """A function the org has only as a draft is published by deploy; a draft saved after the
    live version does not make the project's (live) source look changed."""
    source = 'string standalone.greet()\n{\n    return "hi";\n}\n'
    fx.registry.create(source)  # draft only
    project = write_project(tmp_path / "p", "", {"greet": source})
    report = run(fx, project)
    assert report.kinds["function"].updated == ["greet"]
    assert fx.registry.get("greet").live_version == 1
    fx.registry.save("greet", source.replace("hi", "hello"))  # a newer draft
    again = run(fx, project)
    assert again.changed is False and fx.registry.get("greet").live_version == 1


def test_pull_skips_functions_without_a_live_version(fx: Functions, tmp_path: Path) -> None:
    fx.registry.create("void standalone.draft_only()\n{\n}\n")
    fx.registry.create("void standalone.live_one()\n{\n}\n", publish=True)
    report = pull(fx, tmp_path / "out")
    assert report.written.created == ["live_one"] and report.versions == {"live_one": 1}
    assert not (tmp_path / "out" / "functions" / "draft_only.dg").exists()


def test_triggers_are_applied_after_their_functions_and_drafts_are_refused(
    fx: Functions, tmp_path: Path
) -> None:
    from floodway.automation.store import AutomationStore

    fx.registry.save("draft_rule", "void automation.draft_rule()\n{\n    info 1;\n}\n", create=True)
    rules = """
    [[variable]]
    api_name = "v"
    value = "1"

    [[workflow]]
    name = "Uses a draft"
    module = "Deals"
    on = "create"

    [[workflow.actions]]
    function = "draft_rule"
    """
    project = write_project(tmp_path / "p", rules)
    assert problems(fx, project) == [
        'floodway.toml: [[workflow]] #1 "Uses a draft", [[workflow.actions]] #1, key "function": '
        'function "draft_rule" has no published version in the org; publish it or add it to '
        "functions/"
    ]
    store = AutomationStore(fx.crm, fx)
    assert store.list("workflow") == [] and fx.variables.get("v") is None  # nothing written

    # The same rule naming a function of the project: published first, then the rule stored.
    write_project(
        project,
        rules.replace("draft_rule", "rule_fn"),
        {"rule_fn": "void automation.rule_fn()\n{\n    info 1;\n}\n"},
    )
    dry = run(fx, project, dry_run=True)
    assert dry.kinds["workflow"].created == ["Deals/Uses a draft"] and store.list("workflow") == []
    report = run(fx, project, store=store)
    assert report.kinds["workflow"].created == ["Deals/Uses a draft"]
    assert report.versions == {"rule_fn": 1}
    assert [i.name for i in store.active("workflow", "Deals")] == ["Uses a draft"]
    assert report.to_json()["kinds"]["workflow"]["created"] == ["Deals/Uses a draft"]
