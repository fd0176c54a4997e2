"""The one JSON parser of the Deluge engine (security.md LM-7, deluge-language.md §3.3, D-71).

``parse_json`` turns JSON text into Deluge values: object -> DelugeMap (key order kept), array ->
DelugeList, string -> str, integer within signed 64 bit -> int, any other number -> float,
true/false -> bool, null -> None. In lenient mode (the default, used by ``toMap``, ``getJSON`` and
``toJSONList`` on text) it also accepts Zoho's notation: unquoted keys, unquoted text values and
single-quoted strings (``{company:Zoho, product:Creator}``).

``parse_python_literal`` reads the Python-literal form some SDKs send for REST arguments
(``{'a': 1, 'b': True, 'c': None}``) with the same caps; it never uses ``ast.literal_eval``.

The parser is iterative: nesting is an explicit stack capped at ``max_depth`` so deep input gives
"Value is nested too deeply" instead of exhausting the C stack. Number literals over 400
characters are rejected before any int()/float() conversion.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any, Final

from .errors import DelugeLimitError, DelugeRuntimeError
from .values import NUMBER_MAX, NUMBER_MIN, DelugeList, DelugeMap, check_decimal

MAX_NUMBER_CHARS: Final = 400
_CHECK_EVERY: Final = 10_000


class JSONSyntaxError(ValueError):
    """Malformed JSON text; callers turn it into their own Deluge error message."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(f"{message} at position {pos}")
        self.message = message
        self.pos = pos


_JSON_NUMBER: Final = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\Z")
_PY_NUMBER: Final = re.compile(
    r"[+-]?(?:[0-9](?:_?[0-9])*(?:\.(?:[0-9](?:_?[0-9])*)?)?|\.[0-9](?:_?[0-9])*)"
    r"(?:[eE][+-]?[0-9]+)?\Z"
)
# Runs of string characters that need no attention, per quote character.
_PLAIN_DQ: Final = re.compile(r'[^"\\\x00-\x1f]*')
_PLAIN_SQ: Final = re.compile(r"[^'\\\x00-\x1f]*")
_PLAIN_DQ_LENIENT: Final = re.compile(r'[^"\\]*')
_PLAIN_SQ_LENIENT: Final = re.compile(r"[^'\\]*")
_WS_STRICT: Final = re.compile(r"[ \t\n\r]*")
_WS_LENIENT: Final = re.compile(r"[\s\ufeff]*")
# Unquoted tokens. Strict/Python: a bare word. Lenient values run to the next , } ] (spaces inside
# kept, then trimmed); lenient keys run to the next ':'.
_TOKEN_STRICT: Final = re.compile(r"[^\s,:\[\]{}()\"']*")
_TOKEN_LENIENT_VALUE: Final = re.compile(r"[^,\]}\n\r]*")
_TOKEN_LENIENT_KEY: Final = re.compile(r"[^:,\[\]{}\n\r]*")

_ESCAPES: Final = {
    '"': '"',
    "\\": "\\",
    "/": "/",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}
_LENIENT_ESCAPES: Final = {**_ESCAPES, "'": "'"}
_PY_ESCAPES: Final = {
    **_ESCAPES,
    "'": "'",
    "a": "\a",
    "v": "\v",
    "0": "\0",
    "\n": "",
}

_JSON, _LENIENT, _PYTHON = 0, 1, 2


class _Parser:
    """One parse of one text; see the module docstring."""

    def __init__(
        self,
        text: str,
        mode: int,
        max_depth: int,
        check: Callable[[], None] | None,
        max_items: int | None,
    ) -> None:
        self.s = text
        self.n = len(text)
        self.mode = mode
        self.max_depth = max_depth
        self.check = check
        self.max_items = max_items
        self.work = 0
        self.ws = _WS_STRICT if mode == _JSON else _WS_LENIENT
        if mode == _PYTHON:
            self.literals: dict[str, Any] = {"True": True, "False": False, "None": None}
        else:
            self.literals = {"true": True, "false": False, "null": None}

    # -- helpers ---------------------------------------------------------------------------------

    def fail(self, message: str, pos: int) -> JSONSyntaxError:
        return JSONSyntaxError(message, pos)

    def skip(self, i: int) -> int:
        # Fast path: compact JSON has no whitespace between tokens.
        if i < self.n:
            c = self.s[i]
            if not c.isspace() and c != "\ufeff":
                return i
        m = self.ws.match(self.s, i)
        return m.end() if m else i

    def tick(self) -> None:
        self.work += 1
        if self.check is not None and self.work % _CHECK_EVERY == 0:
            self.check()

    def number(self, tok: str, pos: int) -> int | float | None:
        """The number a token spells, or None when it is not a number literal."""
        pattern = _PY_NUMBER if self.mode == _PYTHON else _JSON_NUMBER
        if not pattern.match(tok):
            return None
        if len(tok) > MAX_NUMBER_CHARS:
            raise self.fail("Number literal is too long", pos)
        if self.mode == _PYTHON:
            tok = tok.replace("_", "")
        if "." not in tok and "e" not in tok and "E" not in tok:
            n = int(tok)
            if NUMBER_MIN <= n <= NUMBER_MAX:
                return n
        return check_decimal(float(tok))

    def string(self, i: int) -> tuple[str, int]:
        """Read a quoted string starting at the quote at ``i``; return (text, next position)."""
        s = self.s
        q = s[i]
        lenient = self.mode != _JSON
        if q == '"':
            plain = _PLAIN_DQ_LENIENT if lenient else _PLAIN_DQ
        else:
            plain = _PLAIN_SQ_LENIENT if lenient else _PLAIN_SQ
        escapes = (_ESCAPES, _LENIENT_ESCAPES, _PY_ESCAPES)[self.mode]
        parts: list[str] = []
        i += 1
        while True:
            m = plain.match(s, i)
            assert m is not None  # the pattern matches the empty string
            if m.end() > i:
                parts.append(m.group())
                i = m.end()
            if i >= self.n:
                raise self.fail("Unterminated string", i)
            c = s[i]
            if c == q:
                return "".join(parts), i + 1
            if c != "\\":
                raise self.fail("Control character in string", i)
            if i + 1 >= self.n:
                raise self.fail("Unterminated string", i)
            e = s[i + 1]
            if e == "u" or (self.mode == _PYTHON and e in "xU"):
                width = {"u": 4, "x": 2, "U": 8}[e]
                digits = s[i + 2 : i + 2 + width]
                if len(digits) != width or not all(ch in "0123456789abcdefABCDEF" for ch in digits):
                    raise self.fail("Invalid escape", i)
                code = int(digits, 16)
                i += 2 + width
                # Join a UTF-16 surrogate pair written as two \u escapes.
                if (
                    0xD800 <= code <= 0xDBFF
                    and s.startswith("\\u", i)
                    and all(ch in "0123456789abcdefABCDEF" for ch in s[i + 2 : i + 6])
                    and len(s[i + 2 : i + 6]) == 4
                ):
                    low = int(s[i + 2 : i + 6], 16)
                    if 0xDC00 <= low <= 0xDFFF:
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        i += 6
                if code > 0x10FFFF:
                    raise self.fail("Invalid escape", i)
                parts.append(chr(code))
                continue
            rep = escapes.get(e)
            if rep is None:
                if self.mode == _JSON:
                    raise self.fail("Invalid escape", i)
                # Lenient text keeps an unknown escape as written (like Deluge literals, D-19).
                rep = "\\" + e
            parts.append(rep)
            i += 2

    def scalar(self, i: int, top: bool) -> tuple[Any, int]:
        """Read a non-container value at ``i`` (quoted string or bare token)."""
        s = self.s
        c = s[i]
        if c == '"' or (c == "'" and self.mode != _JSON):
            return self.string(i)
        if self.mode == _LENIENT and not top:
            m = _TOKEN_LENIENT_VALUE.match(s, i)
            assert m is not None
            tok = m.group().strip()
            end = m.end()
        else:
            m = _TOKEN_STRICT.match(s, i)
            assert m is not None
            tok = m.group()
            end = m.end()
        if not tok:
            raise self.fail(f"Unexpected character {c!r}", i)
        if tok in self.literals:
            return self.literals[tok], end
        num = self.number(tok, i)
        if num is not None:
            return num, end
        if self.mode == _LENIENT and not top:
            return tok, end
        raise self.fail(f"Unexpected token {tok[:20]!r}", i)

    def key(self, i: int) -> tuple[str, int]:
        """Read a map key at ``i`` and the ':' after it; return (key, position after ':')."""
        s = self.s
        if i >= self.n:
            raise self.fail("Unexpected end of text", i)
        c = s[i]
        if c == '"' or (c == "'" and self.mode != _JSON):
            k, i = self.string(i)
        elif self.mode == _LENIENT:
            m = _TOKEN_LENIENT_KEY.match(s, i)
            assert m is not None
            k = m.group().strip()
            if not k:
                raise self.fail(f"Unexpected character {c!r}", i)
            i = m.end()
        elif self.mode == _PYTHON:
            v, i = self.scalar(i, True)
            k = _key_text(v)
        else:
            raise self.fail("Expected a quoted key", i)
        i = self.skip(i)
        if i >= self.n or s[i] != ":":
            raise self.fail("Expected ':'", i)
        return k, self.skip(i + 1)

    # -- the parse -------------------------------------------------------------------------------

    def parse(self) -> Any:
        s, n = self.s, self.n
        closers = {"{": "}", "[": "]", "(": ")"}
        openers = "{[(" if self.mode == _PYTHON else "{["
        trailing_comma = self.mode != _JSON
        # Frames: [container, is_map, pending key, closing character]
        stack: list[list[Any]] = []
        i = self.skip(0)
        while True:
            # Expect a value at i.
            if i >= n:
                raise self.fail("Unexpected end of text", i)
            c = s[i]
            if c in openers:
                if len(stack) >= self.max_depth:
                    raise DelugeRuntimeError("Value is nested too deeply")
                is_map = c == "{"
                container: Any = DelugeMap() if is_map else DelugeList()
                frame = [container, is_map, None, closers[c]]
                stack.append(frame)
                self.tick()
                i = self.skip(i + 1)
                if i < n and s[i] == frame[3]:
                    stack.pop()
                    value = container
                    i += 1
                elif is_map:
                    frame[2], i = self.key(i)
                    continue
                else:
                    continue
            else:
                value, i = self.scalar(i, not stack)
                self.tick()
            # Attach the finished value to its parent; close containers as they end.
            while True:
                if not stack:
                    i = self.skip(i)
                    if i != n:
                        raise self.fail("Extra data after the value", i)
                    return value
                frame = stack[-1]
                container = frame[0]
                if frame[1]:
                    container[frame[2]] = value
                else:
                    container.append(value)
                if self.max_items is not None and len(container) > self.max_items:
                    raise DelugeLimitError(
                        f"Collection exceeds the limit of {self.max_items} elements"
                    )
                i = self.skip(i)
                if i >= n:
                    raise self.fail("Unexpected end of text", i)
                c = s[i]
                if c == ",":
                    i = self.skip(i + 1)
                    if trailing_comma and i < n and s[i] == frame[3]:
                        stack.pop()
                        value = container
                        i += 1
                        continue
                    if frame[1]:
                        frame[2], i = self.key(i)
                    break
                if c == frame[3]:
                    stack.pop()
                    value = container
                    i += 1
                    continue
                raise self.fail(f"Expected ',' or {frame[3]!r}", i)


def _key_text(v: Any) -> str:
    if type(v) is str:
        return v
    if v is None:
        return "null"
    if type(v) is bool:
        return "true" if v else "false"
    from .values import text_form

    return text_form(v)


def parse_json(
    text: str,
    *,
    lenient: bool = True,
    max_depth: int = 1000,
    check: Callable[[], None] | None = None,
    max_items: int | None = None,
) -> Any:
    """Parse JSON text (lenient per D-71 unless ``lenient=False``) into Deluge values.

    Raises JSONSyntaxError for malformed text, DelugeRuntimeError("Value is nested too deeply")
    past ``max_depth`` levels, DelugeLimitError when a container passes ``max_items``. ``check``
    is called every 10,000 values (the execution's deadline check).
    """
    if check is not None:
        check()
    fast = _parse_strict_fast(text, max_depth, max_items)
    if fast is not _MISS:
        if check is not None:
            check()
        return fast
    return _Parser(text, _LENIENT if lenient else _JSON, max_depth, check, max_items).parse()


_MISS: Any = object()
_LONG_DIGITS: Final = re.compile(r"[0-9]{390}")
_FAST_SCALARS = (str, bool, type(None))


def _reject_constant(name: str) -> Any:
    raise ValueError(name)  # NaN / Infinity are not JSON


_strict_decoder = json.JSONDecoder(object_pairs_hook=DelugeMap, parse_constant=_reject_constant)


def _parse_strict_fast(text: str, max_depth: int, max_items: int | None) -> Any:
    """Strict JSON through the C decoder, then one pass turning arrays into LISTs.

    Only a shortcut: on anything unusual (malformed or lenient text, deep nesting, huge or
    non-finite numbers) it returns ``_MISS`` and the iterative parser above decides, so the
    result and every error are the same either way. The C decoder's recursion guard raises
    RecursionError on deep input; that only sends the text down the iterative path.
    """
    if _LONG_DIGITS.search(text):
        return _MISS  # number literals over 400 characters are the slow path's to reject
    try:
        value = _strict_decoder.decode(text)
    except (ValueError, RecursionError):
        return _MISS
    if type(value) is list:
        value = DelugeList(value)
    elif type(value) is not DelugeMap:
        return _MISS if type(value) is float and not math.isfinite(value) else _scalar_ok(value)
    stack: list[tuple[Any, int]] = [(value, 1)]
    cap = max_items if max_items is not None else 1 << 62
    while stack:
        container, depth = stack.pop()
        if depth > max_depth or len(container) > cap:
            return _MISS
        if type(container) is DelugeMap:
            for k, v in container.items():
                tv = type(v)
                if tv in _FAST_SCALARS:
                    continue
                if tv is list:
                    v = container[k] = DelugeList(v)
                    stack.append((v, depth + 1))
                elif tv is DelugeMap:
                    stack.append((v, depth + 1))
                elif _scalar_ok(v) is _MISS:
                    return _MISS
        else:
            for i, v in enumerate(container):
                tv = type(v)
                if tv in _FAST_SCALARS:
                    continue
                if tv is list:
                    v = container[i] = DelugeList(v)
                    stack.append((v, depth + 1))
                elif tv is DelugeMap:
                    stack.append((v, depth + 1))
                elif _scalar_ok(v) is _MISS:
                    return _MISS
    return value


def _scalar_ok(v: Any) -> Any:
    """The number itself when it is a Deluge NUMBER/DECIMAL as parsed; _MISS otherwise."""
    if type(v) is int:
        return v if -(2**63) <= v < 2**63 else _MISS
    if type(v) is float:
        return v if math.isfinite(v) else _MISS
    return v


def parse_python_literal(
    text: str,
    *,
    max_depth: int = 1000,
    check: Callable[[], None] | None = None,
    max_items: int | None = None,
) -> Any:
    """Parse a Python literal (dict/list/tuple/str/int/float/True/False/None) into Deluge values.

    Tuples become LISTs and non-text dict keys their text form. Same caps as ``parse_json``.
    """
    return _Parser(text, _PYTHON, max_depth, check, max_items).parse()
