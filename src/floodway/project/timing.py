"""Small time notations of the manifest: ``after`` durations, date-rule offsets and ``at`` times.

They are parsed once at load time into typed values so the automation layer never re-reads text,
and each parser raises ``ValueError`` with the message the user will see (``load_project`` adds
where it was written).
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from typing import Final

_UNIT_SECONDS: Final = {"m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_DURATION_RE: Final = re.compile(r"(\d{1,9})([mhdw])")
_OFFSET_RE: Final = re.compile(r"([+-]?)(\d{1,9})([dw])")
_RELATIVE_RE: Final = re.compile(r"([+-])(\d{1,9})([mhdw])")
_HHMM_RE: Final = re.compile(r"(\d{2}):(\d{2})")


@dataclass(frozen=True, slots=True)
class Duration:
    """``30m`` / ``2h`` / ``3d`` / ``1w`` as written and as a timedelta.

    ``d`` and ``w`` are calendar days in the org time zone for the automation layer (a "3d" action
    planned before a daylight-saving change still fires at the same wall-clock time);
    ``timedelta`` is the plain elapsed form for callers that do not care.
    """

    amount: int
    unit: str  # m | h | d | w

    @property
    def text(self) -> str:
        return f"{self.amount}{self.unit}"

    @property
    def timedelta(self) -> _dt.timedelta:
        return _dt.timedelta(seconds=self.amount * _UNIT_SECONDS[self.unit])


@dataclass(frozen=True, slots=True)
class Offset:
    """A signed count of days or weeks: date-rule ``offset`` (``-2d``, ``+1w``, ``0d``), and the
    relative values of task actions (``+2d``; there ``m`` and ``h`` are allowed too)."""

    amount: int  # signed
    unit: str  # m | h | d | w

    @property
    def text(self) -> str:
        return f"{'-' if self.amount < 0 else '+'}{abs(self.amount)}{self.unit}"

    @property
    def timedelta(self) -> _dt.timedelta:
        return _dt.timedelta(seconds=self.amount * _UNIT_SECONDS[self.unit])

    @property
    def days(self) -> int:
        """Whole days of a ``d``/``w`` offset (what date rules add to a date); 0 for m/h."""
        if self.unit == "w":
            return self.amount * 7
        return self.amount if self.unit == "d" else 0


def parse_duration(text: str) -> Duration:
    """``after`` of a scheduled action: a positive whole number and a unit m, h, d or w."""
    m = _DURATION_RE.fullmatch(text)
    if m is None:
        raise ValueError(
            f'invalid duration "{text}"; expected a whole number and a unit m, h, d or w '
            '(e.g. "30m", "2h", "3d", "1w")'
        )
    amount = int(m[1])
    if amount == 0:
        raise ValueError(f'invalid duration "{text}": must be greater than zero')
    return Duration(amount, m[2])


def parse_offset(text: str) -> Offset:
    """A date rule's ``offset``: days or weeks, optionally signed (``-2d``, ``+1w``, ``3d``)."""
    m = _OFFSET_RE.fullmatch(text)
    if m is None:
        raise ValueError(
            f'invalid offset "{text}"; expected a signed number of days or weeks '
            '(e.g. "-2d", "+1w", "0d")'
        )
    amount = int(m[2])
    return Offset(-amount if m[1] == "-" else amount, m[3])


def parse_relative(text: str) -> Offset | None:
    """A task value such as ``+2d`` (counted from the trigger time); ``None`` for other text."""
    m = _RELATIVE_RE.fullmatch(text)
    if m is None:
        return None
    amount = int(m[2])
    return Offset(-amount if m[1] == "-" else amount, m[3])


def parse_hhmm(text: str) -> _dt.time:
    """``HH:MM`` on a 24-hour clock, exactly two digits each (``09:00``, ``23:59``)."""
    m = _HHMM_RE.fullmatch(text)
    if m is None or int(m[1]) > 23 or int(m[2]) > 59:
        raise ValueError(f'invalid time "{text}"; expected HH:MM from 00:00 to 23:59')
    return _dt.time(int(m[1]), int(m[2]))
