"""TEXT built-in methods (deluge-language.md §8.1, TEXT rows of §8.6, idioms §16.2/§16.3)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from floodway.deluge.errors import DelugeLimitError, DelugeRuntimeError
from floodway.deluge.limits import Limits
from floodway.deluge.values import DelugeList, DelugeMap

from .conftest import FakeContext, call_method

HELLO = "Hello world, welcome to the universe"


# -- length, comparisons, search -----------------------------------------------------------------


def test_length(call: Any, callf: Any) -> None:
    assert call("Zoho Creator", "length") == 12
    assert call("", "len") == 0
    assert callf("len", "a b ") == 4
    assert call("😀é", "length") == 2  # code points (D-54)


def test_concat(call: Any, callf: Any) -> None:
    assert call("Zoho", "concat", " Creator") == "Zoho Creator"
    assert call("n=", "concat", 5) == "n=5"
    assert call("x", "concat", None) == "x"
    assert call("l:", "concat", DelugeList(["a", "b"])) == "l:a,b"
    assert callf("concat", "a", "b") == "ab"


def test_contains_family(call: Any) -> None:
    assert call("Zoho Creator", "contains", "Creator") is True
    assert call("Zoho Creator", "contains", "creator") is False
    assert call("Zoho", "contains", "") is True
    assert call("Zoho Creator", "containsIgnoreCase", "CREATOR") is True
    assert call("Zoho Creator", "notContains", "creator") is True
    assert call("Zoho Creator", "notContains", "Zoho") is False
    assert call("abc123", "contains", 123) is True


def test_starts_ends(call: Any) -> None:
    assert call("Zoho Creator", "startsWith", "Zoho") is True
    assert call("Zoho Creator", "startsWith", "zoho") is False
    assert call("Zoho Creator", "startsWithIgnoreCase", "zOHO") is True
    assert call("Zoho Creator", "endsWith", "Creator") is True
    assert call("Zoho Creator", "endsWith", "CREATOR") is False
    assert call("Zoho Creator", "endsWithIgnoreCase", "CREATOR") is True


def test_equals(call: Any) -> None:
    assert call("Zoho", "equals", "Zoho") is True
    assert call("Zoho", "equals", "zoho") is False
    assert call("Zoho", "equalsIgnoreCase", "zOhO") is True
    assert call("12", "equals", 12) is True


def test_index_of(call: Any, callf: Any) -> None:
    assert call(HELLO, "indexOf", "e") == 1
    assert call(HELLO, "lastIndexOf", "e") == 35
    assert call(HELLO, "indexOf", "welcome") == 13
    assert call(HELLO, "indexOf", "E") == -1
    assert call(HELLO, "lastIndexOf", "zz") == -1
    assert callf("find", "a@b.com", "@") == 1


def test_occurrence_count(call: Any) -> None:
    assert call("Zoho Creator, Zoho CRM", "getOccurenceCount", "Zoho") == 2
    assert call("aaaa", "getOccurrenceCount", "aa") == 2  # non-overlapping
    assert call("Zoho", "getOccurenceCount", "zoho") == 0
    with pytest.raises(DelugeRuntimeError):
        call("Zoho", "getOccurenceCount", "")


def test_prefix_suffix(call: Any, callf: Any) -> None:
    assert call("user@example.com", "getPrefix", "@") == "user"
    assert call("user@example.com", "getSuffix", "@") == "example.com"
    assert call("user@example.com", "getPrefix", "#") is None
    assert call("user@example.com", "getSuffix", "#") is None
    assert call("Zoho Creator", "getPrefix", "creator") is None
    assert call("Zoho Creator", "getPrefixIgnoreCase", "CREATOR") == "Zoho "
    assert call("Zoho Creator Zoho", "getSuffixIgnoreCase", "zOHO") == " Creator Zoho"
    assert call("Zoho", "getSuffixIgnoreCase", "x") is None
    assert callf("getPrefix", "a-b", "-") == "a"


# -- slicing and padding -------------------------------------------------------------------------


def test_left_right(call: Any) -> None:
    assert call("Hello", "left", 2) == "He"
    assert call("Hello", "left", 5) == "Hello"
    assert call("Hello", "left", -1) == "Hello"
    assert call("Hello", "right", 2) == "lo"
    assert call("Hello", "right", 5) == "Hello"
    assert call("Hello", "right", 0) == ""
    with pytest.raises(DelugeRuntimeError, match=r"^Index 9 is out of range for text of length 5$"):
        call("Hello", "left", 9)
    with pytest.raises(DelugeRuntimeError, match=r"^Index 9 is out of range for text of length 5$"):
        call("Hello", "right", 9)
    with pytest.raises(DelugeRuntimeError, match=r"^Index -1 is out of range"):
        call("Hello", "right", -1)


def test_substring(call: Any, callf: Any) -> None:
    assert call("Hello", "substring", 1, 3) == "el"
    assert call("Hello", "subString", 1) == "ello"
    assert call("Hello", "subText", 1, -1) == "ello"
    assert call("Hello", "mid", 2, 2) == ""
    assert call("Hello", "substring", 5) == ""
    assert call("Hello", "substring", "1", "3") == "el"  # TEXT holding an integer
    assert callf("mid", "Hello", 0, 3) == "Hel"
    assert callf("subString", "Hello", 3) == "lo"
    for args, bad in [((9,), 9), ((-1,), -1), ((0, 9), 9), ((3, 1), 1)]:
        with pytest.raises(
            DelugeRuntimeError, match=rf"^Index {bad} is out of range for text of length 5$"
        ):
            call("Hello", "substring", *args)


@pytest.mark.parametrize("bad", [1.5, True, None, "x", DelugeList()])
def test_index_argument_types(call: Any, bad: Any) -> None:
    with pytest.raises(DelugeRuntimeError, match=r"must be a NUMBER"):
        call("Hello", "substring", bad)


def test_arity(call: Any) -> None:
    with pytest.raises(DelugeRuntimeError, match=r"'substring' takes 1 or 2 arguments but got 3"):
        call("Hello", "substring", 1, 2, 3)


def test_padding(call: Any) -> None:
    assert call("Left", "leftpad", 6) == "  Left"
    assert call("Right", "rightpad", 6) == "Right "
    assert call("Zoho", "leftpad", 2) == "Zoho"
    assert call("Zoho", "rightpad", -3) == "Zoho"
    assert call("", "leftpad", 3) == "   "
    assert call("", "leftpad", 100_000) == " " * 100_000
    with pytest.raises(DelugeRuntimeError, match=r"100000"):
        call("", "leftpad", 100_001)
    with pytest.raises(DelugeRuntimeError):
        call("", "rightpad", 100_001)


def test_counted_loop_idiom(call: Any) -> None:
    """§16.2: "".leftpad(n).toList("") gives n one-space elements."""
    assert call(call("", "leftpad", 3), "toList", "") == DelugeList([" ", " ", " "])
    its = call(call("", "leftpad", 20 - 1), "toList", "")
    assert len(its) == 19 and all(x == " " for x in its)
    assert call(call("", "leftpad", 0), "toList", "") == DelugeList()


def test_trim(call: Any) -> None:
    assert call("  Zoho \t\n", "trim") == "Zoho"
    assert call("\u00a0Zoho\u00a0", "trim") == "Zoho"
    assert call("   Zoho", "ltrim") == "Zoho"
    assert call("   Zoho Deluge   ", "rtrim") == "   Zoho Deluge"
    assert len(call("   Zoho Deluge   ", "rtrim")) == 14
    assert call("  a  ", "ltrim") == "a  "


# -- case, order, repetition ---------------------------------------------------------------------


def test_case(call: Any, callf: Any) -> None:
    assert call("Zoho Créator", "toUpperCase") == "ZOHO CRÉATOR"
    assert call("Zoho Créator", "toLowerCase") == "zoho créator"
    assert callf("upper", "abc") == "ABC"
    assert callf("lower", "ABC") == "abc"
    assert call("straße", "upper") == "STRASSE"


def test_proper(call: Any) -> None:
    assert call("o'neil 3rd", "proper") == "O'neil 3rd"
    assert call("hELLO   wORLD\tzoho", "proper") == "Hello   World\tZoho"
    assert call("", "proper") == ""
    assert call("éCOLE", "proper") == "École"


def test_reverse(call: Any, callf: Any) -> None:
    assert call("Zoho", "reverse") == "ohoZ"
    assert call("", "reverse") == ""
    assert callf("reverse", 123) == "321"
    assert callf("reverse", 2.5) == "5.2"
    assert callf("reverse", True) == "eurt"


def test_repeat(call: Any) -> None:
    assert call("ab", "repeat", 3) == "ababab"
    assert call("ab", "repeat", 0) == ""
    with pytest.raises(DelugeRuntimeError, match=r"negative"):
        call("ab", "repeat", -1)


def test_size_limits() -> None:
    ctx = FakeContext(limits=Limits(text_chars=10, collection_items=3))
    with pytest.raises(DelugeLimitError, match=r"^Text exceeds the limit of 10 characters$"):
        call_method(ctx, "abc", "repeat", 4)
    with pytest.raises(DelugeLimitError):
        call_method(ctx, "abcdef", "concat", "ghijk")
    with pytest.raises(DelugeLimitError):
        call_method(ctx, "", "leftpad", 11)
    with pytest.raises(DelugeLimitError):
        call_method(ctx, "aaaa", "replaceAll", "a", "bbb", True)
    with pytest.raises(DelugeLimitError):
        call_method(ctx, "abcdef", "textToHex")
    with pytest.raises(DelugeLimitError, match=r"limit of 3 elements"):
        call_method(ctx, "a,b,c,d", "toList", ",")
    with pytest.raises(DelugeLimitError):
        call_method(ctx, "abcd", "toList", "")
    with pytest.raises(DelugeLimitError):
        call_method(ctx, "[1,2,3,4]", "toJSONList")


def test_big_results_are_charged(ctx: FakeContext, call: Any) -> None:
    call("ab", "repeat", 10_000)
    assert ctx.charged >= 20_000


# -- removal -------------------------------------------------------------------------------------


def test_remove(call: Any) -> None:
    assert call("Zoho Creator", "remove", "o") == "Zh Creatr"  # every occurrence (D-69)
    assert call("Zoho", "remove", "x") == "Zoho"
    assert call("Zoho", "remove", "O") == "Zoho"
    assert call("Zoho", "remove", "") == "Zoho"
    assert call("a-b-c", "removeFirstOccurence", "-") == "ab-c"
    assert call("a-b-c", "removeFirstOccurrence", "x") == "a-b-c"
    assert call("a-b-c", "removeLastOccurence", "-") == "a-bc"
    assert call("a-b-c", "removeLastOccurrence", "B") == "a-b-c"


def test_alpha(call: Any) -> None:
    assert call("Zoho Creator 5.0!", "getAlpha") == "ZohoCreator"
    assert call("Zoho Creator 5.0!", "getAlphaNumeric") == "ZohoCreator50"
    assert call("Zoho Creator 5.0!", "removeAllAlpha") == "  5.0!"
    assert call("Zoho Creator 5.0!", "removeAllAlphaNumeric") == "  .!"
    assert call("Zoho", "removeAllAlpha") == ""
    assert call("Zoë 12", "getAlpha") == "Zoë"


# -- regular expressions -------------------------------------------------------------------------


def test_replace_all(call: Any) -> None:
    assert call("a1b22c333", "replaceAll", "[0-9]+", "#") == "a#b#c#"
    assert call("a.b.c", "replaceAll", ".", "-") == "-----"
    assert call("a.b.c", "replaceAll", ".", "-", True) == "a-b-c"
    assert call("a.b.c", "replaceAll", ".", "$1", True) == "a$1b$1c"
    assert call("a.b.c", "replaceAll", ".", "-", False) == "-----"
    assert call("Zoho", "replaceAll", "x", "y") == "Zoho"
    assert call("John Smith", "replaceAll", "(\\w+) (\\w+)", "$2, $1") == "Smith, John"
    assert call("Zoho zoho", "replaceAll", "zoho", "X") == "Zoho X"
    assert call("price", "replaceAll", "price", "\\$5") == "$5"


def test_replace_first(call: Any) -> None:
    assert call("a.b.c", "replaceFirst", "\\.", "-") == "a-b.c"
    assert call("a.b.c", "replaceFirst", ".", "-", True) == "a-b.c"
    assert call("abc", "replaceFirst", "x", "-") == "abc"


def test_replace_ignore_case(call: Any) -> None:
    assert call("Zoho ZOHO zoho", "replaceAllIgnoreCase", "zoho", "X") == "X X X"
    assert call("Zoho ZOHO zoho", "replaceFirstIgnoreCase", "ZOHO", "X") == "X ZOHO zoho"
    assert call("A.B a.b", "replaceAllIgnoreCase", "a.b", "$\\", True) == "$\\ $\\"
    assert call("A.B aXb", "replaceAllIgnoreCase", "a.b", "-", True) == "- aXb"
    assert call("a\\Eb A\\EB", "replaceAllIgnoreCase", "a\\Eb", "-", True) == "- -"


def test_replace_literal_flag_must_be_boolean(call: Any) -> None:
    with pytest.raises(DelugeRuntimeError, match=r"BOOLEAN"):
        call("abc", "replaceAll", "a", "b", "true")


def test_regex_errors(call: Any) -> None:
    with pytest.raises(DelugeRuntimeError, match=r"^Invalid regular expression '\(a'$"):
        call("abc", "replaceAll", "(a", "b")
    with pytest.raises(DelugeRuntimeError, match=r"^Unsupported regular expression$"):
        call("abc", "matches", "a++")


def test_regex_time_limit(call: Any) -> None:
    start = time.monotonic()
    with pytest.raises(DelugeLimitError, match=r"Regular expression exceeded 1 second"):
        call("x" * 5000, "replaceAll", "(x+x+)+y", "")
    assert time.monotonic() - start < 2.5


def test_matches(call: Any, callf: Any) -> None:
    assert call("9876543210", "matches", "^[0-9]{10}$") is True
    assert callf("matches", "ID004500F", "[A-Z]{2}[0-9]{6}[A-Z]") is True
    assert call("abc", "matches", "b") is False
    assert call("ABC", "matches", "[a-z]+") is False
    assert call("ABC", "matches", "(?i)[a-z]+") is True
    assert call("a@b.com", "matches", "^[\\w.]+@[\\w]+\\.[a-z]{2,}$") is True


def test_is_ascii(call: Any) -> None:
    assert call("Zoho 1!", "isAscii") is True
    assert call("", "isAscii") is True
    assert call("Zoë", "isAscii") is False


# -- lists and JSON ------------------------------------------------------------------------------


def test_to_list(call: Any) -> None:
    assert call("ZohoCreator/ZohoCRM", "toList", "/") == DelugeList(["ZohoCreator", "ZohoCRM"])
    assert call("a,,b,", "toList", ",") == DelugeList(["a", "", "b", ""])
    assert call("a,b", "toList") == DelugeList(["a,b"])
    assert call("a,b", "toList", ";") == DelugeList(["a,b"])
    assert call("abc", "toList", "") == DelugeList(["a", "b", "c"])
    assert call("", "toList", ",") == DelugeList()
    assert call("a.b.c", "toList", ".") == DelugeList(["a", "b", "c"])  # literal, not regex
    assert call("a::b", "toList", "::") == DelugeList(["a", "b"])
    assert type(call("a", "toList", ",")) is DelugeList


def test_to_list_string(call: Any) -> None:
    assert call("1,2,3", "toListString") == DelugeList(["1", "2", "3"])
    assert call("", "toListString") == DelugeList()


def test_to_map(call: Any) -> None:
    m = call('{"id":"1","tags":["a","b"],"n":2,"d":1.5,"ok":true,"x":null}', "toMap")
    assert type(m) is DelugeMap
    assert list(m) == ["id", "tags", "n", "d", "ok", "x"]
    assert m["tags"] == DelugeList(["a", "b"]) and type(m["tags"]) is DelugeList
    assert type(m["n"]) is int and type(m["d"]) is float and m["ok"] is True and m["x"] is None
    assert call("{company:Zoho, product:Creator}", "toMap") == DelugeMap(
        company="Zoho", product="Creator"
    )
    lia = call("{Name:'Lia Shelton', OrderNo:[343,443,577]}", "toMap")
    assert lia == DelugeMap(Name="Lia Shelton", OrderNo=DelugeList([343, 443, 577]))
    assert call("", "toMap") == DelugeMap()
    assert call("  ", "toMap") == DelugeMap()


def test_to_map_errors(call: Any) -> None:
    with pytest.raises(DelugeRuntimeError, match=r"^Cannot convert 'abc' to MAP$"):
        call("abc", "toMap")
    with pytest.raises(DelugeRuntimeError, match=r"^Cannot convert '\[1,2\]' to MAP$"):
        call("[1,2]", "toMap")
    long = '{"a":' + "x" * 100
    with pytest.raises(DelugeRuntimeError) as info:
        call(long, "toMap")
    assert len(info.value.message) < 80 and info.value.message.endswith("…' to MAP")
    with pytest.raises(DelugeRuntimeError, match=r"nested too deeply"):
        call("[" * 5000, "toJSONList")


def test_to_json_list(call: Any) -> None:
    assert call("[343,443,577]", "toJSONList") == DelugeList([343, 443, 577])
    assert call("[{id:1},{id:2}]", "toJSONList") == DelugeList([DelugeMap(id=1), DelugeMap(id=2)])
    assert call("", "toJSONList") == DelugeList()
    with pytest.raises(DelugeRuntimeError, match=r"^Cannot convert '\{\}' to LIST$"):
        call("{}", "toJSONList")


def test_get_json(call: Any, callf: Any) -> None:
    text = '{"record":{"id":"42","Name":"Acme"},"count":3}'
    assert call(text, "getJSON", "count") == 3
    assert call(text, "getJson", "missing") is None
    assert call(text, "getJSon", "record") == DelugeMap(id="42", Name="Acme")
    assert call(text, "get", "count") == 3
    assert callf("getJSON", text, "count") == 3
    assert call("", "getJSON", "a") is None
    with pytest.raises(DelugeRuntimeError, match=r"^Cannot convert 'plain' to MAP$"):
        call("plain", "getJSON", "a")
    with pytest.raises(DelugeRuntimeError, match=r"to MAP"):
        call("plain", "get", "a")


def test_to_map_idiom(call: Any) -> None:
    """§16.3: crmAPIRequest.toMap().get("record")."""
    req = '{"record":{"id":"1","Email":"a@b.com"},"user":{"id":"9"}}'
    assert call(call(req, "toMap"), "get", "record") == DelugeMap(id="1", Email="a@b.com")


# -- XPath ---------------------------------------------------------------------------------------

XML = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<a><b href="http://x.com/?a=1&amp;b=2">hi</b><b>yo</b><c n="3"/></a>'
)


def test_execute_xpath(call: Any) -> None:
    assert (
        call(XML, "executeXPath", "/a/b") == '<b href="http://x.com/?a=1&amp;b=2">hi</b><b>yo</b>'
    )
    assert call(XML, "executeXPath", "/a/b/text()") == "hiyo"
    assert call(XML, "executeXpath", "/a/b[1]/text()") == "hi"
    href = call(XML, "executeXPath", "/a/b/@href")
    assert href == "<href>http://x.com/?a=1&amp;b=2</href>"
    assert call(href, "executeXpath", "/href/text()") == "http://x.com/?a=1&b=2"
    assert call(XML, "executeXPath", "count(/a/b)") == "2"
    assert call(XML, "executeXPath", "/a/zzz") == ""


def test_execute_xpath_json(call: Any) -> None:
    j = '{"name":"Lia","address":{"city":"Surat"},"tags":["x","y"],"n":2}'
    assert call(j, "executeXPath", "/root/address/city") == "<city>Surat</city>"
    assert call(j, "executeXPath", "/root/address/city/text()") == "Surat"
    assert call(j, "executeXPath", "/root/tags/text()") == "xy"
    assert call(j, "executeXPath", "/root/n/text()") == "2"


def test_execute_xpath_errors_and_safety(call: Any) -> None:
    with pytest.raises(DelugeRuntimeError, match=r"Invalid XML"):
        call("<a>", "executeXPath", "/a")
    with pytest.raises(DelugeRuntimeError, match=r"Invalid XPath"):
        call("<a/>", "executeXPath", "///")
    xxe = '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>'
    assert "root:" not in call(xxe, "executeXPath", "/a/text()")
    with pytest.raises(DelugeRuntimeError, match=r"5 MB"):
        call("<a>" + "x" * (5 * 1024 * 1024) + "</a>", "executeXPath", "/a")


# -- hex -----------------------------------------------------------------------------------------


def test_hex(call: Any, callf: Any) -> None:
    assert callf("textToHex", "Zoho Creator") == "5a6f686f2043726561746f72"
    assert call("é", "textToHex") == "c3a9"
    assert call("5a6f686f2043726561746f72", "hexToText") == "Zoho Creator"
    assert call("C3A9", "hexToText") == "é"
    assert call("", "hexToText") == ""
    for bad in ["xyz", "abc"]:
        with pytest.raises(DelugeRuntimeError, match=r"Invalid hexadecimal"):
            call(bad, "hexToText")


# -- conversions ---------------------------------------------------------------------------------


def test_to_string(call: Any, callf: Any) -> None:
    assert call("Zoho", "toString") == "Zoho"
    assert call("Zoho", "toText") == "Zoho"
    assert callf("toString", "x") == "x"


def test_to_string_with_pattern_delegates(call: Any) -> None:
    assert call("2026-02-05", "toString", "dd/MM/yyyy") == "05/02/2026"


@pytest.mark.parametrize(
    ("text", "n"),
    [
        ("1234", 1234),
        ("  42 ", 42),
        ("-7", -7),
        ("+7", 7),
        ("0012", 12),
        ("12.9", 12),
        ("-12.9", -12),
        (".5", 0),
        ("3.", 3),
        ("9223372036854775807", 9223372036854775807),
    ],
)
def test_to_number(call: Any, text: str, n: int) -> None:
    assert call(text, "toNumber") == n
    assert call(text, "toLong") == n
    assert type(call(text, "toNumber")) is int


@pytest.mark.parametrize(
    "text", ["abc", "", " ", "134A123B", "1000abc", "1,000", "1e5", ".", "-", "١٢"]
)
def test_to_number_errors(call: Any, text: str) -> None:
    with pytest.raises(DelugeRuntimeError, match=r"^Cannot convert '.*' to NUMBER$"):
        call(text, "toNumber")


def test_to_number_message_and_range(call: Any) -> None:
    with pytest.raises(DelugeRuntimeError, match=r"^Cannot convert 'abc' to NUMBER$"):
        call("abc", "toNumber")
    with pytest.raises(DelugeRuntimeError, match=r"^Number out of range$"):
        call("9223372036854775808", "toNumber")
    with pytest.raises(DelugeRuntimeError, match=r"^Number out of range$"):
        call("9" * 10_000, "toLong")


@pytest.mark.parametrize(
    ("text", "x"), [("100", 100.0), (" 2.5 ", 2.5), ("-0.1", -0.1), ("1e3", 1000.0), (".5", 0.5)]
)
def test_to_decimal(call: Any, text: str, x: float) -> None:
    v = call(text, "toDecimal")
    assert v == x and type(v) is float


@pytest.mark.parametrize("text", ["x", "", "1.2.3", "nan", "inf", "1,5", "1" * 401])
def test_to_decimal_errors(call: Any, text: str) -> None:
    with pytest.raises(DelugeRuntimeError, match=r"to DECIMAL$"):
        call(text, "toDecimal")


def test_to_decimal_overflow(call: Any) -> None:
    with pytest.raises(DelugeRuntimeError, match=r"Number out of range"):
        call("1e400", "toDecimal")


def test_case_insensitive_names(call: Any) -> None:
    assert call("abc", "TOUPPERCASE") == "ABC"
    assert call("abc", "Len") == 3
