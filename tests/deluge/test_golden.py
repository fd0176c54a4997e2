"""Golden-file tests: realistic CRM-style Deluge functions run through ``floodway run``.

Every ``tests/deluge/scripts/NAME.dg`` that has a ``NAME.expected.json`` is run with
``floodway run NAME.dg --json`` (in-process, through Typer's ``CliRunner``) and its result is
compared with the expected file:

``{"args": {...}, "status": ..., "output": ..., "info": [...], "error": ..., "statements": N}``

- ``args`` (optional): when every value is text, each is passed as ``--arg NAME=VALUE`` (the way a
  user types arguments, so the function header's conversions are exercised); otherwise the whole
  object is passed as ``--args JSON``.
- ``status``, ``output``, ``info`` and ``error`` are always compared; ``statements`` only when
  present. ``output`` is compared type-strictly (``5`` is not ``5.0``, ``1`` is not ``true``), so
  the NUMBER/DECIMAL distinction of the language is checked too.
- The exit code must be 0 for success, 2 for a syntax error and 1 for any other failure.

Expected values were derived from docs/deluge-language.md, not copied from the engine's output.
Scripts that call ``standalone.*`` resolve their callees from sibling files of the same folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from floodway.cli import app

SCRIPTS = Path(__file__).parent / "scripts"
CASES = sorted(p.with_suffix("").with_suffix("") for p in SCRIPTS.glob("*.expected.json"))


def _load(case: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(case.with_suffix(".expected.json").read_text("utf-8"))
    return data


def _cli_args(case: Path, expected: dict[str, Any]) -> list[str]:
    argv = ["run", str(case.with_suffix(".dg")), "--json"]
    args = expected.get("args")
    if args:
        if all(type(v) is str for v in args.values()):
            for name, value in args.items():
                argv += ["--arg", f"{name}={value}"]
        else:
            argv += ["--args", json.dumps(args)]
    return argv


def _strict_equal(a: Any, b: Any) -> bool:
    """JSON equality that also requires equal types (``1 != 1.0``, ``True != 1``)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_strict_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_strict_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _expected_exit(expected: dict[str, Any]) -> int:
    if expected["status"] == "success":
        return 0
    return 2 if (expected.get("error") or {}).get("kind") == "syntax" else 1


def test_corpus_is_complete() -> None:
    scripts = sorted(p.with_suffix("") for p in SCRIPTS.glob("*.dg"))
    assert len(CASES) >= 45
    # every script is a case (helpers called through standalone.* included) and vice versa
    assert scripts == CASES


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden(case: Path) -> None:
    expected = _load(case)
    result = CliRunner().invoke(app, _cli_args(case, expected))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    got = json.loads(result.stdout)
    report = json.dumps(got, indent=2, ensure_ascii=False)
    assert got["status"] == expected["status"], report
    assert got["error"] == expected["error"], report
    assert got["info"] == expected["info"], report
    assert _strict_equal(got["output"], expected["output"]), report
    if "statements" in expected:
        assert got["statements"] == expected["statements"], report
    assert result.exit_code == _expected_exit(expected), report


def _floodway_command() -> list[str]:
    exe = shutil.which("floodway")
    if exe is None:
        candidate = Path(sys.executable).parent / "floodway"
        if candidate.exists():
            exe = str(candidate)
    if exe is not None:
        return [exe]
    return [sys.executable, "-c", "from floodway.cli import main; main()"]


@pytest.mark.parametrize(
    "name", ["contact_mailing_label", "arithmetic_rules", "syntax_error_while"]
)
def test_real_subprocess(name: str) -> None:
    """The installed console script works end to end (own process, real argv, exit codes)."""
    case = SCRIPTS / name
    expected = _load(case)
    argv = _floodway_command() + _cli_args(case, expected)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOODWAY_")}
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, check=False)
    assert proc.returncode == _expected_exit(expected), proc.stderr
    got = json.loads(proc.stdout)
    assert got["status"] == expected["status"]
    assert got["error"] == expected["error"]
    assert got["info"] == expected["info"]
    assert _strict_equal(got["output"], expected["output"])


def test_plain_output_format() -> None:
    """Without --json: each info entry on its own line, then the return value's text form."""
    case = SCRIPTS / "list_map_ops"
    expected = _load(case)
    argv = ["run", str(case.with_suffix(".dg"))]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[: len(expected["info"])] == expected["info"]
    # the return value is a MAP: its text form is compact JSON in insertion order (§3.4)
    assert lines[len(expected["info"]) :] == [
        json.dumps(expected["output"], separators=(",", ":"), ensure_ascii=False)
    ]


def test_plain_output_of_failure() -> None:
    """A runtime failure prints PATH:LINE:COL: runtime error: MESSAGE on stderr and exits 1."""
    case = SCRIPTS / "runtime_error_index"
    expected = _load(case)
    result = CliRunner().invoke(app, ["run", str(case.with_suffix(".dg"))])
    assert result.exit_code == 1
    err = expected["error"]
    line = (
        f"{case.with_suffix('.dg')}:{err['line']}:{err['column']}: runtime error: {err['message']}"
    )
    assert line in result.stderr
    # the info entries written before the failure are still printed
    assert result.stdout.splitlines() == expected["info"]
