"""LIST built-ins (§8.2), typed lists (§3.1) and element matching (D-72)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from floodway.deluge.builtins.lists import make_typed_list
from floodway.deluge.errors import DelugeLimitError, DelugeRuntimeError
from floodway.deluge.limits import Limits
from floodway.deluge.matching import MatchSet, index_of, last_index_of, matches
from floodway.deluge.values import Collection, DateTime, DelugeList, DelugeMap, text_form

from .conftest import FakeContext, call_method


def L(*items: Any) -> DelugeList:
    return DelugeList(items)


def M(**kw: Any) -> DelugeMap:
    return DelugeMap(kw)


def D(y: int, m: int, d: int) -> DateTime:
    return DateTime(dt.datetime(y, m, d, tzinfo=dt.UTC), date_only=True)


def zoho_mixed() -> DelugeList:
    return L(1, "2", "Zoho", "Creator", M(version=5), L("India", "USA", "Australia"))


# --- element matching -----------------------------------------------------------------------


def test_matching_rules() -> None:
    assert matches("a", "a")
    assert not matches("a", "A")
    assert not matches("1", 1)
    assert matches(2, 2.0)
    assert not matches(True, 1)
    assert not matches(1, True)
    assert matches(None, None)
    assert not matches(None, "")
    assert matches(D(2026, 2, 5), D(2026, 2, 5))
    assert not matches(D(2026, 2, 5), "05-Feb-2026")
    assert matches(L(1, "a", L(2.0)), L(1.0, "a", L(2)))
    assert not matches(L(1, 2), L(1, 2, 3))
    assert matches(M(version=5), M(version=5.0))
    assert not matches(M(version=5), DelugeMap({"Version": 5}))
    assert not matches(L(), M())
    assert matches(Collection(L(1)), L(1))


def test_matching_depth_limit() -> None:
    a: Any = L()
    b: Any = L()
    for _ in range(1100):
        a, b = L(a), L(b)
    with pytest.raises(DelugeRuntimeError, match="nested too deeply"):
        matches(a, b)
    selfish = L()
    selfish.append(selfish)
    other = L()
    other.append(other)
    with pytest.raises(DelugeRuntimeError, match="nested too deeply"):
        matches(selfish, other)


def test_index_helpers_and_matchset() -> None:
    items = L(1, "1", 2.0, L(1), "1")
    assert index_of(items, "1") == 1
    assert last_index_of(items, "1") == 4
    assert index_of(items, 2) == 2
    assert index_of(items, L(1.0)) == 3
    assert index_of(items, "x") == -1
    s = MatchSet(items)
    assert 1.0 in s and L(1) in s and "2" not in s


# --- Zoho examples --------------------------------------------------------------------------


def test_contains_zoho_example(call: Any) -> None:
    lst = zoho_mixed()
    assert call(lst, "contains", "Creator") is True
    for x in ("1", 2, "zoho", "version", DelugeMap({"Version": 5}), L("India")):
        assert call(lst, "contains", x) is False
        assert call(lst, "notContains", x) is True
    assert call(lst, "contains", M(version=5)) is True
    assert call(lst, "contains", L("India", "USA", "Australia")) is True


def test_add_list_is_one_element(call: Any) -> None:
    lst = L()
    assert call(lst, "add", "Creator") is None
    call(lst, "add", L("CRM", "Projects"))
    assert call(lst, "size") == 2
    call(lst, "addAll", L("a", "b"))
    assert lst == ["Creator", ["CRM", "Projects"], "a", "b"]
    with pytest.raises(DelugeRuntimeError, match="expects a LIST"):
        call(lst, "addAll", "a,b")
    call(lst, "addAll", Collection(L("z")))
    assert lst[-1] == "z"


def test_size_nested_and_clear(call: Any) -> None:
    lst = L("Projects", "Mail", L("Zoho Creator", "Zoho CRM"))
    assert call(lst, "size") == 3
    assert call(lst, "isEmpty") is False
    call(lst, "clear")
    assert call(lst, "size") == 0 and call(lst, "isEmpty") is True


def test_get_and_index_errors(call: Any) -> None:
    lst = L("a", "b", "c")
    assert call(lst, "get", 0) == "a"
    assert call(lst, "get", "2") == "c"
    assert call(lst, "get", " 1 ") == "b"
    with pytest.raises(DelugeRuntimeError, match="Index 5 is out of range for a list of size 3"):
        call(lst, "get", 5)
    with pytest.raises(DelugeRuntimeError, match="Index -1 is out of range"):
        call(lst, "get", -1)
    with pytest.raises(DelugeRuntimeError, match="Cannot convert 'x' to NUMBER"):
        call(lst, "get", "x")
    with pytest.raises(DelugeRuntimeError, match="Index must be a NUMBER but was DECIMAL"):
        call(lst, "get", 1.0)


def test_index_of(call: Any) -> None:
    lst = L("a", 1, "a", 2.0)
    assert call(lst, "indexOf", "a") == 0
    assert call(lst, "lastIndexOf", "a") == 2
    assert call(lst, "indexOf", 2) == 3
    assert call(lst, "indexOf", "1") == -1
    assert call(lst, "lastIndexOf", "zz") == -1


def test_remove_index(call: Any) -> None:
    lst = L("Creator", "CRM", "Projects")
    assert call(lst, "remove", 1) == "CRM"
    assert text_form(lst) == "Creator,Projects"
    with pytest.raises(DelugeRuntimeError, match="Index 2 is out of range for a list of size 2"):
        call(lst, "remove", 2)


def test_remove_element_and_remove_all(call: Any) -> None:
    lst = L("a", 1, "a", "1")
    assert call(lst, "removeElement", "a") is None
    assert lst == [1, "a", "1"]
    call(lst, "removeElement", "zz")
    assert lst == [1, "a", "1"]
    call(lst, "removeElement", 1.0)
    assert lst == ["a", "1"]
    lst = L(1, 2, 3, "2", 2, L(1))
    call(lst, "removeAll", L(2, L(1)))
    assert lst == [1, 3, "2"]


def test_distinct_zoho_example(call: Any) -> None:
    lst = L("1", 1, 1, 2, 2, 3)
    out = call(lst, "distinct")
    assert out == ["1", 1, 2, 3] and [type(x) for x in out] == [str, int, int, int]
    assert out is not lst and len(lst) == 6
    assert call(L(M(a=1), M(a=1), M(a=2)), "distinct") == [{"a": 1}, {"a": 2}]


def test_intersect(call: Any) -> None:
    assert call(L(1, 2, 2, 3, "4"), "intersect", L(3, 2, 4)) == [2, 3]
    assert call(L("a"), "intersect", L()) == []


def test_sublist(call: Any) -> None:
    lst = L(1, 2, 3, 4)
    assert text_form(call(lst, "subList", 0, 3)) == "1,2,3"
    assert call(lst, "subList", 2) == [3, 4]
    assert call(lst, "subList", 4, 4) == []
    for args in ((-1, 2), (0, 5), (3, 2)):
        with pytest.raises(DelugeRuntimeError, match="out of range"):
            call(lst, "subList", *args)


def test_sort(call: Any) -> None:
    lst = L("Creator", "crm", "Zoho Creator")
    out = call(lst, "sort", True)
    assert out is lst
    assert lst == ["Creator", "Zoho Creator", "crm"]
    assert call(L(3, 1.5, 2), "sort") == [1.5, 2, 3]
    assert call(L(3, None, 1), "sort", False) == [None, 3, 1]
    assert call(L(D(2026, 1, 2), D(2025, 5, 1)), "sort") == [D(2025, 5, 1), D(2026, 1, 2)]
    mixed = L("b", 1, "a")
    assert call(mixed, "sort") is None
    assert mixed == ["b", 1, "a"]
    assert call(L(M(a=1)), "sort") is None
    # stable: equal numbers keep their order
    s = call(L(2, 1.0, 1, 2.0), "sort", False)
    assert s == [2, 2.0, 1.0, 1] and [type(x) for x in s] == [int, float, float, int]
    with pytest.raises(DelugeRuntimeError, match="BOOLEAN"):
        call(L(1), "sort", "yes")


def test_statistics_zoho_examples(call: Any, callf: Any) -> None:
    nums = L(1, 5, 2, 3)
    assert call(nums, "largest") == 5 and type(call(nums, "largest")) is int
    assert call(nums, "smallest") == 1
    assert call(nums, "average") == 2.75
    assert call(nums, "median") == 2.5
    assert callf("average", nums) == 2.75
    assert callf("largest", nums) == 5
    assert call(L(3, 1, 2), "median") == 2.0 and type(call(L(3, 1, 2), "median")) is float
    big = Collection(L(300, 455, 124, 926, 780))
    assert call(big, "nthLargest", 5) == 124
    assert call(big, "nthSmallest", 2) == 300
    with pytest.raises(DelugeRuntimeError, match="out of range"):
        call(big, "nthLargest", 6)
    with pytest.raises(DelugeRuntimeError, match="out of range"):
        call(big, "nthSmallest", 0)
    assert call(L("10", 2.5), "largest") == 10
    assert call(L(), "largest") is None
    assert call(L(), "average") is None
    assert call(L(), "median") is None
    with pytest.raises(DelugeRuntimeError, match="Cannot convert 'abc' to NUMBER"):
        call(L(1, "abc"), "average")
    with pytest.raises(DelugeRuntimeError, match="BOOLEAN"):
        call(L(1, True), "largest")


def test_no_sum(call: Any) -> None:
    with pytest.raises(DelugeRuntimeError, match="'sum' is not a function of LIST"):
        call(L(1), "sum")


def test_to_list_same_and_to_string(call: Any, callf: Any) -> None:
    lst = L("a", M(id="1"), None, 2.0)
    assert call(lst, "toList") is lst
    assert call(lst, "toJSONList") is lst
    assert call(lst, "toString") == 'a,{"id":"1"},null,2.0'
    assert callf("toString", L(1, 2)) == "1,2"


def test_values_and_insert(call: Any) -> None:
    lst = L(1)
    call(lst, "insert", 2, 3)
    assert lst == [1, 2, 3]
    v = call(lst, "values")
    assert v == lst and v is not lst


# --- typed lists ----------------------------------------------------------------------------


def test_typed_lists(call: Any) -> None:
    t = make_typed_list("String")
    call(t, "add", "x")
    call(t, "add", None)
    with pytest.raises(DelugeRuntimeError, match="Typed list accepts only TEXT values"):
        call(t, "add", 1)
    with pytest.raises(DelugeRuntimeError, match="Typed list accepts only TEXT values"):
        call(t, "addAll", L("a", 2))
    assert t == ["x", None]
    with pytest.raises(DelugeRuntimeError, match="TEXT"):
        call(t, "removeElement", 5)
    d = make_typed_list("double")
    call(d, "add", 3)
    assert d == [3.0] and type(d[0]) is float
    call(d, "addAll", L(1, 2.5))
    assert [type(x) for x in d] == [float, float, float]
    n = make_typed_list("LONG")
    with pytest.raises(DelugeRuntimeError, match="accepts only NUMBER"):
        call(n, "add", 1.5)
    m = make_typed_list("map")
    call(m, "add", Collection(M(a=1)))
    with pytest.raises(DelugeRuntimeError, match="accepts only MAP"):
        call(m, "add", L())
    assert make_typed_list("Date").elem_type == "DATE-TIME"
    assert make_typed_list("Boolean").elem_type == "BOOLEAN"
    assert make_typed_list("list").elem_type == "LIST"
    assert call(t, "distinct").elem_type == "TEXT"
    with pytest.raises(DelugeRuntimeError, match="Unknown list element type"):
        make_typed_list("Widget")


def test_size_limit() -> None:
    ctx = FakeContext(limits=Limits(collection_items=3))
    lst = L(1, 2)
    call_method(ctx, lst, "add", 3)
    with pytest.raises(DelugeLimitError, match="limit of 3"):
        call_method(ctx, lst, "add", 4)
    with pytest.raises(DelugeLimitError):
        call_method(ctx, L(1), "addAll", L(2, 3, 4))
