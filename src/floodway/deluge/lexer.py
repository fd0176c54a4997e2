"""Deluge lexer: source text -> tokens carrying line and column (1-based, code points).

Hand-written (no regular-expression translation of lines). The lexer only knows shapes:
keywords, date-versus-text for single-quoted literals and everything else context dependent
are decided by the parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from .errors import DelugeSyntaxError
from .values import NUMBER_MAX


class T(Enum):
    IDENT = "identifier"
    INT = "number"
    DECIMAL = "decimal number"
    TEXT = "text"  # double-quoted
    SQTEXT = "single-quoted text"
    OP = "operator"
    EOF = "end of file"


@dataclass(slots=True)
class Token:
    kind: T
    value: str  # source spelling for IDENT/OP; decoded content for TEXT/SQTEXT; digits for numbers
    line: int
    col: int
    preceded_by_newline: bool = False

    def describe(self) -> str:
        if self.kind is T.EOF:
            return "end of file"
        if self.kind is T.TEXT:
            return "text literal"
        if self.kind is T.SQTEXT:
            return "quoted literal"
        return f"'{self.value}'"


_OPERATORS = (
    "==", "!=", "<=", ">=", "&&", "||", "+=", "-=", "*=", "/=", "%=", "++", "--", "?",
    "+", "-", "*", "/", "%", "<", ">", "!", "=", "(", ")", "{", "}", "[", "]", ",", ";", ":", ".",
    "&", "|",
)  # fmt: skip
_OPERATOR_SET = frozenset(_OPERATORS)
# One scanning pattern for the token shapes; numbers and text literals are then read by the
# hand-written methods below (their rules do not fit a pattern).
_MASTER = re.compile(
    r"(?P<ws>[ \t\n\u00a0\ufeff\f\v]+)"
    r"|(?P<line_comment>//[^\n]*)"
    r"|(?P<block_comment>/\*(?:[^*]|\*(?!/))*(?:\*/)?)"
    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<number>[0-9]|\.[0-9])"
    r"|(?P<quote>[\"'])"
    r"|(?P<op>" + "|".join(re.escape(op) for op in _OPERATORS) + r")"
    r"|(?P<other>.)",
    re.DOTALL,
)
# Token shapes are plain character classes; `re` only speeds up scanning them.
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WS = re.compile(r"[ \t\r\n\u00a0\ufeff\f\v]*")
_TEXT_STOP = {q: re.compile("[\\\\" + q + "]") for q in "\"'"}
_SIMPLE_ESCAPES = {
    '"': '"',
    "'": "'",
    "\\": "\\",
    "/": "/",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}
_WHITESPACE = " \t\r\n\u00a0\ufeff\f\v"


def _is_ident_start(ch: str) -> bool:
    return ch == "_" or ("a" <= ch <= "z") or ("A" <= ch <= "Z")


def _is_ident_char(ch: str) -> bool:
    return _is_ident_start(ch) or ("0" <= ch <= "9")


def _is_digit(ch: str) -> bool:
    return "0" <= ch <= "9"


def normalise_source(source: str) -> str:
    """Drop a byte-order mark and turn CRLF / CR line ends into LF."""
    if source.startswith("\ufeff"):
        source = source[1:]
    return source.replace("\r\n", "\n").replace("\r", "\n")


class Lexer:
    def __init__(self, source: str) -> None:
        self.src = normalise_source(source)
        self.lines = self.src.split("\n")
        self.pos = 0
        self.line = 1
        self.col = 1

    def error(
        self,
        message: str,
        line: int,
        col: int,
        expected: str | None = None,
        found: str | None = None,
    ) -> DelugeSyntaxError:
        src_line = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        return DelugeSyntaxError(
            message, line, col, expected=expected, found=found, source_line=src_line
        )

    def _advance(self, n: int = 1) -> None:
        src = self.src
        for _ in range(n):
            if src[self.pos] == "\n":
                self.line += 1
                self.col = 1
            else:
                self.col += 1
            self.pos += 1

    def _skip_to(self, end: int) -> None:
        """Move to ``end``, keeping line and column in step with the text skipped."""
        src = self.src
        nl = src.count("\n", self.pos, end)
        if nl:
            self.line += nl
            self.col = end - src.rfind("\n", self.pos, end)
        else:
            self.col += end - self.pos
        self.pos = end

    def tokens(self) -> list[Token]:
        out: list[Token] = []
        append = out.append
        src = self.src
        n = len(src)
        newline = True
        match = _MASTER.match
        line, line_start = 1, 0  # line number and index of its first character
        pos = 0
        while pos < n:
            m = match(src, pos)
            if m is None:  # pragma: no cover - the master pattern matches any character
                break
            kind = m.lastgroup
            end = m.end()
            col = pos - line_start + 1
            if kind == "ws" or kind == "line_comment":
                nl = src.count("\n", pos, end)
                if nl:
                    newline = True
                    line += nl
                    line_start = src.rfind("\n", pos, end) + 1
            elif kind == "ident":
                append(Token(T.IDENT, m.group(), line, col, newline))
                newline = False
            elif kind == "op":
                append(Token(T.OP, m.group(), line, col, newline))
                newline = False
            elif kind == "block_comment":
                if not m.group().endswith("*/") or end - pos < 4:
                    raise self.error("Unterminated comment", line, col)
                nl = src.count("\n", pos, end)
                if nl:
                    newline = True
                    line += nl
                    line_start = src.rfind("\n", pos, end) + 1
            else:  # number, quote or an unexpected character: the careful hand-written paths
                self.pos, self.line, self.col = pos, line, col
                ch = src[pos]
                if kind == "number":
                    append(self._number(line, col, newline))
                elif kind == "quote":
                    text = self._text(ch, line, col)
                    append(Token(T.TEXT if ch == '"' else T.SQTEXT, text, line, col, newline))
                else:
                    shown = ch if ch.isprintable() else f"U+{ord(ch):04X}"
                    raise self.error(f"Unexpected character '{shown}'", line, col, found=shown)
                newline = False
                end = self.pos
                line = self.line
                line_start = end - (self.col - 1)
            pos = end
        append(Token(T.EOF, "", line, pos - line_start + 1, newline))
        return out

    def _number(self, line: int, col: int, newline: bool) -> Token:
        src, n = self.src, len(self.src)
        start = self.pos
        while self.pos < n and _is_digit(src[self.pos]):
            self.pos += 1
        is_decimal = False
        if self.pos < n and src[self.pos] == ".":
            nxt = src[self.pos + 1] if self.pos + 1 < n else ""
            # `24.isNumber()` is NUMBER 24 and a method call; `123.` and `4.5` are decimals.
            if not _is_ident_start(nxt):
                is_decimal = True
                self.pos += 1
                while self.pos < n and _is_digit(src[self.pos]):
                    self.pos += 1
        text = src[start : self.pos]
        self.col += self.pos - start
        if self.pos < n and _is_ident_char(src[self.pos]):
            raise self.error(f"Invalid number '{text}{src[self.pos]}'", line, col, found=text)
        if is_decimal:
            return Token(T.DECIMAL, text, line, col, newline)
        digits = text.lstrip("0") or "0"
        if len(digits) > 19 or int(digits) > NUMBER_MAX + 1:
            raise self.error("Number out of range", line, col, found=text)
        return Token(T.INT, digits, line, col, newline)

    def _text(self, quote: str, line: int, col: int) -> str:
        src = self.src
        self._advance()  # opening quote
        stop = _TEXT_STOP[quote]
        parts: list[str] = []
        while True:
            m = stop.search(src, self.pos)
            if m is None:
                raise self.error("Unterminated text literal", line, col)
            end = m.start()
            parts.append(src[self.pos : end])
            self._skip_to(end)
            if src[end] == quote:
                self._skip_to(end + 1)
                return "".join(parts)
            nxt = src[end + 1] if end + 1 < len(src) else ""
            if not nxt:
                raise self.error("Unterminated text literal", line, col)
            if nxt in _SIMPLE_ESCAPES:
                parts.append(_SIMPLE_ESCAPES[nxt])
                self._skip_to(end + 2)
            elif nxt == "u" and _is_hex4(src[end + 2 : end + 6]):
                parts.append(chr(int(src[end + 2 : end + 6], 16)))
                self._skip_to(end + 6)
            else:
                # D-19: an unknown escape keeps the backslash, so "\d+" stays a regex.
                parts.append("\\" + nxt)
                self._skip_to(end + 2)


def _is_hex4(s: str) -> bool:
    return len(s) == 4 and all(c in "0123456789abcdefABCDEF" for c in s)


def tokenize(source: str) -> list[Token]:
    return Lexer(source).tokens()
