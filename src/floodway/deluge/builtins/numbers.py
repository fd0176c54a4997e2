"""NUMBER and DECIMAL built-ins (deluge-language.md §8.4) and ``randomNumber`` (§8.8).

Result types follow D-73: functions that pick a value keep its type, ``power`` gives a NUMBER only
when the exact integer result fits, ``sqrt``/``exp``/``log`` always give DECIMAL. Rounding is half
away from zero applied to the shortest decimal representation (D-48), so ``2.345.round(2)`` is
``2.35`` although the binary64 value is slightly below 2.345.
"""

from __future__ import annotations

import decimal
import math
import random
import re
from typing import Any, Final

from ..context import Context
from ..errors import DelugeRuntimeError
from ..registry import function, method
from ..values import (
    DECIMAL,
    NUMBER,
    NUMBER_MAX,
    NUMBER_MIN,
    check_decimal,
    check_number,
    decimal_text,
    text_form,
    type_name,
)

BOTH: Final = (NUMBER, DECIMAL)

_INT_TEXT: Final = re.compile(r"[+-]?[0-9]+")
_DECIMAL_TEXT: Final = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")

# Enough precision for any binary64 written out in full (at most ~770 significant digits).
_DEC_CTX: Final = decimal.Context(
    prec=1000, rounding=decimal.ROUND_HALF_UP, Emax=10_000, Emin=-10_000
)

_rng: Final = random.SystemRandom()


def parse_number_text(s: str) -> int | float | None:
    """The number a TEXT holds (trimmed), NUMBER when integral and in range, else DECIMAL.

    None when the text is not only a number (``"24/2*10"``, ``""``, ``"12abc"``).
    """
    t = s.strip()
    if len(t) > 1000:
        return None
    if _INT_TEXT.fullmatch(t):
        n = int(t)
        if NUMBER_MIN <= n <= NUMBER_MAX:
            return n
        return _finite_or_none(float(n))
    if _DECIMAL_TEXT.fullmatch(t):
        return _finite_or_none(float(t))
    return None


def _finite_or_none(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _num_arg(v: Any, fn: str) -> int | float:
    """A numeric argument: NUMBER or DECIMAL (TEXT holding a number is accepted too)."""
    t = type(v)
    if t is int or t is float:
        return v  # type: ignore[no-any-return]
    if t is str:
        n = parse_number_text(v)
        if n is not None:
            return n
        raise DelugeRuntimeError(f"Cannot convert '{v}' to NUMBER")
    raise DelugeRuntimeError(f"'{fn}' expects a NUMBER but got {type_name(v)}")


def _int_arg(v: Any, fn: str) -> int:
    n = _num_arg(v, fn)
    if type(n) is float:
        if not n.is_integer():
            raise DelugeRuntimeError(f"'{fn}' expects a whole NUMBER but got {decimal_text(n)}")
        return int(n)
    return int(n)


# ---------------------------------------------------------------------------------------------
# Simple arithmetic


@method(BOTH, "abs")
def num_abs(ctx: Context, n: int | float) -> int | float:
    if type(n) is int:
        return check_number(abs(n))
    return abs(n)


@method(BOTH, "ceil")
def num_ceil(ctx: Context, n: int | float) -> int:
    return check_number(n if type(n) is int else math.ceil(n))


@method(BOTH, "floor")
def num_floor(ctx: Context, n: int | float) -> int:
    return check_number(n if type(n) is int else math.floor(n))


def _round_decimal(d: decimal.Decimal, places: int) -> decimal.Decimal:
    """Half away from zero to ``places`` fraction digits; a negative ``places`` whose magnitude
    reaches the number of integer digits gives 0 (Zoho's Creator ``round`` page, D-48)."""
    if places < 0:
        int_digits = d.adjusted() + 1  # digits before the point of |d|
        if -places >= int_digits:
            return decimal.Decimal(0)
    exp = decimal.Decimal(1).scaleb(-places)
    return d.quantize(exp, context=_DEC_CTX)


@method(BOTH, "round")
def num_round(ctx: Context, n: int | float, places: Any = 0) -> int | float:
    p = _int_arg(places, "round")
    if type(n) is int:
        if p >= 0:
            return n
        return check_number(int(_round_decimal(decimal.Decimal(n), p)))
    r = repr(float(n))
    d = decimal.Decimal(r)
    if p >= 0 and -d.as_tuple().exponent <= p:  # type: ignore[operator]
        return n  # already has no more than ``p`` fraction digits
    return check_decimal(float(_round_decimal(d, p)))


@method(BOTH, "sqrt")
def num_sqrt(ctx: Context, n: int | float) -> float | None:
    if n < 0:
        return None
    return math.sqrt(n)


@method(BOTH, "exp")
def num_exp(ctx: Context, n: int | float) -> float:
    try:
        return check_decimal(math.exp(n))
    except OverflowError:
        raise DelugeRuntimeError("Number out of range") from None


@method(BOTH, "log")
def num_log(ctx: Context, n: int | float) -> float:
    if n <= 0:
        raise DelugeRuntimeError(f"Logarithm of {text_form(n)} is not defined")
    return math.log(n)


@method(BOTH, "sin")
def num_sin(ctx: Context, n: int | float) -> float:
    return math.sin(n)


@method(BOTH, "cos")
def num_cos(ctx: Context, n: int | float) -> float:
    return math.cos(n)


@method(BOTH, "tan")
def num_tan(ctx: Context, n: int | float) -> float:
    return math.tan(n)


@method(BOTH, "power")
def num_power(ctx: Context, base: int | float, exponent: Any) -> int | float:
    e = _num_arg(exponent, "power")
    # Bound the exact computation: |base| >= 2 and e > 64 can never fit in 64 bits.
    if type(base) is int and type(e) is int and e >= 0 and (base in (0, 1, -1) or e <= 64):
        r: int = base**e
        if NUMBER_MIN <= r <= NUMBER_MAX:
            return r
    try:
        r_f = math.pow(float(base), float(e))
    except OverflowError:
        raise DelugeRuntimeError("Number out of range") from None
    except ValueError:
        if base == 0:
            raise DelugeRuntimeError("Division by zero") from None
        raise DelugeRuntimeError(
            f"{text_form(base)} to the power {text_form(e)} is not a real number"
        ) from None
    return check_decimal(r_f)


@method(BOTH, "min")
def num_min(ctx: Context, a: int | float, b: Any) -> int | float:
    y = _num_arg(b, "min")
    return y if y < a else a


@method(BOTH, "max")
def num_max(ctx: Context, a: int | float, b: Any) -> int | float:
    y = _num_arg(b, "max")
    return y if y > a else a


# ---------------------------------------------------------------------------------------------
# Conversions


@method(BOTH, "toDecimal")
def num_to_decimal(ctx: Context, n: int | float) -> float:
    return float(n)


@method(BOTH, "toNumber", "toLong")
def num_to_number(ctx: Context, n: int | float) -> int:
    # DECIMAL truncated toward zero (D-47).
    return check_number(int(n))


@method(NUMBER, "toHex")
def num_to_hex(ctx: Context, n: int) -> str:
    return f"-{-n:x}" if n < 0 else f"{n:x}"


@method(BOTH, "toString", "toText")
def num_to_string(ctx: Context, n: int | float, pattern: Any = None, tz: Any = None) -> str | None:
    """Text form; with a date pattern the NUMBER is epoch milliseconds (§8.5; null for a
    pattern with unknown letters, D-79)."""
    if pattern is None:
        return text_form(n)
    # Imported lazily: the dates module is large and only this rare form needs it.
    from .dates import number_to_string_with_pattern

    return number_to_string_with_pattern(ctx, n, pattern, tz)


# ---------------------------------------------------------------------------------------------
# Parity


def _parity(n: int | float, fn: str) -> int:
    if type(n) is not int:
        raise DelugeRuntimeError(f"'{fn}' cannot be determined for DECIMAL values")
    return n % 2


@method(BOTH, "isEven")
def num_is_even(ctx: Context, n: int | float) -> bool:
    return _parity(n, "isEven") == 0


@method(BOTH, "isOdd")
def num_is_odd(ctx: Context, n: int | float) -> bool:
    return _parity(n, "isOdd") == 1


# ---------------------------------------------------------------------------------------------
# toWords (English for en-us, en-gb and en-in alike, D-63)

_ONES: Final = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS: Final = [
    "_",
    "_",
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
]
_SCALES: Final = ("", "thousand", "million", "billion", "trillion", "quadrillion")
_ENGLISH: Final = ("en-us", "en-gb", "en-in", "en")
_ZOHO_LANGUAGES: Final = ("fr", "de", "it", "ja", "ko", "zh", "es")


def _below_1000(n: int) -> list[str]:
    words: list[str] = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words += [_ONES[hundreds], "hundred"]
    if rest >= 20:
        tens, ones = divmod(rest, 10)
        words.append(_TENS[tens] + (f"-{_ONES[ones]}" if ones else ""))
    elif rest:
        words.append(_ONES[rest])
    return words


def integer_words(n: int) -> str:
    """English words of a non-negative integer below 10**18."""
    if n == 0:
        return "zero"
    groups: list[int] = []
    while n:
        n, g = divmod(n, 1000)
        groups.append(g)
    words: list[str] = []
    for i in range(len(groups) - 1, -1, -1):
        if groups[i]:
            words += _below_1000(groups[i])
            if _SCALES[i]:
                words.append(_SCALES[i])
    return " ".join(words)


@method(BOTH, "toWords")
def num_to_words(ctx: Context, n: int | float, language: Any = "en-us") -> str:
    if type(language) is not str:
        raise DelugeRuntimeError(f"'toWords' expects a TEXT language but got {type_name(language)}")
    if language.strip().lower() not in _ENGLISH:
        raise DelugeRuntimeError(f"toWords language '{language}' is not supported")
    if type(n) is int:
        if len(str(abs(n))) > 18:
            raise DelugeRuntimeError("toWords supports numbers of at most 18 digits")
        words = integer_words(abs(n))
        return f"minus {words}" if n < 0 else words
    text = decimal_text(n)
    negative = text.startswith("-")
    int_part, _, frac = text.lstrip("-").partition(".")
    if len(int_part) + len(frac) > 15:
        raise DelugeRuntimeError("toWords supports decimals of at most 15 digits")
    words = integer_words(int(int_part))
    if frac:
        words += " point " + " ".join(_ONES[int(d)] for d in frac)
    return f"minus {words}" if negative else words


# ---------------------------------------------------------------------------------------------
# randomNumber (D-74: min <= r < max)


@function("randomNumber")
def random_number(ctx: Context, low: Any = None, high: Any = None) -> int | float:
    if low is None and high is None:
        return _rng.randrange(0, 2_000_000_000)
    if low is None or high is None:
        raise DelugeRuntimeError("'randomNumber' takes 0 or 2 arguments")
    lo = _num_arg(low, "randomNumber")
    hi = _num_arg(high, "randomNumber")
    if hi < lo:
        raise DelugeRuntimeError(
            f"randomNumber: the lower bound {text_form(lo)} is greater than the upper bound {text_form(hi)}"
        )
    if type(lo) is int and type(hi) is int:
        return lo if lo == hi else _rng.randrange(lo, hi)
    flo, fhi = float(lo), float(hi)
    r = flo + _rng.random() * (fhi - flo)
    # Guard the rounding corner where flo + random()*(span) lands on fhi itself.
    return check_decimal(r if r < fhi or flo == fhi else flo)
