"""Boolean checks (§8.7, §7) and generic / header conversions (§8.6, §13.2, §13.3)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from floodway.deluge.builtins.conversions import convert_argument, convert_return
from floodway.deluge.errors import DelugeRuntimeError
from floodway.deluge.values import Collection, DateTime, DelugeList, DelugeMap, File

from .conftest import FakeContext


def L(*items: Any) -> DelugeList:
    return DelugeList(items)


NOW = DateTime(dt.datetime(2026, 2, 5, 14, 3, 9, tzinfo=dt.UTC))
FILE = File("a.txt", b"hi")


def test_is_null(call: Any, callf: Any) -> None:
    assert callf("isNull", "") is True
    assert call(" ", "isNull") is False
    assert call(None, "isNull") is True
    assert callf("isNull", None) is True
    assert call(0, "isNull") is False
    assert call(L(), "isNull") is False


def test_is_empty(call: Any, callf: Any) -> None:
    for v in (None, "", L(), DelugeMap(), Collection(), Collection(L())):
        assert callf("isEmpty", v) is True
    for v in (" ", 0, False, L(None), NOW, FILE):
        assert call(v, "isEmpty") is False


def test_is_blank(call: Any, callf: Any) -> None:
    assert call(" ", "isBlank") is True
    assert call("\u00a0\t\n", "isBlank") is True
    assert callf("isBlank", Collection()) is True
    assert callf("isBlank", DelugeMap()) is True
    assert call(None, "isBlank") is True
    assert call(" a ", "isBlank") is False
    assert call(L(1), "isBlank") is False


def test_is_valid_object(call: Any) -> None:
    assert call("Zoho", "isValidObject") is True
    assert call("", "isValidObject") is False
    assert call(None, "isValidObject") is False
    assert call(L(), "isValidObject") is False
    assert call(0, "isValidObject") is True


def test_is_text(call: Any, callf: Any) -> None:
    assert callf("isText", "Hello") is True
    assert callf("isText", "") is True
    assert callf("isText", "  ") is True
    assert callf("isText", "123") is False
    assert callf("isText", "12.5") is False
    assert call(12, "isText") is False
    assert call(1.5, "isText") is False
    assert call(NOW, "isText") is False
    assert call(None, "isText") is False
    assert call(L(), "isText") is None
    assert call(DelugeMap(), "isText") is None
    assert call(True, "isText") is None


def test_is_number(call: Any, callf: Any) -> None:
    assert callf("isNumber", "12.3") is True
    assert call("1", "isNumber") is True
    assert call(24, "isNumber") is True
    assert call(2.5, "isNumber") is True
    assert call("24/2*10", "isNumber") is False
    assert call("", "isNumber") is False
    assert call(None, "isNumber") is False
    assert call(True, "isNumber") is False
    assert call(L(), "isNumber") is None
    assert call(DelugeMap(), "isNumber") is None


def test_is_date_non_text(call: Any, callf: Any) -> None:
    assert call(NOW, "isDate") is True
    assert callf("isDate", 100) is False
    assert call(None, "isDate") is False
    assert call(L(), "isDate") is None
    assert call(DelugeMap(), "isDate") is None


def test_is_file(call: Any) -> None:
    assert call(FILE, "isFile") is True
    assert call("a.txt", "isFile") is False
    assert call(None, "isFile") is False


def test_null_receiver_other_methods(call: Any) -> None:
    assert call(None, "toString") == ""
    assert call(None, "toText") == ""
    with pytest.raises(DelugeRuntimeError):
        call(None, "get", "x")


# --- generic conversions ------------------------------------------------------------------


def test_to_string_generic(call: Any, callf: Any) -> None:
    assert call(True, "toString") == "true"
    assert call(False, "toText") == "false"
    assert call(L("a", L(1, 2)), "toString") == "a,[1,2]"
    assert call(DelugeMap({"a": None}), "toString") == '{"a":null}'
    assert call(FILE, "toString") == "a.txt"
    assert callf("toString", Collection()) == "{}"


def test_no_numeric_conversion_of_containers(call: Any) -> None:
    with pytest.raises(DelugeRuntimeError, match="Cannot convert a BOOLEAN to NUMBER"):
        call(True, "toNumber")
    with pytest.raises(DelugeRuntimeError, match="Cannot convert a LIST to NUMBER"):
        call(L(), "toLong")
    with pytest.raises(DelugeRuntimeError, match="Cannot convert a MAP to DECIMAL"):
        call(DelugeMap(), "toDecimal")


# --- header conversions -------------------------------------------------------------------


def test_convert_argument_scalars(ctx: FakeContext) -> None:
    assert convert_argument(5, "String", "a", ctx) == "5"
    assert convert_argument(None, "Int", "a", ctx) is None
    assert convert_argument(" 42 ", "Long", "a", ctx) == 42
    assert convert_argument(42.0, "int", "a", ctx) == 42
    assert type(convert_argument(42.0, "int", "a", ctx)) is int
    for bad in ("abc", 4.5, True, "4.5"):
        with pytest.raises(DelugeRuntimeError, match="to Int for argument 'dealId'"):
            convert_argument(bad, "Int", "dealId", ctx)
    with pytest.raises(
        DelugeRuntimeError, match="Cannot convert 'abc' to Int for argument 'dealId'"
    ):
        convert_argument("abc", "Int", "dealId", ctx)
    assert convert_argument("2.5", "Decimal", "a", ctx) == 2.5
    assert type(convert_argument(3, "Float", "a", ctx)) is float
    assert convert_argument("TRUE", "Bool", "a", ctx) is True
    assert convert_argument("false", "Boolean", "a", ctx) is False
    with pytest.raises(DelugeRuntimeError, match="to Bool"):
        convert_argument("yes", "Bool", "a", ctx)
    with pytest.raises(DelugeRuntimeError, match="Unknown type 'Widget'"):
        convert_argument(1, "Widget", "a", ctx)


def test_convert_argument_dates(ctx: FakeContext) -> None:
    d = convert_argument("2026-02-05", "Date", "d", ctx)
    assert type(d) is DateTime and d.date_only and d.text() == "05-Feb-2026"
    t = convert_argument(NOW, "Date", "d", ctx)
    assert t.date_only and t.text() == "05-Feb-2026"
    assert convert_argument(NOW, "DateTime", "d", ctx) is NOW
    e = convert_argument(0, "DateTime", "d", ctx)
    assert e.text() == "01-Jan-1970 00:00:00"
    with pytest.raises(DelugeRuntimeError, match="to Date for argument 'd'"):
        convert_argument("not a date", "Date", "d", ctx)


def test_convert_argument_collections(ctx: FakeContext) -> None:
    m = DelugeMap({"a": 1})
    assert convert_argument(m, "Map", "m", ctx) is m
    parsed = convert_argument('{"a": [1, 2]}', "KeyValue", "m", ctx)
    assert type(parsed) is DelugeMap and parsed == {"a": [1, 2]}
    with pytest.raises(DelugeRuntimeError, match="to Map for argument 'm'"):
        convert_argument("[1]", "Map", "m", ctx)
    with pytest.raises(DelugeRuntimeError, match="to Map"):
        convert_argument(5, "Map", "m", ctx)
    lst = L(1)
    assert convert_argument(lst, "List", "l", ctx) is lst
    assert convert_argument("[1, 2]", "List", "l", ctx) == [1, 2]
    ids = convert_argument("111, 222,333", "List", "ids", ctx)
    assert type(ids) is DelugeList and ids == ["111", "222", "333"]
    assert convert_argument("", "List", "l", ctx) == []


def test_convert_return(ctx: FakeContext) -> None:
    assert convert_return(5, "String", ctx) == "5"
    assert convert_return(None, "String", ctx) is None
    assert convert_return(5, "void", ctx) is None
    m = DelugeMap()
    assert convert_return(m, "Map", ctx) is m
    assert convert_return('{"a":1}', "Map", ctx) == {"a": 1}
    with pytest.raises(DelugeRuntimeError, match="Return value is not a MAP"):
        convert_return(5, "Map", ctx)
    with pytest.raises(DelugeRuntimeError, match="Return value is not a MAP"):
        convert_return("a,b", "Map", ctx)
    assert convert_return("[1]", "List", ctx) == [1]
    with pytest.raises(DelugeRuntimeError, match="Return value is not a LIST"):
        convert_return("a,b", "List", ctx)
    assert convert_return("7", "Int", ctx) == 7
    with pytest.raises(DelugeRuntimeError, match="to Int for the return value"):
        convert_return("x", "Int", ctx)
