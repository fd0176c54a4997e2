"""Each kind of problem ``load_project`` reports, with its exact text, and that all are collected."""

from __future__ import annotations

from pathlib import Path

import pytest

from floodway.crm.standard import standard_modules
from floodway.project import Problem, ProjectError, load_project

from .conftest import ProblemsFn, write

FUNCS = {
    "rollup": "void automation.rollup(Int accountId)\n{\n    info accountId;\n}\n",
    "btn": "string button.btn(String ids)\n{\n    return ids;\n}\n",
    "rel": 'string related_list.rel(Int accountId)\n{\n    return "<record></record>";\n}\n',
    "check": 'map validation.check(map crmAPIRequest)\n{\n    return {"status": "success"};\n}\n',
    "nightly": "void schedule.nightly()\n{\n    info 1;\n}\n",
    "tool": "string standalone.tool(String a)\n{\n    return a;\n}\n",
    "nightly2": "void schedule.nightly2(Int limit)\n{\n    info limit;\n}\n",
    "check2": "map validation.check2(map deal)\n{\n    return deal;\n}\n",
}
SCHEMA = {m.api_name: {f.api_name: f.type for f in m.fields.values()} for m in standard_modules()}

WF = 'floodway.toml: [[workflow]] #1 "R"'
ACT = f"{WF}, [[workflow.actions]] #1"


def rule(body: str = "", action: str = 'function = "rollup"', on: str = "edit") -> str:
    return f"""
[[workflow]]
name = "R"
module = "Deals"
on = "{on}"
{body}

[[workflow.actions]]
{action}
"""


CASES: list[tuple[str, str, list[str]]] = [
    # --- TOML and tables
    ("toml-syntax", "a = = 1\n", ["floodway.toml:1:5: invalid TOML: Invalid value"]),
    (
        "unknown-table",
        "[[workflows]]\nname = 'x'\n",
        ['floodway.toml: key "workflows": unknown table "workflows" (did you mean "workflow"?)'],
    ),
    (
        "table-not-array",
        "[workflow]\nname = 'x'\n",
        ['floodway.toml: key "workflow": must be an array of tables ([[workflow]]), not table'],
    ),
    (
        "org-not-table",
        "org = 'x'\n",
        ['floodway.toml: key "org": must be a table ([org]), not text'],
    ),
    (
        "unknown-key",
        rule('critera = "(Stage:equals:Won)"'),
        [f'{WF}, key "critera": unknown key "critera" (did you mean "criteria"?)'],
    ),
    (
        "wrong-type",
        rule('order = "1"'),
        [f'{WF}, key "order": must be an integer, not text'],
    ),
    (
        "missing-key",
        '[[workflow]]\nname = "R"\non = "edit"\n[[workflow.actions]]\nfunction = "rollup"\n',
        [f'{WF}, key "module": missing required key "module"'],
    ),
    (
        "unknown-enum",
        rule(on="creat"),
        [
            f'{WF}, key "on": unknown value "creat"; expected one of: create, edit, '
            "create_or_edit, field_update, delete, date"
        ],
    ),
    # --- [org]
    (
        "org-time-zone",
        '[org]\ntime_zone = "Europe/Berln"\ncurrency = "euro"\n',
        [
            'floodway.toml: [org], key "time_zone": unknown time zone "Europe/Berln"; expected '
            'an IANA name such as "Europe/Berlin"',
            'floodway.toml: [org], key "currency": invalid currency "euro"; expected an ISO 4217 '
            'code such as "EUR"',
        ],
    ),
    # --- [[module]] / [[field]] / [[variable]] / [[function]]
    (
        "standard-module",
        '[[module]]\napi_name = "Deals"\n',
        [
            'floodway.toml: [[module]] #1 "Deals", key "api_name": "Deals" is a standard module; '
            "[[module]] defines custom modules"
        ],
    ),
    (
        "duplicate-module",
        '[[module]]\napi_name = "Projects"\n[[module]]\napi_name = "projects"\n',
        [
            'floodway.toml: [[module]] #2 "projects", key "api_name": duplicate module "projects" '
            "(also [[module]] #1)"
        ],
    ),
    (
        "bad-api-name",
        '[[field]]\nmodule = "Deals"\napi_name = "Total Revenue"\ntype = "currency"\n',
        [
            'floodway.toml: [[field]] #1 "Total Revenue", key "api_name": invalid field API name '
            '"Total Revenue": use letters, digits and _, starting with a letter (at most 100 '
            "characters)"
        ],
    ),
    (
        "field-type",
        '[[field]]\nmodule = "Deals"\napi_name = "X"\ntype = "money"\n',
        [
            'floodway.toml: [[field]] #1 "X", key "type": unknown value "money"; expected one of: '
            "text, textarea, email, phone, url, picklist, multiselectpicklist, date, datetime, "
            "integer, bigint, decimal, currency, percent, boolean, lookup"
        ],
    ),
    (
        "field-picklist-lookup",
        '[[field]]\nmodule = "Deals"\napi_name = "Tier"\ntype = "picklist"\n'
        '[[field]]\nmodule = "Deals"\napi_name = "Link"\ntype = "lookup"\nlength = 5\n'
        '[[field]]\nmodule = "Deals"\napi_name = "Note"\ntype = "text"\nvalues = ["a"]\n',
        [
            'floodway.toml: [[field]] #1 "Tier", key "values": missing required key "values" '
            "(type picklist)",
            'floodway.toml: [[field]] #2 "Link", key "lookup_module": missing required key '
            '"lookup_module" (type lookup)',
            'floodway.toml: [[field]] #2 "Link", key "length": "length" does not apply to lookup '
            "fields",
            'floodway.toml: [[field]] #3 "Note", key "values": "values" only applies to picklist '
            "and multiselectpicklist, not text",
        ],
    ),
    (
        "field-system-and-standard",
        '[[field]]\nmodule = "Deals"\napi_name = "Owner"\ntype = "text"\n'
        '[[field]]\nmodule = "Accounts"\napi_name = "Phone"\ntype = "phone"\n',
        [
            'floodway.toml: [[field]] #1 "Owner", key "api_name": "Owner" is a system field name',
            'floodway.toml: [[field]] #2 "Phone", key "api_name": "Phone" is a standard field of '
            "Accounts; [[field]] defines custom fields",
        ],
    ),
    (
        "variable-value",
        '[[variable]]\napi_name = "v"\n[[variable]]\napi_name = "w"\nvalue = [1]\n',
        [
            'floodway.toml: [[variable]] #1 "v", key "value": missing required key "value"',
            'floodway.toml: [[variable]] #2 "w", key "value": must be text, a number or a '
            "boolean, not array",
        ],
    ),
    (
        "function-setting",
        '[[function]]\napi_name = "tool"\nrest = "yes"\ntimeout_s = 0\n',
        [
            'floodway.toml: [[function]] #1 "tool", key "rest": must be a boolean (true or '
            "false), not text",
            'floodway.toml: [[function]] #1 "tool", key "timeout_s": must be greater than 0, not 0',
        ],
    ),
    # --- [[connection]]
    (
        "connection-api-key",
        '[[connection]]\nname = "billing"\ntype = "api_key"\nkey_env = "BILLING-KEY"\n'
        'token_url = "https://x"\n',
        [
            'floodway.toml: [[connection]] #1 "billing", key "token_url": "token_url" does not '
            "apply to type api_key",
            'floodway.toml: [[connection]] #1 "billing", key "hosts": missing required key "hosts" '
            "(type api_key)",
            'floodway.toml: [[connection]] #1 "billing", key "key_env": invalid environment '
            'variable name "BILLING-KEY": use letters, digits and _',
            'floodway.toml: [[connection]] #1 "billing": an api_key connection needs exactly one '
            'of "header" or "query"',
        ],
    ),
    (
        "connection-oauth",
        '[[connection]]\nname = "pm"\ntype = "oauth2_client_credentials"\n'
        'token_url = "ftp://pm.example.com/token"\nclient_id_env = "A"\n'
        'hosts = ["https://pm.example.com"]\n',
        [
            'floodway.toml: [[connection]] #1 "pm", key "client_secret_env": missing required key '
            '"client_secret_env" (type oauth2_client_credentials)',
            'floodway.toml: [[connection]] #1 "pm", key "token_url": must be an http or https URL '
            'with a host, not "ftp://pm.example.com/token"',
            'floodway.toml: [[connection]] #1 "pm", key "hosts": entry "https://pm.example.com" '
            "must be a host name, not a URL",
        ],
    ),
    (
        "connection-name",
        '[[connection]]\nname = "pm service"\ntype = "basic"\nuser_env = "U"\n'
        'password_env = "P"\nhosts = ["x.example"]\n',
        [
            'floodway.toml: [[connection]] #1 "pm service", key "name": invalid connection name '
            '"pm service": use letters, digits, _, . or - (at most 100 characters)'
        ],
    ),
    (
        "connection-type",
        '[[connection]]\nname = "x"\ntype = "oauth"\n',
        [
            'floodway.toml: [[connection]] #1 "x", key "type": unknown value "oauth"; expected one '
            "of: oauth2_authorization_code, oauth2_client_credentials, api_key, basic"
        ],
    ),
    # --- workflow rules
    (
        "no-actions",
        '[[workflow]]\nname = "R"\nmodule = "Deals"\non = "edit"\n',
        [
            f'{WF}, key "actions": a workflow needs at least one action ([[workflow.actions]])',
        ],
    ),
    (
        "criteria",
        rule('criteria = "(Stage:equal:Closed Won)"'),
        [f"{WF}, key \"criteria\": Unknown operator 'equal' at column 8"],
    ),
    (
        "criteria-unclosed",
        rule('criteria = "((Stage:equals:Won)and(Amount:greater_than:5)"'),
        [f"{WF}, key \"criteria\": Missing ')' to close the '(' at column 1 at column 46"],
    ),
    (
        "field-update-without-fields",
        rule(on="field_update"),
        [f'{WF}, key "fields": missing required key "fields"'],
    ),
    (
        "fields-on-create",
        rule('fields = ["Stage"]', on="create"),
        [f'{WF}, key "fields": "fields" does not apply to on = "create"'],
    ),
    (
        "date-keys-on-edit",
        rule('offset = "-2d"'),
        [f'{WF}, key "offset": "offset" only applies to on = "date"'],
    ),
    (
        "date-rule",
        rule('date_field = "Closing_Date"\noffset = "2 days"\nat = "25:00"', on="date"),
        [
            f'{WF}, key "offset": invalid offset "2 days"; expected a signed number of days or '
            'weeks (e.g. "-2d", "+1w", "0d")',
            f'{WF}, key "at": invalid time "25:00"; expected HH:MM from 00:00 to 23:59',
        ],
    ),
    (
        "date-rule-field-types",
        rule('date_field = "Amount"', on="date")
        + rule('date_field = "Created_Time"\nat = "09:00"', on="date").replace('"R"', '"S"'),
        [
            f'{WF}, key "date_field": "Amount" is a currency field; date rules need a date or '
            "datetime field",
            'floodway.toml: [[workflow]] #2 "S", key "at": "at" applies to date fields only; '
            '"Created_Time" is a datetime field',
        ],
    ),
    (
        "after",
        rule(action='after = "3 days"\nfield_update = { Next_Step = "x" }'),
        [
            f'{ACT}, key "after": invalid duration "3 days"; expected a whole number and a unit '
            'm, h, d or w (e.g. "30m", "2h", "3d", "1w")'
        ],
    ),
    (
        "after-zero",
        rule(action='after = "0h"\nfield_update = { Next_Step = "x" }'),
        [f'{ACT}, key "after": invalid duration "0h": must be greater than zero'],
    ),
    (
        "delete-rule-actions",
        rule(action='after = "1h"\nfield_update = { Next_Step = "x" }', on="delete"),
        [
            f'{ACT}, key "after": scheduled actions are not possible on delete rules (the record '
            "is gone)",
            f'{ACT}, key "field_update": field updates are not possible on delete rules',
        ],
    ),
    (
        "action-kinds",
        rule(action='function = "rollup"\nwebhook = { url = "https://x" }')
        + '[[workflow.actions]]\nafter = "1h"\n',
        [
            f"{ACT}: an action has exactly one kind; found function and webhook",
            f"{WF}, [[workflow.actions]] #2: an action needs one of: function, field_update, "
            "webhook, email, task",
        ],
    ),
    (
        "arguments-on-field-update",
        rule(action='field_update = { Next_Step = "x" }\narguments = { a = "b" }'),
        [f'{ACT}, key "arguments": "arguments" only applies to function actions'],
    ),
    (
        "read-only-field-update",
        rule(action='field_update = { Created_Time = "x" }'),
        [f'{ACT}, key "field_update.Created_Time": "Created_Time" cannot be updated'],
    ),
    (
        "webhook",
        rule(action='webhook = { url = "ftp://x/${Deals.id}", method = "FETCH", tls = true }'),
        [
            f'{ACT}, key "webhook.tls": unknown key "tls"',
            f'{ACT}, key "webhook.url": must start with http:// or https://',
            f'{ACT}, key "webhook.method": unknown value "FETCH"; expected one of: GET, POST, '
            "PUT, PATCH, DELETE",
        ],
    ),
    (
        "email",
        rule(action='email = { to = "${Deals.Owner.email}" }'),
        [f'{ACT}, key "email.subject": missing required key "email.subject"'],
    ),
    (
        "task",
        rule(action='task = { Due_Date = "+2h" }'),
        [
            f'{ACT}, key "task": a task needs a "Subject"',
            f'{ACT}, key "task.Due_Date": "+2h" on the date field Due_Date: use days or weeks',
        ],
    ),
    # --- merge fields
    (
        "merge-syntax",
        rule(action='function = "rollup"\narguments = { accountId = "id ${Deals.Amount" }'),
        [f'{ACT}, key "arguments.accountId": unclosed merge field "${{Deals.Amount" at column 4'],
    ),
    (
        "merge-no-module",
        rule(action='function = "rollup"\narguments = { accountId = "${Amount}" }'),
        [
            f'{ACT}, key "arguments.accountId": merge field "${{Amount}}" at column 1 names no '
            "module; expected ${Module.Field}, ${Module.Field.id|name|email}, ${org.time_zone} "
            "or ${selected_ids}"
        ],
    ),
    (
        "merge-bad-part",
        rule(action='function = "rollup"\narguments = { accountId = "${Deals.Account_Name.ID2}" }'),
        [
            f'{ACT}, key "arguments.accountId": merge field "${{Deals.Account_Name.ID2}}" at '
            'column 1: unknown part "ID2"; expected id, name or email'
        ],
    ),
    (
        "merge-org",
        rule(action='function = "rollup"\narguments = { accountId = "${org.currency}" }'),
        [
            f'{ACT}, key "arguments.accountId": unknown org merge field "${{org.currency}}" at '
            "column 1; only ${org.time_zone} is available"
        ],
    ),
    (
        "merge-module-mismatch",
        rule(action='function = "rollup"\narguments = { accountId = "${Accounts.id}" }'),
        [
            f'{ACT}, key "arguments.accountId": ${{Accounts.id}} names module Accounts, but the '
            "workflow is on Deals"
        ],
    ),
    (
        "merge-subfield-on-non-lookup",
        rule(action='function = "rollup"\narguments = { accountId = "${Deals.Amount.id}" }')
        + '[[workflow.actions]]\nfield_update = { Next_Step = "${Deals.Account_Name.email}" }\n',
        [
            f'{ACT}, key "arguments.accountId": ${{Deals.Amount.id}}: Amount is a currency '
            "field; .id applies to lookup and owner fields",
            f'{WF}, [[workflow.actions]] #2, key "field_update.Next_Step": '
            "${Deals.Account_Name.email}: .email applies to owner fields (Owner, Created_By, "
            "Modified_By)",
        ],
    ),
    (
        "selected-ids-outside-list-button",
        rule(action='field_update = { Next_Step = "${selected_ids}" }'),
        [
            f'{ACT}, key "field_update.Next_Step": ${{selected_ids}} is only available to list '
            'buttons (placement = "list")'
        ],
    ),
    (
        "record-field-on-list-button",
        '[[button]]\nname = "B"\nmodule = "Deals"\nplacement = "list"\nfunction = "btn"\n'
        'arguments = { ids = "${Deals.id}" }\n',
        [
            'floodway.toml: [[button]] #1 "B", key "arguments.ids": ${Deals.id}: a list button '
            "has no single record; use ${selected_ids}"
        ],
    ),
    # --- function categories and signatures
    (
        "category",
        rule(action='function = "btn"')
        + '[[button]]\nname = "B"\nmodule = "Deals"\nfunction = "rollup"\n'
        '[[related_list]]\nname = "L"\nmodule = "Deals"\nfunction = "check"\n'
        '[[validation]]\nname = "V"\nmodule = "Deals"\nfunction = "rel"\n',
        [
            f'{ACT}, key "function": function "btn" is a button function; a workflow action needs '
            "an automation function",
            'floodway.toml: [[button]] #1 "B", key "function": function "rollup" is an automation '
            "function; a button needs a button function",
            'floodway.toml: [[related_list]] #1 "L", key "function": function "check" is a '
            "validation function; a related list needs a related_list function",
            'floodway.toml: [[validation]] #1 "V", key "function": function "rel" is a '
            "related_list function; a validation rule needs a validation function",
        ],
    ),
    (
        "unknown-argument",
        rule(action='function = "rollup"\narguments = { accountID = "${Deals.Account_Name}" }'),
        [
            f'{ACT}, key "arguments.accountID": "accountID" is not a parameter of rollup '
            "(parameters: Int accountId)"
        ],
    ),
    (
        "schedule-function",
        '[[schedule]]\nname = "S"\nfunction = "rollup"\ndaily = "02:00"\n',
        [
            'floodway.toml: [[schedule]] #1 "S", key "function": function "rollup" is an '
            "automation function; a schedule needs a schedule function",
        ],
    ),
    (
        "schedule-function-parameters",
        '[[schedule]]\nname = "S"\nfunction = "nightly2"\ndaily = "02:00"\n'
        '[[validation]]\nname = "V"\nmodule = "Deals"\nfunction = "check2"\n',
        [
            'floodway.toml: [[validation]] #1 "V", key "function": validation function "check2" '
            'receives only crmAPIRequest; parameter "deal" would always be null',
            'floodway.toml: [[schedule]] #1 "S", key "function": schedule function "nightly2" '
            "must be parameterless; it declares Int limit",
        ],
    ),
    # --- schedules
    (
        "schedule-cron",
        '[[schedule]]\nname = "S"\nfunction = "nightly"\ncron = "0 25 * * *"\n'
        'timezone = "Mars/Base"\n',
        [
            'floodway.toml: [[schedule]] #1 "S", key "timezone": unknown time zone "Mars/Base"; '
            'expected an IANA name such as "Europe/Berlin"',
            'floodway.toml: [[schedule]] #1 "S", key "cron": invalid cron expression '
            '"0 25 * * *": hour field: 25 is out of range 0-23',
        ],
    ),
    (
        "schedule-two-kinds",
        '[[schedule]]\nname = "S"\nfunction = "nightly"\ncron = "0 2 * * *"\ndaily = "02:00"\n'
        '[[schedule]]\nname = "T"\nfunction = "nightly"\n',
        [
            'floodway.toml: [[schedule]] #1 "S": a schedule has exactly one of cron, every, daily, '
            "weekly, monthly, once; found cron and daily",
            'floodway.toml: [[schedule]] #2 "T": a schedule needs one of: cron, every, daily, '
            "weekly, monthly, once",
        ],
    ),
    (
        "schedule-shorthands",
        '[[schedule]]\nname = "A"\nfunction = "nightly"\nevery = "7m"\n'
        '[[schedule]]\nname = "B"\nfunction = "nightly"\nweekly = "mon"\n'
        '[[schedule]]\nname = "C"\nfunction = "nightly"\nmonthly = "32 02:00"\n'
        '[[schedule]]\nname = "D"\nfunction = "nightly"\nonce = "2027-13-01T09:00"\n',
        [
            'floodway.toml: [[schedule]] #1 "A", key "every": invalid every "7m": the interval '
            'must divide a day evenly (e.g. "5m", "15m", "1h", "6h")',
            'floodway.toml: [[schedule]] #2 "B", key "weekly": invalid weekly "mon"; expected day '
            'names and a time, e.g. "mon 02:00" or "mon,thu 02:00"',
            'floodway.toml: [[schedule]] #3 "C", key "monthly": invalid monthly "32 02:00": day '
            '"32" must be a number from 1 to 31',
            'floodway.toml: [[schedule]] #4 "D", key "once": invalid once "2027-13-01T09:00": no '
            "such date or time",
        ],
    ),
    (
        "schedule-once-in-a-dst-gap",
        '[org]\ntime_zone = "Europe/Berlin"\n'
        '[[schedule]]\nname = "S"\nfunction = "nightly"\nonce = "2027-03-28T02:30"\n',
        [
            'floodway.toml: [[schedule]] #1 "S", key "once": invalid once "2027-03-28T02:30": '
            "this local time does not exist in Europe/Berlin (daylight-saving change)"
        ],
    ),
    # --- duplicates of trigger entries
    (
        "duplicate-names",
        rule()
        + rule().replace('on = "edit"', 'on = "create"')
        + '[[schedule]]\nname = "S"\nfunction = "nightly"\ndaily = "02:00"\n'
        '[[schedule]]\nname = "s"\nfunction = "nightly"\ndaily = "03:00"\n',
        [
            'floodway.toml: [[workflow]] #2 "R", key "name": duplicate workflow "R" on Deals '
            "(also [[workflow]] #1)",
            'floodway.toml: [[schedule]] #2 "s", key "name": duplicate schedule "s" (also '
            "[[schedule]] #1)",
        ],
    ),
]


@pytest.mark.parametrize(("toml", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_problem_messages(problems: ProblemsFn, toml: str, expected: list[str]) -> None:
    assert problems(toml, FUNCS) == expected


SCHEMA_CASES: list[tuple[str, str, list[str]]] = [
    (
        "unknown-module",
        rule().replace('"Deals"', '"Dealz"')
        + '[[field]]\nmodule = "Acounts"\napi_name = "Tier"\ntype = "text"\n',
        [
            'floodway.toml: [[field]] #1 "Tier", key "module": unknown module "Acounts" (did you '
            'mean "Accounts"?)',
            f'{WF}, key "module": unknown module "Dealz" (did you mean "Deals"?)',
        ],
    ),
    (
        "unknown-fields",
        rule('criteria = "(Amout:greater_than:5)"', on="field_update").replace(
            'on = "field_update"', 'on = "field_update"\nfields = ["Stag"]'
        )
        + '[[workflow.actions]]\nfield_update = { Foo = "${Deals.Amountt}" }\n',
        [
            f'{WF}, key "fields": unknown field "Stag" in module Deals (did you mean "Stage"?)',
            f'{WF}, key "criteria": condition at column 1: unknown field "Amout" in module Deals '
            '(did you mean "Amount"?)',
            f'{WF}, [[workflow.actions]] #2, key "field_update.Foo": unknown field "Foo" in module '
            "Deals",
            f'{WF}, [[workflow.actions]] #2, key "field_update.Foo": ${{Deals.Amountt}}: unknown '
            'field "Amountt" in module Deals (did you mean "Amount"?)',
        ],
    ),
    (
        "criteria-against-types",
        rule('criteria = "((Amount:starts_with:x)and(Closing_Date:equals:soon))"'),
        [
            f'{WF}, key "criteria": operator not supported for currency at column 2',
            f"{WF}, key \"criteria\": Value 'soon' does not fit the date field 'Closing_Date' at "
            "column 27",
        ],
    ),
    (
        "manifest-fields-are-known",
        '[[module]]\napi_name = "Projects"\n'
        '[[field]]\nmodule = "Projects"\napi_name = "Budget"\ntype = "currency"\n'
        '[[button]]\nname = "B"\nmodule = "Projects"\nfunction = "btn"\n'
        'arguments = { ids = "${Projects.Name} ${Projects.Budget} ${Projects.Owner.email}" }\n',
        [],
    ),
]


@pytest.mark.parametrize(
    ("toml", "expected"), [c[1:] for c in SCHEMA_CASES], ids=[c[0] for c in SCHEMA_CASES]
)
def test_problem_messages_with_org_schema(
    problems: ProblemsFn, toml: str, expected: list[str]
) -> None:
    assert problems(toml, FUNCS, schema=SCHEMA) == expected


def test_without_a_schema_unknown_names_are_left_to_deploy(problems: ProblemsFn) -> None:
    """A field added in the web UI is unknown to the files alone: not an error without a schema."""
    toml = rule('criteria = "(Custom_Score:greater_than:5)"').replace('"Deals"', '"Dealz"')
    assert problems(toml, FUNCS) == []
    toml = rule(action='field_update = { Custom_Score = "${Deals.Custom_Field}" }')
    assert problems(toml, FUNCS) == []


def test_function_files(problems: ProblemsFn) -> None:
    funcs = {
        "broken": "void automation.broken()\n{\n    x = ;\n}\n",
        "other": "void automation.renamed()\n{\n    info 1;\n}\n",
        "bad-name": "info 1;\n",
        "Dup": "void automation.Dup()\n{\n    info 1;\n}\n",
        "dup": "void automation.dup()\n{\n    info 1;\n}\n",
        "bare": "info x;\n",
    }
    # A reference to a file that failed is not also reported as missing from the org.
    assert problems(rule(action='function = "broken"'), funcs, org_functions={}) == [
        'functions/bad-name.dg: invalid file name "bad-name.dg": the file name is the '
        "function's API name; use letters, digits and _",
        "functions/broken.dg:3:9: Unexpected ';' — expected a value",
        'functions/dup.dg: duplicate function API name "dup" (also functions/Dup.dg)',
        'functions/other.dg: the header declares API name "renamed" but the file is named '
        '"other.dg"; rename the file to renamed.dg',
    ]


def test_bare_script_is_a_standalone_function(tmp_path: Path) -> None:
    root = write(tmp_path, "", {"hello": 'info "hi";\n'})
    (fn,) = load_project(root).functions
    assert (fn.api_name, fn.category, fn.return_type, fn.params) == (
        "hello",
        "standalone",
        None,
        (),
    )


def test_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(ProjectError) as info:
        load_project(tmp_path)
    assert info.value.items == [
        Problem(
            "floodway.toml",
            "not found: a project directory needs a floodway.toml (it may be empty)",
        )
    ]


def test_empty_manifest_is_a_valid_project(tmp_path: Path) -> None:
    project = load_project(write(tmp_path, ""))
    assert project.functions == [] and not project.has_triggers


def test_all_problems_are_collected_in_one_error(tmp_path: Path) -> None:
    """Problems in several tables and files come back together, in a readable message."""
    toml = "\n".join(c[1] for c in CASES if c[0] in ("org-time-zone", "criteria", "webhook"))
    root = write(tmp_path, toml, {**FUNCS, "broken": "void automation.broken()\n{\n x = ;\n}\n"})
    with pytest.raises(ProjectError) as info:
        load_project(root)
    err = info.value
    assert len(err.items) == 7
    text = str(err)
    assert text.startswith("7 problems in the project\n  functions/broken.dg:3:6: ")
    problem = next(p for p in err.items if p.key == "criteria")
    assert (problem.file, problem.table, problem.index, problem.name) == (
        "floodway.toml",
        "workflow",
        1,
        "R",
    )


def test_files_that_are_not_utf8(tmp_path: Path) -> None:
    root = write(tmp_path, "")
    (root / "floodway.toml").write_bytes(b'[org]\ncurrency = "\xff"\n')
    (root / "functions").mkdir()
    (root / "functions" / "f.dg").write_bytes(b'info "\xfe";\n')
    with pytest.raises(ProjectError) as info:
        load_project(root)
    assert [str(p) for p in info.value.items] == [
        "functions/f.dg: not valid UTF-8 text (byte 6)",
        "floodway.toml: not valid UTF-8 text (byte 18)",
    ]


def test_bom_is_not_part_of_the_source(tmp_path: Path) -> None:
    root = write(tmp_path, "")
    (root / "functions").mkdir()
    (root / "functions" / "f.dg").write_bytes(b'\xef\xbb\xbfinfo "x";\n')
    assert load_project(root).functions[0].source == 'info "x";\n'


def test_problem_text_forms() -> None:
    assert str(Problem("floodway.toml", "boom")) == "floodway.toml: boom"
    assert str(Problem("functions/a.dg", "bad", line=3, column=7)) == "functions/a.dg:3:7: bad"
    err = ProjectError([Problem("floodway.toml", "boom")])
    assert str(err) == "1 problem in the project\n  floodway.toml: boom"
