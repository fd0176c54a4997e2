"""Property-based fuzzing of the lexer, parser and compiler, and of running generated programs.

- Any text (random token sequences, mutated valid scripts) either compiles or raises
  ``DelugeSyntaxError`` — never another exception.
- A generated program of valid grammar, run with tiny limits, ends with status success or with an
  error of kind ``runtime`` or ``limit`` — never ``internal`` — and its result is JSON-serialisable.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from floodway.deluge import DelugeSyntaxError, Limits, compile_program, run
from floodway.functions.standalone_host import StandaloneHost
from floodway.settings import load_settings

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=False,
)
TINY = Limits(
    statements=300,
    time_s=2.0,
    call_depth=5,
    text_chars=2_000,
    collection_items=200,
    info_entries=20,
    info_bytes=2_000,
    memory_bytes=32 * 1024 * 1024,
    value_depth=50,
)
_HOST: StandaloneHost | None = None


def host() -> StandaloneHost:
    global _HOST
    if _HOST is None:
        _HOST = StandaloneHost(folder=Path("/nonexistent-floodway-fuzz"), settings=load_settings())
    _HOST.outbox.clear()
    return _HOST


def run_src(src: str, **args: Any) -> Any:
    """Compile and run a Deluge source text with tiny limits; returns the runtime Result."""
    return run(compile_program(src, name="fuzz"), args, host(), TINY)


def compile_or_syntax_error(src: str) -> bool:
    """True if the text compiled; any exception other than DelugeSyntaxError fails the test."""
    try:
        compile_program(src, name="fuzz")
    except DelugeSyntaxError as exc:
        assert exc.line is not None and exc.line >= 1
        assert exc.column is not None and exc.column >= 1
        assert exc.message
        assert isinstance(exc.excerpt, str)
        return False
    return True


# --- corpus of valid scripts --------------------------------------------------------------

CORPUS = [
    'x = "a" + 1 + 2;\nreturn x;',
    "t = 0;\nfor each index i in {1, 2, 3} { t = t + i; }\nreturn t;",
    'm = Map();\nm.put("k", {1, 2});\nm.put(\'x\', {"a": [1, {"b": null}]});\ninfo m;\nreturn m.get("k");',
    'l = List();\nfor each p in "a,b,c" { if (p == "b") { continue; } l.add(p); }\nreturn l;',
    "try { x = 1 / 0; } catch (e) { info e; }\nreturn ifnull(null, 5);",
    "void automation.rollup(Int accountId)\n{\n    info accountId;\n    if (accountId > 0) { return; }\n}",
    'string button.x(String id)\n{\n    // comment\n    /* block */\n    return "btn " + id;\n}',
    "map validation.check(map crmAPIRequest)\n{\n  r = Map(); r.put('status','success'); return r;\n}",
    "d = '05-Feb-2026'.addDay(3);\nx = d.toString(\"yyyy-MM-dd\");\nreturn x;",
    's = "";\nfor each x in {1, null, 2.5, true, {1}} { s = s + x; }\nreturn s;',
    'x = if(1 < 2, "a", "b");\ny = "  v ".trim().toUpperCase().length();\nreturn x + y;',
    'sendmail\n[\n    from: zoho.adminuserid\n    to: "a@example.com"\n    subject: "s"\n    message: "m"\n]\nreturn 1;',
    'r = invokeurl\n[\n    url: "https://x.example/a"\n    type: POST\n    parameters: {"a": 1}.toString()\n];\n',
    'r = zoho.crm.getRecordById("Deals", 1);\nif (r.get("id") != null) { info "found"; }',
    "n = 9223372036854775807;\ntry { n = n + 1; } catch (e) { info e; }\nreturn n;",
    "a = {1, 2, 3};\nb = a;\nb.add(4);\nreturn a.size() * 2 - 1 % 3;",
    'x = input.id;\ninput.id = "5";\nreturn id;',
    "for each v in {1, 2} { for each w in [3, 4] { if (w == 4) { break; } } }\nreturn v;",
    'x = zoho.encryption.base64Encode("hi");\nthrow x;',
    'c = {};\nc.put("k", 1);\nl = List:String();\nl.add("z");\nreturn c + "" + l;',
]


def test_corpus_compiles() -> None:
    for src in CORPUS:
        assert compile_or_syntax_error(src), src


# --- random token sequences ------------------------------------------------------------

TOKENS = [
    # keywords and contextual words
    "if",
    "else",
    "for",
    "each",
    "index",
    "in",
    "break",
    "continue",
    "return",
    "info",
    "try",
    "catch",
    "throw",
    "null",
    "true",
    "false",
    "TRUE",
    "Null",
    "void",
    "string",
    "int",
    "map",
    "list",
    "date",
    "input",
    "zoho",
    "standalone",
    "automation",
    "thisapp",
    "invokeurl",
    "sendmail",
    "invokeapi",
    "ifnull",
    "while",
    "switch",
    "do",
    "function",
    "var",
    # names
    "x",
    "y",
    "m",
    "l",
    "e",
    "crm",
    "currentdate",
    "loginuserid",
    "encryption",
    "getRecordById",
    "get",
    "put",
    "add",
    "size",
    "toString",
    "toList",
    "Map",
    "List",
    "Collection",
    "today",
    "now",
    "url",
    "type",
    "POST",
    "from",
    "to",
    "subject",
    "reply",
    "content",
    # operators and punctuation
    "+",
    "-",
    "*",
    "/",
    "%",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "&&",
    "||",
    "!",
    "=",
    "+=",
    "-=",
    "*=",
    "/=",
    "%=",
    "++",
    "--",
    "?",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    ",",
    ";",
    ":",
    ".",
    # literals
    "0",
    "1",
    "42",
    "9223372036854775807",
    "9223372036854775808",
    "2.5",
    "123.",
    ".45",
    '"text"',
    '""',
    "'single'",
    "'05-Feb-2026'",
    "'31-Feb-2026'",
    '"a\\nb"',
    '"\\u00e9"',
    '"\\d"',
    "'x",
    '"unterminated',
    "/*",
    "*/",
    "//",
    "\n",
    " ",
    "\t",
    "\u00a0",
    "@",
    "#",
    "$",
    "\\",
    "`",
    "é",
    "😀",
    "\ufeff",
    "\r",
    "\x00",
]

token_lists = st.lists(st.sampled_from(TOKENS), min_size=0, max_size=40)
separators = st.sampled_from([" ", "", "\n"])


@FUZZ
@given(toks=token_lists, sep=separators)
def test_random_token_sequences_only_raise_syntax_errors(toks: list[str], sep: str) -> None:
    compile_or_syntax_error(sep.join(toks))


@FUZZ
@given(text=st.text(max_size=80))
def test_random_text_only_raises_syntax_errors(text: str) -> None:
    compile_or_syntax_error(text)


# --- mutated valid scripts ---------------------------------------------------------------


@st.composite
def mutated(draw: st.DrawFn) -> str:
    src = draw(st.sampled_from(CORPUS))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["insert", "delete", "replace", "token", "dup"]))
        pos = draw(st.integers(0, len(src)))
        if kind == "insert":
            src = src[:pos] + draw(st.characters(codec="utf-8")) + src[pos:]
        elif kind == "delete":
            end = draw(st.integers(pos, min(len(src), pos + 8)))
            src = src[:pos] + src[end:]
        elif kind == "replace":
            src = (
                src[:pos]
                + draw(st.sampled_from(list("{}[]();:,.\"'+-*/=!<>&|\n ")))
                + src[pos + 1 :]
            )
        elif kind == "token":
            src = src[:pos] + " " + draw(st.sampled_from(TOKENS)) + " " + src[pos:]
        else:
            end = draw(st.integers(pos, min(len(src), pos + 20)))
            src = src[:pos] + src[pos:end] + src[pos:]
    return src


@FUZZ
@given(src=mutated())
def test_mutated_scripts_only_raise_syntax_errors(src: str) -> None:
    if compile_or_syntax_error(src):
        res = run_src(src, id="1", accountId=1, crmAPIRequest=None)
        assert res.status in ("success", "failure")
        if res.error is not None:
            assert res.error.kind in ("runtime", "limit"), res.error.to_json()
        json.dumps(res.to_json())


# --- generated programs of valid grammar -------------------------------------------------

VARS = ["a", "b", "c", "s", "l", "m"]
PRELUDE = (
    'a = 1;\nb = 2.5;\nc = 0;\ns = "x,y";\nl = {1, "two", 3.0};\nm = {"k": 1, "j": {"n": null}};\n'
)

literals = st.sampled_from(
    [
        "0",
        "1",
        "-3",
        "7",
        "9223372036854775807",
        "2.5",
        "0.1",
        "true",
        "false",
        "null",
        '""',
        '"a"',
        '"5"',
        '"x,y,z"',
        "'05-Feb-2026'",
        "'2026-01-31 10:00'",
        "{}",
        "List()",
        "Map()",
        "{1, 2}",
        '{"k": "v"}',
        "[3, 4]",
        "zoho.currentdate",
        "zoho.loginuserid",
        "today",
    ]
)
METHODS = [
    ("size", 0),
    ("length", 0),
    ("toString", 0),
    ("isEmpty", 0),
    ("isNull", 0),
    ("get", 1),
    ("put", 2),
    ("add", 1),
    ("contains", 1),
    ("toList", 1),
    ("toNumber", 0),
    ("trim", 0),
    ("toUpperCase", 0),
    ("subString", 2),
    ("keys", 0),
    ("addDay", 1),
    ("getJSON", 1),
    ("indexOf", 1),
    ("remove", 1),
    ("toMap", 0),
    ("leftpad", 1),
    ("replaceAll", 2),
    ("sort", 0),
    ("distinct", 0),
    ("toDecimal", 0),
    ("round", 1),
    ("isNumber", 0),
    ("getPrefix", 1),
    ("toDate", 0),
    ("addAll", 1),
    ("containKey", 1),
    ("nosuchmethod", 0),
]
BINOPS = ["+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "&&", "||"]


def expressions() -> st.SearchStrategy[str]:
    leaves = st.one_of(literals, st.sampled_from(VARS))

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        method = (
            st.sampled_from(METHODS)
            .flatmap(
                lambda mn: st.tuples(
                    inner, st.just(mn[0]), st.lists(inner, min_size=mn[1], max_size=mn[1])
                )
            )
            .map(lambda t: f"({t[0]}).{t[1]}({', '.join(t[2])})")
        )
        return st.one_of(
            st.tuples(inner, st.sampled_from(BINOPS), inner).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            st.tuples(st.sampled_from(["-", "!"]), inner).map(lambda t: f"{t[0]}({t[1]})"),
            method,
            st.tuples(inner, inner, inner).map(lambda t: f"if({t[0]}, {t[1]}, {t[2]})"),
            st.tuples(inner, inner).map(lambda t: f"ifnull({t[0]}, {t[1]})"),
            st.lists(inner, max_size=3).map(lambda xs: "{" + ", ".join(xs) + "}"),
            st.lists(st.tuples(inner, inner), min_size=1, max_size=2).map(
                lambda kvs: "{" + ", ".join(f"{k}: {v}" for k, v in kvs) + "}"
            ),
            st.sampled_from(["len", "isNull", "isEmpty", "toString"]).flatmap(
                lambda f: inner.map(lambda x: f"{f}({x})")
            ),
        )

    return st.recursive(leaves, extend, max_leaves=6)


EXPR = expressions()


def statements(depth: int = 0) -> st.SearchStrategy[str]:
    simple = st.one_of(
        st.tuples(
            st.sampled_from(VARS), st.sampled_from(["=", "+=", "-=", "*=", "/=", "%="]), EXPR
        ).map(lambda t: f"{t[0]} {t[1]} {t[2]};"),
        EXPR.map(lambda e: f"info {e};"),
        st.tuples(st.sampled_from(["l", "m", "s"]), st.sampled_from(METHODS[:12]), EXPR).map(
            lambda t: f"{t[0]}.{t[1][0]}({', '.join([t[2]] * t[1][1])});"
        ),
        EXPR.map(lambda e: f"throw {e};"),
        EXPR.map(lambda e: f"return {e};"),
    )
    if depth >= 2:
        return simple
    block = st.lists(statements(depth + 1), min_size=0, max_size=3).map(lambda ss: " ".join(ss))
    loop_block = st.lists(
        st.one_of(statements(depth + 1), st.sampled_from(["break;", "continue;"])), max_size=3
    ).map(lambda ss: " ".join(ss))
    return st.one_of(
        simple,
        simple,
        st.tuples(EXPR, block, block).map(lambda t: f"if ({t[0]}) {{ {t[1]} }} else {{ {t[2]} }}"),
        st.tuples(EXPR, block, EXPR, block).map(
            lambda t: f"if ({t[0]}) {{ {t[1]} }} else if ({t[2]}) {{ {t[3]} }}"
        ),
        st.tuples(st.sampled_from(["v", "a"]), EXPR, loop_block).map(
            lambda t: f"for each {t[0]} in {t[1]} {{ {t[2]} }}"
        ),
        st.tuples(
            st.sampled_from(["i", "c"]), st.sampled_from(VARS + ["{1, 2, 3}"]), loop_block
        ).map(lambda t: f"for each index {t[0]} in {t[1]} {{ {t[2]} }}"),
        st.tuples(block, block).map(lambda t: f"try {{ {t[0]} }} catch (e) {{ {t[1]} info e; }}"),
    )


# Half of the statements are wrapped in try/catch so that execution goes on after an error.
guarded = st.tuples(statements(), st.booleans()).map(
    lambda t: f"try {{ {t[0]} }} catch (err) {{ }}" if t[1] else t[0]
)
programs = st.lists(guarded, min_size=1, max_size=8).map(lambda ss: PRELUDE + "\n".join(ss))


@FUZZ
@given(src=programs)
def test_generated_programs_never_fail_internally(src: str) -> None:
    try:
        program = compile_program(src, name="fuzz")
    except DelugeSyntaxError:
        # generated programs are of valid grammar except for constructs that are rejected
        # statically (e.g. a wrong argument count on a statically known receiver type)
        return
    res = run(program, {}, host(), TINY)
    assert res.status in ("success", "failure")
    if res.error is not None:
        assert res.error.kind in ("runtime", "limit"), (src, res.error.to_json())
        # Every error explains itself, except `throw` of an empty text or null, whose
        # message is by definition that value's (empty) text form.
        assert res.error.message or "throw" in src
    json.dumps(res.to_json())


@FUZZ
@given(e1=EXPR, e2=EXPR)
def test_generated_expressions_in_header_function(e1: str, e2: str) -> None:
    src = (
        "String standalone.f(Int a, Decimal b, String s, List l, Map m, Date d)\n{\n"
        "  c = d;\n"
        f"  x = {e1};\n"
        f"  try {{ y = {e2}; }} catch (e) {{ y = e; }}\n"
        '  return x + "|" + y;\n}'
    )
    try:
        program = compile_program(src, name="fuzz")
    except DelugeSyntaxError:
        return
    args = {"a": "3", "b": 1, "s": "p,q", "l": "1,2", "m": '{"z":1}', "d": "2026-02-05"}
    res = run(program, args, host(), TINY)
    if res.error is not None:
        assert res.error.kind in ("runtime", "limit"), (src, res.error.to_json())
    json.dumps(res.to_json())
