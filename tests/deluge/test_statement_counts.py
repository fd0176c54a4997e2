"""Statement counts stay exact when an error cuts a loop iteration short (§15, D-25)."""

from __future__ import annotations

from pathlib import Path

from floodway.deluge import compile_program, run
from floodway.functions.standalone_host import StandaloneHost
from floodway.settings import load_settings


def count(src: str, tmp_path: Path) -> tuple[str, int]:
    result = run(compile_program(src), {}, StandaloneHost(tmp_path, load_settings()))
    return result.status, result.statements


def test_uncaught_error_in_a_loop_body_counts_only_what_ran(tmp_path: Path) -> None:
    src = "total = 0;\nfor each e in {1, 2, 3} { z = 10 / (e - 2); q = 1; w = 2; }"
    # total (1) + iteration 1: 1 + 3 + iteration 2: 1 + the failing division (1)
    assert count(src, tmp_path) == ("failure", 7)


def test_caught_error_outside_the_loop_counts_only_what_ran(tmp_path: Path) -> None:
    src = """try {
        for each e in {1, 2, 3} { z = 10 / (e - 2); q = 1; w = 2; }
    } catch (err) { info err; }
    return 1;"""
    # iteration 1: 4, iteration 2: 2, info (1), return (1)
    assert count(src, tmp_path) == ("success", 8)


def test_error_in_a_called_function_gives_back_both_loop_groups(tmp_path: Path) -> None:
    (tmp_path / "risky.dg").write_text(
        "int standalone.risky(Int n)\n{\n  for each x in {1} { y = 10 / n; z = 1; }\n  return n;\n}"
    )
    src = "for each n in {1, 0} { r = standalone.risky(n); s = 1; }"
    # n=1: 1 + r (1) + [callee: 1 + y + z (3) + return (1)] + s (1) = 7
    # n=0: 1 + r (1) + [callee: 1 + y fails (2)] = 4
    assert count(src, tmp_path) == ("failure", 11)
