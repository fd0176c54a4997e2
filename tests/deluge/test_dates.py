"""DATE-TIME parsing, formatting and built-ins (deluge-language.md §2.5, §8.5, §8.6)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from floodway.deluge.builtins import dates as bd
from floodway.deluge.datetimes import (
    add_days,
    format_datetime,
    from_epoch_millis,
    is_lenient_null_text,
    looks_like_date_literal,
    millis_between,
    parse_date_literal,
    parse_date_text,
    parse_with_pattern,
    to_epoch_millis,
    week_of_year,
    zone_from_name,
)
from floodway.deluge.errors import DelugeRuntimeError
from floodway.deluge.values import Collection, DateTime, DelugeList, text_form

from .conftest import FakeContext, call_method

UTC = ZoneInfo("UTC")
NOW = dt.datetime(2026, 2, 5, 14, 3, 9, tzinfo=UTC)


def lit(text: str, month_first: bool = True, tz: ZoneInfo = UTC) -> DateTime | None:
    return parse_date_literal(text, tz, month_first, 2026)


def d(text: str) -> DateTime:
    value = lit(text)
    assert value is not None
    return value


def t(v: Any) -> str:
    assert type(v) is DateTime
    return text_form(v)


# --- literals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("04-Jul-2006", "04-Jul-2006"),
        ("4-Jul-2006 13:05:00", "04-Jul-2006 13:05:00"),
        ("04-Jul-2006 13:05", "04-Jul-2006 13:05:00"),
        ("2006-07-04", "04-Jul-2006"),
        ("Jul 04,2006", "04-Jul-2006"),
        ("Aug 15,1947", "15-Aug-1947"),
        ("15 August 1947", "15-Aug-1947"),
        ("15-Aug-1947", "15-Aug-1947"),
        ("1-Jan-2019", "01-Jan-2019"),
        ("7-Feb-2021", "07-Feb-2021"),
        ("15 aug,1947", "15-Aug-1947"),
        ("August 15 1947", "15-Aug-1947"),
        ("Fri,Aug 15,1947", "15-Aug-1947"),
        ("2006/07/04", "04-Jul-2006"),
        ("2006.07.04", "04-Jul-2006"),
        ("04 07 2006", "07-Apr-2006"),
        ("04-Jul-06", "04-Jul-2006"),
        ("04-Jul-46", "04-Jul-1946"),
        ("04-Jul-45", "04-Jul-2045"),
    ],
)
def test_date_literals(text: str, expected: str) -> None:
    assert looks_like_date_literal(text)
    assert t(lit(text)) == expected


def test_date_literal_only_date_is_date_only() -> None:
    assert d("04-Jul-2006").date_only
    assert not d("04-Jul-2006 00:00").date_only


@pytest.mark.parametrize(
    "text",
    [
        "hello",
        "",
        "Jul",
        "04-Foo-2006",
        "1234",
        "2006-07",
        "04-Jul-2006x",
        "a 1 2020",
        "04-Jul-2006 ",
    ],
)
def test_not_date_literals(text: str) -> None:
    assert not looks_like_date_literal(text)
    assert lit(text) is None


def test_ambiguous_numeric_literal_follows_org_order() -> None:
    assert t(lit("01-02-2020")) == "02-Jan-2020"
    assert t(lit("01-02-2020", month_first=False)) == "01-Feb-2020"
    # Only one reading is a real date: that one wins whatever the order.
    assert t(lit("13-02-2020")) == "13-Feb-2020"
    assert t(lit("02/13/2020", month_first=False)) == "13-Feb-2020"


def test_invalid_date_literal_is_runtime_error() -> None:
    assert looks_like_date_literal("31-Feb-2026")
    with pytest.raises(DelugeRuntimeError, match=r"^Invalid date '31-Feb-2026'$"):
        lit("31-Feb-2026")
    with pytest.raises(DelugeRuntimeError, match="Invalid date"):
        lit("13-13-2020")
    with pytest.raises(DelugeRuntimeError, match="Invalid date"):
        lit("29-Feb-2023")
    assert t(lit("29-Feb-2024")) == "29-Feb-2024"


def test_time_reset_rules() -> None:
    assert t(lit("04-Jul-2006 24:10:10")) == "04-Jul-2006 00:00:00"
    assert t(lit("04-Jul-2006 13:60:10")) == "04-Jul-2006 13:00:00"
    assert t(lit("04-Jul-2006 13:05:61")) == "04-Jul-2006 13:05:00"


def test_literal_in_org_zone() -> None:
    tz = ZoneInfo("Asia/Kolkata")
    v = lit("05-Feb-2026 10:00:00", tz=tz)
    assert v is not None and v.dt.utcoffset() == dt.timedelta(hours=5, minutes=30)
    assert to_epoch_millis(v) == to_epoch_millis(d("05-Feb-2026 04:30:00"))


# --- text conversion (§8.6) ---------------------------------------------------------------------


def test_parse_date_text_formats() -> None:
    assert t(parse_date_text("2026-02-05", UTC, True, NOW)) == "05-Feb-2026"
    assert t(parse_date_text(" 5-Feb-2026 10:11 ", UTC, True, NOW)) == "05-Feb-2026 10:11:00"
    assert t(parse_date_text("2026-02-05 10:11:12", UTC, True, NOW)) == "05-Feb-2026 10:11:12"
    assert t(parse_date_text("2026-02-05T10:11:12", UTC, True, NOW)) == "05-Feb-2026 10:11:12"
    assert t(parse_date_text("02/05/2026", UTC, True, NOW)) == "05-Feb-2026"
    assert t(parse_date_text("02/05/2026", UTC, False, NOW)) == "02-May-2026"


def test_parse_iso_with_offsets_converts_to_org_zone() -> None:
    assert t(parse_date_text("2026-02-05T10:00:00+05:30", UTC, True, NOW)) == "05-Feb-2026 04:30:00"
    assert t(parse_date_text("2026-02-05T10:00:00-0500", UTC, True, NOW)) == "05-Feb-2026 15:00:00"
    v = parse_date_text("2026-02-05T10:00:00.123Z", UTC, True, NOW)
    assert t(v) == "05-Feb-2026 10:00:00"
    assert to_epoch_millis(v) % 1000 == 123
    berlin = ZoneInfo("Europe/Berlin")
    assert t(parse_date_text("2026-02-05T10:00:00Z", berlin, True, NOW)) == "05-Feb-2026 11:00:00"


@pytest.mark.parametrize(
    "text", ["hello", "", "2026-13-01", "31-Feb-2026", "2026-02-05T10:00:00+25:00"]
)
def test_parse_date_text_invalid(text: str) -> None:
    with pytest.raises(DelugeRuntimeError, match=r"^Invalid date"):
        parse_date_text(text, UTC, True, NOW)


def test_lenient_null_shapes() -> None:
    assert is_lenient_null_text("12-Ja-2020")
    assert is_lenient_null_text("123-Jan-2020")
    assert is_lenient_null_text("12-Jan-20201")
    assert is_lenient_null_text("12-Jan-2020 123:00:00")
    assert not is_lenient_null_text("12-Jan-2020")
    assert not is_lenient_null_text("2020-01-12")


# --- formatting -----------------------------------------------------------------------------------


def test_format_patterns() -> None:
    v = d("05-Feb-2026 14:03:09")
    assert format_datetime(v, "yyyy-MM-dd'T'HH:mm:ss", UTC) == "2026-02-05T14:03:09"
    assert format_datetime(v, "yyyy-MM-dd'T'HH:mm:ss+05:30", UTC) == "2026-02-05T14:03:09+05:30"
    assert format_datetime(v, "dd/MM/yy", UTC) == "05/02/26"
    assert format_datetime(v, "EEEE, MMMM d, y", UTC) == "Thursday, February 5, 2026"
    assert format_datetime(v, "EEE MMM", UTC) == "Thu Feb"
    assert format_datetime(v, "h:mm a", UTC) == "2:03 PM"
    assert format_datetime(v, "hh KK kk HH", UTC) == "02 02 14 14"
    assert format_datetime(v, "D w W F u", UTC) == "36 6 1 1 4"
    assert format_datetime(v, "SSS G", UTC) == "000 AD"
    assert format_datetime(v, "Z X XX XXX z", UTC) == "+0000 Z Z Z UTC"
    berlin = ZoneInfo("Europe/Berlin")
    assert format_datetime(v, "HH:mm Z XXX X z", berlin) == "15:03 +0100 +01:00 +01 CET"
    kolkata = ZoneInfo("Asia/Kolkata")
    assert format_datetime(v, "HH:mm XXX z", kolkata) == "19:33 +05:30 IST"


def test_format_quotes_and_unknown_letters() -> None:
    v = d("1-Jan-1990 20:50:36")
    assert format_datetime(v, "yyyy-MM-dd'__Hello__'HH:mm:ss", UTC) == "1990-01-01__Hello__20:50:36"
    assert format_datetime(v, "'It''s' hh 'o''clock' ''", UTC) == "It's 08 o'clock '"
    assert format_datetime(v, "yyyy-MM-dd q", UTC) is None
    assert format_datetime(v, "T", UTC) is None
    assert format_datetime(v, "'unterminated", UTC) is None
    assert format_datetime(v, "yyyy年MM月", UTC) == "1990年01月"


def test_week_year_differs_around_new_year() -> None:
    v = d("29-Dec-2019")
    assert format_datetime(v, "yyyy", UTC) == "2019"
    assert format_datetime(v, "YYYY w", UTC) == "2020 1"
    assert week_of_year(dt.date(2021, 2, 7)) == (7, 2021)
    assert week_of_year(dt.date(2021, 2, 7), 0) == (6, 2021)


# --- pattern parsing ------------------------------------------------------------------------


def test_parse_with_pattern() -> None:
    assert t(parse_with_pattern("05/02/2026", "dd/MM/yyyy", UTC, NOW, True)) == "05-Feb-2026"
    assert t(parse_with_pattern("20260205", "yyyyMMdd", UTC, NOW, True)) == "05-Feb-2026"
    v = parse_with_pattern("Feb 5, 2026 10:30 PM", "MMM d, yyyy hh:mm a", UTC, NOW)
    assert t(v) == "05-Feb-2026 22:30:00"
    v = parse_with_pattern("Thursday 5 february 26", "EEEE d MMMM yy", UTC, NOW)
    assert t(v) == "05-Feb-2026 00:00:00"
    v = parse_with_pattern("2026-02-05T10:00:00+05:30", "yyyy-MM-dd'T'HH:mm:ssXXX", UTC, NOW)
    assert t(v) == "05-Feb-2026 04:30:00"
    v = parse_with_pattern("12 AM", "hh a", UTC, NOW)
    assert t(v) == "01-Jan-1970 00:00:00"
    # Text after the pattern is ignored, as in Java.
    assert (
        t(parse_with_pattern("2026-02-05T10:00:00Z", "yyyy-MM-dd", UTC, NOW, True)) == "05-Feb-2026"
    )
    # The text zone is converted to the org zone.
    berlin = ZoneInfo("Europe/Berlin")
    v = parse_with_pattern("05-02-2026 10:00", "dd-MM-yyyy HH:mm", UTC, NOW, text_tz=berlin)
    assert t(v) == "05-Feb-2026 09:00:00"


def test_parse_with_pattern_errors() -> None:
    with pytest.raises(DelugeRuntimeError, match=r"^Invalid date pattern$"):
        parse_with_pattern("2026", "qqqq", UTC, NOW)
    with pytest.raises(DelugeRuntimeError, match=r"^Invalid date '31-02-2026'$"):
        parse_with_pattern("31-02-2026", "dd-MM-yyyy", UTC, NOW)
    with pytest.raises(DelugeRuntimeError, match=r"^Invalid date"):
        parse_with_pattern("2026/02/05", "yyyy-MM-dd", UTC, NOW)
    with pytest.raises(DelugeRuntimeError, match=r"^Invalid date"):
        parse_with_pattern("2026-02", "yyyy-MM-dd", UTC, NOW)


# --- epoch, zones, helpers ---------------------------------------------------------------------


def test_epoch_and_helpers() -> None:
    assert to_epoch_millis(d("01-Jan-1970")) == 0
    assert t(from_epoch_millis(86_400_000 + 1000, UTC)) == "02-Jan-1970 00:00:01"
    assert t(from_epoch_millis(-1000, UTC)) == "31-Dec-1969 23:59:59"
    with pytest.raises(DelugeRuntimeError, match="Number out of range"):
        from_epoch_millis(2**62, UTC)
    assert millis_between(d("01-Jan-2020"), d("02-Jan-2020")) == 86_400_000
    moved = add_days(d("31-Dec-2019"), 1)
    assert t(moved) == "01-Jan-2020" and moved.date_only
    assert t(add_days(d("01-Jan-2020 10:00"), -1)) == "31-Dec-2019 10:00:00"
    with pytest.raises(DelugeRuntimeError):
        add_days(d("01-Jan-2020"), 10**9)


def test_zone_from_name() -> None:
    assert zone_from_name("Europe/Berlin") == ZoneInfo("Europe/Berlin")
    assert zone_from_name("No/Such_Zone") is dt.UTC
    assert zone_from_name("../../etc/passwd") is dt.UTC
    assert zone_from_name("GMT+05:30").utcoffset(None) == dt.timedelta(hours=5, minutes=30)


def test_current_time_and_date(ctx: FakeContext) -> None:
    assert t(bd.current_time(ctx)) == "05-Feb-2026 14:03:09"
    today = bd.current_date(ctx)
    assert t(today) == "05-Feb-2026" and today.date_only
    kolkata = FakeContext(tz="Asia/Kolkata")
    assert t(bd.current_time(kolkata)) == "05-Feb-2026 19:33:09"


# --- methods (§8.5) -----------------------------------------------------------------------------


def test_add_and_sub_day(call: Any) -> None:
    assert t(call(d("01-Jan-2019 15:00:00"), "addDay", 40)) == "10-Feb-2019 15:00:00"
    assert t(call(d("01-Jan-2019"), "addDay", 11)) == "12-Jan-2019 00:00:00"
    assert t(call(d("01-Jan-2019"), "subDay", 1)) == "31-Dec-2018 00:00:00"
    assert t(call(d("01-Jan-2019"), "addDay", -1)) == "31-Dec-2018 00:00:00"
    assert t(call("2026-02-05", "addDay", 1)) == "06-Feb-2026 00:00:00"
    assert t(call("01-Jan-2019", "ADDDAY", 1.9)) == "02-Jan-2019 00:00:00"


def test_add_week_month_year(call: Any) -> None:
    assert t(call(d("01-Jan-2019"), "addWeek", 10)) == "12-Mar-2019 00:00:00"
    assert t(call(d("01-Jan-2019 15:00:00"), "addWeek", 55)) == "21-Jan-2020 15:00:00"
    assert t(call(d("01-Mar-2019"), "subWeek", 1)) == "22-Feb-2019 00:00:00"
    assert t(call(d("01-Jan-2019"), "addMonth", 11)) == "01-Dec-2019 00:00:00"
    assert t(call(d("01-Jan-2019 15:00:00"), "addMonth", 13)) == "01-Feb-2020 15:00:00"
    assert t(call(d("31-Jan-2020"), "addMonth", 1)) == "29-Feb-2020 00:00:00"
    assert t(call(d("31-Jan-2019"), "addMonth", 1)) == "28-Feb-2019 00:00:00"
    assert t(call(d("31-Mar-2019"), "subMonth", 13)) == "28-Feb-2018 00:00:00"
    assert t(call(d("01-Jan-2019"), "addYear", 100)) == "01-Jan-2119 00:00:00"
    assert t(call(d("29-Feb-2020"), "addYear", 1)) == "28-Feb-2021 00:00:00"
    assert t(call(d("29-Feb-2020"), "subYear", 4)) == "29-Feb-2016 00:00:00"


def test_add_time(call: Any) -> None:
    v = d("31-Dec-2019 23:30:00")
    assert t(call(v, "addHour", 1)) == "01-Jan-2020 00:30:00"
    assert t(call(v, "subHour", 24)) == "30-Dec-2019 23:30:00"
    assert t(call(v, "addMinutes", 45)) == "01-Jan-2020 00:15:00"
    assert t(call(v, "subMinutes", 30)) == "31-Dec-2019 23:00:00"
    assert t(call(v, "addSeconds", 61)) == "31-Dec-2019 23:31:01"
    assert t(call(v, "subSeconds", 1)) == "31-Dec-2019 23:29:59"


def test_time_arithmetic_across_dst() -> None:
    ctx = FakeContext(tz="Europe/Berlin")
    v = parse_date_literal("28-Mar-2026 12:00:00", ctx.tz, True, 2026)
    # A day keeps the wall-clock time; 24 hours move the instant.
    assert t(call_method(ctx, v, "addDay", 1)) == "29-Mar-2026 12:00:00"
    assert t(call_method(ctx, v, "addHour", 24)) == "29-Mar-2026 13:00:00"


def test_date_range_errors(call: Any) -> None:
    with pytest.raises(DelugeRuntimeError, match="Date out of range"):
        call(d("01-Jan-2019"), "addYear", 10_000)
    with pytest.raises(DelugeRuntimeError, match="Date out of range"):
        call(d("01-Jan-2019"), "addDay", 2**62)
    with pytest.raises(DelugeRuntimeError, match="expects a NUMBER but got TEXT"):
        call(d("01-Jan-2019"), "addDay", "1")
    with pytest.raises(DelugeRuntimeError, match="Expected a DATE-TIME but got NUMBER"):
        call(d("01-Jan-2019"), "daysBetween", 5)
    with pytest.raises(DelugeRuntimeError, match="Invalid date 'soon'"):
        call("soon", "addDay", 1)


def test_business_days(call: Any) -> None:
    assert t(call(d("15-Mar-2019 10:00:00"), "addBusinessDay", 1)) == "18-Mar-2019 10:00:00"
    assert t(call(d("15-Mar-2019"), "addBusinessDay", 6)) == "25-Mar-2019 00:00:00"
    assert t(call(d("18-Mar-2019"), "subBusinessDay", 1)) == "15-Mar-2019 00:00:00"
    assert t(call(d("18-Mar-2019"), "addBusinessDay", -1)) == "15-Mar-2019 00:00:00"
    sunday = DelugeList(["Sunday"])
    assert t(call(d("15-Mar-2019"), "addBusinessDay", 1, sunday)) == "16-Mar-2019 00:00:00"
    holidays = DelugeList([d("18-Mar-2019"), "19-Mar-2019"])
    assert t(call(d("15-Mar-2019"), "addBusinessDay", 1, None, holidays)) == "20-Mar-2019 00:00:00"
    # Many weeks at once: 500 business days = 100 weeks.
    assert t(call(d("04-Jan-2021"), "addBusinessDay", 500)) == t(
        call(d("04-Jan-2021"), "addDay", 700)
    )
    with pytest.raises(DelugeRuntimeError, match="Invalid day name 'Funday'"):
        call(d("15-Mar-2019"), "addBusinessDay", 1, DelugeList(["Funday"]))
    all_days = DelugeList(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Sat", "Sun"])
    with pytest.raises(DelugeRuntimeError, match="at least one business day"):
        call(d("15-Mar-2019"), "addBusinessDay", 1, all_days)


def test_workday(call: Any) -> None:
    r = call(d("15-Mar-2019"), "workday", 1)
    assert t(r) == "18-Mar-2019" and r.date_only
    r = call(d("23-May-2020"), "workday", 5, DelugeList(["Sunday"]), DelugeList([d("25-May-2020")]))
    assert t(r) == "30-May-2020"
    assert t(call(d("15-Mar-2019 10:00:00"), "workday", -3)) == "15-Mar-2019"
    assert t(call("15-Mar-2019", "workday", 0, Collection(), Collection())) == "15-Mar-2019"


def test_add_business_hour(call: Any) -> None:
    assert t(call(d("15-Mar-2019 10:00:00"), "addBusinessHour", 2)) == "15-Mar-2019 12:00:00"
    # Friday 16:00 + 2 h: one hour on Friday, one on Monday.
    assert t(call(d("15-Mar-2019 16:00:00"), "addBusinessHour", 2)) == "18-Mar-2019 10:00:00"
    assert t(call(d("16-Mar-2019 12:00:00"), "addBusinessHour", 1.5)) == "18-Mar-2019 10:30:00"
    assert t(call(d("18-Mar-2019 10:00:00"), "addBusinessHour", -2)) == "15-Mar-2019 16:00:00"
    assert t(call(d("18-Mar-2019 08:00:00"), "addBusinessHour", -1)) == "15-Mar-2019 16:00:00"
    with pytest.raises(DelugeRuntimeError, match="business_hours is not supported"):
        call(d("18-Mar-2019"), "addBusinessHour", 1, None, None, "09:00-18:00")


def test_reading_parts(call: Any) -> None:
    v = d("05-Feb-2026 14:03:09")
    assert [call(v, n) for n in ("getDay", "getMonth", "getYear")] == [5, 2, 2026]
    assert [call(v, n) for n in ("day", "month", "year")] == [5, 2, 2026]
    assert [call(v, n) for n in ("getHour", "getMinutes", "getSeconds")] == [14, 3, 9]
    assert [call(v, n) for n in ("hour", "minute", "second")] == [14, 3, 9]
    assert call("2026-02-05", "getDay") == 5
    assert call(d("31-Dec-2020"), "getDayOfYear") == 366
    assert call(d("31-Dec-2019"), "getDayOfYear") == 365
    assert call(d("7-Feb-2021"), "getWeekOfYear") == 7
    assert call(d("7-Feb-2021"), "getWeekOfYear", "Monday") == 6
    assert call(d("29-Dec-2019"), "getWeekOfYear") == 1
    assert call(d("15-Mar-2019"), "weekday") == 6
    assert call(d("17-Mar-2019"), "getDayOfWeek") == 1
    assert call(d("16-Mar-2019 23:59:00"), "weekday") == 7


def test_reading_functions_null_for_bad_text(call: Any) -> None:
    for name in ("getDayOfYear", "getWeekOfYear", "weekday", "toStartOfWeek", "toStartOfMonth"):
        assert call("15-Ma-2019", name) is None
        assert call("15-Mar-20191", name) is None
        assert call("115-Mar-2019", name) is None
    with pytest.raises(DelugeRuntimeError, match="Invalid date"):
        call("not a date", "weekday")


def test_start_of_month_and_week(call: Any) -> None:
    r = call(d("15-Mar-2019 15:00:00"), "toStartOfMonth")
    assert t(r) == "01-Mar-2019 00:00:00" and not r.date_only
    assert t(call(d("15-Mar-2019 15:00:00"), "toStartOfWeek")) == "10-Mar-2019 00:00:00"
    assert t(call(d("10-Mar-2019"), "toStartOfWeek")) == "10-Mar-2019 00:00:00"


def test_eomonth_edate(call: Any) -> None:
    r = call(d("01-Jan-2019"), "eomonth", 1)
    assert t(r) == "28-Feb-2019" and r.date_only
    assert t(call(d("15-Jan-2019 10:00"), "eomonth", 0)) == "31-Jan-2019"
    assert t(call(d("15-Jan-2019"), "eomonth", -2)) == "30-Nov-2018"
    assert t(call(d("01-Jan-2019"), "edate", 11)) == "01-Dec-2019"
    assert t(call(d("01-Jan-2019 15:00:00"), "edate", 13)) == "01-Feb-2020"
    assert t(call(d("31-Jan-2019"), "edate", 1)) == "28-Feb-2019"
    with pytest.raises(DelugeRuntimeError, match="Date out of range"):
        call(d("01-Jan-2019"), "eomonth", 10**6)


def test_next_and_previous_week_day(call: Any) -> None:
    r = call(d("20-Jul-2021"), "nextWeekDay", "Tuesday")
    assert t(r) == "27-Jul-2021" and r.date_only
    assert t(call(d("20-Jul-2021"), "nextWeekDay", "wednesday")) == "21-Jul-2021"
    assert t(call(d("21-Jul-2021"), "previousWeekDay", "Wednesday")) == "14-Jul-2021"
    assert t(call(d("21-Jul-2021"), "previousWeekDay", "Sunday")) == "18-Jul-2021"
    with pytest.raises(DelugeRuntimeError, match="Invalid day name"):
        call(d("21-Jul-2021"), "nextWeekDay", "Someday")


def test_differences(call: Any, callf: Any) -> None:
    assert callf("daysBetween", d("1-Jan-2019"), d("31-Dec-2019")) == 364
    assert callf("daysBetween", d("1-Jan-2020"), d("31-Dec-2020")) == 365
    assert callf("daysBetween", "31-Dec-2020", d("1-Jan-2020")) == -365
    assert callf("days360", d("31-Dec-1989"), d("01-Jan-1990")) == 1
    assert callf("hoursBetween", d("18-Dec-2019 09:00:00"), d("19-Dec-2019 10:00:00")) == 25
    assert call(d("18-Dec-2019 09:59:00"), "hoursBetween", d("18-Dec-2019 10:01:00")) == 1
    assert call(d("19-Dec-2019 10:00:00"), "hoursBetween", d("18-Dec-2019 09:30:00")) == -25
    assert call(d("01-Feb-2020"), "monthsBetween", d("01-Mar-2020")) == 0
    assert call(d("01-Feb-2020"), "monthsBetween", d("02-Mar-2020")) == 1
    assert call(d("02-Jan-2020"), "yearsBetween", d("01-Jan-2021")) == 1
    assert call(d("01-Feb-2020"), "monthsDiff", d("01-Mar-2020")) == 1
    assert call(d("01-Feb-2020"), "totalMonths", d("29-Feb-2020")) == 0
    assert call(d("01-Mar-2020"), "totalMonth", d("01-Feb-2020")) == -1
    assert call(d("02-Jan-2020"), "yearsDiff", d("01-Jan-2021")) == 0
    assert call(d("02-Jan-2020"), "totalYears", d("02-Jan-2022")) == 2
    assert call(d("02-Jan-2022"), "totalYear", d("02-Jan-2020")) == -2


def test_time_between(call: Any) -> None:
    assert call("6-Jan-2020 10:10:12", "timeBetween", "7-Jan-2020 20:11:15") == "34:01:03"
    assert call(d("06-Jan-2020"), "timeBetween", d("06-Jan-2020")) == "00:00:00"
    assert call(d("06-Jan-2020 01:00"), "timeBetween", d("06-Jan-2020")) == "-01:00:00"


def test_to_long_and_unix_epoch(call: Any) -> None:
    assert call(d("01-Jan-1970 00:00:01"), "toLong") == 1000
    assert call("01-Jan-1970 00:00:01", "unixEpoch") == 1000
    assert call("2026-02-05T00:00:00+01:00", "unixEpoch") == 1770246000000
    assert call("01-Jan-1970 01:00:00", "unixEpoch", "Europe/Berlin") == 0
    assert call("01-Jan-1970 00:00:00", "unixEpoch", "Not/AZone") == 0
    assert call("hello", "unixEpoch") == "hello"
    with pytest.raises(DelugeRuntimeError, match="not a function of DATE-TIME"):
        call(d("01-Jan-1970"), "unixEpoch")


def test_to_string_with_patterns(call: Any, ctx: FakeContext) -> None:
    v = d("05-Feb-2026 14:03:09")
    assert call(v, "toString") == "05-Feb-2026 14:03:09"
    assert call(d("05-Feb-2026"), "toText") == "05-Feb-2026"
    assert call(v, "toString", "yyyy-MM-dd'T'HH:mm:ss") == "2026-02-05T14:03:09"
    assert call(v, "toText", "dd MMM yyyy hh:mm a") == "05 Feb 2026 02:03 PM"
    assert call(v, "toString", "yyyy-MM-dd HH:mm", "Asia/Kolkata") == "2026-02-05 19:33"
    assert call(v, "toString", "HH:mm z", "America/New_York") == "09:03 EST"
    assert call(v, "toString", "yyyy-MM-dd HH:mm", "Bogus/Zone") == "2026-02-05 14:03"
    assert call(v, "toString", "yyyy-MM-dd bb") is None
    assert call(d("29-Dec-2019"), "toText", "yyyy") == "2019"
    assert call(d("1-Jan-1990 20:50:36"), "toTime") == d("1-Jan-1990 20:50:36")
    r = call(call(d("1-Jan-1990 20:50:36"), "toTime"), "toString", "yyyy-MM-dd'__Hello__'HH:mm:ss")
    assert r == "1990-01-01__Hello__20:50:36"
    assert bd.text_to_string_with_pattern(ctx, "2026-02-05", "dd/MM/yyyy") == "05/02/2026"
    with pytest.raises(DelugeRuntimeError, match="Invalid date 'hello'"):
        bd.text_to_string_with_pattern(ctx, "hello", "dd/MM/yyyy")
    assert bd.number_to_string_with_pattern(ctx, 0, "yyyy-MM-dd HH:mm:ss") == "1970-01-01 00:00:00"
    assert bd.number_to_string_with_pattern(ctx, 0, "HH:mm", "Asia/Kolkata") == "05:30"
    assert bd.datetime_text(ctx, v) == "05-Feb-2026 14:03:09"


def test_to_date_time_string(call: Any) -> None:
    assert call(0, "toDateTimeString") == "01-Jan-1970 00:00:00"
    assert call(1770300189000, "toDateTimeString", "yyyy-MM-dd HH:mm:ss") == "2026-02-05 14:03:09"
    assert call(d("05-Feb-2026"), "toDateTimeString") == "05-Feb-2026 00:00:00"
    assert call("05-Feb-2026", "toDateTimeString", "dd.MM.yy") == "05.02.26"


def test_get_date(call: Any) -> None:
    assert call(d("17-Jan-2018 18:10:37"), "getDate") == "17th January 2018"
    assert [call(d(f"{n}-Jan-2018"), "getDate")[:4] for n in (1, 2, 3, 11, 12, 13, 21, 22, 23, 31)] == [
        "1st ", "2nd ", "3rd ", "11th", "12th", "13th", "21st", "22nd", "23rd", "31st",
    ]  # fmt: skip


def test_conversions(call: Any, callf: Any) -> None:
    r = callf("toDate", "2026-02-05T23:30:00")
    assert t(r) == "05-Feb-2026" and r.date_only
    assert t(call("31/12/2026", "toDate", "dd/MM/yyyy")) == "31-Dec-2026"
    with pytest.raises(DelugeRuntimeError, match=r"^Invalid date '31-02-2026'$"):
        call("31-02-2026", "toDate", "dd-MM-yyyy")
    with pytest.raises(DelugeRuntimeError, match=r"^Invalid date pattern$"):
        call("31-02-2026", "toDate", "dd-MM-yyyy Q")
    r = call("05-Feb-2026", "toDateTime")
    assert t(r) == "05-Feb-2026 00:00:00" and not r.date_only
    assert t(call("2026-02-05 10:00", "toDateTime", "yyyy-MM-dd HH:mm")) == "05-Feb-2026 10:00:00"
    assert t(call("2026-02-05 10:00:00", "toTime")) == "05-Feb-2026 10:00:00"
    r = call("2026-02-05 10:00", "toTime", "yyyy-MM-dd HH:mm", "Asia/Kolkata")
    assert t(r) == "05-Feb-2026 04:30:00"
    assert t(call(0, "toDate")) == "01-Jan-1970"
    assert t(callf("toDate", 86_400_000, "dd-MM-yyyy")) == "02-Jan-1970"
    assert t(call(1000, "toDateTime")) == "01-Jan-1970 00:00:01"
    assert t(call(1000, "toTime", "x", "y")) == "01-Jan-1970 00:00:01"
    v = d("05-Feb-2026 14:03:09")
    assert t(call(v, "toDate")) == "05-Feb-2026" and call(v, "toDate").date_only
    assert t(call(d("05-Feb-2026"), "toDateTime")) == "05-Feb-2026 00:00:00"
    assert t(call(v, "toTime", "pattern", "tz")) == "05-Feb-2026 14:03:09"


def test_is_date(call: Any, callf: Any) -> None:
    assert call(d("01-Jan-2019"), "isDate") is True
    assert callf("isDate", "01-Jan-2019") is True
    assert call("01-Jun-2020", "isDate") is True
    with pytest.raises(DelugeRuntimeError, match="Invalid date 'hello'"):
        call("hello", "isDate")


def test_text_receivers_in_org_zone() -> None:
    ctx = FakeContext(tz="Asia/Kolkata", month_first=False)
    r = call_method(ctx, "01-02-2020", "addDay", 1)
    assert t(r) == "02-Feb-2020 00:00:00"
    assert r.dt.utcoffset() == dt.timedelta(hours=5, minutes=30)
    assert call_method(ctx, "2026-02-05T00:00:00Z", "getHour") == 5
