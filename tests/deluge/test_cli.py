"""``floodway run`` and ``floodway check`` (deluge-language.md §13.6, §14.1), in process through
typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from floodway.cli import app
from floodway.deluge import Limits, compile_program, run
from floodway.functions.standalone_host import StandaloneHost
from floodway.settings import load_settings


def run_src(src: str, **args: Any) -> Any:
    """Compile and run a Deluge source text; returns the runtime Result."""
    host = StandaloneHost(folder=Path("/nonexistent-floodway-tests"), settings=load_settings())
    return run(compile_program(src, name="cli"), args, host, Limits())


def invoke(*argv: str) -> Any:
    return CliRunner().invoke(app, list(argv))


def write(tmp_path: Path, name: str, src: str) -> Path:
    p = tmp_path / name
    p.write_text(src, "utf-8")
    return p


def one_json(stdout: str) -> dict[str, Any]:
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert len(lines) == 1, stdout
    obj = json.loads(lines[0])
    assert isinstance(obj, dict)
    return obj


HEADER_FN = """// leading comment
String standalone.h(Int n, Date d, Map m, List l, Bool b, Decimal x)
{
    info "n=" + (n + 1);
    info d;
    info m.get("a");
    info l.size();
    info b;
    info x;
    return n + 1;
}
"""


# --- run: plain output --------------------------------------------------------------------


def test_run_prints_info_then_return_value(tmp_path: Path) -> None:
    p = write(tmp_path, "ok.dg", 'info "hi";\ninfo 2;\nreturn {"a": [1, 2]};\n')
    r = invoke("run", str(p))
    assert r.exit_code == 0
    assert r.stdout == 'hi\n2\n{"a":[1,2]}\n'


def test_run_list_and_null_return(tmp_path: Path) -> None:
    assert invoke("run", str(write(tmp_path, "l.dg", "return {1, 2};"))).stdout == "1,2\n"
    r = invoke("run", str(write(tmp_path, "n.dg", 'info "only";')))
    assert r.exit_code == 0 and r.stdout == "only\n"


def test_run_runtime_error_exit_1(tmp_path: Path) -> None:
    p = write(tmp_path, "rt.dg", 'info "a";\nx = 1/0;\n')
    r = invoke("run", str(p))
    assert r.exit_code == 1
    assert r.stdout == "a\n"
    assert "Division by zero" in r.stderr
    assert f"{p}:2:6:" in r.stderr


def test_run_syntax_error_exit_2(tmp_path: Path) -> None:
    p = write(tmp_path, "bad.dg", "x = 1\ny = 2;\n")
    r = invoke("run", str(p))
    assert r.exit_code == 2
    assert f"{p}:2:1: error: Unexpected 'y' — expected ';'" in r.stderr
    assert "y = 2;\n^" in r.stderr
    assert r.stdout == ""


# --- run --json ---------------------------------------------------------------------------


def test_run_json_success(tmp_path: Path) -> None:
    p = write(tmp_path, "ok.dg", 'info "hi";\ninfo null;\nreturn {"a": [1, 2], "d": 2.5};\n')
    r = invoke("run", str(p), "--json")
    assert r.exit_code == 0
    obj = one_json(r.stdout)
    assert set(obj) == {
        "status",
        "output",
        "output_text",
        "info",
        "error",
        "statements",
        "duration_ms",
    }
    assert obj["status"] == "success"
    assert obj["output"] == {"a": [1, 2], "d": 2.5}
    assert obj["output_text"] == '{"a":[1,2],"d":2.5}'
    assert obj["info"] == ["hi", "null"]
    assert obj["error"] is None
    assert obj["statements"] == 3
    assert isinstance(obj["duration_ms"], (int, float)) and obj["duration_ms"] >= 0


def test_run_json_null_output(tmp_path: Path) -> None:
    obj = one_json(invoke("run", str(write(tmp_path, "n.dg", "x = 1;")), "--json").stdout)
    assert obj["output"] is None and obj["output_text"] is None and obj["status"] == "success"


def test_run_json_runtime_failure(tmp_path: Path) -> None:
    p = write(tmp_path, "rt.dg", "x = 1;\ny = 1/0;\n")
    r = invoke("run", str(p), "--json")
    assert r.exit_code == 1
    obj = one_json(r.stdout)
    assert obj["status"] == "failure" and obj["output"] is None
    assert obj["error"] == {
        "kind": "runtime",
        "message": "Division by zero",
        "line": 2,
        "column": 6,
    }
    assert obj["duration_ms"] >= 0


def test_run_json_syntax_failure(tmp_path: Path) -> None:
    p = write(tmp_path, "bad.dg", "x = 1\ny = 2;\n")
    r = invoke("run", str(p), "--json")
    assert r.exit_code == 2
    obj = one_json(r.stdout)
    assert obj["error"]["kind"] == "syntax"
    assert (obj["error"]["line"], obj["error"]["column"]) == (2, 1)
    assert obj["statements"] == 0 and obj["duration_ms"] >= 0


def test_run_json_limit_failure(tmp_path: Path) -> None:
    write(tmp_path, "rec.dg", "Int standalone.rec(Int n) { return standalone.rec(n + 1); }")
    p = write(tmp_path, "main.dg", "x = standalone.rec(1);")
    r = invoke("run", str(p), "--json")
    assert r.exit_code == 1
    obj = one_json(r.stdout)
    assert obj["error"]["kind"] == "limit"
    assert obj["error"]["message"] == "Function call depth exceeded the limit of 75"


def test_run_json_stdout_has_only_json_with_sendmail(tmp_path: Path) -> None:
    src = (
        'sendmail [ from: zoho.adminuserid to: "a@example.com" subject: "s" message: "m" ]\n'
        'info "x";\nreturn "done";'
    )
    r = invoke("run", str(write(tmp_path, "mail.dg", src)), "--json")
    assert r.exit_code == 0
    obj = one_json(r.stdout)
    assert obj["output"] == "done" and obj["info"] == ["x"]


def test_run_json_unicode(tmp_path: Path) -> None:
    obj = one_json(invoke("run", str(write(tmp_path, "u.dg", 'return "é😀";')), "--json").stdout)
    assert obj["output"] == "é😀"


# --- arguments ----------------------------------------------------------------------------


def test_arg_conversion_to_header_types(tmp_path: Path) -> None:
    p = write(tmp_path, "h.dg", HEADER_FN)
    r = invoke(
        "run",
        str(p),
        "--arg",
        "n=4",
        "--arg",
        "d=2026-02-05",
        "--arg",
        'm={"a": 7}',
        "--arg",
        "l=1,2,3",
        "--arg",
        "b=TRUE",
        "--arg",
        "x=2.5",
    )
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines() == ["n=5", "05-Feb-2026", "7", "3", "true", "2.5", "5"]


def test_arg_list_as_json_array(tmp_path: Path) -> None:
    p = write(tmp_path, "l.dg", "Int standalone.l(List l) { return l.size(); }")
    assert invoke("run", str(p), "--arg", "l=[1,2,3,4]").stdout == "4\n"


def test_arg_value_may_contain_equals(tmp_path: Path) -> None:
    p = write(tmp_path, "e.dg", "String standalone.e(String q) { return q; }")
    assert invoke("run", str(p), "--arg", "q=a=b").stdout == "a=b\n"


def test_args_json(tmp_path: Path) -> None:
    p = write(tmp_path, "h.dg", HEADER_FN)
    argsj = json.dumps(
        {"n": "5", "d": "05-Feb-2026", "m": {"a": 1}, "l": [1, 2], "b": False, "x": 1}
    )
    r = invoke("run", str(p), "--json", "--args", argsj)
    assert r.exit_code == 0
    obj = one_json(r.stdout)
    assert obj["info"] == ["n=6", "05-Feb-2026", "1", "2", "false", "1.0"]
    assert obj["output"] == "6"


def test_arg_overrides_args_json(tmp_path: Path) -> None:
    p = write(tmp_path, "e.dg", "String standalone.e(String q) { return q; }")
    r = invoke("run", str(p), "--args", '{"q": "json"}', "--arg", "q=arg")
    assert r.stdout == "arg\n"


def test_arg_conversion_failure_exit_1(tmp_path: Path) -> None:
    p = write(tmp_path, "h.dg", HEADER_FN)
    r = invoke("run", str(p), "--json", "--arg", "n=abc")
    assert r.exit_code == 1
    obj = one_json(r.stdout)
    assert obj["error"]["message"] == "Cannot convert 'abc' to Int for argument 'n'"
    assert obj["statements"] == 0


def test_implicit_args_of_bare_script(tmp_path: Path) -> None:
    p = write(tmp_path, "imp.dg", 'return "got " + a;')
    r = invoke("run", str(p), "--arg", "a=5")
    assert r.exit_code == 0 and r.stdout == "got 5\n"
    r = invoke("run", str(p), "--json")
    assert r.exit_code == 1
    obj = one_json(r.stdout)
    assert obj["error"]["kind"] == "runtime" and "'a'" in obj["error"]["message"]


@pytest.mark.parametrize("bad", ["foo", "=1", " =1"])
def test_bad_arg_format_exit_2(tmp_path: Path, bad: str) -> None:
    p = write(tmp_path, "ok.dg", "return 1;")
    r = invoke("run", str(p), "--arg", bad)
    assert r.exit_code == 2
    assert "NAME=VALUE" in r.stderr
    assert "Traceback" not in r.output


@pytest.mark.parametrize("bad", ["[1]", "{bad", '"x"'])
def test_bad_args_json_exit_2(tmp_path: Path, bad: str) -> None:
    r = invoke("run", str(write(tmp_path, "ok.dg", "return 1;")), "--args", bad)
    assert r.exit_code == 2
    assert "--args" in r.stderr
    assert "Traceback" not in r.output


def test_missing_file_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "missing.dg"
    r = invoke("run", str(missing))
    assert r.exit_code == 2
    assert "no such file" in r.stderr and str(missing) in r.stderr
    assert "Traceback" not in r.output
    r = invoke("run", str(missing), "--json")
    assert r.exit_code == 2


def test_non_utf8_file_exit_2(tmp_path: Path) -> None:
    p = tmp_path / "latin.dg"
    p.write_bytes(b'return "\xe9";')
    r = invoke("run", str(p))
    assert r.exit_code == 2 and "UTF-8" in r.stderr


def test_standalone_call_to_sibling_file(tmp_path: Path) -> None:
    write(tmp_path, "add_one.dg", "Int standalone.add_one(Int n) { return n + 1; }")
    p = write(tmp_path, "main.dg", "return standalone.add_one(41);")
    assert invoke("run", str(p)).stdout == "42\n"


def test_bare_script_with_non_identifier_stem(tmp_path: Path) -> None:
    assert invoke("run", str(write(tmp_path, "001-totals.dg", "return 7;"))).stdout == "7\n"


# --- check --------------------------------------------------------------------------------


def test_check_bad_file(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.dg", "x = 1\ny = 2;\n")
    good = write(tmp_path, "good.dg", "return 1;")
    r = invoke("check", str(bad), str(good))
    assert r.exit_code == 1
    assert r.stdout == f"{bad}:2:1: error: Unexpected 'y' — expected ';'\n"


def test_check_reports_each_bad_file(tmp_path: Path) -> None:
    a = write(tmp_path, "a.dg", "while (true) { }")
    b = write(tmp_path, "b.dg", "void workflow.x() { }")
    r = invoke("check", str(a), str(b))
    assert r.exit_code == 1
    assert r.stdout.splitlines() == [
        f"{a}:1:1: error: 'while' loops do not exist in Deluge; use 'for each'",
        f"{b}:1:6: error: Invalid function header: unknown category 'workflow'",
    ]


def test_check_good_files(tmp_path: Path) -> None:
    a = write(tmp_path, "a.dg", HEADER_FN)
    b = write(tmp_path, "b.dg", "x = 1 / 0;")  # runtime problems are not check errors
    r = invoke("check", str(a), str(b))
    assert r.exit_code == 0
    assert r.stdout == ""


def test_check_warns_for_implicit_arguments(tmp_path: Path) -> None:
    p = write(tmp_path, "imp.dg", "x = 1;\nreturn a + x;\n")
    r = invoke("check", str(p))
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"{p}:2:8: warning:")
    assert "'a'" in lines[0]


def test_check_missing_file(tmp_path: Path) -> None:
    r = invoke("check", str(tmp_path / "nope.dg"))
    assert r.exit_code == 1
    assert r.stdout.startswith(f"{tmp_path / 'nope.dg'}:1:1: error:")
    assert "Traceback" not in r.output


def test_no_args_shows_help() -> None:
    r = invoke()
    assert "run" in r.output and "check" in r.output


def test_run_src_helper_matches_cli(tmp_path: Path) -> None:
    src = 'info "a"; return 1 + 1;'
    res = run_src(src)
    obj = one_json(invoke("run", str(write(tmp_path, "x.dg", src)), "--json").stdout)
    j = res.to_json()
    assert {k: v for k, v in j.items() if k != "duration_ms"} == {
        k: v for k, v in obj.items() if k != "duration_ms"
    }


def test_check_reports_unknown_method_on_known_receiver(tmp_path: Path) -> None:
    # §5.6: `floodway check` reports an unknown method as an error when the receiver type is
    # known statically
    p = write(tmp_path, "m.dg", 'x = 1;\ny = "abc".fooBar();\n')
    r = invoke("check", str(p))
    assert r.exit_code == 1
    assert r.stdout == f"{p}:2:11: error: 'fooBar' is not a function of TEXT\n"


def test_check_is_silent_on_unknown_method_of_unknown_receiver(tmp_path: Path) -> None:
    p = write(tmp_path, "m.dg", "m = Map();\nm = ifnull(m, 1);\ny = m.fooBar();\n")
    r = invoke("check", str(p))
    assert r.exit_code == 0 and r.stdout == ""
