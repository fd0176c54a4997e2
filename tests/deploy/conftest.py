"""Fixtures for ``floodway deploy`` / ``pull`` tests: an org on SQLite or PostgreSQL reached
through the CLI (``--data`` / ``--database-url``), and small project directories."""

from __future__ import annotations

import json
import shutil
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from floodway.cli import app
from floodway.crm import Crm
from floodway.crm.testing import BACKENDS, crm_database
from floodway.db import create_engine_for
from floodway.functions.service import Functions

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "crm-basics"


@dataclass
class Org:
    """One org's database, reachable by the CLI and, for assertions, in-process."""

    backend: str
    data: Path
    url: str | None  # PostgreSQL URL; None: SQLite in ``data``
    _engines: list[Any] = field(default_factory=list)

    @property
    def args(self) -> list[str]:
        out = ["--data", str(self.data)]
        if self.url is not None:
            out += ["--database-url", self.url]
        return out

    def cli(
        self, command: str, project: Path | str, *extra: str, env: Mapping[str, str] | None = None
    ) -> Result:
        argv = [command, str(project), *self.args, *extra]
        return CliRunner().invoke(app, argv, env=dict(env or {}), catch_exceptions=False)

    def deploy_json(
        self, project: Path | str, *extra: str, env: Mapping[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        result = self.cli("deploy", project, "--json", *extra, env=env)
        return result.exit_code, json.loads(result.stdout)

    def open(self, keyring: Any = None) -> tuple[Crm, Functions]:
        """The org in this process (after the CLI created it)."""
        url = self.url or f"sqlite:///{self.data / 'floodway.db'}"
        engine = create_engine_for(database_url=url)
        self._engines.append(engine)
        crm = Crm(engine)
        crm.bootstrap()
        return crm, Functions(crm, keyring=keyring)

    def close(self) -> None:
        for engine in self._engines:
            engine.dispose()


@pytest.fixture(params=BACKENDS)
def org(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Org]:
    with ExitStack() as stack:
        url = None
        if request.param == "postgresql":
            url = stack.enter_context(crm_database("postgresql", tmp_path / "pg"))
        o = Org(request.param, tmp_path / "data", url)
        try:
            yield o
        finally:
            o.close()


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A copy of ``examples/crm-basics`` the test may edit."""
    dest = tmp_path / "crm-basics"
    shutil.copytree(EXAMPLE, dest)
    return dest


def write_project(root: Path, toml: str, functions: Mapping[str, str] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "floodway.toml").write_text(textwrap.dedent(toml), "utf-8")
    if functions:
        fdir = root / "functions"
        fdir.mkdir(exist_ok=True)
        for name, source in functions.items():
            (fdir / f"{name}.dg").write_text(textwrap.dedent(source), "utf-8")
    return root


def names(report: Mapping[str, Any], kind: str, action: str) -> Sequence[str]:
    return list(report["kinds"][kind][action])
