"""Typed, strict reading of one TOML table that records problems instead of raising.

Each manifest table is read through a ``TableReader`` that knows the table's allowed keys: a key
outside them is reported (with a "did you mean" hint, since most are typos), a value of the wrong
type is reported with both types named, and the reader returns ``None`` for anything it rejected so
that the caller can go on and find the next problem.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from .problems import Loc, Problem

ENV_NAME_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
API_NAME_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,99}")
NAME_MAX: Final = 200  # names of trigger entries (rules, buttons, ...), as the org stores them
ORDER_MAX: Final = 1_000_000  # workflow ``order``


def type_name(value: Any) -> str:
    """TOML's name for the type of a parsed value (``text`` for strings)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "table"
    if isinstance(value, _dt.datetime):
        return "date-time"
    if isinstance(value, _dt.date):
        return "date"
    if isinstance(value, _dt.time):
        return "time"
    return type(value).__name__


def one_of(choices: Iterable[str]) -> str:
    return ", ".join(choices)


def unknown_hint(name: str, allowed: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(allowed), n=1, cutoff=0.7)
    return f' (did you mean "{close[0]}"?)' if close else ""


class TableReader:
    """Reads keys of ``data`` (a TOML table) at ``loc``; ``prefix`` names an inline table's key
    (``webhook.``) so that problems read ``key "webhook.url"``."""

    def __init__(
        self,
        data: Mapping[str, Any],
        loc: Loc,
        problems: list[Problem],
        allowed: Iterable[str],
        prefix: str = "",
    ) -> None:
        self.data = data
        self.loc = loc
        self.problems = problems
        self.allowed = tuple(allowed)
        self.prefix = prefix

    # -- reporting

    def key(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def problem(self, key: str | None, message: str) -> None:
        self.problems.append(Problem.at(self.loc, message, None if key is None else self.key(key)))

    def check_keys(self, allowed: Iterable[str] | None = None) -> None:
        """Report every key that is not allowed (call once per table)."""
        names = tuple(allowed) if allowed is not None else self.allowed
        for k in self.data:
            if k not in names:
                self.problem(k, f'unknown key "{k}"{unknown_hint(k, names)}')

    def has(self, key: str) -> bool:
        return key in self.data

    def _wrong(self, key: str, expected: str, value: Any) -> None:
        self.problem(key, f"must be {expected}, not {type_name(value)}")

    def _missing(self, key: str) -> None:
        self.problem(key, f'missing required key "{self.key(key)}"')

    # -- typed getters

    def text(
        self,
        key: str,
        *,
        required: bool = False,
        choices: Iterable[str] | None = None,
        nonempty: bool = True,
        max_length: int | None = None,
    ) -> str | None:
        if key not in self.data:
            if required:
                self._missing(key)
            return None
        value = self.data[key]
        if not isinstance(value, str):
            self._wrong(key, "text", value)
            return None
        if nonempty and value.strip() == "":
            self.problem(key, "must not be empty")
            return None
        if max_length is not None and len(value) > max_length:
            self.problem(key, f"must be at most {max_length} characters, not {len(value)}")
            return None
        if choices is not None:
            options = tuple(choices)
            if value not in options:
                self.problem(
                    key,
                    f'unknown value "{value}"; expected one of: {one_of(options)}',
                )
                return None
        return value

    def api_name(self, key: str, *, required: bool = True, what: str = "API name") -> str | None:
        value = self.text(key, required=required)
        if value is not None and not API_NAME_RE.fullmatch(value):
            self.problem(
                key,
                f'invalid {what} "{value}": use letters, digits and _, starting with a letter '
                "(at most 100 characters)",
            )
            return None
        return value

    def env_name(self, key: str, *, required: bool = False) -> str | None:
        value = self.text(key, required=required)
        if value is not None and not ENV_NAME_RE.fullmatch(value):
            self.problem(
                key,
                f'invalid environment variable name "{value}": use letters, digits and _',
            )
            return None
        return value

    def boolean(self, key: str) -> bool | None:
        if key not in self.data:
            return None
        value = self.data[key]
        if not isinstance(value, bool):
            self._wrong(key, "a boolean (true or false)", value)
            return None
        return value

    def integer(
        self, key: str, *, minimum: int | None = None, maximum: int | None = None
    ) -> int | None:
        if key not in self.data:
            return None
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, int):
            self._wrong(key, "an integer", value)
            return None
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            lo = "" if minimum is None else str(minimum)
            hi = "" if maximum is None else str(maximum)
            if maximum is None:
                self.problem(key, f"must be at least {lo}, not {value}")
            else:
                self.problem(key, f"must be from {lo} to {hi}, not {value}")
            return None
        return value

    def positive_number(self, key: str) -> float | None:
        if key not in self.data:
            return None
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            self._wrong(key, "a number", value)
            return None
        if not value > 0:
            self.problem(key, f"must be greater than 0, not {value}")
            return None
        return float(value)

    def text_list(
        self, key: str, *, required: bool = False, nonempty: bool = True
    ) -> tuple[str, ...] | None:
        if key not in self.data:
            if required:
                self._missing(key)
            return None
        value = self.data[key]
        if not isinstance(value, list):
            self._wrong(key, "an array of text", value)
            return None
        bad = [v for v in value if not isinstance(v, str)]
        if bad:
            self.problem(
                key, f"must be an array of text, not an array containing {type_name(bad[0])}"
            )
            return None
        if nonempty and not value:
            self.problem(key, "must not be empty")
            return None
        return tuple(value)

    def text_map(self, key: str) -> dict[str, str] | None:
        """An inline table whose values are all text (arguments, field updates, headers)."""
        table = self.table(key)
        if table is None:
            return None
        out: dict[str, str] = {}
        for k, v in table.items():
            if not isinstance(v, str):
                self.problem(f"{key}.{k}", f"must be text, not {type_name(v)}")
                continue
            out[k] = v
        return out

    def table(self, key: str, *, required: bool = False) -> Mapping[str, Any] | None:
        if key not in self.data:
            if required:
                self._missing(key)
            return None
        value = self.data[key]
        if not isinstance(value, Mapping):
            self._wrong(key, "a table", value)
            return None
        return value

    def sub(self, key: str, allowed: Iterable[str]) -> TableReader | None:
        """A reader for an inline table such as ``webhook = {...}``; its unknown keys are checked."""
        table = self.table(key)
        if table is None:
            return None
        reader = TableReader(table, self.loc, self.problems, allowed, f"{self.prefix}{key}.")
        reader.check_keys()
        return reader
