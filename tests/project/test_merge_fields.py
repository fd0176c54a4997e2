"""Merge-field templates: parsing and rendering per functions-platform.md §3."""

from __future__ import annotations

import datetime as _dt
import json
from zoneinfo import ZoneInfo

import pytest

from floodway.deluge.values import DateTime, DelugeList
from floodway.project import MergeField, MergeFieldError, parse_template, render, render_json

TYPES = {
    "Deal_Name": "text",
    "Amount": "currency",
    "Probability": "integer",
    "Closing_Date": "date",
    "Signed_At": "datetime",
    "Account_Name": "lookup",
    "Hot": "boolean",
    "Tags": "multiselectpicklist",
    "Stage": "picklist",
}
DEAL = {
    "id": "4150868000000402001",
    "Deal_Name": "Big ${Deals.Amount} deal",
    "Amount": 1980.5,
    "Probability": 90,
    "Closing_Date": "2026-03-01",
    "Signed_At": "2026-02-01T10:00:00+00:00",
    "Account_Name": {"name": "Acme", "id": "4150868000000300001"},
    "Owner": {"name": "Ann Lee", "id": "4150868000000100001", "email": "ann@example.com"},
    "Hot": True,
    "Tags": ["A", "B"],
    "Stage": "Closed Won",
    "Description": None,
    "Next_Step": "",
}
ORG = {"time_zone": "Europe/Berlin"}


def r(text: str, **kw: object) -> object:
    return render(text, DEAL, "Deals", ORG, field_types=TYPES, **kw)  # type: ignore[arg-type]


def test_parse_template_parts() -> None:
    t = parse_template("Deal ${Deals.Deal_Name} for ${Deals.Account_Name.name}!")
    assert t.parts == (
        "Deal ",
        MergeField("field", "${Deals.Deal_Name}", 6, "Deals", "Deal_Name"),
        " for ",
        MergeField("field", "${Deals.Account_Name.name}", 29, "Deals", "Account_Name", "name"),
        "!",
    )
    assert not t.is_constant and t.single is None
    assert parse_template("${Deals.Owner.EMAIL}").single == MergeField(
        "field", "${Deals.Owner.EMAIL}", 1, "Deals", "Owner", "email"
    )
    assert parse_template("${org.time_zone}").single == MergeField(
        "org", "${org.time_zone}", 1, field="time_zone"
    )
    assert parse_template("${selected_ids}").single == MergeField(
        "selected_ids", "${selected_ids}", 1
    )
    assert parse_template("costs $5 {x}").parts == ("costs $5 {x}",)
    assert parse_template("").parts == ("",)
    assert parse_template("Closed Won").is_constant


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("a ${Deals.Amount", 'unclosed merge field "${Deals.Amount" at column 3', 3),
        (
            "${}",
            'empty merge field "${}" at column 1; expected ${Module.Field}, '
            "${Module.Field.id|name|email}, ${org.time_zone} or ${selected_ids}",
            1,
        ),
        (
            "x${Deals..id}",
            'invalid merge field "${Deals..id}" at column 2; expected ${Module.Field}, '
            "${Module.Field.id|name|email}, ${org.time_zone} or ${selected_ids}",
            2,
        ),
        (
            "${Deals.Owner.email.x}",
            'invalid merge field "${Deals.Owner.email.x}" at column 1; expected ${Module.Field}, '
            "${Module.Field.id|name|email}, ${org.time_zone} or ${selected_ids}",
            1,
        ),
        (
            "${ Deals.Amount }",
            'invalid merge field "${ Deals.Amount }" at column 1; expected ${Module.Field}, '
            "${Module.Field.id|name|email}, ${org.time_zone} or ${selected_ids}",
            1,
        ),
    ],
)
def test_parse_errors(text: str, message: str, column: int) -> None:
    with pytest.raises(MergeFieldError) as info:
        parse_template(text)
    assert (str(info.value), info.value.column) == (message, column)


def test_single_merge_field_is_typed() -> None:
    assert r("${Deals.id}") == "4150868000000402001"
    assert r("${Deals.Amount}") == 1980.5
    assert r("${Deals.Probability}") == 90
    assert r("${Deals.Hot}") is True
    assert r("${Deals.Stage}") == "Closed Won"
    assert r("${Deals.Account_Name}") == "4150868000000300001"
    assert r("${Deals.Account_Name.id}") == "4150868000000300001"
    assert r("${Deals.Account_Name.name}") == "Acme"
    assert r("${Deals.Owner}") == "4150868000000100001"
    assert r("${Deals.Owner.email}") == "ann@example.com"
    assert r("${Deals.Owner.name}") == "Ann Lee"
    assert r("${org.time_zone}") == "Europe/Berlin"
    tags = r("${Deals.Tags}")
    assert type(tags) is DelugeList and tags == ["A", "B"]
    berlin = ZoneInfo("Europe/Berlin")
    assert r("${Deals.Closing_Date}") == DateTime(
        _dt.datetime(2026, 3, 1, tzinfo=berlin), date_only=True
    )
    signed = r("${Deals.Signed_At}")
    assert isinstance(signed, DateTime) and not signed.date_only
    assert signed.dt == _dt.datetime(2026, 2, 1, 11, tzinfo=berlin)


def test_empty_values_are_null() -> None:
    assert r("${Deals.Description}") is None
    assert r("${Deals.Next_Step}") is None
    assert r("${Deals.Missing_Field}") is None
    assert render("${Deals.Account_Name.name}", {"Account_Name": None}, "Deals", ORG) is None
    assert render("${Deals.Tags}", {"Tags": []}, "Deals", ORG, field_types=TYPES) is None


def test_multiselect_to_a_string_argument_reads_a_semicolon_list() -> None:
    assert r("${Deals.Tags}", declared_type="String") == "A;B"
    assert r("${Deals.Amount}", declared_type="String") == "1980.5"
    assert r("${Deals.Description}", declared_type="String") is None


def test_mixed_template_is_text() -> None:
    assert r("Deal ${Deals.Stage} for ${Deals.Account_Name.name} (${Deals.Probability}%)") == (
        "Deal Closed Won for Acme (90%)"
    )
    assert r("Tags: ${Deals.Tags}; due ${Deals.Closing_Date}; hot=${Deals.Hot}") == (
        "Tags: A;B; due 01-Mar-2026; hot=true"
    )
    assert r("[${Deals.Description}]") == "[]"


def test_substituted_values_are_never_parsed_again() -> None:
    # Deal_Name holds "${Deals.Amount}" text: it stays literal (security.md SB-5).
    assert r("${Deals.Deal_Name}") == "Big ${Deals.Amount} deal"
    assert r("Name: ${Deals.Deal_Name}") == "Name: Big ${Deals.Amount} deal"


def test_without_field_types_values_keep_their_json_shape() -> None:
    assert render("${Deals.Amount}", DEAL, "Deals", ORG) == 1980.5
    assert render("${Deals.Closing_Date}", DEAL, "Deals", ORG) == "2026-03-01"
    assert render("${Deals.Account_Name}", DEAL, "Deals", ORG) == "4150868000000300001"
    assert render("${Deals.Tags}", DEAL, "Deals", ORG) == ["A", "B"]
    assert render("${deals.amount}", DEAL, "Deals", ORG) == 1980.5  # case-insensitive


def test_selected_ids() -> None:
    ids = ["1", "2", "3"]
    assert render("${selected_ids}", {}, "Deals", ORG, selected_ids=ids) == "1,2,3"


def test_escape_applies_to_substituted_text_only() -> None:
    out = r("<b>${Deals.Deal_Name}</b>", escape=lambda s: s.replace("$", "&#36;"))
    assert out == "<b>Big &#36;{Deals.Amount} deal</b>"


def test_other_module_is_refused() -> None:
    with pytest.raises(ValueError, match="does not belong to module Deals"):
        render("${Accounts.id}", DEAL, "Deals", ORG)


def test_json_bodies() -> None:
    body = '{"id": "${Deals.id}", "name": "${Deals.Account_Name.name}", "amount": ${Deals.Amount}, '
    body += '"hot": ${Deals.Hot}, "tags": ${Deals.Tags}, "note": ${Deals.Description}, '
    body += '"quote": "say \\"${Deals.Stage}\\""}'
    tpl = parse_template(body)
    assert tpl.is_json()
    record = {**DEAL, "Account_Name": {"id": "1", "name": 'Acme "EU"\n'}}
    out = render_json(tpl, record, "Deals", ORG, field_types=TYPES)
    assert json.loads(out) == {
        "id": "4150868000000402001",
        "name": 'Acme "EU"\n',
        "amount": 1980.5,
        "hot": True,
        "tags": ["A", "B"],
        "note": None,
        "quote": 'say "Closed Won"',
    }
    assert not parse_template("id=${Deals.id}").is_json()
