"""Function files of a project: ``functions/*.dg`` read for deploy, written back for pull.

Sources are kept byte-for-byte (no newline translation): deploy decides "changed or not" by
comparing the file's text with the live version's, and pull writes exactly that text back, so a
deploy after a pull changes nothing.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from floodway.deluge import DelugeError, DelugeSyntaxError, compile_program

from .model import FunctionFile
from .problems import Problem

FUNCTIONS_DIR: Final = "functions"
SUFFIX: Final = ".dg"
FUNCTION_NAME_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BOM: Final = "\ufeff"


def load_functions(
    project_dir: Path, problems: list[Problem]
) -> tuple[list[FunctionFile], set[str]]:
    """Compile every ``functions/*.dg``; returns the good files and the lower-case stems of the
    files that had problems (so that manifest references to them are not also reported as
    missing). Subdirectories and other files are ignored."""
    fdir = project_dir / FUNCTIONS_DIR
    if not fdir.is_dir():
        return [], set()
    out: list[FunctionFile] = []
    broken: set[str] = set()
    seen: dict[str, str] = {}
    for path in sorted(fdir.iterdir(), key=lambda p: p.name):
        if path.suffix != SUFFIX or not path.is_file():
            continue
        rel = f"{FUNCTIONS_DIR}/{path.name}"
        stem = path.stem
        fn = _load_one(path, rel, stem, problems)
        if fn is None:
            broken.add(stem.lower())
            continue
        first = seen.get(fn.api_name.lower())
        if first is not None:
            problems.append(
                Problem(rel, f'duplicate function API name "{fn.api_name}" (also {first})')
            )
            continue
        seen[fn.api_name.lower()] = rel
        out.append(fn)
    return out, broken


def _load_one(path: Path, rel: str, stem: str, problems: list[Problem]) -> FunctionFile | None:
    if not FUNCTION_NAME_RE.fullmatch(stem):
        problems.append(
            Problem(
                rel,
                f'invalid file name "{path.name}": the file name is the function\'s API name; '
                "use letters, digits and _",
            )
        )
        return None
    try:
        source = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(Problem(rel, f"not valid UTF-8 text (byte {exc.start})"))
        return None
    source = source.removeprefix(_BOM)
    try:
        program = compile_program(source, name=stem)
    except DelugeSyntaxError as exc:
        problems.append(Problem(rel, exc.message, line=exc.line or 1, column=exc.column or 1))
        return None
    except DelugeError as exc:
        problems.append(Problem(rel, exc.message, line=exc.line, column=exc.column))
        return None
    if program.return_type is not None and program.api_name != stem:
        problems.append(
            Problem(
                rel,
                f'the header declares API name "{program.api_name}" but the file is named '
                f'"{path.name}"; rename the file to {program.api_name}{SUFFIX}',
            )
        )
        return None
    return FunctionFile(
        api_name=program.api_name,
        category=program.category,
        source=source,
        path=path,
        return_type=program.return_type,
        params=tuple(program.params),
    )


@dataclass(slots=True)
class WriteReport:
    """What ``write_functions`` did, by api name; ``kept`` lists ``.dg`` files of the directory
    that were not among the written functions (pull never deletes them)."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)


def write_functions(project_dir: Path | str, functions: Iterable[tuple[str, str]]) -> WriteReport:
    """Write ``functions/<api_name>.dg`` for each ``(api_name, source)`` (``floodway pull``).

    A file whose content is already the source is not touched (its mtime stays); others are
    replaced atomically. Files not named in ``functions`` are kept. ``ValueError`` before anything
    is written when an api name is not a plain name (it becomes a file name: no path tricks) or
    occurs twice.
    """
    items = list(functions)
    names: set[str] = set()
    for api_name, source in items:
        if not FUNCTION_NAME_RE.fullmatch(api_name):
            raise ValueError(f"invalid function API name {api_name!r}")
        if api_name.lower() in names:
            raise ValueError(f"function API name {api_name!r} occurs twice")
        if not isinstance(source, str):
            raise ValueError(f"the source of {api_name!r} is not text")
        names.add(api_name.lower())
    fdir = Path(project_dir) / FUNCTIONS_DIR
    fdir.mkdir(parents=True, exist_ok=True)
    report = WriteReport()
    for api_name, source in items:
        target = fdir / f"{api_name}{SUFFIX}"
        data = source.encode("utf-8")
        if target.is_file():
            if target.read_bytes() == data:
                report.unchanged.append(api_name)
                continue
            report.updated.append(api_name)
        else:
            report.created.append(api_name)
        _atomic_write(target, data)
    written = {f"{a}{SUFFIX}" for a, _ in items}
    report.kept = sorted(
        p.name for p in fdir.iterdir() if p.suffix == SUFFIX and p.name not in written
    )
    return report


def _atomic_write(target: Path, data: bytes) -> None:
    """Write to a temporary file beside ``target`` and rename it over: a reader (or a crash)
    never sees half a function. Keeps an existing file's mode; new files get 0644, like a
    checkout (mkstemp's 0600 would surprise git users)."""
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
