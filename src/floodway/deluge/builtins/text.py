"""TEXT built-in methods (deluge-language.md §8.1 and the TEXT rows of §8.6).

Positions are Unicode code points (D-54), so Python ``str`` indexing is used as is. Argument
texts are read with their text form (§3.4). Builders compute the size of their result before
allocating it (security.md LM-3); regular expressions go through ``regexes`` (LM-6) and JSON
through the one iterative parser of ``jsonparse`` (LM-7).
"""

from __future__ import annotations

import re
from typing import Any, Final

import regex  # type: ignore[import-untyped]

from ..context import Context
from ..errors import DelugeLimitError, DelugeRuntimeError
from ..jsonparse import JSONSyntaxError, parse_json
from ..regexes import regex_fullmatch, regex_sub
from ..registry import method
from ..values import (
    BOOLEAN,
    DATETIME,
    DECIMAL,
    NUMBER,
    TEXT,
    DelugeList,
    DelugeMap,
    check_decimal,
    check_number,
    text_form,
    type_name,
)
from ..xpath import execute_xpath

MAX_PAD: Final = 100_000
_CHARGE_FROM: Final = 4096
_INT_TEXT: Final = re.compile(r"[+-]?[0-9]+")
_DEC_TEXT: Final = re.compile(r"([+-]?)([0-9]*)\.([0-9]*)")
_DECIMAL_TEXT: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NOT_LETTER: Final = regex.compile(r"[^\p{L}]+")
_NOT_ALNUM: Final = regex.compile(r"[^\p{L}\p{Nd}]+")
_LETTER: Final = regex.compile(r"\p{L}+")
_ALNUM: Final = regex.compile(r"[\p{L}\p{Nd}]+")
_WORD: Final = re.compile(r"\S+")


# -- helpers -------------------------------------------------------------------------------------


def cut(text: str, n: int = 50) -> str:
    """Text shown inside an error message: at most ``n`` characters."""
    return text if len(text) <= n else text[:n] + "…"


def _arg(v: Any) -> str:
    return v if type(v) is str else text_form(v)


def _int_arg(v: Any, what: str = "Index") -> int:
    """An index-like argument: NUMBER, or TEXT holding an integer (§8 general rules)."""
    if type(v) is int:
        return v
    if type(v) is str:
        s = v.strip()
        if _INT_TEXT.fullmatch(s) and len(s) <= 20:
            return int(s)
        raise DelugeRuntimeError(f"{what} must be a NUMBER but was TEXT '{cut(v)}'")
    raise DelugeRuntimeError(f"{what} must be a NUMBER but was {type_name(v)}")


def _bool_arg(v: Any, what: str) -> bool:
    if type(v) is bool:
        return v
    raise DelugeRuntimeError(f"'{what}' must be a BOOLEAN but was {type_name(v)}")


def check_size(ctx: Context, n: int) -> None:
    """Refuse a TEXT result of ``n`` characters over the limit; charge big ones (LM-3)."""
    limit = ctx.limits.text_chars
    if n > limit:
        raise DelugeLimitError(f"Text exceeds the limit of {limit} characters")
    if n > _CHARGE_FROM:
        ctx.charge(n)


def _check_items(ctx: Context, n: int) -> None:
    limit = ctx.limits.collection_items
    if n > limit:
        raise DelugeLimitError(f"List exceeds the limit of {limit} elements")


def _out_of_range(i: int, t: str) -> DelugeRuntimeError:
    return DelugeRuntimeError(f"Index {i} is out of range for text of length {len(t)}")


def _find_ignore_case(t: str, s: str) -> tuple[int, int] | None:
    """(start, end) of the first case-insensitive occurrence of ``s`` in ``t``."""
    m = regex.search(regex.escape(s), t, flags=regex.IGNORECASE | regex.V0)
    return None if m is None else m.span()


# -- length, comparisons, search -----------------------------------------------------------------


@method(TEXT, "length", "len")
def length(ctx: Context, t: str) -> int:
    return len(t)


@method(TEXT, "concat")
def concat(ctx: Context, t: str, x: Any) -> str:
    s = _arg(x)
    check_size(ctx, len(t) + len(s))
    return t + s


@method(TEXT, "contains")
def contains(ctx: Context, t: str, s: Any) -> bool:
    return _arg(s) in t


@method(TEXT, "containsIgnoreCase")
def contains_ignore_case(ctx: Context, t: str, s: Any) -> bool:
    return _arg(s).casefold() in t.casefold()


@method(TEXT, "notContains")
def not_contains(ctx: Context, t: str, s: Any) -> bool:
    return _arg(s) not in t


@method(TEXT, "startsWith")
def starts_with(ctx: Context, t: str, s: Any) -> bool:
    return t.startswith(_arg(s))


@method(TEXT, "startsWithIgnoreCase")
def starts_with_ignore_case(ctx: Context, t: str, s: Any) -> bool:
    return t.casefold().startswith(_arg(s).casefold())


@method(TEXT, "endsWith")
def ends_with(ctx: Context, t: str, s: Any) -> bool:
    return t.endswith(_arg(s))


@method(TEXT, "endsWithIgnoreCase")
def ends_with_ignore_case(ctx: Context, t: str, s: Any) -> bool:
    return t.casefold().endswith(_arg(s).casefold())


@method(TEXT, "equals")
def equals(ctx: Context, t: str, s: Any) -> bool:
    return t == _arg(s)


@method(TEXT, "equalsIgnoreCase")
def equals_ignore_case(ctx: Context, t: str, s: Any) -> bool:
    return t.casefold() == _arg(s).casefold()


@method(TEXT, "indexOf", "find")
def index_of(ctx: Context, t: str, s: Any) -> int:
    return t.find(_arg(s))


@method(TEXT, "lastIndexOf")
def last_index_of(ctx: Context, t: str, s: Any) -> int:
    return t.rfind(_arg(s))


@method(TEXT, "getOccurenceCount", "getOccurrenceCount")
def occurrence_count(ctx: Context, t: str, s: Any) -> int:
    sub = _arg(s)
    if sub == "":
        raise DelugeRuntimeError("getOccurenceCount needs a non-empty search text")
    return t.count(sub)


@method(TEXT, "getPrefix")
def get_prefix(ctx: Context, t: str, s: Any) -> str | None:
    i = t.find(_arg(s))
    return None if i < 0 else t[:i]


@method(TEXT, "getPrefixIgnoreCase")
def get_prefix_ignore_case(ctx: Context, t: str, s: Any) -> str | None:
    span = _find_ignore_case(t, _arg(s))
    return None if span is None else t[: span[0]]


@method(TEXT, "getSuffix")
def get_suffix(ctx: Context, t: str, s: Any) -> str | None:
    sub = _arg(s)
    i = t.find(sub)
    return None if i < 0 else t[i + len(sub) :]


@method(TEXT, "getSuffixIgnoreCase")
def get_suffix_ignore_case(ctx: Context, t: str, s: Any) -> str | None:
    span = _find_ignore_case(t, _arg(s))
    return None if span is None else t[span[1] :]


# -- slicing and padding -------------------------------------------------------------------------


@method(TEXT, "left")
def left(ctx: Context, t: str, n: Any) -> str:
    k = _int_arg(n)
    if k > len(t):
        raise _out_of_range(k, t)
    return t if k < 0 else t[:k]


@method(TEXT, "right")
def right(ctx: Context, t: str, n: Any) -> str:
    k = _int_arg(n)
    if k > len(t) or k < 0:
        raise _out_of_range(k, t)
    return t[len(t) - k :]


@method(TEXT, "substring", "subString", "subText", "mid")
def substring(ctx: Context, t: str, start: Any, end: Any = None) -> str:
    s = _int_arg(start)
    e = None if end is None else _int_arg(end)
    if e is not None and e < 0:
        e = None  # a negative end is treated as omitted
    if s < 0 or s > len(t):
        raise _out_of_range(s, t)
    if e is None:
        return t[s:]
    if e > len(t) or e < s:
        raise _out_of_range(e, t)
    return t[s:e]


def _pad_width(n: Any) -> int:
    k = _int_arg(n, "Padding length")
    if k > MAX_PAD:
        raise DelugeRuntimeError(f"Padding length {k} exceeds the maximum of {MAX_PAD}")
    return k


@method(TEXT, "leftpad")
def leftpad(ctx: Context, t: str, n: Any) -> str:
    k = _pad_width(n)
    if k <= len(t):
        return t
    check_size(ctx, k)
    return " " * (k - len(t)) + t


@method(TEXT, "rightpad")
def rightpad(ctx: Context, t: str, n: Any) -> str:
    k = _pad_width(n)
    if k <= len(t):
        return t
    check_size(ctx, k)
    return t + " " * (k - len(t))


@method(TEXT, "trim")
def trim(ctx: Context, t: str) -> str:
    return t.strip()


@method(TEXT, "ltrim")
def ltrim(ctx: Context, t: str) -> str:
    return t.lstrip()


@method(TEXT, "rtrim")
def rtrim(ctx: Context, t: str) -> str:
    return t.rstrip()


# -- case, order, repetition ---------------------------------------------------------------------


def _mapped(ctx: Context, result: str) -> str:
    # Case mapping can lengthen text (ß -> SS) by at most 3x; check the built result.
    check_size(ctx, len(result))
    return result


@method(TEXT, "toUpperCase", "upper")
def to_upper(ctx: Context, t: str) -> str:
    r = t.upper()
    return r if len(r) < 4096 else _mapped(ctx, r)


@method(TEXT, "toLowerCase", "lower")
def to_lower(ctx: Context, t: str) -> str:
    r = t.lower()
    return r if len(r) < 4096 else _mapped(ctx, r)


@method(TEXT, "proper")
def proper(ctx: Context, t: str) -> str:
    """A word is a run of non-whitespace: first character upper, the rest lower (D-70)."""
    words = 0

    def word(m: re.Match[str]) -> str:
        nonlocal words
        words += 1
        if words % 10_000 == 0:
            ctx.check_deadline()
        w = m.group()
        return w[0].upper() + w[1:].lower()

    return _mapped(ctx, _WORD.sub(word, t))


@method(TEXT, "reverse")
def reverse(ctx: Context, t: str) -> str:
    return t[::-1]


@method((NUMBER, DECIMAL, BOOLEAN, DATETIME), "reverse")
def reverse_text_form(ctx: Context, v: Any) -> str:
    """Global ``reverse(x)`` on a non-TEXT x reverses its text form (§8.1)."""
    return text_form(v)[::-1]


@method(TEXT, "repeat")
def repeat(ctx: Context, t: str, n: Any) -> str:
    k = _int_arg(n, "Repeat count")
    if k < 0:
        raise DelugeRuntimeError(f"Repeat count must not be negative but was {k}")
    check_size(ctx, len(t) * k)
    return t * k


# -- removal -------------------------------------------------------------------------------------


@method(TEXT, "remove")
def remove(ctx: Context, t: str, s: Any) -> str:
    sub = _arg(s)
    return t.replace(sub, "") if sub else t


@method(TEXT, "removeFirstOccurence", "removeFirstOccurrence")
def remove_first(ctx: Context, t: str, s: Any) -> str:
    sub = _arg(s)
    return t.replace(sub, "", 1) if sub else t


@method(TEXT, "removeLastOccurence", "removeLastOccurrence")
def remove_last(ctx: Context, t: str, s: Any) -> str:
    sub = _arg(s)
    i = t.rfind(sub)
    if not sub or i < 0:
        return t
    return t[:i] + t[i + len(sub) :]


@method(TEXT, "getAlpha")
def get_alpha(ctx: Context, t: str) -> str:
    return str(_NOT_LETTER.sub("", t))


@method(TEXT, "getAlphaNumeric")
def get_alpha_numeric(ctx: Context, t: str) -> str:
    return str(_NOT_ALNUM.sub("", t))


@method(TEXT, "removeAllAlpha")
def remove_all_alpha(ctx: Context, t: str) -> str:
    return str(_LETTER.sub("", t))


@method(TEXT, "removeAllAlphaNumeric")
def remove_all_alpha_numeric(ctx: Context, t: str) -> str:
    return str(_ALNUM.sub("", t))


# -- regular expressions -------------------------------------------------------------------------


def _java_quote(s: str) -> str:
    """A Java pattern matching ``s`` literally (Pattern.quote)."""
    return "\\Q" + s.replace("\\E", "\\E\\\\E\\Q") + "\\E"


def _replace(
    ctx: Context, t: str, pattern: Any, repl: Any, literal: Any, count: int, ignore_case: bool
) -> str:
    pat, rep = _arg(pattern), _arg(repl)
    if _bool_arg(literal, "literal"):
        if ignore_case:
            quoted = rep.replace("\\", "\\\\").replace("$", "\\$")
            return regex_sub(ctx, _java_quote(pat), quoted, t, count, True)
        n = t.count(pat) if pat else len(t) + 1
        if count:
            n = min(n, count)
        check_size(ctx, len(t) + n * (len(rep) - len(pat)))
        return t.replace(pat, rep, count or -1)
    return regex_sub(ctx, pat, rep, t, count, ignore_case)


@method(TEXT, "replaceAll")
def replace_all(ctx: Context, t: str, pattern: Any, repl: Any, literal: Any = False) -> str:
    return _replace(ctx, t, pattern, repl, literal, 0, False)


@method(TEXT, "replaceFirst")
def replace_first(ctx: Context, t: str, pattern: Any, repl: Any, literal: Any = False) -> str:
    return _replace(ctx, t, pattern, repl, literal, 1, False)


@method(TEXT, "replaceAllIgnoreCase")
def replace_all_ic(ctx: Context, t: str, pattern: Any, repl: Any, literal: Any = False) -> str:
    return _replace(ctx, t, pattern, repl, literal, 0, True)


@method(TEXT, "replaceFirstIgnoreCase")
def replace_first_ic(ctx: Context, t: str, pattern: Any, repl: Any, literal: Any = False) -> str:
    return _replace(ctx, t, pattern, repl, literal, 1, True)


@method(TEXT, "matches")
def matches(ctx: Context, t: str, pattern: Any) -> bool:
    return regex_fullmatch(ctx, _arg(pattern), t)


@method(TEXT, "isAscii")
def is_ascii(ctx: Context, t: str) -> bool:
    return t.isascii()


# -- lists and JSON ------------------------------------------------------------------------------


def split_text(ctx: Context, t: str, sep: str | None) -> DelugeList:
    """``toList``: split on a literal separator (D-21)."""
    if t == "":
        return DelugeList()
    if sep is None:
        return DelugeList([t])
    n = len(t) if sep == "" else t.count(sep) + 1
    _check_items(ctx, n)
    ctx.charge(len(t) + 56 * n)
    return DelugeList(list(t) if sep == "" else t.split(sep))


@method(TEXT, "toList")
def to_list(ctx: Context, t: str, sep: Any = None) -> DelugeList:
    return split_text(ctx, t, None if sep is None else _arg(sep))


@method(TEXT, "toListString")
def to_list_string(ctx: Context, t: str) -> DelugeList:
    return split_text(ctx, t, ",")


def parse_text(ctx: Context, t: str, want: str) -> Any:
    """Parse JSON text leniently (D-71) for ``toMap``/``toJSONList``/``getJSON``."""
    try:
        value = parse_json(
            t,
            max_depth=ctx.limits.value_depth,
            check=ctx.check_deadline,
            max_items=ctx.limits.collection_items,
        )
    except JSONSyntaxError:
        raise DelugeRuntimeError(f"Cannot convert '{cut(t)}' to {want}") from None
    if len(t) > _CHARGE_FROM:
        ctx.charge(2 * len(t))
    return value


def text_to_map(ctx: Context, t: str) -> DelugeMap:
    if t.strip() == "":
        return DelugeMap()
    value = parse_text(ctx, t, "MAP")
    if type(value) is not DelugeMap:
        raise DelugeRuntimeError(f"Cannot convert '{cut(t)}' to MAP")
    return value


@method(TEXT, "toMap")
def to_map(ctx: Context, t: str) -> DelugeMap:
    return text_to_map(ctx, t)


@method(TEXT, "toJSONList")
def to_json_list(ctx: Context, t: str) -> DelugeList:
    if t.strip() == "":
        return DelugeList()
    value = parse_text(ctx, t, "LIST")
    if type(value) is not DelugeList:
        raise DelugeRuntimeError(f"Cannot convert '{cut(t)}' to LIST")
    return value


@method(TEXT, "getJSON", "getJson")
def get_json(ctx: Context, t: str, key: Any) -> Any:
    return text_to_map(ctx, t).get(_arg(key))


@method(TEXT, "get")
def get(ctx: Context, t: str, key: Any) -> Any:
    """floodway leniency: ``get`` on JSON object text reads the parsed map."""
    return get_json(ctx, t, key)


@method(TEXT, "executeXPath")
def execute_x_path(ctx: Context, t: str, path: Any) -> str:
    return execute_xpath(ctx, t, _arg(path))


# -- hex -----------------------------------------------------------------------------------------


@method(TEXT, "textToHex")
def text_to_hex(ctx: Context, t: str) -> str:
    check_size(ctx, 2 * len(t))  # at least two hex digits per character
    data = t.encode("utf-8", "replace")
    check_size(ctx, 2 * len(data))
    return data.hex()


@method(TEXT, "hexToText")
def hex_to_text(ctx: Context, t: str) -> str:
    try:
        data = bytes.fromhex(t.strip())
    except ValueError:
        raise DelugeRuntimeError(f"Invalid hexadecimal text '{cut(t)}'") from None
    return data.decode("utf-8", "replace")


# -- conversions (§8.6) --------------------------------------------------------------------------


@method(TEXT, "toString", "toText")
def to_string(ctx: Context, t: str, pattern: Any = None, tz: Any = None) -> str | None:
    if pattern is None:
        return t
    # The pattern form reads the text as a date; the dates module owns that.
    from .dates import text_to_string_with_pattern  # type: ignore[attr-defined]

    result: str | None = text_to_string_with_pattern(ctx, t, pattern, tz)
    return result


def _cannot(t: str, what: str) -> DelugeRuntimeError:
    return DelugeRuntimeError(f"Cannot convert '{cut(t)}' to {what}")


@method(TEXT, "toNumber", "toLong")
def to_number(ctx: Context, t: str) -> int:
    """Trimmed integer text; decimal text truncated toward zero (D-47)."""
    s = t.strip()
    if _INT_TEXT.fullmatch(s):
        sign, digits = ("-" if s[0] == "-" else ""), s.lstrip("+-")
    else:
        m = _DEC_TEXT.fullmatch(s)
        if m is None or not (m.group(2) or m.group(3)):
            raise _cannot(t, "NUMBER")
        sign, digits = m.group(1).replace("+", ""), m.group(2) or "0"
    digits = digits.lstrip("0") or "0"
    # Count digits before int() so huge text never becomes a huge integer (LM-4).
    if len(digits) > 19:
        raise DelugeRuntimeError("Number out of range")
    return check_number(int(sign + digits))


@method(TEXT, "toDecimal")
def to_decimal(ctx: Context, t: str) -> float:
    s = t.strip()
    if len(s) > 400 or not _DECIMAL_TEXT.fullmatch(s):
        raise _cannot(t, "DECIMAL")
    return check_decimal(float(s))
