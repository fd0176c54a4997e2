"""When a schedule runs: cron expressions and the shorthands of functions-platform.md §6.

Written here rather than taken from a cron library because the daylight-saving rule is the part
that matters and libraries differ on it: floodway plans in local wall-clock time and then

- skips a local time that does not exist that day (spring forward), and
- runs a local time that occurs twice only once, at its first occurrence (fall back).

Every form is reduced to one ``Timing``: which local dates qualify (months, days of month, days of
week with cron's "either" rule) and which minutes of such a day; ``once`` is a single local time.
Due times are a pure function of the expression, so every worker computes the same ones (the job
engine relies on that to run each due time once).
"""

from __future__ import annotations

import calendar
import datetime as _dt
import re
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .timing import parse_hhmm

SCHEDULE_KINDS: Final = ("cron", "every", "daily", "weekly", "monthly", "once")
MONTH_NAMES: Final = {
    name: i
    for i, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
DAY_NAMES: Final = {
    name: i for i, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))
}
_FULL_DAY_NAMES: Final = {
    "sunday": 0,
    "monday": 1,
    "tuesday": 2,
    "wednesday": 3,
    "thursday": 4,
    "friday": 5,
    "saturday": 6,
}
# 8 years cover every combination of weekday and calendar date (29 February included), so a
# search this long finds the next due time of any expression that can run at all.
_SEARCH_DAYS: Final = 8 * 366 + 2
_EVERY_RE: Final = re.compile(r"(\d{1,5})([a-z]+)")
_ONCE_RE: Final = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?")


class ScheduleError(ValueError):
    """A cron expression or shorthand that does not parse; the message names the part."""


@dataclass(frozen=True, slots=True)
class Timing:
    """The parsed form of one schedule expression (see the module docstring)."""

    kind: str  # cron | every | daily | weekly | monthly | once
    expression: str  # as written in the manifest
    minutes_of_day: tuple[int, ...] = ()  # sorted, 0..1439
    months: frozenset[int] = frozenset(range(1, 13))
    days: frozenset[int] = frozenset(range(1, 32))
    weekdays: frozenset[int] = frozenset(range(7))  # 0 = Sunday
    days_restricted: bool = False  # cron: day-of-month field did not start with "*"
    weekdays_restricted: bool = False  # cron: day-of-week field did not start with "*"
    once: _dt.datetime | None = None  # naive local time of a ``once`` schedule

    def matches_date(self, day: _dt.date) -> bool:
        """Whether the schedule runs on this local date (cron: Vixie's day rule: when both day
        fields are restricted, either may match; otherwise the restricted one must)."""
        if day.month not in self.months:
            return False
        dom = day.day in self.days
        dow = (day.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return dom or dow
        return dom and dow

    def next_times(self, after: _dt.datetime, n: int, tz: _dt.tzinfo) -> list[_dt.datetime]:
        """The next ``n`` due times strictly after ``after`` (aware), as aware times in ``tz``."""
        if after.tzinfo is None or after.utcoffset() is None:
            raise ValueError("'after' must be a timezone-aware datetime")
        if n <= 0:
            return []
        # Compare instants, never wall times: Python compares two datetimes sharing one tzinfo by
        # their wall clock, which is wrong across a fall-back hour.
        limit = after.timestamp()
        if self.once is not None:
            due = resolve_local(self.once, tz)
            return [due] if due is not None and due.timestamp() > limit else []
        out: list[_dt.datetime] = []
        start = after.astimezone(tz).date()
        for i in range(_SEARCH_DAYS):
            day = start + _dt.timedelta(days=i)
            if not self.matches_date(day):
                continue
            for minute in self.minutes_of_day:
                naive = _dt.datetime(day.year, day.month, day.day, minute // 60, minute % 60)
                due = resolve_local(naive, tz)
                if due is None or due.timestamp() <= limit:
                    continue
                out.append(due)
                if len(out) == n:
                    return out
        return out

    def dst_notes(
        self, after: _dt.datetime, until: _dt.datetime, tz: _dt.tzinfo, most: int = 4
    ) -> list[str]:
        """What daylight saving does to the due times from ``after`` to ``until`` (aware):
        local times that do not exist that day are skipped, times that occur twice run once
        (their first occurrence). One note per day, at most ``most``."""
        if self.once is not None:
            days = [self.once.date()]
        else:
            first, last = after.astimezone(tz).date(), until.astimezone(tz).date()
            days = [first + _dt.timedelta(days=i) for i in range((last - first).days + 1)]
        notes: list[str] = []
        start = after.astimezone(tz).replace(tzinfo=None)  # nothing before it is noted
        for day in days:
            if self.once is None and not self.matches_date(day):
                continue
            minutes = (
                (self.once.hour * 60 + self.once.minute,)
                if self.once is not None
                else self.minutes_of_day
            )
            gone, twice = [], []
            for minute in minutes:
                naive = _dt.datetime(day.year, day.month, day.day, minute // 60, minute % 60)
                if naive < start:
                    continue
                if resolve_local(naive, tz) is None:
                    gone.append(naive)
                elif (
                    naive.replace(tzinfo=tz, fold=1).utcoffset()
                    != naive.replace(tzinfo=tz, fold=0).utcoffset()
                ):
                    twice.append(naive)
            when = f"{day.day} {day.strftime('%b')}"
            if gone:
                verb = "does" if len(gone) == 1 else "do"
                notes.append(f"skipped: {_clock_times(gone)} {verb} not exist on {when}")
            if twice:
                verb = "occurs" if len(twice) == 1 else "occur"
                notes.append(f"runs once: {_clock_times(twice)} {verb} twice on {when}")
            if len(notes) >= most:
                return notes[:most]
        return notes


def _clock_times(times: list[_dt.datetime]) -> str:
    shown = [t.strftime("%H:%M") for t in times]
    if len(shown) <= 2:
        return " and ".join(shown)
    return f"{shown[0]}–{shown[-1]} ({len(shown)} times)"


def resolve_local(naive: _dt.datetime, tz: _dt.tzinfo) -> _dt.datetime | None:
    """The aware time for a local wall-clock time: ``None`` when it does not exist in ``tz`` that
    day; its first occurrence (``fold=0``) when it occurs twice."""
    aware = naive.replace(tzinfo=tz, fold=0)
    back = aware.astimezone(_dt.UTC).astimezone(tz)
    if back.replace(tzinfo=None) != naive:
        return None
    return aware


def zone(name: str) -> ZoneInfo:
    """An IANA time zone; ``ValueError`` with a user-facing message when it does not exist."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f'unknown time zone "{name}"; expected an IANA name such as "Europe/Berlin"'
        ) from None


# --------------------------------------------------------------------------------------------
# cron


_CRON_FIELDS: Final = (
    ("minute", 0, 59, None),
    ("hour", 0, 23, None),
    ("day-of-month", 1, 31, None),
    ("month", 1, 12, MONTH_NAMES),
    ("day-of-week", 0, 7, DAY_NAMES),
)


def parse_cron(text: str) -> Timing:
    """Five fields ``minute hour day-of-month month day-of-week`` with ``*``, lists, ranges,
    steps (``*/15``, ``1-5/2``, ``10/20``) and ``JAN``…``DEC`` / ``SUN``…``SAT`` names;
    day-of-week 0 and 7 are Sunday."""
    parts = text.split()
    if len(parts) != 5:
        raise ScheduleError(
            f'invalid cron expression "{text}": expected 5 fields (minute hour day-of-month '
            f"month day-of-week), got {len(parts)}"
        )
    sets: list[frozenset[int]] = []
    for part, (name, lo, hi, names) in zip(parts, _CRON_FIELDS):
        try:
            sets.append(_cron_field(part, lo, hi, names))
        except ValueError as exc:
            raise ScheduleError(f'invalid cron expression "{text}": {name} field: {exc}') from None
    minutes, hours, days, months, weekdays = sets
    weekdays = frozenset(0 if d == 7 else d for d in weekdays)
    timing = Timing(
        "cron",
        text,
        tuple(sorted(h * 60 + m for h in hours for m in minutes)),
        months,
        days,
        weekdays,
        days_restricted=not parts[2].startswith("*"),
        weekdays_restricted=not parts[4].startswith("*"),
    )
    if timing.days_restricted and not timing.weekdays_restricted:
        if not any(d <= _max_days(m) for m in months for d in days):
            raise ScheduleError(
                f'invalid cron expression "{text}": it never runs '
                "(no chosen month has the chosen days)"
            )
    return timing


def _max_days(month: int) -> int:
    return 29 if month == 2 else calendar.monthrange(2001, month)[1]


def _cron_field(text: str, lo: int, hi: int, names: dict[str, int] | None) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        if item == "":
            raise ValueError("empty list item")
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(f'invalid step "{step_text}"')
            step = int(step_text)
        if base == "*":
            start, end = lo, hi
        elif "-" in base:
            a, _, b = base.partition("-")
            start, end = _cron_value(a, lo, hi, names), _cron_value(b, lo, hi, names)
            if names is DAY_NAMES and b.lower() == "sun":
                end = 7  # "FRI-SUN": Sunday closes a range as 7
            if start > end:
                raise ValueError(f'range "{base}" goes backwards')
        else:
            start = _cron_value(base, lo, hi, names)
            end = hi if slash else start
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _cron_value(token: str, lo: int, hi: int, names: dict[str, int] | None) -> int:
    if token.isdigit():
        v = int(token)
        if not lo <= v <= hi:
            raise ValueError(f"{v} is out of range {lo}-{hi}")
        return v
    if names is not None and token.lower() in names:
        return names[token.lower()]
    raise ValueError(f'invalid value "{token}"')


# --------------------------------------------------------------------------------------------
# shorthands


def parse_every(text: str) -> Timing:
    """``every = "15m"`` / ``"1h"``: local times that are multiples of the interval from midnight;
    the interval must divide a day so that every day looks the same."""
    m = _EVERY_RE.fullmatch(text)
    if m is None or m[2] not in ("m", "h"):
        raise ScheduleError(
            f'invalid every "{text}"; expected minutes or hours such as "15m" or "1h" '
            '(daily = "HH:MM" runs once a day)'
        )
    minutes = int(m[1]) * (60 if m[2] == "h" else 1)
    if minutes == 0 or 1440 % minutes:
        raise ScheduleError(
            f'invalid every "{text}": the interval must divide a day evenly '
            '(e.g. "5m", "15m", "1h", "6h")'
        )
    return Timing("every", text, tuple(range(0, 1440, minutes)))


def _time_of_day(text: str, what: str, expression: str) -> int:
    try:
        t = parse_hhmm(text)
    except ValueError as exc:
        raise ScheduleError(f'invalid {what} "{expression}": {exc}') from None
    return t.hour * 60 + t.minute


def parse_daily(text: str) -> Timing:
    """``daily = "02:00"``."""
    return Timing("daily", text, (_time_of_day(text, "daily", text),))


def parse_weekly(text: str) -> Timing:
    """``weekly = "mon 02:00"`` (also ``"mon,thu 02:00"``, full day names)."""
    days_text, _, time_text = text.strip().partition(" ")
    if not time_text:
        raise ScheduleError(
            f'invalid weekly "{text}"; expected day names and a time, '
            'e.g. "mon 02:00" or "mon,thu 02:00"'
        )
    weekdays = set()
    for name in days_text.split(","):
        low = name.lower()
        day = DAY_NAMES.get(low, _FULL_DAY_NAMES.get(low))
        if day is None:
            raise ScheduleError(
                f'invalid weekly "{text}": unknown day "{name}"; expected mon, tue, wed, thu, '
                "fri, sat or sun"
            )
        weekdays.add(day)
    minute = _time_of_day(time_text.strip(), "weekly", text)
    return Timing("weekly", text, (minute,), weekdays=frozenset(weekdays))


def parse_monthly(text: str) -> Timing:
    """``monthly = "1 02:00"`` (also ``"1,15 02:00"``); a month without the day is skipped."""
    days_text, _, time_text = text.strip().partition(" ")
    if not time_text:
        raise ScheduleError(
            f'invalid monthly "{text}"; expected days of the month and a time, '
            'e.g. "1 02:00" or "1,15 02:00"'
        )
    days = set()
    for item in days_text.split(","):
        if not item.isdigit() or not 1 <= int(item) <= 31:
            raise ScheduleError(
                f'invalid monthly "{text}": day "{item}" must be a number from 1 to 31'
            )
        days.add(int(item))
    minute = _time_of_day(time_text.strip(), "monthly", text)
    return Timing("monthly", text, (minute,), days=frozenset(days))


def parse_once(text: str, tz: _dt.tzinfo | None = None) -> Timing:
    """``once = "2027-01-01T09:00"``: a local time without an offset (the schedule's timezone
    applies). With ``tz`` known, a time that does not exist there is an error, since the skip
    rule would make the schedule never run."""
    if not _ONCE_RE.fullmatch(text):
        raise ScheduleError(
            f'invalid once "{text}"; expected a local date and time such as "2027-01-01T09:00"'
        )
    try:
        when = _dt.datetime.fromisoformat(text.replace(" ", "T"))
    except ValueError:
        raise ScheduleError(f'invalid once "{text}": no such date or time') from None
    if tz is not None and resolve_local(when, tz) is None:
        raise ScheduleError(
            f'invalid once "{text}": this local time does not exist in {tz} '
            "(daylight-saving change)"
        )
    return Timing("once", text, once=when)


def parse_timing(kind: str, text: str, tz: _dt.tzinfo | None = None) -> Timing:
    """Dispatch on the manifest key (``cron``, ``every``, ``daily``, ``weekly``, ``monthly``,
    ``once``)."""
    if kind == "cron":
        return parse_cron(text)
    if kind == "every":
        return parse_every(text)
    if kind == "daily":
        return parse_daily(text)
    if kind == "weekly":
        return parse_weekly(text)
    if kind == "monthly":
        return parse_monthly(text)
    if kind == "once":
        return parse_once(text, tz)
    raise ValueError(f"unknown schedule kind {kind!r}")


@dataclass(frozen=True, slots=True)
class Schedule:
    """A ``[[schedule]]``: a parameterless ``schedule`` function and when it runs.

    ``timezone`` is ``None`` when the manifest leaves it to the org's time zone, which only the
    deploy step (or the worker) knows; pass it to ``next_times`` as ``default_timezone``.
    """

    name: str
    function: str
    timing: Timing
    timezone: str | None = None
    catch_up: bool = False

    def next_times(
        self, after: _dt.datetime, n: int, *, default_timezone: str | None = None
    ) -> list[_dt.datetime]:
        """The next ``n`` due times after ``after`` in the schedule's IANA zone (§6 DST rules)."""
        name = self.timezone or default_timezone
        if name is None:
            raise ValueError(
                f'schedule "{self.name}" has no timezone; pass the org time zone as '
                "default_timezone"
            )
        return self.timing.next_times(after, n, zone(name))
