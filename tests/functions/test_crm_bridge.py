"""``crm_bridge`` helpers that the task tests reach only through a few of their forms."""

from __future__ import annotations

import datetime as dt

import pytest

from floodway.functions.crm_bridge import parse_date_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("04-Jul-2006", dt.datetime(2006, 7, 4, tzinfo=dt.UTC)),
        ("4-Jul-2006 13:05", dt.datetime(2006, 7, 4, 13, 5, tzinfo=dt.UTC)),
        ("2006-07-04T10:00:00Z", dt.datetime(2006, 7, 4, 10, tzinfo=dt.UTC)),
        ("Jul 04,2006", dt.datetime(2006, 7, 4, tzinfo=dt.UTC)),
        ("15 August 1947", dt.datetime(1947, 8, 15, tzinfo=dt.UTC)),
        ("07/04/2006", dt.datetime(2006, 7, 4, tzinfo=dt.UTC)),
        ("13/04/2006", dt.datetime(2006, 4, 13, tzinfo=dt.UTC)),
        ("31-Feb-2026", None),
        ("tomorrow", None),
    ],
)
def test_parse_date_text(text: str, expected: dt.datetime | None) -> None:
    assert parse_date_text(text, dt.UTC) == expected
