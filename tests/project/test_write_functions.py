"""``write_functions`` (``floodway pull``): exact sources, nothing deleted, a report of changes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from floodway.project import load_project, write_functions

from .conftest import EXAMPLE


def test_creates_updates_and_keeps(tmp_path: Path) -> None:
    fdir = tmp_path / "functions"
    fdir.mkdir()
    (fdir / "same.dg").write_text('info "same";\n', "utf-8")
    (fdir / "old.dg").write_text('info "old";\n', "utf-8")
    (fdir / "local_only.dg").write_text('info "mine";\n', "utf-8")
    (fdir / "notes.txt").write_text("not a function", "utf-8")
    before = (fdir / "same.dg").stat().st_mtime_ns
    os.utime(fdir / "same.dg", ns=(before - 10**9, before - 10**9))
    report = write_functions(
        tmp_path,
        [
            ("same", 'info "same";\n'),
            ("old", 'info "new";\r\n'),
            ("fresh", 'string standalone.fresh()\n{\n    return "x";\n}\n'),
        ],
    )
    assert (report.created, report.updated, report.unchanged, report.kept) == (
        ["fresh"],
        ["old"],
        ["same"],
        ["local_only.dg"],
    )
    assert report.changed
    assert (fdir / "old.dg").read_bytes() == b'info "new";\r\n'  # exact, no newline translation
    assert (fdir / "same.dg").stat().st_mtime_ns == before - 10**9  # untouched
    assert (fdir / "local_only.dg").exists() and (fdir / "notes.txt").exists()
    assert (fdir / "fresh.dg").stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in fdir.iterdir()) == [
        "fresh.dg",
        "local_only.dg",
        "notes.txt",
        "old.dg",
        "same.dg",
    ]


def test_pull_then_deploy_changes_nothing(tmp_path: Path) -> None:
    project = load_project(EXAMPLE)
    (tmp_path / "floodway.toml").write_text((EXAMPLE / "floodway.toml").read_text("utf-8"))
    first = write_functions(tmp_path, [(f.api_name, f.source) for f in project.functions])
    assert len(first.created) == 6
    again = load_project(tmp_path)
    assert [(f.api_name, f.source) for f in again.functions] == [
        (f.api_name, f.source) for f in project.functions
    ]
    second = write_functions(tmp_path, [(f.api_name, f.source) for f in again.functions])
    assert not second.changed and len(second.unchanged) == 6


@pytest.mark.parametrize("name", ["../evil", "a/b", "", "x.dg", "1abc"])
def test_names_that_are_not_plain_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="invalid function API name"):
        write_functions(tmp_path, [("good", "info 1;"), (name, "info 1;")])
    assert not (tmp_path / "functions").exists()  # nothing written


def test_duplicate_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="occurs twice"):
        write_functions(tmp_path, [("Foo", "info 1;"), ("foo", "info 2;")])
