"""Java regular expressions, as Zoho users write them, run on Python's ``regex`` module (D-22).

``translate`` rewrites Java syntax into the ``regex`` module's dialect: named groups
``(?<name>…)`` become ``(?P<name>…)``, ``\\p{Alpha}``/``\\p{Digit}`` become ASCII classes,
``\\Q…\\E`` is quoted, ``\\z``/``\\Z`` get their Python spellings, and inline flags such as ``(?i)``
become scoped groups so that they apply from where they are written, as in Java. Features with no
faithful translation (possessive quantifiers, nested or intersected character classes, other
``\\p{…}`` classes) are the runtime error "Unsupported regular expression".

``translate_replacement`` rewrites a Java replacement (``$1``, ``${name}``, ``\\$``) into a
``regex`` template. ``regex_sub``/``regex_fullmatch`` run a match with the per-call ``timeout`` of
the ``regex`` module (security.md LM-6), which interrupts catastrophic backtracking.

Deviations from Java, on purpose: ``\\w``, ``\\s``, ``\\b`` and case-insensitive matching are
Unicode-aware (Java's defaults are ASCII); ``\\d`` stays ASCII digits as in Java. A ``$`` in a
replacement that is followed by neither a digit nor ``{`` is kept as a literal ``$`` (Java throws).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Final

import regex  # type: ignore[import-untyped]

from .context import Context
from .errors import DelugeLimitError, DelugeRuntimeError

MAX_PATTERN_CHARS: Final = 4_096
_CACHE_SIZE: Final = 100
UNSUPPORTED: Final = "Unsupported regular expression"

# \p{...} classes: (outside a class, inside a class); None inside = cannot be expressed there.
_PROPS: Final[dict[str, tuple[str, str | None]]] = {
    "L": (r"\p{L}", r"\p{L}"),
    "N": (r"\p{N}", r"\p{N}"),
    "Alpha": ("[a-zA-Z]", "a-zA-Z"),
    "Digit": ("[0-9]", "0-9"),
}
_NEG_PROPS: Final[dict[str, tuple[str, str | None]]] = {
    "L": (r"\P{L}", r"\P{L}"),
    "N": (r"\P{N}", r"\P{N}"),
    "Alpha": ("[^a-zA-Z]", None),
    "Digit": ("[^0-9]", None),
}
# Escapes with a fixed translation: (outside a class, inside a class).
_SIMPLE_ESCAPES: Final[dict[str, tuple[str, str | None]]] = {
    "d": ("[0-9]", "0-9"),
    "D": ("[^0-9]", r"\D"),
    "z": (r"\Z", None),
    "Z": (r"(?=\n?\Z)", None),
    "e": (r"\x1b", r"\x1b"),
    "h": (
        r"[ \t\xa0\u1680\u180e\u2000-\u200a\u202f\u205f\u3000]",
        r" \t\xa0\u1680\u180e\u2000-\u200a\u202f\u205f\u3000",
    ),
    "v": (r"[\n\x0b\f\r\x85\u2028\u2029]", r"\n\x0b\f\r\x85\u2028\u2029"),
    "R": (r"(?:\r\n|[\n\x0b\f\r\x85\u2028\u2029])", None),
}
# Escapes both dialects spell the same way.
_SAME_ESCAPES: Final = frozenset("wWsSbBAGtnrfa")
_JAVA_FLAGS: Final = {"i": "i", "m": "m", "s": "s", "x": "x", "u": ""}


def _unsupported() -> DelugeRuntimeError:
    return DelugeRuntimeError(UNSUPPORTED)


class _Translator:
    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.n = len(pattern)
        self.out: list[str] = []
        self.groups = 0
        # One entry per open group level (index 0 = whole pattern): how many scoped flag groups
        # were opened at that level and must be closed with it (and around each '|').
        self.flag_stack: list[list[str]] = [[]]

    def translate(self) -> str:
        p, n, out = self.p, self.n, self.out
        i = 0
        while i < n:
            c = p[i]
            if c == "\\":
                i = self.escape(i, in_class=False)
            elif c == "[":
                i = self.char_class(i)
            elif c == "(":
                i = self.group(i)
            elif c == ")":
                if len(self.flag_stack) == 1:
                    raise DelugeRuntimeError(f"Invalid regular expression '{self.p}'")
                for _ in self.flag_stack.pop():
                    out.append(")")
                out.append(")")
                i += 1
            elif c == "|":
                flags = self.flag_stack[-1]
                out.append(")" * len(flags))
                out.append("|")
                out.extend(f"(?{f}:" for f in flags)
                i += 1
            elif c in "*+?":
                out.append(c)
                i = self.quantifier_suffix(i + 1)
            elif c == "{":
                i = self.brace(i)
            else:
                out.append(c)
                i += 1
        if len(self.flag_stack) != 1:
            raise DelugeRuntimeError(f"Invalid regular expression '{self.p}'")
        out.append(")" * len(self.flag_stack[0]))
        return "".join(out)

    # -- pieces ----------------------------------------------------------------------------------

    def quantifier_suffix(self, i: int) -> int:
        """After a quantifier: a '?' makes it lazy, a '+' possessive (unsupported)."""
        if i < self.n and self.p[i] == "+":
            raise _unsupported()
        if i < self.n and self.p[i] == "?":
            self.out.append("?")
            return i + 1
        return i

    def brace(self, i: int) -> int:
        p = self.p
        m = regex.match(r"\{[0-9]+(?:,[0-9]*)?\}", p[i:])
        if m is None:
            # Not a quantifier: Java rejects it, Python would read it literally; be explicit.
            self.out.append(r"\{")
            return i + 1
        self.out.append(m.group())
        return self.quantifier_suffix(i + int(m.end()))

    def prop(self, i: int, in_class: bool) -> tuple[str, int]:
        """``\\p{X}`` / ``\\pX`` / ``\\P…`` starting at the backslash."""
        p = self.p
        neg = p[i + 1] == "P"
        if i + 2 < self.n and p[i + 2] == "{":
            end = p.find("}", i + 3)
            if end < 0:
                raise _unsupported()
            name = p[i + 3 : end]
            nxt = end + 1
        elif i + 2 < self.n:
            name = p[i + 2]
            nxt = i + 3
        else:
            raise _unsupported()
        table = _NEG_PROPS if neg else _PROPS
        if name.startswith("Is") and name[2:] in table:
            name = name[2:]
        spelled = table.get(name)
        if spelled is None:
            raise _unsupported()
        text = spelled[1] if in_class else spelled[0]
        if text is None:
            raise _unsupported()
        return text, nxt

    def escape(self, i: int, in_class: bool) -> int:
        """Translate the escape starting at the backslash at ``i``; return the next position."""
        p, out = self.p, self.out
        if i + 1 >= self.n:
            raise DelugeRuntimeError(f"Invalid regular expression '{self.p}'")
        e = p[i + 1]
        if e in "pP":
            text, nxt = self.prop(i, in_class)
            out.append(text)
            return nxt
        if e == "Q":
            end = p.find("\\E", i + 2)
            literal = p[i + 2 :] if end < 0 else p[i + 2 : end]
            if in_class:
                out.append("".join("\\" + ch if not ch.isalnum() else ch for ch in literal))
            else:
                out.append(regex.escape(literal))
            return self.n if end < 0 else end + 2
        if e in _SIMPLE_ESCAPES:
            outside, inside = _SIMPLE_ESCAPES[e]
            spelled = inside if in_class else outside
            if spelled is None:
                raise _unsupported()
            out.append(spelled)
            return i + 2
        if e in _SAME_ESCAPES:
            if in_class and e in "bBAG":
                raise _unsupported()
            out.append("\\" + e)
            return i + 2
        if e == "c":
            if i + 2 >= self.n:
                raise DelugeRuntimeError(f"Invalid regular expression '{self.p}'")
            out.append(f"\\x{ord(p[i + 2]) ^ 64:02x}")
            return i + 3
        if e == "x":
            if p.startswith("{", i + 2):
                end = p.find("}", i + 3)
                digits = p[i + 3 : end] if end > 0 else ""
                if (
                    not digits
                    or len(digits) > 6
                    or not all(ch in "0123456789abcdefABCDEF" for ch in digits)
                ):
                    raise DelugeRuntimeError(f"Invalid regular expression '{self.p}'")
                code = int(digits, 16)
                if code > 0x10FFFF:
                    raise DelugeRuntimeError(f"Invalid regular expression '{self.p}'")
                out.append(f"\\U{code:08x}")
                return end + 1
            out.append(p[i : i + 4])
            return i + 4
        if e == "u":
            out.append(p[i : i + 6])
            return i + 6
        if e == "0":
            m = regex.match(r"[0-3]?[0-7]{1,2}", p[i + 2 : i + 5])
            if m is None:
                raise DelugeRuntimeError(f"Invalid regular expression '{self.p}'")
            out.append(f"\\U{int(m.group(), 8):08x}")
            return i + 2 + int(m.end())
        if e == "k":
            m = regex.match(r"<([A-Za-z][A-Za-z0-9]*)>", p[i + 2 :])
            if m is None or in_class:
                raise DelugeRuntimeError(f"Invalid regular expression '{self.p}'")
            out.append(f"(?P={m.group(1)})")
            return i + 2 + int(m.end())
        if e.isdigit():
            if in_class:
                raise DelugeRuntimeError(f"Invalid regular expression '{self.p}'")
            # Java: take further digits while they still name an existing group.
            j = i + 2
            num = int(e)
            while j < self.n and p[j].isdigit() and int(p[i + 1 : j + 1]) <= self.groups:
                num = int(p[i + 1 : j + 1])
                j += 1
            out.append(f"(?:\\{num})")
            return j
        if e.isalpha():
            # Java rejects unknown letter escapes, so must we.
            raise DelugeRuntimeError(f"Invalid regular expression '{self.p}'")
        # An escaped punctuation or other character is itself.
        out.append("\\" + e if e.isascii() else e)
        return i + 2

    def char_class(self, i: int) -> int:
        p, out = self.p, self.out
        out.append("[")
        i += 1
        if i < self.n and p[i] == "^":
            out.append("^")
            i += 1
        first = True
        while True:
            if i >= self.n:
                raise DelugeRuntimeError(f"Invalid regular expression '{self.p}'")
            c = p[i]
            if c == "]" and not first:
                out.append("]")
                return i + 1
            if c == "[" or (c == "&" and p.startswith("&&", i)):
                # Java's nested classes and intersections have no V0 equivalent.
                raise _unsupported()
            if c == "\\":
                i = self.escape(i, in_class=True)
            elif c == "]":
                out.append(r"\]")
                i += 1
            elif c in "-|~&":
                # Escape so the regex module never reads a set operator.
                out.append("-" if c == "-" else "\\" + c)
                i += 1
            else:
                out.append(c)
                i += 1
            first = False

    def group(self, i: int) -> int:
        p, out = self.p, self.out
        if not p.startswith("(?", i):
            self.groups += 1
            out.append("(")
            self.flag_stack.append([])
            return i + 1
        rest = p[i + 2 : i + 3]
        if p.startswith("(?<", i) and not p.startswith(("(?<=", "(?<!"), i):
            m = regex.match(r"\(\?<([A-Za-z][A-Za-z0-9]*)>", p[i:])
            if m is None:
                raise DelugeRuntimeError(f"Invalid regular expression '{self.p}'")
            self.groups += 1
            out.append(f"(?P<{m.group(1)}>")
            self.flag_stack.append([])
            return i + int(m.end())
        if rest in (":", "=", "!", ">") or p.startswith(("(?<=", "(?<!"), i):
            width = 4 if rest == "<" else 3
            out.append(p[i : i + width])
            self.flag_stack.append([])
            return i + width
        m = regex.match(r"\(\?([a-zA-Z]*)(?:-([a-zA-Z]*))?([:)])", p[i:])
        if m is None:
            raise DelugeRuntimeError(f"Invalid regular expression '{self.p}'")
        on = "".join(self.flag(f) for f in m.group(1))
        off = "".join(self.flag(f) for f in (m.group(2) or ""))
        spelled = on + ("-" + off if off else "")
        if m.group(3) == ":":
            out.append(f"(?{spelled}:" if spelled else "(?:")
            self.flag_stack.append([])
        elif spelled:
            # (?i) applies to the rest of the enclosing group: open a scoped group closed with it.
            out.append(f"(?{spelled}:")
            self.flag_stack[-1].append(spelled)
        return i + int(m.end())

    def flag(self, f: str) -> str:
        spelled = _JAVA_FLAGS.get(f)
        if spelled is None:
            raise _unsupported()
        return spelled


def translate(pattern: str) -> str:
    """Translate a Java regular expression into the ``regex`` module's syntax."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise DelugeRuntimeError(
            f"Regular expression exceeds the limit of {MAX_PATTERN_CHARS} characters"
        )
    return _Translator(pattern).translate()


def translate_replacement(repl: str, groups: int | None = None) -> str:
    """Translate a Java replacement into a ``regex`` template.

    ``$n`` (with further digits while they name an existing group when ``groups`` is known),
    ``${name}`` and ``\\x`` (literal x) as in Java's ``Matcher.appendReplacement``.
    """
    return _replacement(repl, groups)[0]


def _replacement(repl: str, groups: int | None) -> tuple[str, int, int]:
    """(template, number of literal characters, number of group references)."""
    out: list[str] = []
    literal = refs = 0
    i, n = 0, len(repl)
    while i < n:
        c = repl[i]
        if c == "\\":
            nxt = repl[i + 1] if i + 1 < n else "\\"
            out.append("\\\\" if nxt == "\\" else nxt)
            literal += 1
            i += 2
        elif c == "$" and i + 1 < n and repl[i + 1] in "0123456789":
            j = i + 2
            num = int(repl[i + 1])
            while (
                groups is not None
                and j < n
                and repl[j] in "0123456789"
                and int(repl[i + 1 : j + 1]) <= groups
            ):
                num = int(repl[i + 1 : j + 1])
                j += 1
            if groups is not None and num > groups:
                raise DelugeRuntimeError(f"No group {num} in the regular expression")
            out.append(f"\\g<{num}>")
            refs += 1
            i = j
        elif c == "$" and repl.startswith("{", i + 1):
            end = repl.find("}", i + 2)
            name = repl[i + 2 : end] if end > 0 else ""
            if not name or not regex.fullmatch(r"[A-Za-z][A-Za-z0-9]*", name):
                raise DelugeRuntimeError("Invalid group name in the replacement")
            out.append(f"\\g<{name}>")
            refs += 1
            i = end + 1
        else:
            out.append(c)
            literal += 1
            i += 1
    return "".join(out), literal, refs


_cache: OrderedDict[tuple[str, bool], Any] = OrderedDict()


def compile_java(pattern: str, ignore_case: bool = False) -> Any:
    """The compiled ``regex`` pattern for a Java pattern; cached (LRU, 100 entries)."""
    key = (pattern, ignore_case)
    hit = _cache.get(key)
    if hit is not None:
        _cache.move_to_end(key)
        return hit
    translated = translate(pattern)
    flags = regex.V0 | (regex.IGNORECASE if ignore_case else 0)
    try:
        compiled = regex.compile(translated, flags)
    except (regex.error, ValueError, OverflowError, RecursionError):
        shown = pattern if len(pattern) <= 100 else pattern[:100] + "…"
        raise DelugeRuntimeError(f"Invalid regular expression '{shown}'") from None
    _cache[key] = compiled
    if len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)
    return compiled


def _seconds(x: float) -> str:
    text = f"{x:g}"
    return f"{text} second" if text == "1" else f"{text} seconds"


def _timed_out(ctx: Context) -> DelugeLimitError:
    # A timeout shortened by the execution deadline is really the execution's time limit.
    ctx.check_deadline()
    return DelugeLimitError(f"Regular expression exceeded {_seconds(ctx.limits.regex_timeout_s)}")


def regex_sub(
    ctx: Context, pattern: str, repl: str, text: str, count: int, ignore_case: bool = False
) -> str:
    """Java ``replaceAll`` (count 0) / ``replaceFirst`` (count 1) with a Java replacement."""
    compiled = compile_java(pattern, ignore_case)
    template, literal_len, refs = _replacement(repl, compiled.groups)
    limit = ctx.limits.text_chars
    timeout = ctx.regex_timeout()
    try:
        # Bound the result before building it (LM-3): at most one replacement per position.
        worst = len(text) + (len(text) + 1) * literal_len + refs * len(text)
        if worst > limit:
            # Count the matches: each removes its text and inserts the literal part plus at
            # most its own text per group reference.
            matches = matched = 0
            for m in compiled.finditer(text, timeout=timeout):
                matches += 1
                matched += int(m.end()) - int(m.start())
                if count and matches >= count:
                    break
                if matches % 10_000 == 0:
                    ctx.check_deadline()
            worst = len(text) - matched + matches * literal_len + refs * matched
            if worst > limit:
                raise DelugeLimitError(f"Text exceeds the limit of {limit} characters")
        result: str = compiled.sub(template, text, count=count, timeout=timeout)
    except TimeoutError:
        raise _timed_out(ctx) from None
    except (regex.error, IndexError) as exc:
        raise DelugeRuntimeError(f"Invalid replacement: {exc}") from None
    if len(result) > 4096:
        ctx.charge(len(result))
    return result


def regex_fullmatch(ctx: Context, pattern: str, text: str) -> bool:
    """Java ``String.matches``: the whole text matches the pattern."""
    compiled = compile_java(pattern)
    try:
        return compiled.fullmatch(text, timeout=ctx.regex_timeout()) is not None
    except TimeoutError:
        raise _timed_out(ctx) from None
