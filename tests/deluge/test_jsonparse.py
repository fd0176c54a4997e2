"""The iterative JSON parser: strict JSON, Zoho's lenient notation (D-71), Python literals, caps."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from floodway.deluge.errors import DelugeLimitError, DelugeRuntimeError
from floodway.deluge.jsonparse import JSONSyntaxError, parse_json, parse_python_literal
from floodway.deluge.values import DelugeList, DelugeMap, to_json_text


def deluge(v: Any) -> Any:
    """The Deluge value a plain JSON value must parse to."""
    if isinstance(v, dict):
        return DelugeMap((k, deluge(x)) for k, x in v.items())
    if isinstance(v, list):
        return DelugeList(deluge(x) for x in v)
    return v


def same(a: Any, b: Any) -> bool:
    """Equality that also compares exact types and map key order."""
    if type(a) is not type(b):
        return False
    if type(a) is DelugeMap:
        return list(a.keys()) == list(b.keys()) and all(same(a[k], b[k]) for k in a)
    if type(a) is DelugeList:
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return bool(a == b)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(), children, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(json_values, st.booleans(), st.booleans())
def test_matches_stdlib_json(value: Any, lenient: bool, ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert same(parse_json(text, lenient=lenient), deluge(json.loads(text)))


@settings(max_examples=100, deadline=None)
@given(json_values)
def test_round_trip_with_deluge_json_text(value: Any) -> None:
    v = deluge(value)
    assert same(parse_json(to_json_text(v), lenient=False), v)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"b":1,"a":2}', DelugeMap(b=1, a=2)),
        ("[1, -0, 2.5, 1e3, 1E-2]", DelugeList([1, 0, 2.5, 1000.0, 0.01])),
        ("9223372036854775807", 9223372036854775807),
        ("9223372036854775808", 9223372036854775808.0),
        ("-9223372036854775809", -9223372036854775809.0),
        ('"\\u00e9\\ud83d\\ude00\\n\\/"', "é😀\n/"),
        (" \n true ", True),
        ("null", None),
        ('{"a":{"a":[{}]}}', DelugeMap(a=DelugeMap(a=DelugeList([DelugeMap()])))),
        ('{"a":1,"a":2}', DelugeMap(a=2)),
    ],
)
def test_strict_values(text: str, expected: Any) -> None:
    assert same(parse_json(text, lenient=False), expected)
    assert same(parse_json(text), expected)


def test_integer_types_are_exact() -> None:
    v = parse_json("[1, 1.0, true]", lenient=False)
    assert [type(x) for x in v] == [int, float, bool]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[1,]",
        "{a:1}",
        "01",
        "[1 2]",
        '"a',
        "nul",
        '{"a":1}x',
        "'a'",
        '"\t"',
        '"\\x41"',
        "{",
        "[",
        '{"a"}',
        "-",
        "1.",
        ".5",
        "+1",
    ],
)
def test_strict_rejects(text: str) -> None:
    with pytest.raises(JSONSyntaxError):
        parse_json(text, lenient=False)


def test_lenient_zoho_examples() -> None:
    assert same(
        parse_json("{company:Zoho, product:Creator}"),
        DelugeMap(company="Zoho", product="Creator"),
    )
    assert same(
        parse_json("{Name:'Lia Shelton', OrderNo:[343,443,577]}"),
        DelugeMap(Name="Lia Shelton", OrderNo=DelugeList([343, 443, 577])),
    )


def test_lenient_details() -> None:
    assert same(
        parse_json("{ a : hello world , b: 2 , c : true, d: null}"),
        DelugeMap(a="hello world", b=2, c=True, d=None),
    )
    assert same(parse_json("[a, 'b', \"c\", 1.5, 007]"), DelugeList(["a", "b", "c", 1.5, "007"]))
    assert same(parse_json("{'k':'it\\'s'}"), DelugeMap(k="it's"))
    assert same(parse_json("[1,2,]"), DelugeList([1, 2]))
    assert same(parse_json("{zip: 12345-6789}"), DelugeMap(zip="12345-6789"))
    assert same(parse_json('"tab\there"'), "tab\there")
    assert same(parse_json('{"re":"\\d+\\.\\n"}'), DelugeMap(re="\\d+\\.\n"))


@pytest.mark.parametrize("text", ["abc", "{a:}", "[1,,2]", "{a 1}", "{:1}", "[1"])
def test_lenient_rejects(text: str) -> None:
    with pytest.raises(JSONSyntaxError):
        parse_json(text)


def test_deep_nesting_is_a_deluge_error_not_recursion() -> None:
    for text in ("[" * 100_000, '{"a":' * 100_000):
        with pytest.raises(DelugeRuntimeError, match=r"^Value is nested too deeply$"):
            parse_json(text)


def test_depth_limit_is_exact() -> None:
    ok = "[" * 1000 + "]" * 1000
    v = parse_json(ok)
    for _ in range(999):
        v = v[0]
    assert v == DelugeList()
    with pytest.raises(DelugeRuntimeError, match=r"nested too deeply"):
        parse_json("[" * 1001 + "]" * 1001)
    with pytest.raises(DelugeRuntimeError, match=r"nested too deeply"):
        parse_json("[[[]]]", max_depth=2)


def test_long_number_literal_rejected() -> None:
    assert parse_json("0." + "1" * 398) == float("0." + "1" * 398)
    with pytest.raises(JSONSyntaxError, match=r"too long"):
        parse_json("0." + "1" * 399)
    with pytest.raises(JSONSyntaxError):
        parse_json("[" + "9" * 5000 + "]", lenient=False)


def test_non_finite_number_is_out_of_range() -> None:
    with pytest.raises(DelugeRuntimeError, match=r"Number out of range"):
        parse_json("1e400")
    assert parse_json("1e-400") == 0.0
    assert not math.isinf(parse_json("1.7976931348623157e308"))


def test_check_called_and_max_items() -> None:
    calls = []
    parse_json("[" + ",".join(["1"] * 25_000) + "]", check=lambda: calls.append(1))
    assert len(calls) >= 2
    with pytest.raises(DelugeLimitError, match=r"limit of 3"):
        parse_json("[1,2,3,4]", max_items=3)


def test_python_literal() -> None:
    v = parse_python_literal(
        "{'a': 1, 'b': True, 'c': None, \"d\": (1, 2.5,), 'e': [False, 'x\\'y']}"
    )
    assert same(
        v,
        DelugeMap(a=1, b=True, c=None, d=DelugeList([1, 2.5]), e=DelugeList([False, "x'y"])),
    )
    assert same(parse_python_literal("{1: 'one'}"), DelugeMap({"1": "one"}))
    assert same(parse_python_literal("'\\x41\\u00e9'"), "Aé")
    assert parse_python_literal("1_000") == 1000


@pytest.mark.parametrize("text", ["{'a': true}", "{a: 1}", "__import__('os')", "[1", "{'a' 1}"])
def test_python_literal_rejects(text: str) -> None:
    with pytest.raises(JSONSyntaxError):
        parse_python_literal(text)


def test_python_literal_depth() -> None:
    with pytest.raises(DelugeRuntimeError, match=r"nested too deeply"):
        parse_python_literal("(" * 100_000)
