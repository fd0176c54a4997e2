"""A compiled Deluge function: header facts plus the code object of its generated body."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import CodeType


@dataclass(frozen=True, slots=True, eq=False)
class Program:
    api_name: str
    category: str
    return_type: str | None  # None: bare script, value returned unconverted
    params: list[tuple[str, str]]  # (name, canonical type) from the header
    param_positions: list[tuple[int, int]]  # (line, column) of each declared parameter
    implicit_args: list[str]  # bare scripts: names read but never assigned
    arg_names: list[str]  # positional parameters of the generated function
    code: CodeType = field(repr=False)
    source: str = field(repr=False)
    source_hash: str = ""
    spellings: dict[str, str] = field(default_factory=dict, repr=False)  # lower -> as written
    method_helpers: frozenset[tuple[str, int]] = frozenset()  # (lower name, arity) dispatchers

    def source_line(self, line: int | None) -> str:
        if not line:
            return ""
        lines = self.source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        return lines[line - 1] if 0 < line <= len(lines) else ""
