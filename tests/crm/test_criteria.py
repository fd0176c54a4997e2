"""Tests of the Zoho criteria parser and its in-memory evaluation (zoho-rest-compat.md §6)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from floodway.crm.criteria import (
    And,
    Condition,
    CriteriaError,
    CriteriaLimitError,
    Or,
    compile_criteria,
    evaluate,
    iter_conditions,
    parse_criteria,
)

# --------------------------------------------------------------------------- grammar


def test_single_condition() -> None:
    c = parse_criteria("(Stage:equals:Closed Won)")
    assert c == Condition("Stage", "equals", ("Closed Won",), None, 1)


def test_and_pair_positions() -> None:
    c = parse_criteria("((Stage:equals:Closed Won)and(Amount:greater_than:5000))")
    assert isinstance(c, And)
    a, b = c.items
    assert a == Condition("Stage", "equals", ("Closed Won",), None, 2)
    assert b == Condition("Amount", "greater_than", ("5000",), None, 30)


def test_bare_condition_without_parentheses() -> None:
    assert parse_criteria("  Stage:equals:Closed Won ") == Condition(
        "Stage", "equals", ("Closed Won",), None, 3
    )


def test_and_binds_tighter_than_or() -> None:
    c = parse_criteria("(a:equals:1)or(b:equals:2)and(c:equals:3)")
    assert isinstance(c, Or)
    assert isinstance(c.items[1], And)
    assert [x.field for x in iter_conditions(c)] == ["a", "b", "c"]


def test_flat_chains_and_nested_groups() -> None:
    c = parse_criteria("(((a:equals:1) or (b:equals:2)) and (c:equals:3) and (d:equals:4))")
    assert isinstance(c, And)
    assert len(c.items) == 3
    assert isinstance(c.items[0], Or)


def test_conjunction_case_and_whitespace() -> None:
    c = parse_criteria("(a:equals:1)AND (b:equals:2)  Or(c:equals:3)")
    assert isinstance(c, Or)
    assert isinstance(c.items[0], And)


def test_operator_case_insensitive_and_canonical() -> None:
    c = parse_criteria("(Stage:EQUALS:x)")
    assert isinstance(c, Condition) and c.operator == "equals"
    c = parse_criteria("(Amount:Greater_Equal:5)")
    assert isinstance(c, Condition) and c.operator == "greater_equal"


@pytest.mark.parametrize(
    "op",
    [
        "equals",
        "not_equal",
        "starts_with",
        "in",
        "not_in",
        "greater_than",
        "greater_equal",
        "less_than",
        "less_equal",
        "contains",
        "not_contains",
    ],
)
def test_every_operator_parses(op: str) -> None:
    c = parse_criteria(f"(F:{op}:v)")
    assert isinstance(c, Condition) and c.operator == op


def test_between_and_in_values() -> None:
    c = parse_criteria("(Created_Time:between:2026-02-01T00:00:00+00:00,2026-02-28T23:59:59+00:00)")
    assert isinstance(c, Condition)
    assert c.values == ("2026-02-01T00:00:00+00:00", "2026-02-28T23:59:59+00:00")
    c = parse_criteria("(Full_Name:in:Patricia, Boyle ,Kate)")
    assert isinstance(c, Condition) and c.values == ("Patricia", "Boyle", "Kate")


def test_values_trimmed_and_may_contain_colons() -> None:
    c = parse_criteria("(Description:equals:  a:b c  )")
    assert isinstance(c, Condition) and c.values == ("a:b c",)


def test_comma_is_literal_for_single_value_operators() -> None:
    c = parse_criteria("(Last_Name:equals:Smith, John)")
    assert isinstance(c, Condition) and c.values == ("Smith, John",)


def test_lookup_path() -> None:
    c = parse_criteria("(Account_Name.id:equals:4150868000000391012)")
    assert isinstance(c, Condition)
    assert (c.field, c.subfield, c.path) == ("Account_Name", "id", "Account_Name.id")
    c = parse_criteria("(Owner.email:equals:ana@example.com)")
    assert isinstance(c, Condition) and c.subfield == "email"


def test_empty_token() -> None:
    c = parse_criteria("(Email:equals:${EMPTY})")
    assert isinstance(c, Condition) and c.values == (None,)


def test_tree_is_immutable() -> None:
    c = parse_criteria("(a:equals:1)")
    with pytest.raises(AttributeError):
        c.field = "b"  # type: ignore[misc]


# --------------------------------------------------------------------------- escapes


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (r"(Account_Name:equals:Acme \(EU\))", "Acme (EU)"),
        (r"(Account_Name:equals:Acme \\(EU\\))", "Acme (EU)"),
        (r"(Code:equals:AB\\)", "AB\\"),
        (r"(Code:equals:a\\b)", "a\\b"),
        (r"(Code:equals:a\b)", "ab"),
        (r"(Account_Name:equals:Acme (EU))", "Acme (EU)"),
    ],
)
def test_escapes(text: str, value: str) -> None:
    c = parse_criteria(text)
    assert isinstance(c, Condition)
    assert c.values == (value,)


def test_escaped_comma_in_list() -> None:
    c = parse_criteria(r"(Account_Name:in:Acme\, Inc,Zylker)")
    assert isinstance(c, Condition) and c.values == ("Acme, Inc", "Zylker")
    c = parse_criteria(r"(Account_Name:in:Acme\\, Inc,Zylker)")
    assert isinstance(c, Condition) and c.values == ("Acme, Inc", "Zylker")


def test_strict_fallback_in_a_pair() -> None:
    c = parse_criteria(r"((Code:equals:AB\\)and(Name:equals:x))")
    assert isinstance(c, And)
    assert c.items[0] == Condition("Code", "equals", ("AB\\",), None, 2)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("", "Criteria is empty", 1),
        ("   ", "Criteria is empty", 4),
        ("(Stage:equals:Won", "Missing ')' to close the condition at column 1", 18),
        ("(Stage:equalz:Won)", "Unknown operator 'equalz'", 8),
        ("(Stage:equals)", "Expected ':' after the operator of the condition at column 1", 14),
        ("(Stage)", "Expected ':' after the field name of the condition at column 1", 7),
        ("(:equals:x)", "Missing field name", 2),
        ("(Sta ge:equals:x)", "Invalid field name 'Sta ge'", 2),
        ("(Stage:equals:)", "Missing value", 15),
        ("(Stage:equals:  )", "Missing value", 15),
        (
            "(a:equals:1)(b:equals:2)",
            "Unexpected text '(b:equals:'; expected 'and', 'or' or the end",
            13,
        ),
        ("(a:equals:1)and", "Unexpected end of criteria; expected '('", 16),
        ("(a:equals:1)and b", "Expected '(' but found 'b'", 17),
        ("((a:equals:1)", "Missing ')' to close the '(' at column 1", 14),
        ("(a:equals:1))", "Unexpected text ')'; expected 'and', 'or' or the end", 13),
        ("(a:between:1)", "'between' needs two values separated by ','", 12),
        ("(a:between:1,2,3)", "'between' needs two values separated by ','", 12),
        ("(a:in:1,,2)", "Empty value in the list", 7),
        ("(a:in:${EMPTY})", "${EMPTY} can only be used with equals or not_equal", 7),
        ("a:equals:x)", "Unexpected ')'", 11),
        ("(a:equals:x\\", "'\\' at the end of the criteria escapes nothing", 12),
    ],
)
def test_errors_name_what_and_where(text: str, message: str, column: int) -> None:
    with pytest.raises(CriteriaError) as info:
        parse_criteria(text)
    assert info.value.message == message
    assert info.value.position == column
    assert str(info.value) == f"{message} at column {column}"


def test_at_most_ten_conditions() -> None:
    ten = "(" + "and".join(f"(F{i}:equals:{i})" for i in range(10)) + ")"
    assert len(list(iter_conditions(parse_criteria(ten)))) == 10
    eleven = "(" + "and".join(f"(F{i}:equals:{i})" for i in range(11)) + ")"
    with pytest.raises(CriteriaLimitError) as info:
        parse_criteria(eleven)
    assert info.value.limit == 10
    assert "at most 10" in info.value.message


def test_in_at_most_hundred_values() -> None:
    ok = "(Id:in:" + ",".join(str(i) for i in range(100)) + ")"
    c = parse_criteria(ok)
    assert isinstance(c, Condition) and len(c.values) == 100
    with pytest.raises(CriteriaLimitError) as info:
        parse_criteria("(Id:in:" + ",".join(str(i) for i in range(101)) + ")")
    assert info.value.limit == 100


# --------------------------------------------------------------------------- evaluation

TYPES = {
    "Deal_Name": "text",
    "Stage": "picklist",
    "Amount": "currency",
    "Probability": "integer",
    "Closing_Date": "date",
    "Created_Time": "datetime",
    "Account_Name": "lookup",
    "Owner": "ownerlookup",
    "Description": "textarea",
    "Interests": "multiselectpicklist",
    "Email_Opt_Out": "boolean",
    "Email": "email",
    "id": "id",
}

DEAL = {
    "Deal_Name": "Renewal 2026",
    "Stage": "Closed Won",
    "Amount": 12500.0,
    "Probability": 20,
    "Closing_Date": "2026-03-31",
    "Created_Time": "2026-02-05T14:03:09+00:00",
    "Account_Name": {"name": "Acme Ltd", "id": "4150868000000391012"},
    "Owner": {"name": "Ana Admin", "id": "4150868000000224001", "email": "ana@example.com"},
    "Description": None,
    "Interests": ["Email", "Phone"],
    "Email_Opt_Out": False,
    "Email": "",
    "id": "4150868000000402001",
}


def ev(text: str, record: dict[str, object] = DEAL) -> bool:
    return evaluate(parse_criteria(text), record, TYPES)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(Deal_Name:equals:renewal 2026)", True),  # exact, ignoring case (D-51)
        ("(Deal_Name:equals:Renewal)", False),
        ("(Deal_Name:starts_with:REN)", True),
        ("(Deal_Name:contains:wal 20)", True),
        ("(Deal_Name:not_contains:wal 20)", False),
        ("(Deal_Name:not_equal:Other)", True),
        ("(Deal_Name:in:x,renewal 2026)", True),
        ("(Deal_Name:not_in:x,y)", True),
        ("(Stage:equals:closed won)", True),
        ("(Amount:equals:12500)", True),
        ("(Amount:greater_than:12499.99)", True),
        ("(Amount:less_than:12500)", False),
        ("(Amount:less_equal:12500.00)", True),
        ("(Amount:between:10000,12500)", True),
        ("(Amount:in:1,12500)", True),
        ("(Probability:greater_equal:20)", True),
        ("(Closing_Date:equals:2026-03-31)", True),
        ("(Closing_Date:greater_than:2026-03-30)", True),
        ("(Closing_Date:between:2026-01-01,2026-03-30)", False),
        ("(Created_Time:greater_than:2026-02-05T14:00:00+00:00)", True),
        ("(Created_Time:less_than:2026-02-05T15:00:00+01:00)", False),  # same instant
        ("(Created_Time:equals:2026-02-05T15:03:09+01:00)", True),
        ("(Account_Name:equals:4150868000000391012)", True),
        ("(Account_Name:equals:acme ltd)", True),
        ("(Account_Name:not_equal:Acme Ltd)", False),
        ("(Account_Name.id:equals:4150868000000391012)", True),
        ("(Account_Name.name:starts_with:acme)", True),
        ("(Owner:equals:ANA@example.com)", True),
        ("(Owner:equals:4150868000000224001)", True),
        ("(Owner.email:equals:ana@example.com)", True),
        ("(Interests:equals:phone)", True),
        ("(Interests:starts_with:em)", True),
        ("(Interests:in:SMS,Phone)", True),
        ("(Interests:not_equal:Phone)", False),
        ("(Email_Opt_Out:equals:false)", True),
        ("(Email_Opt_Out:equals:TRUE)", False),
        ("(id:equals:4150868000000402001)", True),
        ("((Stage:equals:Closed Won)and(Amount:greater_than:5000))", True),
        ("((Stage:equals:Closed Lost)or(Amount:greater_than:5000))", True),
        ("((Stage:equals:Closed Lost)or(Amount:greater_than:50000))", False),
    ],
)
def test_evaluate(text: str, expected: bool) -> None:
    assert ev(text) is expected


def test_empty_fields_never_match() -> None:
    assert ev("(Description:not_equal:x)") is False
    assert ev("(Description:not_contains:x)") is False
    assert ev("(Email:not_equal:a@b.c)") is False  # "" counts as empty
    rec = dict(DEAL, Account_Name=None)
    assert ev("(Account_Name:not_equal:1)", rec) is False
    assert ev("(Account_Name.name:not_equal:x)", rec) is False
    assert ev("(Interests:not_in:x)", dict(DEAL, Interests=[])) is False


def test_empty_token_semantics() -> None:
    assert ev("(Description:equals:${EMPTY})") is True
    assert ev("(Description:not_equal:${EMPTY})") is False
    assert ev("(Deal_Name:equals:${empty})") is False
    assert ev("(Deal_Name:not_equal:${EMPTY})") is True


def test_python_values_are_accepted() -> None:
    rec = {
        "Closing_Date": dt.date(2026, 3, 31),
        "Created_Time": dt.datetime(2026, 2, 5, 14, 3, 9, tzinfo=dt.UTC),
        "Amount": Decimal("10.5"),
        "Account_Name": "4150868000000391012",
    }
    assert ev("(Closing_Date:equals:2026-03-31)", rec)
    assert ev("(Created_Time:between:2026-02-05T00:00:00Z,2026-02-06T00:00:00Z)", rec)
    assert ev("(Amount:equals:10.50)", rec)
    assert ev("(Account_Name:equals:4150868000000391012)", rec)


def test_field_names_resolve_case_insensitively() -> None:
    assert ev("(deal_name:equals:Renewal 2026)")


@pytest.mark.parametrize(
    ("text", "message", "api_name"),
    [
        ("(Nope:equals:1)", "Unknown field 'Nope'", "Nope"),
        ("(Amount:starts_with:1)", "operator not supported for currency", "Amount"),
        ("(Stage:contains:x)", "operator not supported for picklist", "Stage"),
        ("(Description:in:x)", "operator not supported for textarea", "Description"),
        ("(Email_Opt_Out:greater_than:1)", "operator not supported for boolean", "Email_Opt_Out"),
        ("(Deal_Name:greater_than:a)", "operator not supported for text", "Deal_Name"),
        ("(Amount:equals:abc)", "Value 'abc' does not fit the currency field 'Amount'", "Amount"),
        (
            "(Closing_Date:equals:31-03-2026)",
            "Value '31-03-2026' does not fit the date field 'Closing_Date'",
            "Closing_Date",
        ),
        (
            "(Email_Opt_Out:equals:yes)",
            "Value 'yes' does not fit the boolean field 'Email_Opt_Out'",
            "Email_Opt_Out",
        ),
        (
            "(Created_Time:greater_than:soon)",
            "Value 'soon' does not fit the datetime field 'Created_Time'",
            "Created_Time",
        ),
        ("(Deal_Name.id:equals:1)", "Invalid lookup path 'Deal_Name.id'", "Deal_Name"),
        (
            "(Account_Name.email:equals:a@b.c)",
            "Invalid lookup path 'Account_Name.email'",
            "Account_Name",
        ),
        (
            "(Account_Name.id:equals:abc)",
            "Value 'abc' does not fit the lookup field 'Account_Name'",
            "Account_Name",
        ),
    ],
)
def test_type_errors(text: str, message: str, api_name: str) -> None:
    with pytest.raises(CriteriaError) as info:
        compile_criteria(parse_criteria(text), TYPES)
    assert info.value.message == message
    assert info.value.api_name == api_name
    assert info.value.position == 1


def test_type_error_position_inside_group() -> None:
    with pytest.raises(CriteriaError) as info:
        compile_criteria(parse_criteria("((Stage:equals:x)or(Amount:starts_with:1))"), TYPES)
    assert info.value.position == 20
    assert info.value.operator == "starts_with"


def test_datetime_without_offset_uses_zone() -> None:
    from zoneinfo import ZoneInfo

    c = parse_criteria("(Created_Time:equals:2026-02-05T15:03:09)")
    assert evaluate(c, DEAL, TYPES, ZoneInfo("Europe/Paris")) is True
    assert evaluate(c, DEAL, TYPES) is False
