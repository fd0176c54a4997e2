"""Compile-time errors found on the tree alone (deluge-language.md §8): too deep nesting of
loops and try/catch, wrong argument counts on literals. The compiler and the editor's check
(no code generation) report them alike, at the same line and column."""

from __future__ import annotations

import pytest

from floodway.deluge import DelugeSyntaxError, compile_program
from floodway.web.editor import diagnostics


def nested_loops(depth: int) -> str:
    lines = ["l = {1};"]
    for i in range(depth):
        lines.append("  " * i + "for each x" + str(i) + " in l")
        lines.append("  " * i + "{")
    lines.append("  " * depth + "info 1;")
    for i in reversed(range(depth)):
        lines.append("  " * i + "}")
    return "\n".join(lines)


def compile_error(source: str) -> DelugeSyntaxError:
    with pytest.raises(DelugeSyntaxError) as caught:
        compile_program(source, "t_" + str(abs(hash(source))))
    return caught.value


def test_nineteen_nested_loops_compile_and_twenty_do_not() -> None:
    compile_program(nested_loops(19), "deep19")
    assert diagnostics(nested_loops(19), None, set()) == []
    err = compile_error(nested_loops(20))
    assert "exceeds the limit of 19 levels" in err.message
    assert (err.line, err.column) == (40, 39)  # the 20th `for each`
    [marker] = diagnostics(nested_loops(20), None, set())
    assert marker["severity"] == "error" and (marker["line"], marker["column"]) == (40, 39)
    assert marker["message"] == err.message


def test_a_catch_block_counts_as_two() -> None:
    inner = "try\n{\n info 1;\n}\ncatch (e)\n{\n info e;\n}"
    source = nested_loops(17).replace("info 1;", inner)
    compile_program(source, "deep17catch")  # 17 loops + a catch (2) = 19
    err = compile_error(nested_loops(18).replace("info 1;", inner))
    assert "a catch block counts as two" in err.message


def test_wrong_argument_count_on_a_literal_is_a_syntax_error_in_both() -> None:
    source = 'x = "abc".subString();\ninfo x;'
    err = compile_error(source)
    assert err.line == 1
    [marker] = diagnostics(source, None, set())
    assert (marker["line"], marker["column"]) == (err.line, err.column)
    assert marker["message"] == err.message
    # A receiver of unknown type is checked at run time, not here.
    compile_program('s = "abc";\ninfo s.subString();', "arity_runtime")
