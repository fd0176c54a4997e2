"""Problems found in a project directory, and the one exception that carries all of them.

A deploy that stops at the first mistake makes the user fix, re-run, fix, re-run; so every check
records a ``Problem`` and goes on, and ``load_project`` raises one ``ProjectError`` listing them all.
Each problem names where it is precisely enough to find it without line numbers (TOML tables have
no reliable ones after parsing): the file, the table and its 1-based index and name
(``[[workflow]] #2 "Roll up revenue"``), the nested table (``[[workflow.actions]] #1``) and the key.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

MANIFEST = "floodway.toml"


@dataclass(frozen=True, slots=True)
class Loc:
    """Where something was written: a table (``None`` for the top level), index, name, sub-table."""

    file: str = MANIFEST
    table: str | None = None
    index: int | None = None  # 1-based position in an array of tables
    name: str | None = None  # the entry's name / api_name, when it has a text one
    sub: str | None = None  # nested array of tables, e.g. "workflow.actions"
    sub_index: int | None = None

    def child(self, sub: str, sub_index: int) -> Loc:
        return replace(self, sub=sub, sub_index=sub_index)

    def where(self) -> str:
        if self.table is None:
            return ""
        if self.index is None:
            text = f"[{self.table}]"
        else:
            text = f"[[{self.table}]] #{self.index}"
            if self.name:
                text += f' "{self.name}"'
        if self.sub is not None:
            text += f", [[{self.sub}]] #{self.sub_index}"
        return text


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the project.

    ``line`` / ``column`` are positions in ``file`` when known (function files, TOML syntax);
    positions inside a value (a criteria string, a merge-field template) are part of ``message``.
    """

    file: str
    message: str
    table: str | None = None
    index: int | None = None
    name: str | None = None
    sub: str | None = None
    sub_index: int | None = None
    key: str | None = None
    line: int | None = None
    column: int | None = None

    @classmethod
    def at(cls, loc: Loc, message: str, key: str | None = None) -> Problem:
        return cls(
            loc.file,
            message,
            loc.table,
            loc.index,
            loc.name,
            loc.sub,
            loc.sub_index,
            key,
        )

    @property
    def where(self) -> str:
        """``[[workflow]] #2 "Roll up revenue", [[workflow.actions]] #1, key "function"``."""
        loc = Loc(self.file, self.table, self.index, self.name, self.sub, self.sub_index)
        parts = [p for p in (loc.where(),) if p]
        if self.key is not None:
            parts.append(f'key "{self.key}"')
        return ", ".join(parts)

    def __str__(self) -> str:
        head = self.file
        if self.line is not None:
            head += f":{self.line}"
            if self.column is not None:
                head += f":{self.column}"
        where = self.where
        return f"{head}: {where}: {self.message}" if where else f"{head}: {self.message}"


class ProjectError(Exception):
    """The project directory is not valid; ``items`` lists every problem found."""

    def __init__(self, items: list[Problem]) -> None:
        self.items = list(items)
        count = len(self.items)
        head = f"{count} problem{'s' if count != 1 else ''} in the project"
        super().__init__("\n".join([head, *(f"  {p}" for p in self.items)]))
