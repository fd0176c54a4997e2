"""Schedules: cron and shorthand parsing, next due times, daylight-saving rules (Europe/Berlin)."""

from __future__ import annotations

import datetime as _dt
from zoneinfo import ZoneInfo

import pytest

from floodway.project import (
    ProjectError,
    ScheduleError,
    parse_cron,
    parse_schedule,
    parse_timing,
    resolve_local,
)

BERLIN = ZoneInfo("Europe/Berlin")
UTC = _dt.UTC


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> _dt.datetime:
    return _dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


def iso(times: list[_dt.datetime]) -> list[str]:
    return [t.isoformat() for t in times]


def berlin(expr: str, after: _dt.datetime, n: int, kind: str = "cron") -> list[str]:
    return iso(parse_timing(kind, expr).next_times(after, n, BERLIN))


# --------------------------------------------------------------------------------------------
# Daylight saving in Europe/Berlin: 2026-03-29 02:00 -> 03:00, 2026-10-25 03:00 -> 02:00.


def test_nonexistent_local_time_is_skipped() -> None:
    assert berlin("30 2 * * *", utc(2026, 3, 27, 12), 3) == [
        "2026-03-28T02:30:00+01:00",
        "2026-03-30T02:30:00+02:00",
        "2026-03-31T02:30:00+02:00",
    ]


def test_ambiguous_local_time_runs_once_at_its_first_occurrence() -> None:
    assert berlin("30 2 * * *", utc(2026, 10, 23, 12), 3) == [
        "2026-10-24T02:30:00+02:00",
        "2026-10-25T02:30:00+02:00",
        "2026-10-26T02:30:00+01:00",
    ]


def test_after_between_the_two_occurrences_does_not_run_the_second() -> None:
    # 01:45Z is 02:45 CET, the second pass through 02:xx: 02:30 already ran (at 00:30Z).
    assert berlin("30 2 * * *", utc(2026, 10, 25, 1, 45), 1) == ["2026-10-26T02:30:00+01:00"]
    # ... and an "after" given in the zone itself (fold=1) is compared as an instant too.
    second = _dt.datetime(2026, 10, 25, 2, 15, fold=1, tzinfo=BERLIN)
    assert berlin("30 2 * * *", second, 1) == ["2026-10-26T02:30:00+01:00"]
    first = _dt.datetime(2026, 10, 25, 2, 15, tzinfo=BERLIN)
    assert berlin("30 2 * * *", first, 1) == ["2026-10-25T02:30:00+02:00"]


def test_every_half_hour_across_fall_back() -> None:
    assert berlin("*/30 * * * *", utc(2026, 10, 24, 23, 50), 4) == [
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T03:00:00+01:00",
        "2026-10-25T03:30:00+01:00",
    ]


def test_every_half_hour_across_spring_forward() -> None:
    assert berlin("*/30 * * * *", utc(2026, 3, 29, 0, 20), 3) == [
        "2026-03-29T01:30:00+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-29T03:30:00+02:00",
    ]


def test_every_shorthand_follows_the_same_rules() -> None:
    assert berlin("1h", utc(2026, 3, 28, 23, 30), 3, "every") == [
        "2026-03-29T01:00:00+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-29T04:00:00+02:00",
    ]
    assert berlin("1h", utc(2026, 10, 24, 23, 30), 3, "every") == [
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T03:00:00+01:00",
        "2026-10-25T04:00:00+01:00",
    ]


def test_resolve_local() -> None:
    assert resolve_local(_dt.datetime(2026, 3, 29, 2, 30), BERLIN) is None
    first = resolve_local(_dt.datetime(2026, 10, 25, 2, 30), BERLIN)
    assert first is not None and first.utcoffset() == _dt.timedelta(hours=2)


# --------------------------------------------------------------------------------------------
# Cron syntax


def times_utc(expr: str, after: _dt.datetime, n: int, kind: str = "cron") -> list[str]:
    return iso(parse_timing(kind, expr).next_times(after, n, UTC))


def test_lists_ranges_steps_and_names() -> None:
    assert times_utc("0 9 * jan,JUL Mon-fri", utc(2026, 6, 30), 3) == [
        "2026-07-01T09:00:00+00:00",  # a Wednesday
        "2026-07-02T09:00:00+00:00",
        "2026-07-03T09:00:00+00:00",
    ]
    assert times_utc("5-20/5 1 * * *", utc(2026, 1, 1), 5) == [
        "2026-01-01T01:05:00+00:00",
        "2026-01-01T01:10:00+00:00",
        "2026-01-01T01:15:00+00:00",
        "2026-01-01T01:20:00+00:00",
        "2026-01-02T01:05:00+00:00",
    ]
    assert times_utc("50/5 0 1 1 *", utc(2026, 1, 1), 3) == [
        "2026-01-01T00:50:00+00:00",
        "2026-01-01T00:55:00+00:00",
        "2027-01-01T00:50:00+00:00",
    ]


def test_sunday_is_0_and_7() -> None:
    a = parse_cron("0 0 * * 0")
    b = parse_cron("0 0 * * 7")
    c = parse_cron("0 0 * * SUN")
    assert a.weekdays == b.weekdays == c.weekdays == frozenset({0})
    assert times_utc("0 0 * * 7", utc(2026, 5, 1), 1) == ["2026-05-03T00:00:00+00:00"]
    assert parse_cron("0 0 * * fri-sun").weekdays == frozenset({5, 6, 0})
    assert parse_cron("0 0 * * 5-7").weekdays == frozenset({5, 6, 0})


def test_day_of_month_or_day_of_week_when_both_are_restricted() -> None:
    # Vixie cron: the 13th or any Friday.
    assert times_utc("0 0 13 * fri", utc(2026, 2, 1), 4) == [
        "2026-02-06T00:00:00+00:00",
        "2026-02-13T00:00:00+00:00",  # a Friday the 13th, once
        "2026-02-20T00:00:00+00:00",
        "2026-02-27T00:00:00+00:00",
    ]
    # With a "*"-started day-of-week field only the day of month counts.
    assert times_utc("0 0 13 * */1", utc(2026, 2, 1), 2) == [
        "2026-02-13T00:00:00+00:00",
        "2026-03-13T00:00:00+00:00",
    ]


def test_rare_dates_are_found() -> None:
    assert times_utc("0 12 29 2 *", utc(2026, 1, 1), 2) == [
        "2028-02-29T12:00:00+00:00",
        "2032-02-29T12:00:00+00:00",
    ]


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        (
            "0 2 * *",
            'invalid cron expression "0 2 * *": expected 5 fields (minute hour day-of-month '
            "month day-of-week), got 4",
        ),
        (
            "60 * * * *",
            'invalid cron expression "60 * * * *": minute field: 60 is out of range 0-59',
        ),
        (
            "0 0 0 * *",
            'invalid cron expression "0 0 0 * *": day-of-month field: 0 is out of range 1-31',
        ),
        (
            "0 0 * 13 *",
            'invalid cron expression "0 0 * 13 *": month field: 13 is out of range 1-12',
        ),
        (
            "0 0 * * 8",
            'invalid cron expression "0 0 * * 8": day-of-week field: 8 is out of range 0-7',
        ),
        (
            "0 0 * * MOX",
            'invalid cron expression "0 0 * * MOX": day-of-week field: invalid value "MOX"',
        ),
        (
            "0 0 * JAN-FOO *",
            'invalid cron expression "0 0 * JAN-FOO *": month field: invalid value "FOO"',
        ),
        ("*/0 * * * *", 'invalid cron expression "*/0 * * * *": minute field: invalid step "0"'),
        (
            "5-3 * * * *",
            'invalid cron expression "5-3 * * * *": minute field: range "5-3" goes backwards',
        ),
        ("1,,2 * * * *", 'invalid cron expression "1,,2 * * * *": minute field: empty list item'),
        ("0 JAN * * *", 'invalid cron expression "0 JAN * * *": hour field: invalid value "JAN"'),
        (
            "0 0 30 2 *",
            'invalid cron expression "0 0 30 2 *": it never runs (no chosen month has the chosen '
            "days)",
        ),
    ],
)
def test_cron_errors(expr: str, message: str) -> None:
    with pytest.raises(ScheduleError) as info:
        parse_cron(expr)
    assert str(info.value) == message


# --------------------------------------------------------------------------------------------
# Shorthands


def test_daily_weekly_monthly() -> None:
    assert times_utc("02:00", utc(2026, 1, 1, 3), 2, "daily") == [
        "2026-01-02T02:00:00+00:00",
        "2026-01-03T02:00:00+00:00",
    ]
    assert times_utc("mon,Thursday 02:00", utc(2026, 1, 1, 3), 3, "weekly") == [
        "2026-01-05T02:00:00+00:00",
        "2026-01-08T02:00:00+00:00",
        "2026-01-12T02:00:00+00:00",
    ]
    # A month without the day is skipped, as in cron.
    assert times_utc("31 02:00", utc(2026, 1, 31, 3), 2, "monthly") == [
        "2026-03-31T02:00:00+00:00",
        "2026-05-31T02:00:00+00:00",
    ]
    assert times_utc("90m", utc(2026, 1, 1, 22, 59), 3, "every") == [
        "2026-01-02T00:00:00+00:00",
        "2026-01-02T01:30:00+00:00",
        "2026-01-02T03:00:00+00:00",
    ]


def test_once() -> None:
    t = parse_timing("once", "2027-01-01T09:00")
    assert iso(t.next_times(utc(2026, 1, 1), 3, BERLIN)) == ["2027-01-01T09:00:00+01:00"]
    assert t.next_times(utc(2027, 1, 1, 8), 3, BERLIN) == []
    # An ambiguous local time runs at its first occurrence.
    amb = parse_timing("once", "2026-10-25 02:30")
    assert iso(amb.next_times(utc(2026, 1, 1), 1, BERLIN)) == ["2026-10-25T02:30:00+02:00"]


@pytest.mark.parametrize(
    ("kind", "text", "message"),
    [
        (
            "every",
            "1d",
            'invalid every "1d"; expected minutes or hours such as "15m" or "1h" '
            '(daily = "HH:MM" runs once a day)',
        ),
        (
            "every",
            "0m",
            'invalid every "0m": the interval must divide a day evenly (e.g. "5m", "15m", "1h", "6h")',
        ),
        (
            "daily",
            "2:00",
            'invalid daily "2:00": invalid time "2:00"; expected HH:MM from 00:00 to 23:59',
        ),
        (
            "weekly",
            "mo 02:00",
            'invalid weekly "mo 02:00": unknown day "mo"; expected mon, tue, wed, thu, fri, sat or sun',
        ),
        (
            "monthly",
            "1",
            'invalid monthly "1"; expected days of the month and a time, e.g. "1 02:00" or '
            '"1,15 02:00"',
        ),
        (
            "once",
            "2027-01-01T09:00+01:00",
            'invalid once "2027-01-01T09:00+01:00"; expected a local date and time such as '
            '"2027-01-01T09:00"',
        ),
    ],
)
def test_shorthand_errors(kind: str, text: str, message: str) -> None:
    with pytest.raises(ScheduleError) as info:
        parse_timing(kind, text)
    assert str(info.value) == message


# --------------------------------------------------------------------------------------------
# Schedule tables


def test_parse_schedule_and_its_time_zone() -> None:
    s = parse_schedule(
        {"name": "Nightly", "function": "classify", "cron": "0 2 * * *", "catch_up": True}
    )
    assert (s.name, s.function, s.timezone, s.catch_up) == ("Nightly", "classify", None, True)
    with pytest.raises(ValueError, match="has no timezone"):
        s.next_times(utc(2026, 1, 1), 1)
    assert iso(s.next_times(utc(2026, 1, 1), 1, default_timezone="Europe/Berlin")) == [
        "2026-01-01T02:00:00+01:00"
    ]
    t = parse_schedule({"name": "N", "function": "f", "daily": "02:00", "timezone": "Asia/Kolkata"})
    assert iso(t.next_times(utc(2026, 1, 1), 1, default_timezone="UTC")) == [
        "2026-01-02T02:00:00+05:30"
    ]
    with pytest.raises(ValueError, match="timezone-aware"):
        t.next_times(_dt.datetime(2026, 1, 1), 1)
    assert t.next_times(utc(2026, 1, 1), 0) == []


def test_parse_schedule_errors() -> None:
    with pytest.raises(ProjectError) as info:
        parse_schedule(
            {"name": "N", "function": "f", "once": "2027-03-28T02:30", "x": 1},
            default_timezone="Europe/Berlin",
        )
    assert [str(p) for p in info.value.items] == [
        'floodway.toml: [[schedule]] #1 "N", key "x": unknown key "x"',
        'floodway.toml: [[schedule]] #1 "N", key "once": invalid once "2027-03-28T02:30": this '
        "local time does not exist in Europe/Berlin (daylight-saving change)",
    ]


def test_dst_notes_name_skipped_and_doubled_local_times() -> None:
    daily = parse_timing("cron", "30 2 * * *", BERLIN)
    spring = _dt.datetime(2027, 3, 26, tzinfo=UTC)
    due = daily.next_times(spring, 5, BERLIN)
    assert daily.dst_notes(spring, due[-1], BERLIN) == ["skipped: 02:30 does not exist on 28 Mar"]
    autumn = _dt.datetime(2026, 10, 23, tzinfo=UTC)
    due = daily.next_times(autumn, 5, BERLIN)
    assert daily.dst_notes(autumn, due[-1], BERLIN) == ["runs once: 02:30 occurs twice on 25 Oct"]
    quiet = _dt.datetime(2026, 6, 1, tzinfo=UTC)
    assert daily.dst_notes(quiet, daily.next_times(quiet, 5, BERLIN)[-1], BERLIN) == []
    every_minute = parse_timing("cron", "* 2 * * *", BERLIN)
    after = _dt.datetime(2027, 3, 28, tzinfo=UTC)
    due = every_minute.next_times(after, 5, BERLIN)
    assert every_minute.dst_notes(after, due[-1], BERLIN) == [
        "skipped: 02:00–02:59 (60 times) do not exist on 28 Mar"
    ]
    once = parse_timing("once", "2026-10-25 02:15", BERLIN)  # a time that does not exist is
    assert once.dst_notes(autumn, autumn, BERLIN) == [  # refused when saved (test above)
        "runs once: 02:15 occurs twice on 25 Oct"
    ]
    assert daily.dst_notes(spring, due[-1], ZoneInfo("UTC")) == []
    later_that_day = _dt.datetime(2027, 3, 28, 3, 0, tzinfo=UTC)  # 05:00 in Berlin
    assert daily.dst_notes(later_that_day, later_that_day, BERLIN) == []  # already past
