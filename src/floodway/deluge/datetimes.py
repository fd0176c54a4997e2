"""Reading and writing Deluge DATE-TIME values (deluge-language.md §2.5, §8.5, §8.6).

Pure functions shared by the date built-ins, the compiler (single-quoted date literals) and the
runtime (date arithmetic, ``now``/``today``): the date formats Zoho accepts without a pattern,
Java ``SimpleDateFormat`` patterns for formatting and parsing, week rules and epoch milliseconds.
Month and weekday names come from our own English tables, never from the locale-dependent
``strftime``.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import re
from typing import Final
from zoneinfo import ZoneInfo

from .errors import DelugeRuntimeError
from .values import DateTime

UTC: Final = _dt.UTC
EPOCH: Final = _dt.datetime(1970, 1, 1, tzinfo=UTC)

MONTHS: Final = (
    "January", "February", "March", "April", "May", "June", "July",
    "August", "September", "October", "November", "December",
)  # fmt: skip
MONTHS_SHORT: Final = tuple(m[:3] for m in MONTHS)
# Python's weekday() order: Monday is 0.
DAYS: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DAYS_SHORT: Final = tuple(d[:3] for d in DAYS)
SUNDAY: Final = 6

_MONTH_INDEX: Final = {
    n.lower(): i + 1 for names in (MONTHS, MONTHS_SHORT) for i, n in enumerate(names)
}
_DAY_INDEX: Final = {n.lower(): i for names in (DAYS, DAYS_SHORT) for i, n in enumerate(names)}


def invalid_date(text: object) -> DelugeRuntimeError:
    """The conversion error; long text is shortened so messages stay readable."""
    s = str(text)
    if len(s) > 100:
        s = s[:100] + "…"
    return DelugeRuntimeError(f"Invalid date '{s}'")


def month_number(name: str) -> int | None:
    """1-12 for an English month name or three-letter abbreviation, any case."""
    return _MONTH_INDEX.get(name.lower())


def day_number(name: str) -> int | None:
    """Python weekday (Monday 0 … Sunday 6) of an English day name or abbreviation."""
    return _DAY_INDEX.get(name.lower())


# ---------------------------------------------------------------------------------------------
# Building values


def localize(naive: _dt.datetime, tz: _dt.tzinfo) -> _dt.datetime:
    """Wall-clock time in ``tz``; a time inside a DST gap moves forward as Java's Calendar does."""
    aware = naive.replace(tzinfo=tz)
    try:
        return aware.astimezone(UTC).astimezone(tz)
    except OverflowError:  # within hours of year 1 or 9999: no DST to correct there
        return aware


def convert(d: _dt.datetime, tz: _dt.tzinfo) -> _dt.datetime:
    """``d`` in another zone; a result beyond year 1…9999 is a Deluge error, not OverflowError."""
    try:
        return d.astimezone(tz)
    except (OverflowError, ValueError):
        raise DelugeRuntimeError("Date out of range") from None


def two_digit_year(yy: int, now_year: int) -> int:
    """Java's window: within 80 years before and 20 years after the current year."""
    start = now_year - 80
    year = start // 100 * 100 + yy
    if yy < start % 100:
        year += 100
    return year


def _reset_time(h: int, mi: int, s: int) -> tuple[int, int, int]:
    # §8.5: hour >= 24 resets the whole time, minutes >= 60 reset minutes and seconds, and
    # seconds >= 60 reset the seconds.
    if h >= 24:
        return 0, 0, 0
    if mi >= 60:
        return h, 0, 0
    if s >= 60:
        return h, mi, 0
    return h, mi, s


def make_datetime(
    text: str,
    year: int,
    month: int,
    day: int,
    tz: _dt.tzinfo,
    time: tuple[int, int, int, int] | None = None,
) -> DateTime:
    """A DateTime from fields; ``time`` is (h, m, s, microseconds) or None for a date-only value."""
    if not (1 <= year <= 9999 and 1 <= month <= 12):
        raise invalid_date(text)
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        raise invalid_date(text)
    if time is None:
        return DateTime(localize(_dt.datetime(year, month, day), tz), date_only=True)
    h, mi, s = _reset_time(time[0], time[1], time[2])
    us = time[3] if (h, mi, s) == time[:3] else 0
    return DateTime(localize(_dt.datetime(year, month, day, h, mi, s, us), tz))


def _valid(year: int, month: int, day: int) -> bool:
    return (
        1 <= year <= 9999 and 1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]
    )


# ---------------------------------------------------------------------------------------------
# Zoho's date formats (§2.5), used for literals and for text converted without a pattern

_Y = r"([0-9]{4}|[0-9]{2})"
_D = r"([0-9]{1,2})"
_W = r"([A-Za-z]{3,})"
# (regex, field order): "DMY" day-name-year, "MDY", "EMDY" with a leading weekday name.
_NAME_SHAPES: Final = tuple(
    (re.compile(p, re.ASCII), order)
    for p, order in (
        (rf"{_D}-{_W}-{_Y}", "DMY"),
        (rf"{_D} {_W} {_Y}", "DMY"),
        (rf"{_W} {_D} {_Y}", "MDY"),
        (rf"{_D} {_W},{_Y}", "DMY"),
        (rf"{_W} {_D},{_Y}", "MDY"),
        (rf"{_W},{_W} {_D},{_Y}", "EMDY"),
    )
)
_YMD4: Final = re.compile(r"([0-9]{4})([-/.])([0-9]{1,2})\2([0-9]{1,2})", re.ASCII)
_ABY: Final = re.compile(r"([0-9]{1,2})([-/. ])([0-9]{1,2})\2([0-9]{4}|[0-9]{2})", re.ASCII)
_YMD2: Final = re.compile(r"([0-9]{2})([-/.])([0-9]{1,2})\2([0-9]{1,2})", re.ASCII)
_TIME_SUFFIX: Final = re.compile(
    r"(.+?)(?: ([0-9]{1,2}):([0-9]{1,2})(?::([0-9]{1,2}))?)?", re.ASCII | re.DOTALL
)

# Each candidate: (year text, month, day); the first real date wins.
_Candidate = tuple[str, int, int]


def _candidates(date: str, month_first: bool) -> list[_Candidate] | None:
    for rx, order in _NAME_SHAPES:
        m = rx.fullmatch(date)
        if m is None:
            continue
        g = m.groups()
        if order == "EMDY":
            if day_number(g[0]) is None:
                continue
            g = g[1:]
            order = "MDY"
        name, day = (g[1], g[0]) if order == "DMY" else (g[0], g[1])
        month = month_number(name)
        if month is None:
            continue
        return [(g[2], month, int(day))]
    m = _YMD4.fullmatch(date)
    if m is not None:
        return [(m.group(1), int(m.group(3)), int(m.group(4)))]
    out: list[_Candidate] = []
    m = _ABY.fullmatch(date)
    if m is not None:
        a, b, y = int(m.group(1)), int(m.group(3)), m.group(4)
        readings = [(y, a, b), (y, b, a)]  # month-first, then day-first
        out.extend(readings if month_first else readings[::-1])
    m = _YMD2.fullmatch(date)
    if m is not None:
        # yy-MM-dd is only used when no day/month-first reading is a real date.
        out.append((m.group(1), int(m.group(3)), int(m.group(4))))
    return out or None


def _split(
    text: str, month_first: bool
) -> tuple[list[_Candidate], tuple[int, int, int] | None] | None:
    # Every accepted form is short; this also keeps huge texts away from the regexes.
    if len(text) > 64:
        return None
    m = _TIME_SUFFIX.fullmatch(text)
    if m is None:
        return None
    cands = _candidates(m.group(1), month_first)
    if cands is None:
        return None
    if m.group(2) is None:
        return cands, None
    return cands, (int(m.group(2)), int(m.group(3)), int(m.group(4) or 0))


def looks_like_date_literal(text: str) -> bool:
    """Whether a single-quoted literal has the shape of one of Zoho's date formats (§2.5, D-13).

    Only the shape is checked (a real month name, digits in the right places); ``'31-Feb-2026'``
    looks like a date and fails when evaluated.
    """
    return _split(text, True) is not None


def _from_candidates(
    text: str,
    cands: list[_Candidate],
    time: tuple[int, int, int] | None,
    tz: _dt.tzinfo,
    now_year: int,
) -> DateTime:
    for ytext, month, day in cands:
        year = int(ytext)
        if len(ytext) == 2:
            year = two_digit_year(year, now_year)
        if _valid(year, month, day):
            full = None if time is None else (*time, 0)
            return make_datetime(text, year, month, day, tz, full)
    raise invalid_date(text)


def parse_date_literal(
    text: str, tz: _dt.tzinfo, month_first: bool, now_year: int
) -> DateTime | None:
    """The DATE-TIME of a single-quoted literal, or None when the literal is TEXT.

    Raises "Invalid date '…'" for a literal of date shape that names no real date.
    """
    split = _split(text, month_first)
    if split is None:
        return None
    return _from_candidates(text, split[0], split[1], tz, now_year)


_ISO: Final = re.compile(
    r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})[Tt ]([0-9]{1,2}):([0-9]{1,2})"
    r"(?::([0-9]{1,2})(?:[.,]([0-9]{1,9}))?)?"
    r"(?:\s*([Zz]|[+-][0-9]{2}(?::?[0-9]{2})?))?",
    re.ASCII,
)


def parse_offset(text: str) -> _dt.tzinfo | None:
    """A fixed zone for ``Z``, ``±HH``, ``±HHmm`` or ``±HH:mm``; None if out of range."""
    if text in ("Z", "z"):
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        return None
    return _dt.timezone(sign * _dt.timedelta(hours=hours, minutes=minutes))


def _parse_iso(text: str, tz: _dt.tzinfo) -> DateTime | None:
    m = _ISO.fullmatch(text)
    if m is None:
        return None
    y, mo, d, h, mi = (int(m.group(i)) for i in range(1, 6))
    s = int(m.group(6) or 0)
    us = int((m.group(7) or "0").ljust(6, "0")[:6])
    zone: _dt.tzinfo = tz
    if m.group(8):
        offset = parse_offset(m.group(8))
        if offset is None:
            raise invalid_date(text)
        zone = offset
    value = make_datetime(text, y, mo, d, zone, (h, mi, s, us))
    return DateTime(convert(value.dt, tz))


def parse_date_text(text: str, tz: _dt.tzinfo, month_first: bool, now: _dt.datetime) -> DateTime:
    """TEXT read as a date without a pattern (§8.6, in its order), in the zone ``tz``.

    ISO 8601 text with an offset is converted to ``tz``. Anything else: "Invalid date '…'".
    """
    s = text.strip()
    iso = _parse_iso(s, tz)
    if iso is not None:
        return iso
    split = _split(s, month_first)
    if split is None:
        raise invalid_date(text)
    return _from_candidates(text, split[0], split[1], tz, now.year)


_NULL_SHAPE: Final = re.compile(
    r"\s*([0-9]+)[- ]([A-Za-z]+)[- ,]([0-9]+)(?: ([0-9]+):([0-9]+)(?::([0-9]+))?)?\s*", re.ASCII
)


def is_lenient_null_text(text: str) -> bool:
    """Text the reading functions answer with null instead of failing (§8.5).

    A ``dd-MMM-yyyy``-style text whose month name has fewer than three letters, whose day or time
    components have more than two digits, or whose year has more than four.
    """
    m = _NULL_SHAPE.fullmatch(text)
    if m is None:
        return False
    day, name, year = m.group(1), m.group(2), m.group(3)
    times = [g for g in m.groups()[3:] if g is not None]
    return len(name) < 3 or len(day) > 2 or len(year) > 4 or any(len(t) > 2 for t in times)


# ---------------------------------------------------------------------------------------------
# Time zones, epoch milliseconds, weeks

_ZONE_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+){0,2}", re.ASCII)
_GMT_OFFSET: Final = re.compile(r"(?:GMT|UTC)([+-][0-9]{1,2})(?::?([0-9]{2}))?", re.ASCII)


def zone_from_name(name: str) -> _dt.tzinfo:
    """A TZ database zone or ``GMT±hh:mm``; an unknown name means GMT, as in Java (D-61)."""
    m = _GMT_OFFSET.fullmatch(name)
    if m is not None:
        hours, minutes = int(m.group(1)), int(m.group(2) or 0)
        if abs(hours) <= 23 and minutes <= 59:
            sign = -1 if hours < 0 or m.group(1)[0] == "-" else 1
            return _dt.timezone(sign * _dt.timedelta(hours=abs(hours), minutes=minutes))
        return UTC
    # The name goes to the zoneinfo file lookup only after a strict shape check (no paths).
    if len(name) > 64 or _ZONE_NAME.fullmatch(name) is None:
        return UTC
    try:
        return ZoneInfo(name)
    except Exception:  # any lookup failure means GMT
        return UTC


def to_epoch_millis(value: DateTime) -> int:
    delta = value.dt - EPOCH
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def from_epoch_millis(ms: int, tz: _dt.tzinfo) -> DateTime:
    try:
        return DateTime((EPOCH + _dt.timedelta(milliseconds=ms)).astimezone(tz))
    except (OverflowError, ValueError):
        raise DelugeRuntimeError("Number out of range") from None


def millis_between(a: DateTime, b: DateTime) -> int:
    """Milliseconds from ``a`` to ``b`` (``b - a``): ``x - y`` is ``millis_between(y, x)``."""
    return to_epoch_millis(b) - to_epoch_millis(a)


def add_days(value: DateTime, n: int) -> DateTime:
    """``date + n`` (D-14): n calendar days, wall-clock time kept, date-only flag kept."""
    try:
        moved = value.dt.replace(tzinfo=None) + _dt.timedelta(days=n)
    except OverflowError:
        raise DelugeRuntimeError("Number out of range") from None
    return DateTime(localize(moved, value.dt.tzinfo or UTC), value.date_only)


def _week_start(ordinal: int, first_weekday: int) -> int:
    # date.fromordinal(1) is a Monday, so (ordinal - 1) % 7 is Python's weekday().
    return ordinal - ((ordinal - 1) % 7 - first_weekday) % 7


def week_of_year(d: _dt.date, first_weekday: int = SUNDAY) -> tuple[int, int]:
    """(week, week year): week 1 is the week holding 1 January, so late December can be week 1."""
    ws = _week_start(d.toordinal(), first_weekday)
    if d.month == 12 and d.year < 9999:
        next_jan1 = _dt.date(d.year + 1, 1, 1).toordinal()
        if ws == _week_start(next_jan1, first_weekday):
            return 1, d.year + 1
    first = _week_start(_dt.date(d.year, 1, 1).toordinal(), first_weekday)
    return (ws - first) // 7 + 1, d.year


def week_of_month(d: _dt.date, first_weekday: int = SUNDAY) -> int:
    first = _week_start(d.replace(day=1).toordinal(), first_weekday)
    return (_week_start(d.toordinal(), first_weekday) - first) // 7 + 1


# ---------------------------------------------------------------------------------------------
# Java SimpleDateFormat patterns (§8.5 letter table)

PATTERN_LETTERS: Final = frozenset("GyYMwWdDFEuHkKhamsSZXz")
_NUMERIC_LETTERS: Final = frozenset("yYwWdDFuHkKhmsS")

# A token is literal text or (letter, count).
_Token = str | tuple[str, int]


class PatternError(Exception):
    """An unknown letter or an unterminated quote in a date pattern."""


def tokenize_pattern(pattern: str) -> list[_Token]:
    """Split a pattern into fields and literal text; ``'…'`` quotes, ``''`` is one quote."""
    tokens: list[_Token] = []
    lit: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "'":
            if i + 1 < n and pattern[i + 1] == "'":
                lit.append("'")
                i += 2
                continue
            end = i + 1
            while True:
                end = pattern.find("'", end)
                if end < 0:
                    raise PatternError("Unterminated quote")
                if end + 1 < n and pattern[end + 1] == "'":
                    end += 2
                    continue
                break
            lit.append(pattern[i + 1 : end].replace("''", "'"))
            i = end + 1
        elif ("a" <= ch <= "z") or ("A" <= ch <= "Z"):
            if ch not in PATTERN_LETTERS:
                raise PatternError(f"Illegal pattern character '{ch}'")
            j = i
            while j < n and pattern[j] == ch:
                j += 1
            if lit:
                tokens.append("".join(lit))
                lit = []
            tokens.append((ch, j - i))
            i = j
        else:
            lit.append(ch)
            i += 1
    if lit:
        tokens.append("".join(lit))
    return tokens


def _offset_text(off: _dt.timedelta | None, colon: bool, minutes: bool = True) -> str:
    secs = int((off or _dt.timedelta()).total_seconds())
    sign = "-" if secs < 0 else "+"
    hh, mm = divmod(abs(secs) // 60, 60)
    if not minutes:
        return f"{sign}{hh:02d}"
    return f"{sign}{hh:02d}{':' if colon else ''}{mm:02d}"


def _zone_abbreviation(d: _dt.datetime) -> str:
    name = d.tzname() or "GMT"
    if name[:1] in "+-" or (isinstance(d.tzinfo, _dt.timezone) and d.tzinfo is not UTC):
        # Zones without an abbreviation print as Java does: GMT+05:30.
        return "GMT" + _offset_text(d.utcoffset(), colon=True)
    return name


def _field_text(d: _dt.datetime, letter: str, count: int) -> str:
    if letter == "y" or letter == "Y":
        year = d.year if letter == "y" else week_of_year(d.date())[1]
        return f"{year % 100:02d}" if count == 2 else str(year).zfill(count)
    if letter == "M":
        if count >= 4:
            return MONTHS[d.month - 1]
        if count == 3:
            return MONTHS_SHORT[d.month - 1]
        return str(d.month).zfill(count)
    if letter == "E":
        return DAYS[d.weekday()] if count >= 4 else DAYS_SHORT[d.weekday()]
    if letter == "a":
        return "AM" if d.hour < 12 else "PM"
    if letter == "G":
        return "AD"
    if letter == "Z":
        return _offset_text(d.utcoffset(), colon=False)
    if letter == "X":
        if count > 3:
            raise PatternError("invalid ISO 8601 format")
        if not d.utcoffset():
            return "Z"
        return _offset_text(d.utcoffset(), colon=count == 3, minutes=count > 1)
    if letter == "z":
        return _zone_abbreviation(d)
    numbers = {
        "w": lambda: week_of_year(d.date())[0],
        "W": lambda: week_of_month(d.date()),
        "d": lambda: d.day,
        "D": lambda: d.timetuple().tm_yday,
        "F": lambda: (d.day - 1) // 7 + 1,
        "u": lambda: d.isoweekday(),
        "H": lambda: d.hour,
        "k": lambda: d.hour or 24,
        "K": lambda: d.hour % 12,
        "h": lambda: d.hour % 12 or 12,
        "m": lambda: d.minute,
        "s": lambda: d.second,
        "S": lambda: d.microsecond // 1000,
    }
    return str(numbers[letter]()).zfill(count)


def format_datetime(value: DateTime, pattern: str, tz: _dt.tzinfo) -> str | None:
    """``value`` shown in ``tz`` with a Java pattern; None for an unknown letter (D-79)."""
    try:
        tokens = tokenize_pattern(pattern)
        d = value.dt.astimezone(tz)
        return "".join(t if isinstance(t, str) else _field_text(d, t[0], t[1]) for t in tokens)
    except PatternError:
        return None
    except (OverflowError, ValueError):
        raise DelugeRuntimeError("Date out of range") from None


def default_text(
    value: DateTime, tz: _dt.tzinfo | None = None, with_time: bool | None = None
) -> str:
    """``dd-MMM-yyyy[ HH:mm:ss]`` (§3.4) in ``tz`` (default: the value's own zone)."""
    d = value.dt if tz is None else convert(value.dt, tz)
    text = f"{d.day:02d}-{MONTHS_SHORT[d.month - 1]}-{d.year:04d}"
    if with_time is None:
        with_time = not value.date_only
    if with_time:
        text += f" {d.hour:02d}:{d.minute:02d}:{d.second:02d}"
    return text


_DIGITS: Final = re.compile(r"[0-9]{1,9}", re.ASCII)
_ZONE_TEXT: Final = re.compile(
    r"[Zz](?![A-Za-z])|(?:GMT|UTC)?[+-][0-9]{2}(?::?[0-9]{2})?|GMT|UTC|[A-Za-z_]+/[A-Za-z_/]+",
    re.ASCII,
)


def _match_name(text: str, pos: int, names: tuple[tuple[str, int], ...]) -> tuple[int, int] | None:
    """(value, new position) of the longest name matching at ``pos``, case-insensitively."""
    low = text[pos : pos + 12].lower()
    best: tuple[int, int] | None = None
    for name, val in names:
        if low.startswith(name.lower()) and (best is None or len(name) > best[1] - pos):
            best = (val, pos + len(name))
    return best


_MONTH_NAMES: Final = tuple((n, i % 12 + 1) for i, n in enumerate(MONTHS + MONTHS_SHORT))
_DAY_NAMES: Final = tuple((n, i % 7) for i, n in enumerate(DAYS + DAYS_SHORT))
_AMPM: Final = (("AM", 0), ("PM", 1))
_ERAS: Final = (("AD", 1), ("BC", 0))


def parse_with_pattern(
    text: str,
    pattern: str,
    tz: _dt.tzinfo,
    now: _dt.datetime,
    date_only: bool = False,
    text_tz: _dt.tzinfo | None = None,
) -> DateTime:
    """TEXT read with a Java pattern (``toDate``/``toDateTime``/``toTime``), result in ``tz``.

    The text is written in ``text_tz`` (default ``tz``) unless it carries an offset. As Java's
    ``SimpleDateFormat.parse`` does, text after the end of the pattern is ignored.
    """
    try:
        tokens = tokenize_pattern(pattern)
    except PatternError:
        raise DelugeRuntimeError("Invalid date pattern") from None
    fields: dict[str, int] = {}
    zone: _dt.tzinfo | None = None
    pos = 0
    for i, tok in enumerate(tokens):
        if isinstance(tok, str):
            if not text.startswith(tok, pos):
                raise invalid_date(text)
            pos += len(tok)
            continue
        letter, count = tok
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if letter in _NUMERIC_LETTERS or (letter == "M" and count <= 2):
            abutting = isinstance(nxt, tuple) and (
                nxt[0] in _NUMERIC_LETTERS or nxt == ("M", 1) or nxt == ("M", 2)
            )
            if abutting:
                digits = text[pos : pos + count]
                if len(digits) != count or not digits.isascii() or not digits.isdigit():
                    raise invalid_date(text)
            else:
                m = _DIGITS.match(text, pos)
                if m is None:
                    raise invalid_date(text)
                digits = m.group()
            pos += len(digits)
            value = int(digits)
            if letter in "yY" and count <= 2 and len(digits) == 2:
                value = two_digit_year(value, now.year)
            fields[letter] = value
            continue
        if letter in "zZX":
            m = _ZONE_TEXT.match(text, pos)
            if m is None:
                raise invalid_date(text)
            zone = _zone_from_text(m.group())
            if zone is None:
                raise invalid_date(text)
            pos = m.end()
            continue
        table = {"M": _MONTH_NAMES, "E": _DAY_NAMES, "a": _AMPM, "G": _ERAS}[letter]
        found = _match_name(text, pos, table)
        if found is None:
            raise invalid_date(text)
        fields[letter], pos = found
    return _from_fields(text, fields, zone or text_tz or tz, tz, date_only)


def _zone_from_text(s: str) -> _dt.tzinfo | None:
    if s[:1] in "+-Zz":
        return parse_offset(s)
    if "/" in s:
        return zone_from_name(s)
    if s in ("GMT", "UTC"):
        return UTC
    return parse_offset(s[3:])


def _from_fields(
    text: str, f: dict[str, int], zone: _dt.tzinfo, tz: _dt.tzinfo, date_only: bool
) -> DateTime:
    year = f.get("y", f.get("Y", 1970))
    if f.get("G", 1) == 0:
        raise invalid_date(text)
    if "D" in f and "M" not in f and "d" not in f:
        if not 1 <= year <= 9999 or not 1 <= f["D"] <= (366 if calendar.isleap(year) else 365):
            raise invalid_date(text)
        day0 = _dt.date(year, 1, 1) + _dt.timedelta(days=f["D"] - 1)
        month, day = day0.month, day0.day
    else:
        month, day = f.get("M", 1), f.get("d", 1)
    if "H" in f:
        hour = f["H"]
    elif "k" in f:
        hour = 0 if f["k"] == 24 else f["k"]
    elif "h" in f or "K" in f:
        hour = f["h"] % 12 if "h" in f and f["h"] <= 12 else f.get("K", f.get("h", 0))
        if f.get("a") == 1 and hour < 12:
            hour += 12
    else:
        hour = 0
    time = (hour, f.get("m", 0), f.get("s", 0), min(f.get("S", 0), 999) * 1000)
    value = make_datetime(text, year, month, day, zone, time)
    result = convert(value.dt, tz)
    return DateTime(result, date_only=date_only)
