"""Runtime semantics of the language (deluge-language.md §4, §6, §7, §13, §14, §16): scope,
loops, argument and return conversion, input, try/catch/throw, null, references, calls between
functions and error locations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from floodway.deluge import Limits, compile_program, run
from floodway.deluge.values import DateTime, DelugeList, DelugeMap, text_form
from floodway.functions.standalone_host import StandaloneHost
from floodway.settings import load_settings

NOWHERE = Path("/nonexistent-floodway-tests")


def run_src(
    src: str,
    _folder: Path = NOWHERE,
    _limits: Limits | None = None,
    _name: str = "main",
    **args: Any,
) -> Any:
    """Compile and run a Deluge source text; returns the runtime Result."""
    host = StandaloneHost(folder=_folder, settings=load_settings())
    limits = _limits or Limits(statements=100_000, time_s=10)
    return run(compile_program(src, name=_name), args, host, limits)


def value_of(src: str, **args: Any) -> Any:
    res = run_src(src, **args)
    assert res.status == "success", res.error and res.error.to_json()
    return res.value


def failure(src: str, **args: Any) -> Any:
    res = run_src(src, **args)
    assert res.status == "failure", f"expected a failure, got {res.value!r}"
    return res.error


# --- scope and loops -------------------------------------------------------------------------


def test_variable_assigned_in_if_is_visible_after() -> None:
    assert value_of("if (true) { a = 1; } return a;") == 1
    assert value_of("for each x in {1} { b = x + 1; } return b;") == 2
    assert value_of("try { c = 3; } catch (e) { } return c;") == 3
    assert value_of("try { x = 1 / 0; } catch (e) { d = 4; } return d;") == 4


def test_variable_in_branch_not_taken_is_null() -> None:
    res = run_src("if (false) { a = 1; } return a;")
    assert res.status == "success" and res.value is None


def test_loop_variable_keeps_last_value() -> None:
    assert value_of("for each v in {1, 2, 3} { } return v;") == 3
    assert value_of('for each index i in {"a", "b", "c"} { } return i;') == 2
    assert value_of("for each v in {1, 2, 3} { if (v == 2) { break; } } return v;") == 2


def test_for_each_over_map_yields_keys() -> None:
    assert value_of('r = ""; for each k in {"a": 1, "b": 2} { r = r + k; } return r;') == "ab"


def test_for_each_over_comma_text() -> None:
    v = value_of('r = List(); for each p in "Creator,CRM,Books" { r.add(p); } return r;')
    assert list(v) == ["Creator", "CRM", "Books"]
    v = value_of('r = List(); for each p in "a, b" { r.add(p); } return r;')
    assert list(v) == ["a", " b"]  # not trimmed
    assert value_of('n = 0; for each p in "" { n = n + 1; } return n;') == 0


def test_for_each_over_empty_collections() -> None:
    assert value_of("n = 0; for each p in List() { n = n + 1; } return n;") == 0
    assert value_of("n = 0; for each p in Map() { n = n + 1; } return n;") == 0
    assert value_of("n = 0; for each p in {} { n = n + 1; } return n;") == 0


@pytest.mark.parametrize(
    ("iterable", "typ"),
    [
        ("null", "null"),
        ("5", "NUMBER"),
        ("2.5", "DECIMAL"),
        ("true", "BOOLEAN"),
        ("'05-Feb-2026'", "DATE-TIME"),
    ],
)
def test_cannot_iterate(iterable: str, typ: str) -> None:
    e = failure(f"x = 1;\nfor each p in {iterable} {{ }}")
    assert e.kind == "runtime"
    assert e.message == f"Cannot iterate over {typ}"
    assert e.line == 2


def test_for_each_iterates_a_snapshot() -> None:
    v = value_of(
        'l = {1, 2}; n = 0; for each x in l { l.add(x); n = n + 1; } return n + ":" + l.size();'
    )
    assert v == "2:4"
    v = value_of('m = {"a": 1}; n = 0; for each k in m { m.put(k + "x", 1); n = n + 1; } return n;')
    assert v == 1
    v = value_of(
        "l = {1, 2, 3}; n = 0; for each index i in l { l.remove(0); n = n + 1; } return n;"
    )
    assert v == 3


def test_break_and_continue_affect_innermost_loop() -> None:
    v = value_of(
        "r = List(); for each x in {1, 2} { for each y in {1, 2, 3} {"
        ' if (y == 2) { break; } r.add(x + "-" + y); } } return r;'
    )
    assert list(v) == ["1-1", "2-1"]
    v = value_of(
        "r = List(); for each x in {1, 2} { for each y in {1, 2, 3} {"
        ' if (y == 2) { continue; } r.add(x + "-" + y); } } return r;'
    )
    assert list(v) == ["1-1", "1-3", "2-1", "2-3"]


def test_counted_loop_idiom() -> None:
    assert (
        value_of('n = 0; for each it in "".leftpad(20 - 1).toList("") { n = n + 1; } return n;')
        == 19
    )


# --- return conversion (§13.3) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "ret", "expected", "typ"),
    [
        ("String", "5", "5", str),
        ("String", "{1, 2}", "1,2", str),
        ("String", "null", None, type(None)),
        ("Int", '"12"', 12, int),
        ("Int", "4.0", 4, int),
        ("Decimal", "1", 1.0, float),
        ("Decimal", '"2.5"', 2.5, float),
        ("Bool", '"true"', True, bool),
        ("Bool", '"FALSE"', False, bool),
        ("Map", "'{\"a\":1}'", '{"a":1}', DelugeMap),
        ("Map", '{"a": 1}', '{"a":1}', DelugeMap),
        ("List", '"[1,2]"', "1,2", DelugeList),
        ("List", "{1, 2}", "1,2", DelugeList),
        ("void", "5", None, type(None)),
    ],
)
def test_return_conversion(header: str, ret: str, expected: Any, typ: type) -> None:
    v = value_of(f"{header} standalone.f() {{ return {ret}; }}")
    assert type(v) is typ
    if typ in (DelugeMap, DelugeList):
        assert text_form(v) == expected
    else:
        assert v == expected


def test_return_conversion_dates() -> None:
    v = value_of('Date standalone.f() { return "2026-02-05"; }')
    assert type(v) is DateTime and text_form(v) == "05-Feb-2026"
    v = value_of('DateTime standalone.f() { return "05-Feb-2026 10:11:12"; }')
    assert text_form(v) == "05-Feb-2026 10:11:12"


def test_return_conversion_failures() -> None:
    assert failure('Map standalone.f() { return "abc"; }').message == "Return value is not a MAP"
    e = failure('Int standalone.f() { return "abc"; }')
    assert e.kind == "runtime" and "Cannot convert 'abc' to Int" in e.message


def test_end_of_body_returns_null() -> None:
    res = run_src("String standalone.f() { x = 1; }")
    assert res.status == "success" and res.value is None


def test_bare_script_return_is_unconverted() -> None:
    assert type(value_of("return 5;")) is int
    assert type(value_of("return {1};")) is DelugeList


# --- argument conversion (§13.2) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("typ", "given", "expected"),
    [
        ("Int", " 42 ", 42),
        ("Int", 4.0, 4),
        ("Long", "7", 7),
        ("Decimal", 1, 1.0),
        ("Decimal", "2.5", 2.5),
        ("Bool", "TRUE", True),
        ("Bool", False, False),
        ("String", 5, "5"),
        ("Int", None, None),
        ("String", None, None),
    ],
)
def test_argument_conversion(typ: str, given: Any, expected: Any) -> None:
    v = value_of(
        f'String standalone.f({typ} a) {{ r = List(); r.add(a); return r.get(0) + ""; }}', a=given
    )
    res = run_src(
        f'void standalone.f({typ} a) {{ info a; x = ifnull(a, "NULL"); info x; }}', a=given
    )
    assert res.status == "success"
    got = res.info[1]
    assert got == ("NULL" if expected is None else text_form(expected))
    assert v == ("" if expected is None else text_form(expected))


def test_argument_conversion_types() -> None:
    assert type(value_of("Int standalone.f(Int a) { return a; }", a="3")) is int
    assert type(value_of("Decimal standalone.f(Decimal a) { return a; }", a=3)) is float
    v = value_of("Map standalone.f(Map m) { return m; }", m='{"a": 1}')
    assert type(v) is DelugeMap and text_form(v) == '{"a":1}'
    v = value_of("List standalone.f(List l) { return l; }", l="1,2,3")
    assert type(v) is DelugeList and list(v) == ["1", "2", "3"]
    v = value_of("List standalone.f(List l) { return l; }", l="[1,2]")
    assert list(v) == [1, 2]
    v = value_of("Date standalone.f(Date d) { return d; }", d="2026-02-05")
    assert type(v) is DateTime and text_form(v) == "05-Feb-2026"
    v = value_of("Date standalone.f(Date d) { return d; }", d=0)
    assert text_form(v) == "01-Jan-1970"


@pytest.mark.parametrize(
    ("typ", "given", "message"),
    [
        ("Int", "abc", "Cannot convert 'abc' to Int for argument 'dealId'"),
        ("Int", 4.5, "Cannot convert '4.5' to Int for argument 'dealId'"),
        ("Bool", "yes", "Cannot convert 'yes' to Bool for argument 'dealId'"),
    ],
)
def test_argument_conversion_failure(typ: str, given: Any, message: str) -> None:
    res = run_src(f'void automation.x({typ} dealId) {{ info "started"; }}', dealId=given)
    assert res.status == "failure"
    assert res.error.kind == "runtime" and res.error.message == message
    assert res.info == [] and res.statements == 0  # fails before its first statement


def test_missing_and_extra_arguments() -> None:
    res = run_src(
        "Int standalone.f(Int a, Int b) { return ifnull(a, 0) + ifnull(b, 0); }", a=1, c=5
    )
    assert res.value == 1


# --- implicit arguments of bare scripts and input -------------------------------------


def test_implicit_argument() -> None:
    assert value_of("return a + 1;", a=1) == 2


def test_missing_implicit_argument_is_runtime_error() -> None:
    e = failure("x = 1;\nreturn a + 1;")
    assert e.kind == "runtime"
    assert "'a'" in e.message
    assert (e.line, e.column) == (2, 8)


def test_input_reads_argument() -> None:
    assert value_of("x = input.id.toLong(); return x;", id="7") == 7
    assert value_of("Int standalone.f(Int id) { return input.id + id; }", id=3) == 6


def test_input_assign() -> None:
    assert value_of("Int standalone.f(Int id) { input.id = 10; return id; }", id=3) == 10


def test_input_map_is_a_read_only_snapshot() -> None:
    src = 'Map standalone.f(Int id, String n) { m = input; m.put("z", 1); return input; }'
    v = value_of(src, id="7", n=1)
    assert text_form(v) == '{"id":7,"n":"1"}'


# --- try / catch / throw -------------------------------------------------------------------


def test_catch_binds_message_text() -> None:
    v = value_of("try { x = 1 / 0; } catch (e) { return e; }")
    assert type(v) is str and v == "Division by zero"
    res = run_src('try { x = "a" * 2; } catch (e) { info e; }')
    assert res.info == ["Operator '*' is not defined for TEXT and NUMBER"]


def test_try_abandons_rest_of_block() -> None:
    assert value_of("try { x = 1; y = 1 / 0; x = 2; } catch (e) { } return x;") == 1
    assert value_of("try { x = 1; } catch (e) { x = 2; } return x;") == 1


@pytest.mark.parametrize(
    ("thrown", "text"),
    [
        ('"boom"', "boom"),
        ("42", "42"),
        ("2.5", "2.5"),
        ("{1, 2}", "1,2"),
        ('{"a": 1}', '{"a":1}'),
        ("true", "true"),
        ("null", ""),
    ],
)
def test_throw_any_value(thrown: str, text: str) -> None:
    v = value_of(f'try {{ throw {thrown}; }} catch (e) {{ return "[" + e + "]"; }}')
    assert v == f"[{text}]"


def test_uncaught_throw_fails_with_message() -> None:
    res = run_src('info "before";\nthrow "bad thing";\ninfo "after";')
    assert res.status == "failure"
    assert (res.error.kind, res.error.message, res.error.line) == ("runtime", "bad thing", 2)
    assert res.info == ["before"]


def test_error_inside_catch_propagates() -> None:
    e = failure('try { throw "a"; } catch (e) {\n  throw "b:" + e;\n}')
    assert e.message == "b:a" and e.line == 2
    e = failure('try { throw "a"; } catch (e) {\n  x = 1 / 0;\n}')
    assert e.message == "Division by zero" and e.line == 2


def test_nested_try_innermost_wins() -> None:
    src = (
        'try { try { throw "in"; } catch (e) { throw "mid " + e; } }'
        ' catch (e2) { return "outer " + e2; }'
    )
    assert value_of(src) == "outer mid in"
    src = (
        'try { try { x = 1/0; } catch (e) { r = "inner"; } } catch (e2) { r = "outer"; } return r;'
    )
    assert value_of(src) == "inner"


def test_limit_errors_are_not_caught() -> None:
    src = (
        'try { for each x in "".leftpad(100).toList("") { y = 1; } } catch (e) { return "caught"; }'
    )
    res = run_src(src, _limits=Limits(statements=50))
    assert res.status == "failure"
    assert res.error.kind == "limit"
    assert res.error.message == "Execution exceeded the limit of 50 statements"
    src = 'try { x = "ab".leftpad(50); } catch (e) { return "caught"; }'
    res = run_src(src, _limits=Limits(text_chars=10))
    assert res.error.kind == "limit"


def test_statement_counting() -> None:
    res = run_src(
        "x = 1;\nif (x == 1) { y = 2; } else if (x == 2) { y = 3; }\nfor each v in {1, 2} { info v; }\nreturn y;"
    )
    # x=, if-cond, y=, 2 iterations + 2 infos, return
    assert res.statements == 1 + 1 + 1 + 4 + 1
    res = run_src("x = 1; y = 2; z = 3;", _limits=Limits(statements=2))
    assert res.error.kind == "limit" and res.statements == 2


# --- null semantics (§7) ------------------------------------------------------------------

NULL_VALUES = [
    ("x == null", True),
    ("x != null", False),
    ('"" == null', False),
    ("isNull(x)", True),
    ("x.isNull()", True),
    ('isNull("")', True),
    ("x.isEmpty()", True),
    ("x.isBlank()", True),
    ("x.isValidObject()", False),
    ("x.isText()", False),
    ("x.isNumber()", False),
    ("x.isDate()", False),
    ("x.isFile()", False),
    ("x.toString()", ""),
    ('ifnull(x, "y")', "y"),
    ('"a" + x', "a"),
    ('x + "a"', "a"),
    ("null == null", True),
]


@pytest.mark.parametrize(("expr", "expected"), NULL_VALUES)
def test_null_values(expr: str, expected: Any) -> None:
    v = value_of(f"x = null;\nr = {expr};\nreturn r;")
    assert type(v) is type(expected) and v == expected


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ('x.get("a")', "Cannot call 'get' on a null value"),
        ("x.length()", "Cannot call 'length' on a null value"),
        ("x + 1", "Cannot perform '+' on a null value"),
        ("x * 2", "Cannot perform '*' on a null value"),
        ("1 - x", "Cannot perform '-' on a null value"),
        ("-x", "Cannot perform '-' on a null value"),
        ("!x", "Condition must be BOOLEAN but was null"),
        ("x && true", "Condition must be BOOLEAN but was null"),
        ("true || x", None),  # short circuit: no error
    ],
)
def test_null_errors(expr: str, message: str | None) -> None:
    res = run_src(f"x = null;\nr = {expr};\nreturn r;")
    if message is None:
        assert res.status == "success"
        return
    assert res.status == "failure"
    assert (res.error.kind, res.error.message, res.error.line) == ("runtime", message, 2)


def test_null_ordering_and_conditions_fail() -> None:
    for expr in ("x < 1", "1 >= x", "x > x"):
        e = failure(f"x = null; r = {expr};")
        assert e.message.startswith("Cannot compare") and "null" in e.message
    assert failure("x = null; if (x) { }").message == "Condition must be BOOLEAN but was null"
    assert failure("for each v in null { }").message == "Cannot iterate over null"


def test_null_in_collections() -> None:
    assert (
        value_of('m = Map(); m.put("k", null); return m.get("k") == null && m.containKey("k");')
        is True
    )
    assert value_of("l = List(); l.add(null); return l.size();") == 1
    assert text_form(value_of('m = {"k": null}; return m;')) == '{"k":null}'
    res = run_src('m = Map(); return m.get("missing");')
    assert res.status == "success" and res.value is None


def test_info_null_logs_null() -> None:
    assert run_src('x = null; info x; info "a" + x;').info == ["null", "a"]


def test_null_to_typed_argument_stays_null() -> None:
    res = run_src(
        "void standalone.f(Int a, Map m, List l) { info a == null && m == null && l == null; }",
        a=None,
    )
    assert res.info == ["true"]


# --- reference semantics (D-23) -------------------------------------------------------------


def test_maps_and_lists_are_references() -> None:
    assert text_form(value_of('a = {"k": 1}; b = a; b.put("k", 2); return a;')) == '{"k":2}'
    assert text_form(value_of("a = {1}; b = a; b.add(2); return a;")) == "1,2"
    v = value_of('m = {"k": 1}; l = List(); l.add(m); m.put("z", 3); return l;')
    assert text_form(v) == '{"k":1,"z":3}'
    v = value_of('l = List(); m = Map(); l.add(m); l.get(0).put("a", 1); return m;')
    assert text_form(v) == '{"a":1}'


def test_references_passed_to_called_function(tmp_path: Path) -> None:
    (tmp_path / "mutate.dg").write_text(
        'void standalone.mutate(Map m) { m.put("touched", true); }', "utf-8"
    )
    res = run_src("m = Map(); standalone.mutate(m); return m;", _folder=tmp_path)
    assert res.status == "success"
    assert text_form(res.value) == '{"touched":true}'


# --- calls between functions (§13.4) ---------------------------------------------------------


@pytest.fixture
def funcs(tmp_path: Path) -> Path:
    (tmp_path / "add_one.dg").write_text(
        'Int standalone.add_one(Int n)\n{\n    info "in add_one " + n;\n    return n + 1;\n}\n',
        "utf-8",
    )
    (tmp_path / "Fails.dg").write_text(
        "string standalone.fails(String s)\n{\n    x = 1;\n    y = 10 / 0;\n    return y;\n}\n",
        "utf-8",
    )
    (tmp_path / "rec.dg").write_text(
        "Int standalone.rec(Int n)\n{\n    if (n <= 0) { return 0; }\n"
        "    return standalone.rec(n - 1) + 1;\n}\n",
        "utf-8",
    )
    (tmp_path / "bare.dg").write_text('return "bare";\n', "utf-8")
    (tmp_path / "auto.dg").write_text("void automation.auto() { }\n", "utf-8")
    return tmp_path


def test_call_standalone(funcs: Path) -> None:
    res = run_src("x = standalone.add_one(4); return x;", _folder=funcs)
    assert res.value == 5 and res.info == ["in add_one 4"]
    assert res.statements == 4  # caller 2 + callee 2 (shared budget)


def test_call_is_case_insensitive_and_converts_arguments(funcs: Path) -> None:
    res = run_src('x = Standalone.ADD_ONE("4"); return x;', _folder=funcs)
    assert res.value == 5 and type(res.value) is int


def test_call_bare_script(funcs: Path) -> None:
    assert run_src("x = standalone.bare(); return x;", _folder=funcs).value == "bare"


def test_call_argument_count_error(funcs: Path) -> None:
    res = run_src("x = standalone.add_one(4, 5);", _folder=funcs)
    assert res.error.message == "Function 'standalone.add_one' expects 1 argument but got 2"
    res = run_src("x = standalone.add_one();", _folder=funcs)
    assert res.error.message == "Function 'standalone.add_one' expects 1 argument but got 0"


def test_call_argument_conversion_error(funcs: Path) -> None:
    res = run_src('x = standalone.add_one("abc");', _folder=funcs)
    assert res.error.message == "Cannot convert 'abc' to Int for argument 'n'"


def test_unknown_function(funcs: Path) -> None:
    res = run_src("x = 1;\nx = standalone.nope(1);", _folder=funcs)
    assert res.error.kind == "runtime"
    assert res.error.message == "Function 'standalone.nope' does not exist"
    assert (res.error.line, res.error.column) == (2, 5)


def test_other_category_not_callable(funcs: Path) -> None:
    res = run_src("automation.auto();", _folder=funcs)
    assert res.error.message == "Function 'automation.auto' cannot be called from Deluge"


def test_error_in_called_function_located_at_call(funcs: Path) -> None:
    res = run_src('x = 1;\ny = standalone.fails("abc");\nreturn y;', _folder=funcs)
    assert res.status == "failure"
    assert (res.error.line, res.error.column) == (2, 5)
    assert res.error.message.startswith("Division by zero")
    assert "standalone.fails" in res.error.message and "line 4" in res.error.message


def test_error_in_called_function_can_be_caught(funcs: Path) -> None:
    res = run_src(
        'try { y = standalone.fails("abc"); } catch (e) { return "caught: " + e; }', _folder=funcs
    )
    assert res.value.startswith("caught: Division by zero")


def test_recursion_and_depth_limit(funcs: Path) -> None:
    assert run_src("x = standalone.rec(10); return x;", _folder=funcs).value == 10
    # the outermost function is depth 1; rec(73) reaches depth 75
    assert run_src("x = standalone.rec(73); return x;", _folder=funcs).value == 73
    res = run_src("x = standalone.rec(74); return x;", _folder=funcs)
    assert res.error.kind == "limit"
    assert res.error.message == "Function call depth exceeded the limit of 75"
    res = run_src('try { x = standalone.rec(200); } catch (e) { return "caught"; }', _folder=funcs)
    assert res.error.kind == "limit"


def test_direct_recursion_by_own_header_name(tmp_path: Path) -> None:
    src = "Int standalone.fact(Int n) { if (n <= 1) { return 1; } return n * standalone.fact(n - 1); }"
    res = run_src(src, _folder=tmp_path, _name="whatever_file", n=5)
    assert res.value == 120


# --- now / today / system variables -------------------------------------------------------


def test_now_and_today() -> None:
    v = value_of("x = today; return x;")
    assert type(v) is DateTime and ":" not in text_form(v)
    v = value_of("x = now; return x;")
    assert type(v) is DateTime and ":" in text_form(v)


def test_variable_named_today_wins() -> None:
    assert value_of("today = 5; return today;") == 5
    assert value_of('now = "n"; return now;') == "n"


def test_today_equals_currentdate() -> None:
    assert value_of("return today == zoho.currentdate;") is True


def test_loginuserid() -> None:
    assert value_of("x = zoho.loginuserid; return x;") == "admin@floodway.local"
    assert value_of("x = zoho.adminuserid; return x;") == "admin@floodway.local"


# --- runtime error locations ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "line", "col", "message"),
    [
        ("x = 1;\ny = 1/0;", 2, 6, "Division by zero"),
        (
            'x = 1;\ny = {1, 2, {"a": "5" * 2}};',
            2,
            22,
            "Operator '*' is not defined for TEXT and NUMBER",
        ),
        ('m = Map();\ny = m.put("k",\n   1 / 0);', 3, 6, "Division by zero"),
        ('y = "abc".subString(1).fooBar();', 1, 24, "'fooBar' is not a function of TEXT"),
        ("x = null;\n\n   z = x.get(1);", 3, 10, "Cannot call 'get' on a null value"),
        (
            'if (true) {\n  if (1 > 0) {\n    r = "a" < {1};\n  }\n}',
            3,
            13,
            "Cannot compare TEXT and LIST",
        ),
        ("l = {1, 2, 3};\nx = l.get(5);", 2, 7, "Index 5 is out of range for a list of size 3"),
    ],
)
def test_runtime_error_locations(src: str, line: int, col: int, message: str) -> None:
    res = run_src(src)
    assert res.status == "failure"
    assert (res.error.line, res.error.column, res.error.message) == (line, col, message)


def test_result_to_json() -> None:
    res = run_src('info "hi"; return {"a": [1, 2]};')
    j = res.to_json()
    assert j["status"] == "success"
    assert j["output"] == {"a": [1, 2]}
    assert j["output_text"] == '{"a":[1,2]}'
    assert j["info"] == ["hi"] and j["error"] is None and j["statements"] == 2
    res = run_src("x = 1 / 0;")
    j = res.to_json()
    assert j["status"] == "failure" and j["output"] is None
    assert j["error"] == {"kind": "runtime", "message": "Division by zero", "line": 1, "column": 7}


def test_first_use_of_tasks_and_global_forms_in_a_fresh_process(tmp_path: Path) -> None:
    # Modules imported lazily while Deluge code runs must not trip the security tripwire
    # (a fresh interpreter has imported nothing beyond what floodway.deluge loads itself).
    import subprocess
    import sys

    script = (
        "from pathlib import Path\n"
        "from floodway.deluge import compile_program, run\n"
        "from floodway.functions.standalone_host import StandaloneHost\n"
        "from floodway.settings import load_settings\n"
        "src = 'x = isNull(null);\\n"
        'sendmail [ from: zoho.adminuserid to: \\"a@example.com\\" subject: \\"s\\" ]\\n'
        "return x;'\n"
        "host = StandaloneHost(folder=Path('.'), settings=load_settings())\n"
        "res = run(compile_program(src), {}, host)\n"
        "print(res.status, res.error and res.error.kind, res.value, len(host.outbox))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert out.stdout.strip() == "success None True 1", out.stdout + out.stderr
