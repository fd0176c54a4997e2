"""NUMBER and DECIMAL built-ins (§8.4) and randomNumber (§8.8, D-74)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from floodway.deluge.builtins.numbers import integer_words, parse_number_text
from floodway.deluge.errors import DelugeRuntimeError
from floodway.deluge.values import NUMBER_MAX, NUMBER_MIN


def same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def test_abs(call: Any, callf: Any) -> None:
    assert same(call(-15.50, "abs"), 15.5)
    assert same(call(-3, "abs"), 3)
    assert same(callf("abs", -7), 7)
    with pytest.raises(DelugeRuntimeError, match="Number out of range"):
        call(NUMBER_MIN, "abs")


def test_ceil_floor(call: Any, callf: Any) -> None:
    assert same(call(10.1, "ceil"), 11)
    assert same(call(10.1, "floor"), 10)
    assert same(call(-10.1, "ceil"), -10)
    assert same(call(-10.1, "floor"), -11)
    assert same(call(5, "ceil"), 5)
    assert same(callf("floor", 2.9), 2)
    with pytest.raises(DelugeRuntimeError, match="Number out of range"):
        call(1e300, "ceil")


def test_round_zoho_examples(call: Any) -> None:
    assert same(call(2.345, "round", 2), 2.35)
    assert same(call(2.5, "round", 0), 3.0)
    assert same(call(-2.5, "round", 0), -3.0)
    assert same(call(2.5, "round"), 3.0)
    assert same(call(1234.56, "round", -2), 1200.0)
    assert same(call(1250, "round", -2), 1300)
    assert same(call(1250, "round", 2), 1250)
    assert same(call(-1250, "round", -2), -1300)
    assert same(call(1.005, "round", 2), 1.01)  # shortest representation, not binary value
    assert same(call(1.2, "round", 5), 1.2)
    assert same(call(1234.56, "round", -4), 0.0)
    assert same(call(5678.9, "round", -4), 0.0)
    assert same(call(9999, "round", -4), 0)
    assert same(call(1234.56, "round", "1"), 1234.6)
    assert same(call(0.1, "round", -1000), 0.0)
    assert same(call(1e22, "round", 3), 1e22)
    with pytest.raises(DelugeRuntimeError, match="Number out of range"):
        call(NUMBER_MAX, "round", -1)


def test_sqrt_exp_log_trig(call: Any) -> None:
    assert same(call(9, "sqrt"), 3.0)
    assert call(-4, "sqrt") is None
    assert same(call(1, "exp"), 2.718281828459045)
    with pytest.raises(DelugeRuntimeError, match="Number out of range"):
        call(1000, "exp")
    assert same(call(1, "log"), 0.0)
    with pytest.raises(DelugeRuntimeError, match="not defined"):
        call(0, "log")
    assert same(call(0, "sin"), 0.0)
    assert same(call(0, "cos"), 1.0)
    assert call(math.pi / 4, "tan") == pytest.approx(1.0)


def test_power(call: Any, callf: Any) -> None:
    assert same(call(3, "power", 2), 9)
    assert same(callf("power", 2, 10), 1024)
    assert same(call(2, "power", 0.5), math.sqrt(2))
    assert same(call(2, "power", -1), 0.5)
    assert same(call(2.0, "power", 2), 4.0)
    assert same(call(2, "power", 64), 1.8446744073709552e19)  # does not fit -> DECIMAL
    assert same(call(-1, "power", 10**15), 1)
    with pytest.raises(DelugeRuntimeError, match="Number out of range"):
        call(10, "power", 400)
    with pytest.raises(DelugeRuntimeError, match="Division by zero"):
        call(0, "power", -1)
    with pytest.raises(DelugeRuntimeError, match="not a real number"):
        call(-8, "power", 0.5)
    with pytest.raises(DelugeRuntimeError, match="expects a NUMBER but got LIST"):
        from floodway.deluge.values import DelugeList

        call(2, "power", DelugeList())


def test_min_max(call: Any, callf: Any) -> None:
    assert same(call(100, "min", 200), 100)
    assert same(call(100, "max", 200), 200)
    assert same(callf("max", 1.5, 2), 2)
    assert same(callf("min", 1.5, 2), 1.5)


def test_conversions(call: Any, callf: Any) -> None:
    assert same(call(5, "toDecimal"), 5.0)
    assert same(callf("toDecimal", 7), 7.0)
    assert same(call(123.25, "toNumber"), 123)
    assert same(call(99.9, "toLong"), 99)
    assert same(call(-99.9, "toLong"), -99)
    assert same(call(42, "toNumber"), 42)
    with pytest.raises(DelugeRuntimeError, match="Number out of range"):
        call(1e20, "toNumber")
    assert call(100, "toHex") == "64"
    assert call(-255, "toHex") == "-ff"
    assert callf("toHex", 0) == "0"
    with pytest.raises(DelugeRuntimeError, match="not a function of DECIMAL"):
        call(1.5, "toHex")
    assert call(-42, "toString") == "-42"
    assert call(10.0, "toString") == "10.0"
    assert call(0.1 + 0.2, "toText") == "0.30000000000000004"
    assert call(1e21, "toString") == "1000000000000000000000.0"
    # With a pattern a NUMBER is epoch milliseconds (delegated to the dates module).
    assert call(86_400_000, "toString", "yyyy-MM-dd") == "1970-01-02"


def test_parity(call: Any, callf: Any) -> None:
    assert call(1234, "isEven") is True
    assert callf("isOdd", 111) is True
    assert call(-3, "isOdd") is True
    assert call(0, "isOdd") is False
    with pytest.raises(DelugeRuntimeError, match="DECIMAL"):
        call(2.0, "isEven")


def test_to_words_zoho_examples(call: Any, callf: Any) -> None:
    assert call(1989, "toWords", "en-us") == "one thousand nine hundred eighty-nine"
    assert (
        call(1989.13, "toWords", "en-us") == "one thousand nine hundred eighty-nine point one three"
    )
    assert call(-12, "toWords", "en-gb") == "minus twelve"
    assert call(1989, "toWords") == "one thousand nine hundred eighty-nine"
    assert callf("toWords", 7, "EN-IN") == "seven"
    assert call(0, "toWords") == "zero"
    assert call(2.5, "toWords") == "two point five"
    assert call(-0.05, "toWords") == "minus zero point zero five"
    assert call(1_000_010, "toWords") == "one million ten"
    assert integer_words(999_999_999_999_999_999).startswith("nine hundred ninety-nine quadrillion")
    with pytest.raises(DelugeRuntimeError, match="toWords language 'fr' is not supported"):
        call(1, "toWords", "fr")
    with pytest.raises(DelugeRuntimeError, match="at most 18 digits"):
        call(1_000_000_000_000_000_000, "toWords")
    with pytest.raises(DelugeRuntimeError, match="at most 15 digits"):
        call(123456789.1234567, "toWords")


def test_random_number(callf: Any) -> None:
    seen = {callf("randomNumber", 1, 3) for _ in range(200)}
    assert seen == {1, 2}
    for _ in range(100):
        r = callf("randomNumber", 0.5, 1.5)
        assert type(r) is float and 0.5 <= r < 1.5
    r0 = callf("randomNumber")
    assert type(r0) is int and 0 <= r0 <= 2_000_000_000
    assert callf("randomNumber", 4, 4) == 4
    with pytest.raises(DelugeRuntimeError, match="greater than"):
        callf("randomNumber", 5, 1)
    with pytest.raises(DelugeRuntimeError, match="0 or 2 arguments"):
        callf("randomNumber", 5)


def test_parse_number_text() -> None:
    assert same(parse_number_text(" 12 "), 12)
    assert same(parse_number_text("-12.5"), -12.5)
    assert same(parse_number_text("1e3"), 1000.0)
    assert same(parse_number_text("99999999999999999999"), 1e20)
    for bad in ("", " ", "24/2*10", "12abc", "1,000", "abc", "nan", "inf", "1e999"):
        assert parse_number_text(bad) is None
