"""DATE-TIME built-ins (deluge-language.md §8.5, §8.6): methods on DATE-TIME receivers, the same
methods on TEXT receivers read as dates, and the epoch-millisecond forms of NUMBER.

The parsing and formatting rules live in ``datetimes.py``. Values are handled in the org time zone
``ctx.tz``; calendar arithmetic (days, months, years) keeps the wall-clock time as Java's Calendar
does, time arithmetic (hours, minutes, seconds) moves the instant.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from .. import datetimes as dts
from ..context import Context
from ..errors import DelugeRuntimeError
from ..registry import method
from ..values import (
    DATETIME,
    NUMBER,
    TEXT,
    Collection,
    DateTime,
    DelugeList,
    check_number,
    text_form,
    type_name,
)

DT = (DATETIME, TEXT)
F = TypeVar("F", bound=Callable[..., Any])
_OPEN = _dt.time(9, 0)
_CLOSE = _dt.time(17, 0)


def _safe(fn: F) -> F:
    """Turn Python's date range errors (year 10000, huge offsets) into a Deluge error."""

    @functools.wraps(fn)
    def wrapper(*args: Any) -> Any:
        try:
            return fn(*args)
        except (OverflowError, ValueError):
            raise DelugeRuntimeError("Date out of range") from None

    return wrapper  # type: ignore[return-value]


def _method(types: str | tuple[str, ...], *names: str) -> Callable[[F], F]:
    """``registry.method`` with Python's date range errors turned into Deluge errors."""

    def register(fn: F) -> F:
        method(types, *names)(_safe(fn))
        return fn

    return register


# ---------------------------------------------------------------------------------------------
# Exported helpers (compiler, runtime and the TEXT/NUMBER modules use them)


def current_time(ctx: Context) -> DateTime:
    """``now`` / ``zoho.currenttime``: the org's current time in whole seconds."""
    return DateTime(ctx.now().astimezone(ctx.tz).replace(microsecond=0))


def current_date(ctx: Context) -> DateTime:
    """``today`` / ``zoho.currentdate``: today in the org time zone, date-only."""
    return DateTime(ctx.now().astimezone(ctx.tz), date_only=True)


add_days = dts.add_days
millis_between = dts.millis_between


def to_date(ctx: Context, v: Any) -> DateTime:
    """A DATE-TIME argument or receiver; TEXT is read with the rules of §8.6."""
    if type(v) is DateTime:
        return v
    if type(v) is str:
        return dts.parse_date_text(v, ctx.tz, ctx.month_first, ctx.now())
    raise DelugeRuntimeError(f"Expected a DATE-TIME but got {type_name(v)}")


def _int(v: Any, name: str) -> int:
    if type(v) is int:
        return v  # type: ignore[no-any-return]
    if type(v) is float and v == v and abs(v) < 2**63:
        return int(v)
    raise DelugeRuntimeError(f"'{name}' expects a NUMBER but got {type_name(v)}")


def _zone(ctx: Context, name: Any) -> _dt.tzinfo:
    if name is None:
        return ctx.tz
    if type(name) is str:
        return dts.zone_from_name(name.strip())
    raise DelugeRuntimeError(f"Expected a time zone name but got {type_name(name)}")


def _pattern(p: Any) -> str | None:
    if p is None or p == "":
        return None
    if type(p) is str:
        return p  # type: ignore[no-any-return]
    raise DelugeRuntimeError("Invalid date pattern")


def _local(ctx: Context, v: DateTime) -> _dt.datetime:
    return v.dt.astimezone(ctx.tz)


def _at(
    ctx: Context, day: _dt.date, time: _dt.time = _dt.time(), date_only: bool = False
) -> DateTime:
    return DateTime(dts.localize(_dt.datetime.combine(day, time), ctx.tz), date_only)


@_safe
def datetime_text(ctx: Context, value: DateTime, pattern: Any = None, tz: Any = None) -> str | None:
    """DATE-TIME ``toString``/``toText``: default form, or the pattern (None for a bad letter)."""
    zone = _zone(ctx, tz)
    p = _pattern(pattern)
    if p is None:
        return dts.default_text(value, zone)
    return dts.format_datetime(value, p, zone)


@_safe
def text_to_string_with_pattern(
    ctx: Context, text: str, pattern: Any, tz: Any = None
) -> str | None:
    """TEXT ``toString(pattern[, tz])``: the text read as a date, then formatted (D-79)."""
    return datetime_text(ctx, to_date(ctx, text), pattern, tz)


@_safe
def number_to_string_with_pattern(ctx: Context, n: Any, pattern: Any, tz: Any = None) -> str | None:
    """NUMBER ``toString(pattern[, tz])``: epoch milliseconds formatted."""
    return datetime_text(ctx, dts.from_epoch_millis(_int(n, "toString"), ctx.tz), pattern, tz)


# ---------------------------------------------------------------------------------------------
# Calendar and time arithmetic


def _shift(ctx: Context, v: DateTime, *, days: int = 0, months: int = 0) -> DateTime:
    d = _local(ctx, v)
    if months:
        total = d.year * 12 + d.month - 1 + months
        year, month = divmod(total, 12)
        month += 1
        if not 1 <= year <= 9999:
            raise DelugeRuntimeError("Date out of range")
        day = min(d.day, calendar.monthrange(year, month)[1])
        d = d.replace(year=year, month=month, day=day)
    naive = d.replace(tzinfo=None) + _dt.timedelta(days=days)
    return DateTime(dts.localize(naive, ctx.tz))


def _add_time(ctx: Context, v: DateTime, seconds: int) -> DateTime:
    moved = v.dt.astimezone(dts.UTC) + _dt.timedelta(seconds=seconds)
    return DateTime(moved.astimezone(ctx.tz))


def _shift_method(name: str, days: int, months: int) -> None:
    def fn(ctx: Context, d: Any, n: Any) -> DateTime:
        k = _int(n, name)
        return _shift(ctx, to_date(ctx, d), days=days * k, months=months * k)

    _method(DT, name)(fn)


def _time_method(name: str, unit: int) -> None:
    def fn(ctx: Context, d: Any, n: Any) -> DateTime:
        return _add_time(ctx, to_date(ctx, d), unit * _int(n, name))

    _method(DT, name)(fn)


# Calendar units keep the wall-clock time (a month past the end of the target month is clamped
# to its last day); hours, minutes and seconds move the instant.
for _name, _per_days, _per_months in (
    ("addDay", 1, 0),
    ("subDay", -1, 0),
    ("addWeek", 7, 0),
    ("subWeek", -7, 0),
    ("addMonth", 0, 1),
    ("subMonth", 0, -1),
    ("addYear", 0, 12),
    ("subYear", 0, -12),
):
    _shift_method(_name, _per_days, _per_months)

for _name, _unit in (
    ("addHour", 3600),
    ("subHour", -3600),
    ("addMinutes", 60),
    ("subMinutes", -60),
    ("addSeconds", 1),
    ("subSeconds", -1),
):
    _time_method(_name, _unit)


# ---------------------------------------------------------------------------------------------
# Business days and hours


def _weekends(v: Any) -> frozenset[int]:
    if v is None:
        return frozenset((5, 6))
    if type(v) is Collection:
        v = v.value if v.value is not None else DelugeList()
    items = [v] if type(v) is str else v if type(v) is DelugeList else None
    if items is None:
        raise DelugeRuntimeError(f"Weekends must be a LIST of day names but got {type_name(v)}")
    days = set()
    for item in items:
        n = dts.day_number(item.strip()) if type(item) is str else None
        if n is None:
            raise DelugeRuntimeError(f"Invalid day name '{text_form(item)}'")
        days.add(n)
    if len(days) == 7:
        raise DelugeRuntimeError("A week needs at least one business day")
    return frozenset(days)


def _holidays(ctx: Context, v: Any) -> frozenset[_dt.date]:
    if v is None:
        return frozenset()
    if type(v) is Collection:
        v = v.value if v.value is not None else DelugeList()
    items = [v] if type(v) in (str, DateTime) else v if type(v) is DelugeList else None
    if items is None:
        raise DelugeRuntimeError(f"Holidays must be a LIST of dates but got {type_name(v)}")
    out = set()
    for i, item in enumerate(items):
        if i % 10_000 == 9_999:
            ctx.check_deadline()
        out.add(_local(ctx, to_date(ctx, item)).date())
    return frozenset(out)


def _step_business(
    ctx: Context, start: _dt.date, n: int, weekends: frozenset[int], holidays: frozenset[_dt.date]
) -> _dt.date:
    step = 1 if n > 0 else -1
    remaining = abs(n)
    day = start
    per_week = 7 - len(weekends)
    if not holidays and remaining > per_week:
        # Any 7 consecutive days hold exactly per_week business days.
        weeks = (remaining - 1) // per_week
        day += _dt.timedelta(days=7 * weeks * step)
        remaining -= weeks * per_week
    work = 0
    while remaining:
        day += _dt.timedelta(days=step)
        if day.weekday() not in weekends and day not in holidays:
            remaining -= 1
        work += 1
        if work % 10_000 == 0:
            ctx.check_deadline()
    return day


def _business_days(
    ctx: Context, d: Any, n: Any, weekends: Any, holidays: Any, name: str
) -> DateTime:
    v = to_date(ctx, d)
    local = _local(ctx, v)
    day = _step_business(
        ctx, local.date(), _int(n, name), _weekends(weekends), _holidays(ctx, holidays)
    )
    return _at(ctx, day, local.time())


@_method(DT, "addBusinessDay")
def add_business_day(
    ctx: Context, d: Any, n: Any, weekends: Any = None, holidays: Any = None
) -> DateTime:
    return _business_days(ctx, d, n, weekends, holidays, "addBusinessDay")


@_method(DT, "subBusinessDay")
def sub_business_day(
    ctx: Context, d: Any, n: Any, weekends: Any = None, holidays: Any = None
) -> DateTime:
    return _business_days(ctx, d, -_int(n, "subBusinessDay"), weekends, holidays, "subBusinessDay")


@_method(DT, "workday")
def workday(ctx: Context, d: Any, n: Any, weekends: Any = None, holidays: Any = None) -> DateTime:
    v = to_date(ctx, d)
    count = _int(n, "workday")
    start = _local(ctx, v).date()
    if count <= 0:
        return _at(ctx, start, date_only=True)
    day = _step_business(ctx, start, count, _weekends(weekends), _holidays(ctx, holidays))
    return _at(ctx, day, date_only=True)


@_method(DT, "addBusinessHour")
def add_business_hour(
    ctx: Context,
    d: Any,
    hours: Any,
    weekends: Any = None,
    holidays: Any = None,
    business_hours: Any = None,
) -> DateTime:
    if business_hours is not None:
        raise DelugeRuntimeError("'addBusinessHour' with business_hours is not supported")
    v = to_date(ctx, d)
    if type(hours) not in (int, float) or hours != hours:
        raise DelugeRuntimeError(f"'addBusinessHour' expects a NUMBER but got {type_name(hours)}")
    if abs(hours) > 8 * 260 * 10_000:
        raise DelugeRuntimeError("Date out of range")
    secs = round(hours * 3600)
    if secs == 0:
        return DateTime(v.dt)
    wk, hol = _weekends(weekends), _holidays(ctx, holidays)

    def business(day: _dt.date) -> bool:
        return day.weekday() not in wk and day not in hol

    def next_open(day: _dt.date, step: int) -> _dt.date:
        day += _dt.timedelta(days=step)
        while not business(day):
            day += _dt.timedelta(days=step)
        return day

    t = _local(ctx, v).replace(tzinfo=None)
    forward = secs > 0
    left = abs(secs)
    work = 0
    while True:
        work += 1
        if work % 10_000 == 0:
            ctx.check_deadline()
        day, tod = t.date(), t.time()
        if forward:
            if not business(day) or tod >= _CLOSE:
                t = _dt.datetime.combine(next_open(day, 1), _OPEN)
            elif tod < _OPEN:
                t = _dt.datetime.combine(day, _OPEN)
            avail = int((_dt.datetime.combine(t.date(), _CLOSE) - t).total_seconds())
            if left <= avail:
                t += _dt.timedelta(seconds=left)
                break
            left -= avail
            t = _dt.datetime.combine(t.date(), _CLOSE)
        else:
            if not business(day) or tod <= _OPEN:
                t = _dt.datetime.combine(next_open(day, -1), _CLOSE)
            elif tod > _CLOSE:
                t = _dt.datetime.combine(day, _CLOSE)
            avail = int((t - _dt.datetime.combine(t.date(), _OPEN)).total_seconds())
            if left <= avail:
                t -= _dt.timedelta(seconds=left)
                break
            left -= avail
            t = _dt.datetime.combine(t.date(), _OPEN)
    return DateTime(dts.localize(t, ctx.tz))


# ---------------------------------------------------------------------------------------------
# Reading parts of a date


def _part(name: str, *aliases: str, read: Callable[[_dt.datetime], int]) -> None:
    def fn(ctx: Context, d: Any) -> int:
        return read(_local(ctx, to_date(ctx, d)))

    _method(DT, name, *aliases)(fn)


_part("getDay", "day", read=lambda d: d.day)
_part("getMonth", "month", read=lambda d: d.month)
_part("getYear", "year", read=lambda d: d.year)
_part("getHour", "hour", read=lambda d: d.hour)
_part("getMinutes", "minute", read=lambda d: d.minute)
_part("getSeconds", "second", read=lambda d: d.second)


def _reader(ctx: Context, d: Any) -> _dt.datetime | None:
    """Receiver of the functions that answer null for some malformed date text (§8.5)."""
    if type(d) is str and dts.is_lenient_null_text(d):
        return None
    return _local(ctx, to_date(ctx, d))


@_method(DT, "getDayOfYear")
def get_day_of_year(ctx: Context, d: Any) -> int | None:
    local = _reader(ctx, d)
    return None if local is None else local.timetuple().tm_yday


@_method(DT, "getWeekOfYear")
def get_week_of_year(ctx: Context, d: Any, start_day: Any = None) -> int | None:
    first = dts.SUNDAY
    if start_day is not None:
        n = dts.day_number(start_day.strip()) if type(start_day) is str else None
        if n is None:
            raise DelugeRuntimeError(f"Invalid day name '{text_form(start_day)}'")
        first = n
    local = _reader(ctx, d)
    return None if local is None else dts.week_of_year(local.date(), first)[0]


@_method(DT, "weekday", "getDayOfWeek")
def weekday(ctx: Context, d: Any) -> int | None:
    local = _reader(ctx, d)
    # 1 = Sunday … 7 = Saturday (D-62); Python's weekday() has Monday = 0.
    return None if local is None else (local.weekday() + 1) % 7 + 1


@_method(DT, "toStartOfMonth")
def to_start_of_month(ctx: Context, d: Any) -> DateTime | None:
    local = _reader(ctx, d)
    return None if local is None else _at(ctx, local.date().replace(day=1))


@_method(DT, "toStartOfWeek")
def to_start_of_week(ctx: Context, d: Any) -> DateTime | None:
    local = _reader(ctx, d)
    if local is None:
        return None
    day = local.date()
    return _at(ctx, day - _dt.timedelta(days=(day.weekday() + 1) % 7))


@_method(DT, "eomonth")
def eomonth(ctx: Context, d: Any, n: Any) -> DateTime:
    local = _local(ctx, to_date(ctx, d))
    total = local.year * 12 + local.month - 1 + _int(n, "eomonth")
    year, month = divmod(total, 12)
    last = calendar.monthrange(year, month + 1)[1] if 1 <= year <= 9999 else 0
    return _at(ctx, _dt.date(year, month + 1, last), date_only=True)


@_method(DT, "edate")
def edate(ctx: Context, d: Any, n: Any) -> DateTime:
    moved = _shift(ctx, to_date(ctx, d), months=_int(n, "edate"))
    return _at(ctx, _local(ctx, moved).date(), date_only=True)


def _weekday_arg(day: Any) -> int:
    n = dts.day_number(day.strip()) if type(day) is str else None
    if n is None:
        raise DelugeRuntimeError(f"Invalid day name '{text_form(day)}'")
    return n


@_method(DT, "nextWeekDay")
def next_week_day(ctx: Context, d: Any, day: Any) -> DateTime:
    start = _local(ctx, to_date(ctx, d)).date()
    ahead = (_weekday_arg(day) - start.weekday()) % 7 or 7
    return _at(ctx, start + _dt.timedelta(days=ahead), date_only=True)


@_method(DT, "previousWeekDay")
def previous_week_day(ctx: Context, d: Any, day: Any) -> DateTime:
    start = _local(ctx, to_date(ctx, d)).date()
    back = (start.weekday() - _weekday_arg(day)) % 7 or 7
    return _at(ctx, start - _dt.timedelta(days=back), date_only=True)


# ---------------------------------------------------------------------------------------------
# Differences


def _days(ctx: Context, a: Any, b: Any) -> int:
    return (_local(ctx, to_date(ctx, b)).date() - _local(ctx, to_date(ctx, a)).date()).days


@_method(DT, "daysBetween")
def days_between(ctx: Context, a: Any, b: Any) -> int:
    return _days(ctx, a, b)


@_method(DT, "days360")
def days360(ctx: Context, a: Any, b: Any) -> int:
    # Zoho's examples behave like daysBetween, not like a 30/360 count (§8.5).
    return _days(ctx, a, b)


def _trunc_div(n: int, d: int) -> int:
    return n // d if n >= 0 else -(-n // d)


@_method(DT, "hoursBetween")
def hours_between(ctx: Context, a: Any, b: Any) -> int:
    # D-76: minutes and seconds of both values are dropped before subtracting.
    def hour_of(v: Any) -> _dt.datetime:
        local = _local(ctx, to_date(ctx, v)).replace(minute=0, second=0, microsecond=0)
        return dts.localize(local.replace(tzinfo=None), ctx.tz)

    secs = int((hour_of(b) - hour_of(a)).total_seconds())
    return _trunc_div(secs, 3600)


@_method(DT, "monthsBetween")
def months_between(ctx: Context, a: Any, b: Any) -> int:
    return _trunc_div(_days(ctx, a, b), 30)


@_method(DT, "yearsBetween")
def years_between(ctx: Context, a: Any, b: Any) -> int:
    return _trunc_div(_days(ctx, a, b), 365)


def _calendar_months(a: _dt.date, b: _dt.date) -> int:
    if b < a:
        return -_calendar_months(b, a)
    months = (b.year - a.year) * 12 + b.month - a.month
    return months - 1 if b.day < a.day else months


def _months_diff(ctx: Context, a: Any, b: Any) -> int:
    da = _local(ctx, to_date(ctx, a)).date()
    return _calendar_months(da, _local(ctx, to_date(ctx, b)).date())


@_method(DT, "monthsDiff", "totalMonths", "totalMonth")
def months_diff(ctx: Context, a: Any, b: Any) -> int:
    return _months_diff(ctx, a, b)


@_method(DT, "yearsDiff", "totalYears", "totalYear")
def years_diff(ctx: Context, a: Any, b: Any) -> int:
    return _trunc_div(_months_diff(ctx, a, b), 12)


@_method(DT, "timeBetween")
def time_between(ctx: Context, a: Any, b: Any) -> str:
    # Whole seconds of each value, so leftover milliseconds never round a second away.
    secs = dts.millis_between(to_date(ctx, a), to_date(ctx, b)) // 1000
    sign = "-" if secs < 0 else ""
    h, rest = divmod(abs(secs), 3600)
    m, s = divmod(rest, 60)
    return f"{sign}{h:02d}:{m:02d}:{s:02d}"


# ---------------------------------------------------------------------------------------------
# Conversions and text


@_method(DATETIME, "toLong")
def to_long(ctx: Context, d: DateTime) -> int:
    return check_number(dts.to_epoch_millis(d))


@_method(TEXT, "unixEpoch")
def unix_epoch(ctx: Context, text: str, tz: Any = None) -> int | str:
    # D-61: TEXT receivers only; text that is not a date comes back unchanged.
    zone = _zone(ctx, tz)
    try:
        value = dts.parse_date_text(text, zone, ctx.month_first, ctx.now())
    except DelugeRuntimeError:
        return text
    return check_number(dts.to_epoch_millis(value))


@_method(DATETIME, "toString", "toText")
def datetime_to_string(
    ctx: Context, d: DateTime, pattern: Any = None, tz: Any = None
) -> str | None:
    return datetime_text(ctx, d, pattern, tz)


@_method((DATETIME, TEXT, NUMBER), "toDateTimeString")
def to_date_time_string(ctx: Context, v: Any, pattern: Any = None, tz: Any = None) -> str | None:
    value = (
        dts.from_epoch_millis(_int(v, "toDateTimeString"), ctx.tz)
        if type(v) is int
        else to_date(ctx, v)
    )
    p = _pattern(pattern)
    if p is None:
        # Always with the time, even for a date-only value (D-12).
        return dts.default_text(value, _zone(ctx, tz), with_time=True)
    return dts.format_datetime(value, p, _zone(ctx, tz))


_ORDINALS = {1: "st", 2: "nd", 3: "rd"}


@_method(DT, "getDate")
def get_date(ctx: Context, d: Any) -> str:
    local = _local(ctx, to_date(ctx, d))
    day = local.day
    suffix = "th" if 11 <= day <= 13 else _ORDINALS.get(day % 10, "th")
    return f"{day}{suffix} {dts.MONTHS[local.month - 1]} {local.year}"


@_method(DATETIME, "isDate")
def datetime_is_date(ctx: Context, d: DateTime) -> bool:
    return True


@_method(TEXT, "isDate")
def text_is_date(ctx: Context, text: str) -> bool:
    # D-79: text that holds no date is a runtime error, as Zoho's isDate page says.
    to_date(ctx, text)
    return True


def _from_text(ctx: Context, text: str, pattern: Any, date_only: bool, tz: Any = None) -> DateTime:
    text_zone = _zone(ctx, tz)
    p = _pattern(pattern)
    if p is None:
        value = dts.parse_date_text(text, text_zone, ctx.month_first, ctx.now())
        return DateTime(value.dt.astimezone(ctx.tz), date_only)
    return dts.parse_with_pattern(text, p, ctx.tz, ctx.now(), date_only, text_zone)


@_method(TEXT, "toDate")
def text_to_date(ctx: Context, text: str, pattern: Any = None) -> DateTime:
    return _from_text(ctx, text, pattern, True)


@_method(TEXT, "toDateTime")
def text_to_date_time(ctx: Context, text: str, pattern: Any = None) -> DateTime:
    return _from_text(ctx, text, pattern, False)


@_method(TEXT, "toTime")
def text_to_time(ctx: Context, text: str, pattern: Any = None, tz: Any = None) -> DateTime:
    return _from_text(ctx, text, pattern, False, tz)


@_method(NUMBER, "toDate")
def number_to_date(ctx: Context, n: int, pattern: Any = None) -> DateTime:
    return DateTime(dts.from_epoch_millis(n, ctx.tz).dt, date_only=True)


@_method(NUMBER, "toDateTime")
def number_to_date_time(ctx: Context, n: int, pattern: Any = None) -> DateTime:
    return dts.from_epoch_millis(n, ctx.tz)


@_method(NUMBER, "toTime")
def number_to_time(ctx: Context, n: int, pattern: Any = None, tz: Any = None) -> DateTime:
    return dts.from_epoch_millis(n, ctx.tz)


@_method(DATETIME, "toDate")
def datetime_to_date(ctx: Context, d: DateTime, pattern: Any = None) -> DateTime:
    return DateTime(_local(ctx, d), date_only=True)


@_method(DATETIME, "toDateTime")
def datetime_to_date_time(ctx: Context, d: DateTime, pattern: Any = None) -> DateTime:
    return DateTime(d.dt)


@_method(DATETIME, "toTime")
def datetime_to_time(ctx: Context, d: DateTime, pattern: Any = None, tz: Any = None) -> DateTime:
    return DateTime(d.dt)
