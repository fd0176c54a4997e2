"""Helpers for project-directory tests: write a small project and collect its problems."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from floodway.project import ProjectError, load_project

EXAMPLE = Path(__file__).parent / "example"

AUTOMATION = "void automation.{name}(Int accountId)\n{{\n    info accountId;\n}}\n"


def write(root: Path, toml: str, functions: dict[str, str] | None = None) -> Path:
    """``root/floodway.toml`` (dedented) and ``root/functions/<name>.dg`` files."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "floodway.toml").write_text(textwrap.dedent(toml), "utf-8")
    if functions:
        fdir = root / "functions"
        fdir.mkdir(exist_ok=True)
        for name, source in functions.items():
            (fdir / f"{name}.dg").write_text(textwrap.dedent(source), "utf-8")
    return root


ProblemsFn = Callable[..., list[str]]


@pytest.fixture
def problems(tmp_path: Path) -> ProblemsFn:
    """``problems(toml, functions=None, **load_kwargs)`` -> the problems as text lines."""

    def run(toml: str, functions: dict[str, str] | None = None, **kwargs: object) -> list[str]:
        root = write(tmp_path / "proj", toml, functions)
        try:
            load_project(root, **kwargs)  # type: ignore[arg-type]
        except ProjectError as exc:
            return [str(p) for p in exc.items]
        return []

    return run


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A copy of the example project (project-format.md's manifest) that a test may change."""
    target = tmp_path / "example"
    shutil.copytree(EXAMPLE, target)
    return target
