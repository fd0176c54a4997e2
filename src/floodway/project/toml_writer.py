"""Writing the trigger tables back into ``floodway.toml`` (``floodway pull``).

Only the trigger tables (``[[workflow]]`` with its ``[[workflow.actions]]``, ``[[button]]``,
``[[related_list]]``, ``[[validation]]``, ``[[schedule]]``) are written; everything else in the
file stays as the user wrote it, comments included. The file is left untouched when its trigger
tables already say what the org has (so pulling twice changes nothing, and a pull right after a
deploy keeps the file byte for byte). Otherwise the old trigger sections are cut out and the new
ones are written where the first of them was (or at the end).

The rewrite works on the text, section by section (a section runs from one ``[header]`` line to
the next), and is checked before anything is written: the new text must parse, give exactly the
wanted trigger tables and leave every other value as it was; if not, ``ValueError`` and nothing
is written.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from .cron import SCHEDULE_KINDS
from .problems import MANIFEST

__all__ = ["TRIGGER_TABLES", "ManifestWrite", "dump_trigger_tables", "write_trigger_tables"]

TRIGGER_TABLES: Final = ("workflow", "button", "related_list", "validation", "schedule")
_KEY_ORDER: Final = (
    "name",
    "module",
    "placement",
    "on",
    "fields",
    "criteria",
    "repeat",
    "date_field",
    "offset",
    "at",
    "order",
    "function",
    "timezone",
    *SCHEDULE_KINDS,
    "catch_up",
    "arguments",
)
_ACTION_ORDER: Final = (
    "after",
    "function",
    "arguments",
    "field_update",
    "webhook",
    "email",
    "task",
)
_INLINE_ORDER: Final = ("url", "method", "headers", "to", "subject", "body")
_BARE_KEY: Final = re.compile(r"[A-Za-z0-9_-]+")
_HEADER: Final = re.compile(r"^\s*\[\[?\s*([^\[\]#]+?)\s*\]\]?\s*(?:#.*)?$")
_TRIGGER_ASSIGN: Final = re.compile(r"^\s*[\"']?(" + "|".join(TRIGGER_TABLES) + r")[\"']?\s*[.=]")


@dataclass(slots=True)
class ManifestWrite:
    """What ``write_trigger_tables`` did: ``counts`` per kind of the tables now in the file."""

    path: Path
    changed: bool = False
    counts: dict[str, int] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Emitting


def _string(text: str) -> str:
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _key(name: str) -> str:
    return name if _BARE_KEY.fullmatch(name) else _string(name)


def _ordered(table: Mapping[str, Any], order: Sequence[str]) -> list[tuple[str, Any]]:
    first = [(k, table[k]) for k in order if k in table]
    return first + [(k, v) for k, v in table.items() if k not in order]


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, Sequence):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        pairs = _ordered(value, _INLINE_ORDER)
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in pairs) + " }"
    raise ValueError(f"cannot write a {type(value).__name__} value to floodway.toml")


def _table(header: str, table: Mapping[str, Any], order: Sequence[str]) -> list[str]:
    lines = [f"[[{header}]]"]
    nested: list[Mapping[str, Any]] = []
    for k, v in _ordered(table, order):
        if header == "workflow" and k == "actions" and isinstance(v, list):
            nested = [a for a in v if isinstance(a, Mapping)]
            continue
        lines.append(f"{_key(k)} = {_value(v)}")
    for action in nested:
        lines.append("")
        lines.extend(_table("workflow.actions", action, _ACTION_ORDER))
    return lines


def dump_trigger_tables(tables: Mapping[str, Sequence[Mapping[str, Any]]]) -> str:
    """TOML text of the trigger tables (kinds in manifest order, tables in the given order)."""
    blocks = []
    for kind in TRIGGER_TABLES:
        for table in tables.get(kind, ()):
            blocks.append("\n".join(_table(kind, table, _KEY_ORDER)))
    return "\n\n".join(blocks) + ("\n" if blocks else "")


# ---------------------------------------------------------------------------------------------
# Rewriting an existing file


@dataclass(slots=True)
class _Section:
    root: str | None  # first part of the header name; None: the lines before any header
    lines: list[str]

    @property
    def trigger(self) -> bool:
        return self.root in TRIGGER_TABLES


def _sections(text: str) -> list[_Section]:
    sections = [_Section(None, [])]
    delimiter: str | None = None  # inside a multi-line string closed by this
    for line in text.splitlines(keepends=True):
        if delimiter is None:
            m = _HEADER.match(line)
            if m is not None:
                name = m.group(1).replace('"', "").replace("'", "").replace(" ", "")
                sections.append(_Section(name.split(".")[0], [line]))
                continue
        sections[-1].lines.append(line)
        for quote in ('"""', "'''"):
            count = line.count(quote)
            if delimiter is None and count % 2 == 1:
                delimiter = quote
                break
            if delimiter == quote and count % 2 == 1:
                delimiter = None
                break
    return sections


def _is_loose(line: str) -> bool:
    """A blank or comment-only line (it belongs to whatever follows it)."""
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _peel(lines: list[str]) -> list[str]:
    """Remove and return the trailing blank and comment lines of ``lines``."""
    cut = len(lines)
    while cut > 1 and _is_loose(lines[cut - 1]):
        cut -= 1
    tail = lines[cut:]
    del lines[cut:]
    return tail


def _rewrite(text: str, generated: str) -> str:
    sections = _sections(text)
    preamble = sections[0]
    if any(_TRIGGER_ASSIGN.match(line) for line in preamble.lines):
        raise ValueError(
            f"{MANIFEST} defines trigger tables as inline arrays; pull rewrites them as "
            "[[table]] sections only: change them to that form first"
        )
    # Comments just above a trigger section describe it (they go with it); comments at the end
    # of a trigger section just above another section describe that one (they stay).
    for i in range(1, len(sections)):
        prev, cur = sections[i - 1], sections[i]
        into_trigger = cur.trigger and not prev.trigger and prev.root is not None
        out_of_trigger = prev.trigger and not cur.trigger
        if into_trigger or out_of_trigger:
            cur.lines[:0] = _peel(prev.lines)
    chunks: list[tuple[bool, str]] = []  # (generated, text)
    for section in sections:
        if not section.trigger:
            chunks.append((False, "".join(section.lines)))
        elif not any(generated_chunk for generated_chunk, _ in chunks):
            chunks.append((True, generated))
    if not any(g for g, _ in chunks):
        chunks.append((True, generated))
    result = ""
    after_generated = False
    for is_generated, chunk in chunks:
        if is_generated and not chunk:
            continue
        if is_generated or after_generated:
            if result.strip():
                result = result.rstrip("\n") + "\n\n"
            chunk = chunk.lstrip("\n")
        result += chunk + ("\n" if is_generated else "")
        after_generated = is_generated
    return result.rstrip("\n") + "\n" if result.strip() else ""


def _wanted(tables: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, list[Any]]:
    return {k: [dict(t) for t in tables.get(k, ())] for k in TRIGGER_TABLES if tables.get(k)}


def write_trigger_tables(
    project_dir: Path | str, tables: Mapping[str, Sequence[Mapping[str, Any]]]
) -> ManifestWrite:
    """Make the trigger tables of ``project_dir/floodway.toml`` equal ``tables`` (kind -> list
    of manifest tables). Creates the file when it is missing and there is something to write;
    ``ValueError`` (nothing written) when the file is not valid TOML or cannot be rewritten
    safely."""
    path = Path(project_dir) / MANIFEST
    wanted = _wanted(tables)
    report = ManifestWrite(path, counts={k: len(v) for k, v in wanted.items()})
    old_text = None
    old: dict[str, Any] = {}
    if path.is_file():
        old_text = path.read_bytes().decode("utf-8")
        try:
            old = tomllib.loads(old_text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: not valid TOML ({exc}); fix it before pulling") from None
    elif not wanted:
        return report
    if all(old.get(k, []) == wanted.get(k, []) for k in TRIGGER_TABLES):
        return report
    generated = dump_trigger_tables(wanted)
    new_text = generated if old_text is None else _rewrite(old_text, generated.rstrip("\n"))
    try:
        new = tomllib.loads(new_text)
    except tomllib.TOMLDecodeError as exc:  # pragma: no cover - guarded by the checks below
        raise ValueError(f"{path}: could not be rewritten safely ({exc})") from None
    others_old = {k: v for k, v in old.items() if k not in TRIGGER_TABLES}
    others_new = {k: v for k, v in new.items() if k not in TRIGGER_TABLES}
    if others_old != others_new or _wanted(new) != wanted:
        raise ValueError(
            f"{path}: the trigger tables could not be rewritten without changing other "
            "tables; move the [[workflow]], [[button]], [[related_list]], [[validation]] and "
            "[[schedule]] tables to the end of the file and pull again"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, new_text.encode("utf-8"))
    report.changed = True
    return report


def _atomic_write(target: Path, data: bytes) -> None:
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
