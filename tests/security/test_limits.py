"""LM-1..LM-7 and deluge-language.md §15: one test per execution limit, plus statement counting.

Limits are set small so every test ends well within a second; time assertions use wide margins.
"""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from floodway.deluge import DelugeSyntaxError, Limits, compile_program, run
from floodway.functions.standalone_host import StandaloneHost
from floodway.settings import load_settings

MB = 1024 * 1024


def execute(source: str, limits: Limits | None = None, folder: Path | None = None) -> Any:
    program = compile_program(source, name="limits_test")
    host = StandaloneHost(folder=folder or Path(__file__).parent, settings=load_settings())
    return run(program, {}, host, limits or Limits(time_s=5), tz="UTC")


def assert_limit(result: Any, message: str) -> None:
    assert result.status == "failure", result.to_json()
    assert result.error is not None
    assert result.error.kind == "limit", result.error.to_json()
    assert result.error.message == message


def syntax_error(source: str) -> DelugeSyntaxError:
    escaped = "no syntax error"
    try:
        compile_program(source, name="limits_test")
    except DelugeSyntaxError as exc:
        return exc
    except (RecursionError, SyntaxError) as exc:
        escaped = f"Python {type(exc).__name__} escaped the compiler"
    pytest.fail(escaped)


# A loop of a million iterations (1,000 x 1,000) and of a billion (three levels).
MILLION = (
    'c = "".leftpad(999).replaceAll(" ", ",");\nfor each a in c { for each b in c { x = 1; } }\n'
)
BILLION = (
    'c = "".leftpad(999).replaceAll(" ", ",");\n'
    "for each a in c { for each b in c { for each d in c { x = 1; } } }\n"
)


# --- LM-1 statements ---------------------------------------------------------------------------
def test_lm1_statement_limit_message_and_kind() -> None:
    result = execute(MILLION + "return 1;", Limits(statements=10_000, time_s=5))
    assert_limit(result, "Execution exceeded the limit of 10000 statements")
    assert result.statements == 10_000
    assert result.error.line == 2


def test_lm1_statement_limit_default_wording() -> None:
    result = execute(MILLION + "return 1;", Limits(time_s=5))
    assert_limit(result, "Execution exceeded the limit of 200000 statements")
    assert result.statements == 200_000


def test_lm1_statement_limit_exactly_reached_is_fine() -> None:
    # 1 + 4 iterations x 2 + 1 = 10 statements
    src = "n = 0;\nfor each i in {1, 2, 3, 4} { n = n + i; }\nreturn n;"
    assert execute(src, Limits(statements=10)).status == "success"
    assert_limit(execute(src, Limits(statements=9)), "Execution exceeded the limit of 9 statements")


def test_lm1_statement_limit_not_catchable() -> None:
    src = "try {\n" + MILLION + '} catch (e) { info "caught"; return "caught"; }\nreturn "done";'
    result = execute(src, Limits(statements=5_000, time_s=5))
    assert_limit(result, "Execution exceeded the limit of 5000 statements")
    assert "caught" not in result.info


def test_lm1_statement_limit_shared_with_called_functions(tmp_path: Path) -> None:
    (tmp_path / "spin.dg").write_text(
        "void standalone.spin()\n{\n" + MILLION + "}\n", encoding="utf-8"
    )
    src = 'try { standalone.spin(); } catch (e) { return "caught"; }\nreturn "done";'
    result = execute(src, Limits(statements=3_000, time_s=5), folder=tmp_path)
    assert_limit(result, "Execution exceeded the limit of 3000 statements")


# --- LM-1 time ---------------------------------------------------------------------------------
def test_lm1_time_limit_stops_loop() -> None:
    started = time.monotonic()
    result = execute(BILLION + "return 1;", Limits(statements=10**12, time_s=0.3))
    elapsed = time.monotonic() - started
    assert_limit(result, "Execution exceeded the time limit of 0.3 seconds")
    assert elapsed < 0.3 + 1.5


def test_lm1_time_limit_not_catchable() -> None:
    src = "try {\n" + BILLION + '} catch (e) { return "caught"; }\nreturn "done";'
    started = time.monotonic()
    result = execute(src, Limits(statements=10**12, time_s=0.2))
    assert time.monotonic() - started < 0.2 + 1.5
    assert_limit(result, "Execution exceeded the time limit of 0.2 seconds")


def test_lm1_time_limit_default_wording() -> None:
    result = execute(BILLION + "return 1;", Limits(statements=10**12, time_s=1))
    assert_limit(result, "Execution exceeded the time limit of 1 seconds")


# --- LM-5 call depth ---------------------------------------------------------------------------
RECURSE = """int standalone.recurse(int n)
{
	m = ifnull(n, 0);
	if (m >= 200)
	{
		return m;
	}
	return standalone.recurse(m + 1);
}
"""


def test_lm5_call_depth_75() -> None:
    result = execute(RECURSE)
    assert_limit(result, "Function call depth exceeded the limit of 75")


def test_lm5_call_depth_74_nested_calls_succeed() -> None:
    # depth 1 is the outermost function: 74 nested calls reach depth 75 exactly.
    src = RECURSE.replace("m >= 200", "m >= 74")
    result = execute(src)
    assert result.status == "success", result.to_json()
    assert result.value == 74
    src = RECURSE.replace("m >= 200", "m >= 75")
    assert_limit(execute(src), "Function call depth exceeded the limit of 75")


def test_lm5_call_depth_not_catchable() -> None:
    src = RECURSE.replace(
        "return standalone.recurse(m + 1);",
        "try { r = standalone.recurse(m + 1); } catch (e) { return -1; }\n\treturn r;",
    )
    assert_limit(execute(src), "Function call depth exceeded the limit of 75")


def test_lm5_custom_call_depth() -> None:
    assert_limit(
        execute(RECURSE, Limits(call_depth=10)), "Function call depth exceeded the limit of 10"
    )


# --- LM-3 return value size ----------------------------------------------------------------------
def test_lm3_return_value_over_limit() -> None:
    src = 't = "a".repeat(1500000);\nreturn t;'
    result = execute(src, Limits(return_bytes=1 * MB, text_chars=2 * MB))
    assert_limit(result, "Return value exceeds 1 MB")


def test_lm3_return_value_map_over_limit_counts_json_form() -> None:
    src = 't = "a".repeat(600000);\nreturn {"a": t, "b": t};'
    result = execute(src, Limits(return_bytes=1 * MB, text_chars=2 * MB))
    assert_limit(result, "Return value exceeds 1 MB")


def test_lm3_return_value_default_10_mb() -> None:
    src = (
        't = "a".repeat(1000000);\nl = List();\n'
        'for each i in "1,2,3,4,5,6,7,8,9,10,11" { l.add(t); }\nreturn l;'
    )
    assert_limit(execute(src), "Return value exceeds 10 MB")


def test_lm3_return_value_under_limit() -> None:
    src = 't = "a".repeat(900000);\nreturn t;'
    result = execute(src, Limits(return_bytes=1 * MB, text_chars=2 * MB))
    assert result.status == "success"
    assert len(result.value) == 900_000


# --- LM-3 memory ---------------------------------------------------------------------------------
def test_lm3_text_doubling_stops_at_text_limit_within_memory() -> None:
    src = (
        's = "abcdefgh";\n'
        'for each i in "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32"'
        " { s = s + s; }\nreturn s.length();"
    )
    limits = Limits(time_s=5, memory_bytes=32 * MB, text_chars=4 * MB)
    tracemalloc.start()
    try:
        result = execute(src, limits)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.status == "failure"
    assert result.error.kind == "limit"
    assert result.error.message in (
        "Text exceeds the limit of 4194304 characters",
        "Execution exceeded the memory limit of 32 MB",
    )
    assert peak < 32 * MB, f"peak {peak / MB:.1f} MB"


def test_lm3_leftpad_bomb_stops_at_memory_limit() -> None:
    src = (
        'c = "".leftpad(9999).replaceAll(" ", ",");\nl = List();\n'
        'for each i in c { l.add("".leftpad(100000)); }\nreturn l.size();'
    )
    limits = Limits(time_s=5, memory_bytes=32 * MB)
    tracemalloc.start()
    try:
        result = execute(src, limits)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert_limit(result, "Execution exceeded the memory limit of 32 MB")
    assert peak < 2 * 32 * MB + 16 * MB, f"peak {peak / MB:.1f} MB"


def test_lm3_memory_limit_not_catchable() -> None:
    src = (
        'c = "".leftpad(9999).replaceAll(" ", ",");\nl = List();\ntry {\n'
        'for each i in c { l.add("".leftpad(100000)); }\n} catch (e) { return "caught"; }\n'
        "return l.size();"
    )
    assert_limit(
        execute(src, Limits(time_s=5, memory_bytes=16 * MB)),
        "Execution exceeded the memory limit of 16 MB",
    )


def test_lm3_text_limit_repeat_refused_before_allocation() -> None:
    tracemalloc.start()
    try:
        result = execute('x = "abc".repeat(100000000);\nreturn 1;')
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert_limit(result, "Text exceeds the limit of 16777216 characters")
    assert peak < 16 * MB


# --- info caps -------------------------------------------------------------------------------------
def test_info_entries_capped_at_5000_then_marker() -> None:
    src = 'c = "".leftpad(5999).replaceAll(" ", ",");\nfor each i in c { info "x"; }\nreturn 1;'
    result = execute(src)
    assert result.status == "success"
    assert len(result.info) == 5_001
    assert result.info[:5_000] == ["x"] * 5_000
    assert result.info[-1] == "[info output truncated]"
    # later info statements still count: 1 + 6000 x 2 + 1
    assert result.statements == 12_002


def test_info_bytes_capped_at_1_mb() -> None:
    src = 'x = "y".repeat(400000);\ninfo x;\ninfo x;\ninfo x;\ninfo "after";\nreturn 1;'
    result = execute(src)
    assert result.status == "success"
    assert result.info[-1] == "[info output truncated]"
    assert "after" not in result.info
    assert sum(len(e) for e in result.info[:-1]) == 1 * MB
    assert result.info[2] == "y" * (MB - 800_000)


def test_info_custom_entry_cap() -> None:
    src = 'for each i in "a,b,c,d,e" { info i; }\nreturn 1;'
    result = execute(src, Limits(info_entries=3))
    assert result.info == ["a", "b", "c", "[info output truncated]"]


# --- value nesting -------------------------------------------------------------------------------
def _nested(levels: int, op: str) -> str:
    return (
        f'c = "".leftpad({levels - 2}).replaceAll(" ", ",");\nl = {{1}};\n'
        f"for each i in c {{ l = {{l}}; }}\n{op}"
    )


@pytest.mark.parametrize(
    "op", ["return l.toString();", "return l == l;", "info l;\nreturn 1;", "return l;"]
)
def test_value_nesting_over_1000_is_runtime_error(op: str) -> None:
    result = execute(_nested(1_100, op))
    assert result.status == "failure"
    assert result.error.kind == "runtime"
    assert result.error.message == "Value is nested too deeply"


def test_value_nesting_under_1000_is_fine() -> None:
    result = execute(_nested(900, "t = l.toString();\nreturn t.length();"))
    assert result.status == "success", result.to_json()


def test_value_nesting_error_is_catchable() -> None:
    result = execute(
        _nested(1_100, 'try { t = l.toString(); } catch (e) { return e; }\nreturn "x";')
    )
    assert result.status == "success"
    assert result.value == "Value is nested too deeply"


def test_value_nesting_self_containing_list() -> None:
    result = execute("l = List();\nl.add(l);\nreturn l.toString();")
    assert result.error is not None and result.error.kind == "runtime"
    assert result.error.message == "Value is nested too deeply"


def test_value_nesting_json_parse_100000_brackets() -> None:
    result = execute('t = "[".repeat(100000);\nreturn t.toJSONList();')
    assert result.status == "failure"
    assert result.error.kind == "runtime"
    assert result.error.message == "Value is nested too deeply"


# --- block nesting and source size (syntax) ------------------------------------------------------
def test_block_nesting_150_ifs_compile() -> None:
    src = "x = 1;\n" + "if (x == 1) {\n" * 150 + "info x;\n" + "}\n" * 150 + "return x;"
    assert execute(src).status == "success"


def test_block_nesting_over_200_is_syntax_error() -> None:
    src = "x = 1;\n" + "if (x == 1) {\n" * 201 + "info x;\n" + "}\n" * 201
    exc = syntax_error(src)
    assert exc.kind == "syntax"
    assert exc.message == "Nesting exceeds the limit of 200 levels"


def test_expression_nesting_100000_parentheses_is_syntax_error() -> None:
    exc = syntax_error("x = " + "(" * 100_000 + "1" + ")" * 100_000 + ";")
    assert exc.message == "Nesting exceeds the limit of 200 levels"


def test_expression_nesting_100000_brackets_is_syntax_error() -> None:
    exc = syntax_error("x = " + "[" * 100_000 + ";")
    assert exc.message == "Nesting exceeds the limit of 200 levels"


def test_expression_nesting_199_parentheses_compile() -> None:
    assert execute("x = " + "(" * 190 + "1" + ")" * 190 + ";\nreturn x;").value == 1


def test_method_chain_counts_one_level_per_call() -> None:
    exc = syntax_error('x = "a"' + ".trim()" * 300 + ";")
    assert exc.message == "Nesting exceeds the limit of 200 levels"
    assert execute('x = "a"' + ".trim()" * 50 + ";\nreturn x;").value == "a"


@pytest.mark.parametrize(
    "expr",
    [
        "1" + " + 1" * 2_000,
        '"a"' + ' + "a"' * 2_000,
        "true" + " && true" * 5_000,
        "!" * 3_000 + "true",
        "1" + " == 1" * 3_000,
    ],
    ids=["sum", "concat", "and", "not", "compare"],
)
def test_long_operator_chains_never_raise_recursion_error(expr: str) -> None:
    """LM-5: a syntax error or a working program, never RecursionError from the compiler."""
    try:
        program = compile_program(f"x = {expr};\nreturn x;", name="chain")
    except DelugeSyntaxError as exc:
        assert exc.message == "Nesting exceeds the limit of 200 levels"
        return
    except RecursionError:
        program = None
    if program is None:
        pytest.fail("RecursionError escaped the compiler")
    host = StandaloneHost(folder=Path(__file__).parent, settings=load_settings())
    assert run(program, {}, host, Limits(time_s=5)).status in ("success", "failure")


def test_source_over_1_mb_is_syntax_error() -> None:
    exc = syntax_error("x = 1;\n" * 200_000)
    assert exc.message == "Source file exceeds 1 MB"
    exc = syntax_error('x = "' + "a" * (MB + 10) + '";')
    assert exc.message == "Source file exceeds 1 MB"


# --- LM-6 regular expressions --------------------------------------------------------------------
@pytest.mark.parametrize(
    "call",
    ['replaceAll("(x+x+)+y", "z")', 'replaceFirst("(x+x+)+y", "z")', 'matches("(x|x)*(x+)+y")'],
)
def test_lm6_catastrophic_regex_stops_within_1_5_s(call: str) -> None:
    src = f'x = "x".repeat(5000) + "!";\nreturn x.{call};'
    started = time.monotonic()
    result = execute(src, Limits(time_s=10))
    elapsed = time.monotonic() - started
    assert_limit(result, "Regular expression exceeded 1 second")
    assert elapsed < 2.5


def test_lm6_regex_timeout_not_catchable() -> None:
    src = 'x = "x".repeat(5000);\ntry { y = x.replaceAll("(x+x+)+y", "z"); } catch (e) { return e; }\nreturn 1;'
    assert_limit(execute(src, Limits(time_s=10)), "Regular expression exceeded 1 second")


def test_lm6_regex_never_runs_past_the_deadline() -> None:
    src = 'x = "x".repeat(5000);\nreturn x.replaceAll("(x+x+)+y", "z");'
    started = time.monotonic()
    result = execute(src, Limits(time_s=0.3))
    assert time.monotonic() - started < 0.3 + 1.5
    assert result.error is not None and result.error.kind == "limit"


# --- statement counting (D-25) ---------------------------------------------------------------------
COUNTED = [
    (
        "simple statements",
        "a = 1;\nb = a + 2;\ninfo b;\nreturn b;",
        4,
        3,
    ),
    (
        # x = 5 (1), if cond false (1), else-if cond true (1), its 2 statements, return (1)
        "if, else if, else",
        'x = 5;\nif (x > 10) { info "big"; }\nelse if (x > 3) { info "mid"; y = 1; }\n'
        'else { info "small"; }\nreturn x;',
        6,
        5,
    ),
    (
        # n=0 (1); i=1: iter+2 conds+assign (4); i=2: iter+cond+continue (3);
        # i=3: 4; i=4: iter+2 conds+break (4); i=5 never starts; return (1)
        "loop with break and continue",
        "n = 0;\nfor each i in {1, 2, 3, 4, 5}\n{\n\tif (i == 2) { continue; }\n"
        "\tif (i == 4) { break; }\n\tn = n + i;\n}\nreturn n;",
        17,
        4,
    ),
    (
        # r=0, r=1, x=1/0 (raises, counted), catch: info + assign, second try's assign, return;
        # try/catch themselves count nothing
        "try and catch",
        "r = 0;\ntry {\n\tr = 1;\n\tx = 1 / 0;\n\tr = 2;\n} catch (e) {\n\tinfo e;\n\tr = r + 10;\n}\n"
        "try { r = r + 1; } catch (e2) { r = -1; }\nreturn r;",
        7,
        12,
    ),
    (
        # total=0 (1); 3 outer iterations (3) + 3 assigns (3); 6 inner iterations (6) + 6 infos
        # (6), the empty statement counts nothing; throw (1) + info in catch (1); return (1)
        "nested loops, index loop, empty statement, throw",
        "total = 0;\nfor each index i in {10, 20, 30}\n{\n\ttotal = total + i;\n"
        '\tfor each x in "a,b"\n\t{\n\t\t;\n\t\tinfo x;\n\t}\n}\n'
        'try { throw "boom"; } catch (e) { info e; }\nreturn total;',
        22,
        3,
    ),
]


@pytest.mark.parametrize(
    ("source", "count", "value"), [c[1:] for c in COUNTED], ids=[c[0] for c in COUNTED]
)
def test_lm1_statement_count_follows_spec(source: str, count: int, value: int) -> None:
    result = execute(source)
    assert result.status == "success", result.to_json()
    assert result.value == value
    assert result.statements == count


def test_lm1_statement_count_includes_called_functions(tmp_path: Path) -> None:
    (tmp_path / "helper.dg").write_text(
        "int standalone.helper(int n)\n{\n\tm = n * 2;\n\tif (m > 5) { m = m + 1; }\n\treturn m;\n}\n",
        encoding="utf-8",
    )
    # a = helper(1): 1 + (m=2: assign, cond, return = 3) = 4
    # b = helper(3): 1 + (m=6: assign, cond, assign, return = 4) = 5; info (1); return (1)
    src = "a = standalone.helper(1);\nb = standalone.helper(3);\ninfo a + b;\nreturn a + b;"
    result = execute(src, folder=tmp_path)
    assert result.status == "success", result.to_json()
    assert result.value == 9
    assert result.statements == 11


def test_lm1_statement_count_reported_on_failure() -> None:
    result = execute("a = 1;\nb = 2;\nc = a / 0;\nreturn c;")
    assert result.status == "failure"
    assert result.statements == 3
