"""Operators (deluge-language.md §5): precedence, arithmetic result types, concatenation,
comparisons, logical operators, date arithmetic, compound assignment, and the compiler's fast
paths (plain int arithmetic on proven NUMBERs, in-place text appends)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from floodway.deluge import Limits, compile_program, run
from floodway.deluge.values import DateTime, text_form
from floodway.functions.standalone_host import StandaloneHost
from floodway.settings import load_settings

MAX = 2**63 - 1
MIN = -(2**63)


def run_src(src: str, **args: Any) -> Any:
    """Compile and run a Deluge source text; returns the runtime Result."""
    host = StandaloneHost(folder=Path("/nonexistent-floodway-tests"), settings=load_settings())
    return run(compile_program(src, name="ops"), args, host, Limits(statements=100_000, time_s=10))


def value_of(src: str, **args: Any) -> Any:
    res = run_src(src, **args)
    assert res.status == "success", res.error and res.error.to_json()
    return res.value


def ev(expr: str, **args: Any) -> Any:
    """Value of one expression (through a variable, so constant folding cannot hide anything)."""
    return value_of(f"r = {expr};\nreturn r;", **args)


def err(src: str, **args: Any) -> Any:
    res = run_src(src, **args)
    assert res.status == "failure", f"expected failure, got {res.value!r}"
    return res.error


def err_msg(expr: str, **args: Any) -> str:
    e = err(f"r = {expr};", **args)
    assert e.kind == "runtime"
    return e.message


# --- precedence ----------------------------------------------------------------------------


def test_concatenation_is_left_associative() -> None:
    assert ev('"n=" + 1 + 2') == "n=12"
    assert ev('"Total: " + 5 + 2') == "Total: 52"
    assert ev('"Total: " + (5 + 2)') == "Total: 7"
    assert ev('1 + 2 + "x"') == "3x"


def test_mixed_precedence() -> None:
    src = "return a + b > c && d == e || f;"
    # (((a + b) > c) && (d == e)) || f
    assert value_of(src, a=1, b=2, c=2, d=1, e=1, f=False) is True
    assert value_of(src, a=1, b=1, c=2, d=1, e=1, f=False) is False
    assert value_of(src, a=1, b=1, c=2, d=1, e=1, f=True) is True
    assert value_of(src, a=1, b=2, c=2, d=1, e=2, f=False) is False


def test_arithmetic_precedence() -> None:
    assert ev("2 + 3 * 4") == 14
    assert ev("(2 + 3) * 4") == 20
    assert ev("10 - 4 - 3") == 3
    assert ev("2 * 7 % 4") == 2
    assert ev("-2 * 3") == -6
    assert ev("-(-5)") == 5
    assert ev("!!true") is True
    assert ev("!(1 > 2) && 3 >= 3") is True


def test_relational_binds_tighter_than_equality() -> None:
    assert ev("1 < 2 == 2 < 3") is True
    assert ev("1 < 2 == false") is False


def test_and_binds_tighter_than_or() -> None:
    assert ev("true || false && false") is True
    assert ev("(true || false) && false") is False


# --- arithmetic result types ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "value", "typ"),
    [
        ("5 / 2", 2.5, float),
        ("10 / 5", 2, int),
        ("-10 / 5", -2, int),
        ("-7 % 3", -1, int),
        ("7 % -3", 1, int),
        ("7 % 3", 1, int),
        ("2 * 3", 6, int),
        ("2 - 5", -3, int),
        ("1 + 2.0", 3.0, float),
        ("2.5 * 2", 5.0, float),
        ("7.5 % 2", 1.5, float),
        ("1 / 4.0", 0.25, float),
        ("+5", 5, int),
        ("-2.5", -2.5, float),
    ],
)
def test_arithmetic_results(expr: str, value: Any, typ: type) -> None:
    v = ev(expr)
    assert type(v) is typ and v == value


def test_decimal_text_forms() -> None:
    assert text_form(ev("10.0")) == "10.0"
    assert text_form(ev("5 * 2.0")) == "10.0"
    assert text_form(ev("0.1 + 0.2")) == "0.30000000000000004"
    assert text_form(ev("5 / 2")) == "2.5"
    assert ev('"" + (4 / 2.0)') == "2.0"


@pytest.mark.parametrize(
    "expr",
    [
        f"{MAX} + 1",
        f"-{MAX} - 2",
        "3037000500 * 3037000500",
        f"({MAX} - 1) * 2",
        f"-(-{MAX} - 1)",
    ],
)
def test_number_overflow(expr: str) -> None:
    assert err_msg(expr) == "Number out of range"


def test_division_by_zero() -> None:
    assert err_msg("1 / 0") == "Division by zero"
    assert err_msg("1 % 0") == "Division by zero"
    assert err_msg("1.5 / 0.0") == "Division by zero"
    assert err_msg("1 % 0.0") == "Division by zero"


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ('"5" * 2', "Operator '*' is not defined for TEXT and NUMBER"),
        ('"5" - 2', "Operator '-' is not defined for TEXT and NUMBER"),
        ("{1} + 1", "Operator '+' is not defined for LIST and NUMBER"),
        ('{"a": 1} * 2', "Operator '*' is not defined for MAP and NUMBER"),
        ("true + 1", "Operator '+' is not defined for BOOLEAN and NUMBER"),
        ("2 / {1}", "Operator '/' is not defined for NUMBER and LIST"),
    ],
)
def test_bad_operand_types(expr: str, message: str) -> None:
    assert err_msg(expr) == message


def test_text_is_never_converted_by_arithmetic() -> None:
    assert ev('"5" + 2') == "52"
    assert ev('2 + "5"') == "25"


def test_unary_minus_on_non_number_is_error() -> None:
    e = err('x = "a"; r = -x;')
    assert e.kind == "runtime"
    assert "TEXT" in e.message


# --- concatenation with every type --------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        ('"a" + null', "a"),
        ('null + "a"', "a"),
        ('"a" + 1', "a1"),
        ('"a" + 2.5', "a2.5"),
        ('"a" + 10.0', "a10.0"),
        ('"a" + true', "atrue"),
        ('"a" + {1, 2}', "a1,2"),
        ('"a" + {"x", {"k": 1}}', 'ax,{"k":1}'),
        ('"a" + {"k": 1, "l": [1, 2]}', 'a{"k":1,"l":[1,2]}'),
        ("\"a\" + '05-Feb-2026'", "a05-Feb-2026"),
        ("\"a\" + '05-Feb-2026 14:03:09'", "a05-Feb-2026 14:03:09"),
        ('"a" + {}', "a{}"),
        ('{1, 2} + "a"', "1,2a"),
        ("'05-Feb-2026' + \"!\"", "05-Feb-2026!"),
    ],
)
def test_concatenation(expr: str, text: str) -> None:
    assert ev(expr) == text


# --- comparisons ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "result"),
    [
        ("2 == 2.0", True),
        ("2 != 2.0", False),
        ('"123" == 123', True),
        ('123 == " 123 "', True),
        ('"4150868000000402001" == 4150868000000402001', True),
        ('"abc" == 123', False),
        ('"abc" == "ABC"', False),
        ('"abc" == "abc"', True),
        ("true == true", True),
        ("true == 1", False),
        ("'05-Feb-2026' == '05-Feb-2026 00:00:00'", True),
        ("'05-Feb-2026' == \"05-Feb-2026\"", True),
        ("'05-Feb-2026' == \"06-Feb-2026\"", False),
        ("{1, 2} == {1, 2}", True),
        ("{1, 2} == {2, 1}", False),
        ("{1, 2} == {1, 2, 3}", False),
        ('{"a": 1, "b": 2} == {"b": 2, "a": 1}', True),
        ('{"a": 1} == {"a": 2}', False),
        ("null == null", True),
        ('"" == null', False),
        ("0 == null", False),
        ("null != 1", True),
        ('{1} == "1"', False),
    ],
)
def test_equality(expr: str, result: bool) -> None:
    assert ev(expr) is result


@pytest.mark.parametrize(
    ("expr", "result"),
    [
        ("1 < 2", True),
        ("2.5 >= 2", True),
        ('"a" < "b"', True),
        ('"B" < "a"', True),
        ('"abc" <= "abc"', True),
        ("'05-Feb-2026' < '06-Feb-2026'", True),
        ("'05-Feb-2026' > \"04-Feb-2026\"", True),
        ('"10" > 9', True),
        ('9 < "10"', True),
    ],
)
def test_ordering(expr: str, result: bool) -> None:
    assert ev(expr) is result


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ('"a" < {1}', "Cannot compare TEXT and LIST"),
        ("{1} > 2", "Cannot compare LIST and NUMBER"),
        ('{"a": 1} <= {"a": 1}', "Cannot compare MAP and MAP"),
        ("true < false", "Cannot compare BOOLEAN and BOOLEAN"),
        ('"abc" < 5', "Cannot compare TEXT and NUMBER"),
    ],
)
def test_ordering_errors(expr: str, message: str) -> None:
    assert err_msg(expr) == message


def test_ordering_with_null_is_error() -> None:
    e = err("x = null; r = x < 1;")
    assert e.message.startswith("Cannot compare") and "null" in e.message


# --- logical operators --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "typ"),
    [
        ('"x" && true', "TEXT"),
        ('true && "x"', "TEXT"),
        ("1 || false", "NUMBER"),
        ("false || 1", "NUMBER"),
        ('!"x"', "TEXT"),
        ("!{1}", "LIST"),
    ],
)
def test_logical_operands_must_be_boolean(expr: str, typ: str) -> None:
    assert err_msg(expr) == f"Condition must be BOOLEAN but was {typ}"


def test_if_condition_must_be_boolean() -> None:
    e = err('name = "x";\nif (name) { r = 1; }')
    assert e.message == "Condition must be BOOLEAN but was TEXT"
    assert e.line == 2


def test_short_circuit() -> None:
    assert ev("false && (1 / 0 == 1)") is False
    assert ev("true || (1 / 0 == 1)") is True
    assert ev('false && "not boolean"') is False
    assert ev('true || "not boolean"') is True
    res = run_src('m = Map(); r = false && m.put("k", 1) == null; return m;')
    assert text_form(res.value) == "{}"


def test_inline_if_and_ifnull_evaluate_only_chosen_branch() -> None:
    assert ev("if(true, 1, 1 / 0)") == 1
    assert ev("if(false, 1 / 0, 2)") == 2
    assert ev("ifnull(3, 1 / 0)") == 3
    assert err_msg('if("x", 1, 2)') == "Condition must be BOOLEAN but was TEXT"


# --- dates --------------------------------------------------------------------------------


def test_date_plus_minus_number_moves_days() -> None:
    v = ev("'05-Feb-2026' + 3")
    assert type(v) is DateTime and text_form(v).startswith("08-Feb-2026")
    v = ev("'05-Feb-2026' - 5")
    assert text_form(v).startswith("31-Jan-2026")
    v = ev("'05-Feb-2026 10:00:00' + 1")
    assert text_form(v) == "06-Feb-2026 10:00:00"


def test_date_minus_date_is_milliseconds() -> None:
    v = ev("'06-Feb-2026' - '05-Feb-2026'")
    assert type(v) is int and v == 86_400_000
    assert ev("'05-Feb-2026 00:00:01' - '05-Feb-2026'") == 1000
    assert ev("'05-Feb-2026' - '06-Feb-2026'") == -86_400_000


def test_date_plus_date_is_error() -> None:
    assert err_msg("'05-Feb-2026' + '06-Feb-2026'") == (
        "Operator '+' is not defined for DATE-TIME and DATE-TIME"
    )


# --- compound assignment ------------------------------------------------------------------


def test_compound_assignments() -> None:
    assert value_of("n = 10; n += 5; return n;") == 15
    assert value_of("n = 10; n -= 5; return n;") == 5
    assert value_of("n = 10; n *= 5; return n;") == 50
    assert value_of("n = 10; n /= 4; return n;") == 2.5
    assert value_of("n = 10; n /= 5; return n;") == 2
    assert value_of("n = -10; n %= 3; return n;") == -1
    assert value_of('s = "a"; s += "b"; s += 1; s += null; return s;') == "ab1"
    assert value_of("d = 1.5; d += 1; return d;") == 2.5


def test_plus_assign_on_list_is_error() -> None:
    e = err("l = {1};\nl += 2;")
    assert e.message == "Operator '+' is not defined for LIST and NUMBER"
    assert (e.line, e.kind) == (2, "runtime")


def test_compound_assign_on_null_is_error() -> None:
    e = err("x = null; x += 1;")
    assert e.message == "Cannot perform '+' on a null value"


# --- fast paths: proven NUMBER variables -----------------------------------------------


def test_fast_int_loop_sum() -> None:
    src = "l = {1, 2, 3, 4}; t = 0; for each index i in l { t = t + i; } return t;"
    assert value_of(src) == 6


def test_fast_int_overflow_detected_and_value_unchanged_if_caught() -> None:
    src = f"t = {MAX};\ntry {{ t = t + 1; }} catch (e) {{ info e; }}\nreturn t;"
    res = run_src(src)
    assert res.status == "success"
    assert res.info == ["Number out of range"]
    assert res.value == MAX and type(res.value) is int


def test_fast_int_overflow_uncaught_location() -> None:
    e = err(f"t = {MAX};\nt = t + 1;")
    assert (e.kind, e.message, e.line) == ("runtime", "Number out of range", 2)


@pytest.mark.parametrize(
    "src",
    [
        f"t = {MAX}; t += 1;",
        f"t = -{MAX}; t = t - 2;",
        "t = 3037000500; t = t * t;",
        "t = 1; for each x in {1,2,3} { t = t * 3037000500; }",
        f"l = {{1, 2, 3}}; t = {MAX - 1}; for each index i in l {{ t = t + i; }}",
        f"t = -{MAX} - 1; u = -t;",
        f'n = "abc".length(); m = n + {MAX};',
        f"t = 0; for each index i in {{1, 2}} {{ t = t - {MAX}; }}",
    ],
)
def test_fast_int_overflow_variants(src: str) -> None:
    e = err(src)
    assert e.kind == "runtime" and e.message == "Number out of range"


def test_fast_int_overflow_in_loop_keeps_previous_value() -> None:
    src = (
        f"t = {MAX - 2}; n = 0;\n"
        "for each index i in {0, 0, 0, 0, 0} {\n"
        "  try { t = t + 1; n = n + 1; } catch (e) { }\n"
        '}\nreturn t + "/" + n;'
    )
    assert value_of(src) == f"{MAX}/2"


def test_fast_int_modulo_and_division_follow_deluge_rules() -> None:
    assert value_of("n = -7; m = 3; return n % m;") == -1
    assert value_of("n = 7; m = -3; return n % m;") == 1
    assert value_of("n = 5; m = 2; return n / m;") == 2.5
    assert err("n = 7; m = 0; r = n % m;").message == "Division by zero"
    assert err("n = 7; m = 0; r = n / m;").message == "Division by zero"


def test_fast_int_variable_later_holding_decimal_is_not_int() -> None:
    assert value_of("t = 0; t = t + 1.5; t = t * 2; return t;") == 3.0
    assert value_of("t = 0; for each x in {1, 2.5} { t = t + x; } return t;") == 3.5
    assert value_of("t = 0; for each x in {1, 2} { t = t + x; } t = t / 2; return t;") == 1.5


def test_fast_int_comparison() -> None:
    assert value_of("a = 1; b = 2; return a < b;") is True
    assert value_of("a = 2; b = 2.0; return a == b;") is True


def test_variable_read_before_assignment_is_null() -> None:
    # D-16: assigned somewhere, read before any assignment executed -> null
    src = "for each index i in {0, 1} { if (i == 1) { r = t; } t = i; } return r;"
    assert value_of(src) == 0
    e = err("for each index i in {0, 1} { r = t + 1; t = i; }")
    assert e.message == "Cannot perform '+' on a null value"


# --- fast paths: in-place text appends -------------------------------------------------


@pytest.mark.parametrize(
    ("init", "text"),
    [
        ("null", ""),
        ("1", "1"),
        ("-2", "-2"),
        ("2.5", "2.5"),
        ("10.0", "10.0"),
        ("true", "true"),
        ('"x"', "x"),
        ("{1, 2}", "1,2"),
        ('{"a", {"k": 1}}', 'a,{"k":1}'),
        ('{"k": [1, 2], "m": null}', '{"k":[1,2],"m":null}'),
        ("'05-Feb-2026'", "05-Feb-2026"),
        ("'05-Feb-2026 14:03:09'", "05-Feb-2026 14:03:09"),
        ("{}", "{}"),
        ("List()", ""),
        ("Map()", "{}"),
    ],
)
def test_text_append_every_type(init: str, text: str) -> None:
    src = f'x = {init};\ns = "";\ns = s + x;\ns = s + "|";\ns += x;\nreturn s;'
    assert value_of(src) == f"{text}|{text}"


def test_text_append_in_loop() -> None:
    src = (
        's = "";\nfor each x in {1, null, {1, 2}, {"a": 1}, \'05-Feb-2026\', 2.5, true} '
        "{ s = s + x; }\nreturn s;"
    )
    assert value_of(src) == '11,2{"a":1}05-Feb-20262.5true'


def test_text_append_does_not_alias() -> None:
    assert value_of('s = "ab"; t = s; s = s + "c"; return t + "|" + s;') == "ab|abc"


def test_text_append_respects_text_limit() -> None:
    host = StandaloneHost(folder=Path("/nonexistent-floodway-tests"), settings=load_settings())
    src = 's = ""; for each i in {1,2,3,4,5,6,7,8,9,10} { s = s + "abcd"; } return s;'
    res = run(compile_program(src, name="t"), {}, host, Limits(text_chars=20))
    assert res.status == "failure" and res.error.kind == "limit"
    assert "20" in res.error.message


def test_text_from_number_then_append() -> None:
    assert value_of('l = {1, 2}; s = l.size(); s = s + "x"; return s;') == "2x"
