"""MAP built-ins (§8.3) and the undecided COLLECTION (D-17)."""

from __future__ import annotations

from typing import Any

import pytest

from floodway.deluge.errors import DelugeLimitError, DelugeRuntimeError
from floodway.deluge.limits import Limits
from floodway.deluge.values import Collection, DelugeList, DelugeMap, text_form

from .conftest import FakeContext, call_method


def L(*items: Any) -> DelugeList:
    return DelugeList(items)


def product() -> DelugeMap:
    return DelugeMap({"Product": "Creator", "Company": "Zoho"})


def test_put_order_and_overwrite(call: Any) -> None:
    m = DelugeMap()
    assert call(m, "put", "Creator", 4) is None
    call(m, "put", "CRM", 3)
    call(m, "put", "Creator", 5)
    assert text_form(m) == '{"Creator":5,"CRM":3}'
    call(m, "put", "k", None)
    assert call(m, "get", "k") is None and call(m, "containKey", "k") is True
    with pytest.raises(DelugeRuntimeError, match="A LIST cannot be a map key"):
        call(m, "put", L(1), 1)


def test_put_all(call: Any) -> None:
    m = DelugeMap({"a": 1, "b": 2})
    call(m, "putAll", DelugeMap({"b": 20, "c": 3}))
    assert list(m.items()) == [("a", 1), ("b", 20), ("c", 3)]
    call(m, "putAll", Collection(DelugeMap({"d": 4})))
    assert m["d"] == 4
    with pytest.raises(DelugeRuntimeError, match="'putAll' expects a MAP but got LIST"):
        call(m, "putAll", L())


def test_get_zoho_examples(call: Any) -> None:
    m = product()
    assert call(m, "get", "Creator") is None
    assert call(m, "get", "Product") == "Creator"
    assert call(m, "getJSON", "Company") == "Zoho"
    assert call(m, "getJson", "missing") is None
    assert call(m, "get", L()) is None
    k = DelugeMap({1: "Number", "1": "Text"})
    assert call(k, "get", 1) == "Number" and call(k, "get", "1") == "Text"


def test_keys_and_values(call: Any) -> None:
    m = DelugeMap({"Product": "Zoho Creator", "Version": 5})
    keys = call(m, "keys")
    assert type(keys) is DelugeList and text_form(keys) == "Product,Version"
    assert text_form(call(DelugeMap({1: "Number", "a": "Alphabet"}), "keys")) == "1,a"
    assert call(m, "values") == ["Zoho Creator", 5]
    assert call(m, "size") == 2


def test_remove_clear_size(call: Any) -> None:
    m = product()
    assert call(m, "remove", "Product") == "Creator"
    assert call(m, "remove", "nope") is None
    assert list(m) == ["Company"]
    assert call(m, "isEmpty") is False
    call(m, "clear")
    assert call(m, "size") == 0 and call(m, "isEmpty") is True


def test_contain_key_and_value(call: Any) -> None:
    m = product()
    assert call(m, "containKey", "product") is False
    assert call(m, "containKey", "Product") is True
    assert call(m, "containsKey", "Product") is True
    assert call(m, "containValue", "creator") is False
    assert call(m, "containValue", "Creator") is True
    assert call(m, "containsValue", "Zoho") is True
    assert call(m, "notContains", "price") is True
    assert call(m, "notContains", "Product") is False
    assert call(m, "notContains", "Creator") is True  # keys only
    n = DelugeMap({"n": 2, "l": L(1, "a")})
    assert call(n, "containValue", 2.0) is True
    assert call(n, "containValue", "2") is False
    assert call(n, "containValue", L(1, "a")) is True


def test_to_map_same_object_and_to_string(call: Any, callf: Any) -> None:
    m = DelugeMap({"id": "1", "tags": L("a", "b")})
    assert call(m, "toMap") is m
    assert call(m, "toString") == '{"id":"1","tags":["a","b"]}'
    assert call(m, "toText") == '{"id":"1","tags":["a","b"]}'
    assert callf("toString", m) == '{"id":"1","tags":["a","b"]}'


def test_insert_on_map(call: Any) -> None:
    m = DelugeMap()
    call(m, "insert", "k", 1)
    call(m, "insert", DelugeMap({"j": 2}))
    assert m == {"k": 1, "j": 2}
    with pytest.raises(DelugeRuntimeError, match="'insert' takes 1 or 2"):
        call(m, "insert", 1, 2, 3)


# --- COLLECTION --------------------------------------------------------------------------


def test_collection_becomes_list(call: Any) -> None:
    c = Collection()
    assert call(c, "size") == 0
    assert call(c, "isEmpty") is True
    assert call(c, "toString") == "{}"
    call(c, "add", "a")
    assert type(c.value) is DelugeList and c.value == ["a"]
    assert call(c, "size") == 1  # now dispatched as LIST
    assert call(c, "get", 0) == "a"
    c2 = Collection()
    call(c2, "addAll", L(1, 2))
    assert c2.value == [1, 2]
    c3 = Collection()
    call(c3, "insert", "x", "y")
    assert c3.value == ["x", "y"]
    assert text_form(c3) == "x,y"


def test_collection_becomes_map(call: Any) -> None:
    c = Collection()
    call(c, "put", "k", 1)
    assert type(c.value) is DelugeMap and c.value == {"k": 1}
    assert call(c, "values") == [1]
    assert call(c, "containsKey", "k") is True
    c2 = Collection()
    call(c2, "putAll", DelugeMap({"a": 1}))
    assert text_form(c2) == '{"a":1}'
    with pytest.raises(DelugeRuntimeError, match="'put' is not a function of LIST"):
        call(Collection(L()), "put", "a", 1)


def test_collection_undecided_reads(call: Any) -> None:
    c = Collection()
    assert call(c, "keys") == [] and call(c, "values") == [] and call(c, "toList") == []
    assert call(c, "toMap") == {}
    assert call(c, "get", "a") is None
    assert call(c, "containsKey", "a") is False
    assert call(c, "containValue", "a") is False
    assert call(c, "notContains", "a") is True
    assert call(c, "indexOf", "a") == -1
    assert call(c, "clear") is None
    assert c.value is None
    with pytest.raises(DelugeRuntimeError, match="expects a LIST"):
        call(c, "addAll", "x")
    assert c.value is None  # failed addAll did not decide the kind


def test_map_size_limit() -> None:
    ctx = FakeContext(limits=Limits(collection_items=2))
    m = DelugeMap({"a": 1})
    call_method(ctx, m, "put", "b", 2)
    call_method(ctx, m, "put", "a", 3)  # overwrite does not grow
    with pytest.raises(DelugeLimitError, match="limit of 2"):
        call_method(ctx, m, "put", "c", 3)
    with pytest.raises(DelugeLimitError):
        call_method(ctx, DelugeMap(), "putAll", DelugeMap({"x": 1, "y": 2, "z": 3}))
