"""Parser and lexer: every construct of the language parses (and means what it should), and bad
input gives a syntax error with the exact line, column and message (deluge-language.md §1, §2,
§5.5, §5.6, §6, §11, §13.1, §14.3, §16)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from floodway.deluge import DelugeSyntaxError, Limits, compile_program, run
from floodway.deluge.values import DateTime, DelugeList, DelugeMap, text_form
from floodway.functions.standalone_host import StandaloneHost
from floodway.settings import load_settings


def make_host(folder: Path | None = None) -> StandaloneHost:
    return StandaloneHost(
        folder=folder or Path("/nonexistent-floodway-tests"), settings=load_settings()
    )


def run_src(src: str, _host: StandaloneHost | None = None, **args: Any) -> Any:
    """Compile and run a Deluge source text; returns the runtime Result."""
    program = compile_program(src, name="test_fn")
    return run(program, args, _host or make_host(), Limits(statements=100_000, time_s=10))


def value_of(src: str, **args: Any) -> Any:
    res = run_src(src, **args)
    assert res.status == "success", res.error and res.error.to_json()
    return res.value


def syntax_error(src: str) -> DelugeSyntaxError:
    with pytest.raises(DelugeSyntaxError) as info:
        compile_program(src, name="test_fn")
    return info.value


def compiles(src: str) -> None:
    compile_program(src, name="test_fn")


# --- statements, whitespace, comments ----------------------------------------------------------


def test_statement_spanning_lines() -> None:
    src = 'x = "a" +\n   "b"\n   + "c";\nreturn x;'
    assert value_of(src) == "abc"


def test_empty_statements_are_accepted_and_not_counted() -> None:
    res = run_src(";;x = 1;;;return x;")
    assert res.value == 1
    assert res.statements == 2


def test_whitespace_tabs_nbsp_and_line_endings() -> None:
    assert value_of("x\u00a0=\t1;\r\ny = 2;\rreturn x + y;") == 3


def test_leading_bom_is_ignored() -> None:
    assert value_of("\ufeffx = 1;\nreturn x;") == 1


def test_line_comment_and_block_comment() -> None:
    src = (
        "// a comment\nx = 1; // trailing\n/* block\n spanning */ y = 2; /* inline */ return x + y;"
    )
    assert value_of(src) == 3


def test_block_comments_do_not_nest() -> None:
    # the first */ ends the comment; the remaining */ is then a syntax error
    err = syntax_error("/* a /* b */ c */ x = 1;")
    assert err.line == 1


def test_comment_markers_inside_text_are_text() -> None:
    assert value_of('return "https://x.example/a // not /* a comment */";') == (
        "https://x.example/a // not /* a comment */"
    )
    assert value_of("return 'a//b';") == "a//b"


# --- text literals -----------------------------------------------------------------------------


def test_both_quote_styles() -> None:
    assert value_of('return "double";') == "double"
    assert value_of("return 'single';") == "single"
    assert value_of("r = Map(); r.put('status','success'); return r.get(\"status\");") == "success"


def test_escapes() -> None:
    assert value_of(r'return "a\nb\tc\rd";') == "a\nb\tc\rd"
    assert value_of(r'return "q\"q\'q\\q\/q";') == "q\"q'q\\q/q"
    assert value_of(r'return "\b\f";') == "\b\f"
    assert value_of(r'return "\u0041\u00e9";') == "Aé"
    assert value_of(r"return 'x\ty\u0042';") == "x\tyB"


def test_unknown_escapes_are_kept() -> None:
    assert value_of(r'return "\d+";') == "\\d+"
    assert value_of(r"return '\w\s';") == "\\w\\s"
    assert value_of(r'return "\d+".length();') == 3


def test_raw_line_breaks_in_text_are_kept() -> None:
    assert value_of('return "a\nb";') == "a\nb"


def test_adjacent_literals_are_not_concatenated() -> None:
    err = syntax_error('x = "a" "b";')
    assert (err.line, err.column) == (1, 9)


# --- date literals vs single-quoted text -----------------------------------------------------


@pytest.mark.parametrize(
    ("literal", "text"),
    [
        ("'04-Jul-2006'", "04-Jul-2006"),
        ("'4-Jul-2006 13:05:00'", "04-Jul-2006 13:05:00"),
        ("'04-Jul-2006 13:05'", "04-Jul-2006 13:05:00"),
        ("'2006-07-04'", "04-Jul-2006"),
        ("'Jul 04,2006'", "04-Jul-2006"),
        ("'15 August 1947'", "15-Aug-1947"),
        ("'1-Jan-2019'", "01-Jan-2019"),
    ],
)
def test_single_quoted_dates_are_date_literals(literal: str, text: str) -> None:
    v = value_of(f"return {literal};")
    assert type(v) is DateTime
    assert text_form(v) == text


def test_single_quoted_non_date_is_text() -> None:
    v = value_of("return 'hello';")
    assert type(v) is str and v == "hello"
    assert type(value_of("return '2026';")) is str


def test_double_quoted_date_is_text() -> None:
    assert value_of('return "04-Jul-2006";') == "04-Jul-2006"


def test_date_literal_method_chain() -> None:
    assert text_form(value_of("return '02-Jan-2026'.addDay(3);")).startswith("05-Jan-2026")


def test_invalid_date_literal_is_runtime_error() -> None:
    res = run_src("x = '31-Feb-2026';")
    assert res.status == "failure"
    assert res.error.kind == "runtime"
    assert res.error.message == "Invalid date '31-Feb-2026'"
    assert (res.error.line, res.error.column) == (1, 5)


# --- numbers, booleans, null -----------------------------------------------------------------


def test_integer_and_decimal_literals() -> None:
    assert value_of("return 42;") == 42 and type(value_of("return 42;")) is int
    assert value_of("return 007;") == 7
    assert value_of("return 3652397000009851001;") == 3652397000009851001
    v = value_of("return 4.556;")
    assert type(v) is float and v == 4.556
    assert value_of("return 123.;") == 123.0 and type(value_of("return 123.;")) is float
    assert value_of("return .45;") == 0.45


def test_number_followed_by_method_call() -> None:
    assert value_of("return 24.isNumber();") is True
    assert value_of("return 5.toString();") == "5"


def test_negative_literal_is_unary_minus() -> None:
    assert value_of("return -41;") == -41
    assert value_of("return -9223372036854775807 - 1;") == -(2**63)


def test_number_out_of_range_literal() -> None:
    err = syntax_error("x = 9223372036854775808;")
    assert (err.line, err.column, err.message) == (1, 5, "Number out of range")
    compiles("x = 9223372036854775807;")


@pytest.mark.parametrize("word", ["true", "TRUE", "True", "tRuE"])
def test_booleans_any_case(word: str) -> None:
    assert value_of(f"return {word};") is True


@pytest.mark.parametrize("word", ["false", "FALSE", "False"])
def test_false_any_case(word: str) -> None:
    assert value_of(f"return {word};") is False


@pytest.mark.parametrize("word", ["null", "NULL", "Null"])
def test_null_any_case(word: str) -> None:
    res = run_src(f"x = {word}; return x;")
    assert res.status == "success" and res.value is None


# --- collections -------------------------------------------------------------------------------


def test_list_literals_both_brackets() -> None:
    a = value_of('return {"a", "b", "c"};')
    b = value_of('return ["a", "b", "c"];')
    assert type(a) is DelugeList and type(b) is DelugeList
    assert list(a) == list(b) == ["a", "b", "c"]


def test_map_literal() -> None:
    m = value_of('return {"k": 1, "j": "v"};')
    assert type(m) is DelugeMap
    assert text_form(m) == '{"k":1,"j":"v"}'


def test_map_literal_duplicate_key_keeps_first_position() -> None:
    assert text_form(value_of('return {"a": 1, "b": 2, "a": 3};')) == '{"a":3,"b":2}'


def test_nested_literals() -> None:
    v = value_of('return {"trigger": {"workflow"}, "x": [1, {"z": [2, 3]}]};')
    assert text_form(v) == '{"trigger":["workflow"],"x":[1,{"z":[2,3]}]}'
    assert type(v.get("trigger")) is DelugeList


def test_empty_braces_is_empty_collection() -> None:
    assert text_form(value_of("x = {}; return x;")) == "{}"
    assert text_form(value_of("x = {}; x.add(1); x.add(2); return x;")) == "1,2"
    assert text_form(value_of('x = {}; x.put("a", 1); return x;')) == '{"a":1}'


@pytest.mark.parametrize(
    ("ctor", "text", "typ"),
    [
        ("List()", "", DelugeList),
        ("list()", "", DelugeList),
        ("LIST()", "", DelugeList),
        ("Map()", "{}", DelugeMap),
        ("map()", "{}", DelugeMap),
    ],
)
def test_typed_constructors(ctor: str, text: str, typ: type) -> None:
    v = value_of(f"x = {ctor}; return x;")
    assert type(v) is typ and text_form(v) == text


def test_collection_constructor() -> None:
    assert text_form(value_of("x = Collection(); return x;")) == "{}"
    assert text_form(value_of('x = Collection(); x.put("k", 2); return x;')) == '{"k":2}'


def test_typed_list_constructor() -> None:
    assert text_form(value_of('l = List:String(); l.add("a"); return l;')) == "a"
    res = run_src("l = List:String(); l.add(1);")
    assert res.error.message == "Typed list accepts only TEXT values"
    compiles("a = List:Int(); b = list:decimal(); c = List:Map(); d = List:Date();")


# --- assignment and input ------------------------------------------------------------------


def test_assignment_and_compound_assignment() -> None:
    assert value_of("x = 1; x += 2; x -= 1; x *= 10; x /= 4; x %= 3; return x;") == 2
    assert value_of('s = "a"; s += "b"; s += 1; return s;') == "ab1"


def test_input_read_and_assign() -> None:
    assert value_of("x = input.id.toLong(); return x + 1;", id="41") == 42
    assert value_of("input.id = 8; return id;", id="7") == 8
    assert value_of("Int standalone.f(Int id) { input.id = 10; return input.id + id; }", id=1) == 20


def test_input_unknown_in_header_function() -> None:
    err = syntax_error("void standalone.f(Int a) { info input.nope; }")
    assert err.message == "Variable 'nope' is not defined"
    assert (err.line, err.column) == (1, 39)


# --- control flow ----------------------------------------------------------------------------


def test_if_else_if_else() -> None:
    src = (
        'if (x > 5) { r = "big"; }\n'
        'else if (x > 2) { r = "mid"; }\n'
        'ELSE { r = "small"; }\nreturn r;'
    )
    assert value_of(src, x=9) == "big"
    assert value_of(src, x=3) == "mid"
    assert value_of(src, x=1) == "small"


def test_inline_if_and_ifnull() -> None:
    assert value_of('return if(1 < 2, "a", "b");') == "a"
    assert value_of('return IF(false, "a", "b");') == "b"
    assert value_of('return ifnull(null, "d");') == "d"
    assert value_of('return ifNull("", "d");') == ""
    assert value_of("return IFNULL(5, 1/0);") == 5


def test_for_each_and_for_each_index() -> None:
    assert value_of("t = 0; for each x in {1, 2, 3} { t = t + x; } return t;") == 6
    assert value_of('t = ""; FOR EACH INDEX i IN {"a", "b"} { t = t + i; } return t;') == "01"


def test_break_and_continue() -> None:
    src = (
        "r = List(); for each x in {1,2,3,4,5} {\n"
        "  if (x == 2) { continue; }\n  if (x == 4) { break; }\n  r.add(x);\n}\nreturn r;"
    )
    assert list(value_of(src)) == [1, 3]


@pytest.mark.parametrize("word", ["break", "continue"])
def test_break_continue_outside_loop(word: str) -> None:
    err = syntax_error(f"x = 1;\n{word};")
    assert (err.line, err.column, err.message) == (2, 1, f"'{word}' outside a loop")
    err = syntax_error(f"for each x in {{1}} {{ }}\nif (true) {{ {word}; }}")
    assert (err.line, err.column) == (2, 13)


def test_break_inside_if_inside_loop_is_fine() -> None:
    compiles("for each x in {1} { if (x == 1) { break; } else { continue; } }")


def test_return_with_and_without_value() -> None:
    assert value_of("return 5;") == 5
    res = run_src("info 1; return; info 2;")
    assert res.status == "success" and res.value is None and res.info == ["1"]


def test_info_statement() -> None:
    res = run_src('info "a"; info null; info {1, 2}; info 2.5;')
    assert res.info == ["a", "null", "1,2", "2.5"]


def test_try_catch_throw() -> None:
    assert value_of('try { throw "boom"; } catch (e) { return "caught " + e; }') == "caught boom"
    assert value_of("try { x = 1 / 0; } catch (err) { return err; }") == "Division by zero"


# --- tasks -------------------------------------------------------------------------------------

SENDMAIL = """
sendmail
[
    from: zoho.adminuserid
    to: "a@example.com"
    subject: "Hello"
    message: "Body"
]
return "sent";
"""


def test_sendmail_without_semicolon() -> None:
    host = make_host()
    res = run_src(SENDMAIL, host)
    assert res.value == "sent"
    assert len(host.outbox) == 1
    mail = host.outbox[0]
    assert mail.to == ["a@example.com"] and mail.subject == "Hello"


def test_sendmail_keys_any_order_and_case_with_semicolon() -> None:
    host = make_host()
    src = (
        'SendMail [ Subject: "S" TO: {"a@example.com", "b@example.com"} '
        'From :zoho.loginuserid Message: "m" reply to: "r@example.com" ];\nreturn 1;'
    )
    res = run_src(src, host)
    assert res.value == 1, res.error and res.error.to_json()
    assert host.outbox[0].to == ["a@example.com", "b@example.com"]
    assert host.outbox[0].reply_to == ["r@example.com"]


@pytest.mark.parametrize("key", ["content type", "content-type", "Content Type"])
def test_sendmail_content_type_key(key: str) -> None:
    host = make_host()
    src = (
        f'sendmail [ from: zoho.adminuserid to: "a@example.com" subject: "s" '
        f'{key}: "text/plain" message: "x" ]'
    )
    res = run_src(src, host)
    assert res.status == "success", res.error and res.error.to_json()
    assert host.outbox[0].content_type == "text/plain"


INVOKEURL = """
response = invokeurl
[
    url: "https://api.example.com/v1/orders"
    type: POST
    headers: {"X-Api-Version": "3"}
    content-type: "application/json"
    parameters: {"a": 1}.toString()
    connection: "orders_api"
    detailed: true
    response-format: TEXT
    response-decoding: "UTF-8"
];
return response;
"""


def test_invokeurl_block_parses() -> None:
    compiles(INVOKEURL)
    compiles(INVOKEURL.replace("];", "]"))
    compiles('r = invokeUrl [ TYPE: get URL: "https://x.example" ]; return r;')
    compiles('r = INVOKEURL [ url: "https://x.example" type: "DELETE" body: "x" ]')
    compiles('r = invokeurl\n[\n\turl :"https://x.example"\n\ttype :PATCH\n];')


def test_invokeapi_block_parses() -> None:
    compiles('r = invokeapi [ service: zohocrm path: "crm/v8/Leads/actions/count" type: GET ];')


def test_task_unknown_key() -> None:
    err = syntax_error('r = invokeurl [ url: "http://x" foo: 1 ];')
    assert (err.line, err.column, err.message) == (1, 33, "Unknown parameter 'foo' for invokeurl")
    err = syntax_error("sendmail [ from: zoho.adminuserid bogus key: 1 ]")
    assert err.message == "Unknown parameter 'bogus key' for sendmail"


def test_task_repeated_key() -> None:
    err = syntax_error('r = invokeurl [\n url: "http://x"\n URL: "http://y"\n];')
    assert (err.line, err.column) == (3, 2)
    assert "url" in err.message.lower() and "twice" in err.message


def test_task_name_is_contextual() -> None:
    # task names are variables unless followed by '['
    assert value_of("invokeurl = 1; sendmail = 2; return invokeurl + sendmail;") == 3


def test_legacy_get_and_post_url_calls_compile() -> None:
    compiles('r = getUrl("https://x.example/a");')
    compiles('r = getUrl("https://x.example/a", {"h": "1"}, false);')
    compiles('r = postUrl("https://x.example/a", {"a": 1});')
    compiles('r = postUrl("https://x.example/a", "text", Map(), true);')


# --- calls, namespaces, system variables ---------------------------------------------------


def test_standalone_and_thisapp_calls_parse() -> None:
    compiles("x = standalone.format_address(1, 2);")
    compiles("x = thisapp.format_address(1);")
    compiles("standalone.notify();")
    res = run_src("x = thisapp.nope(1);")
    assert res.error.message == "Function 'standalone.nope' does not exist"


def test_system_variables() -> None:
    assert type(value_of("x = zoho.currentdate; return x;")) is DateTime
    assert text_form(value_of("x = zoho.currentdate; return x;")).count(":") == 0
    assert type(value_of("x = zoho.currenttime; return x;")) is DateTime
    assert value_of("x = zoho.loginuserid; return x;") == "admin@floodway.local"
    assert value_of("x = Zoho.LoginUserId; return x;") == "admin@floodway.local"
    assert value_of("x = zoho.adminuserid; return x;") == "admin@floodway.local"


def test_system_variable_cannot_be_assigned() -> None:
    err = syntax_error("zoho.currentdate = 1;")
    assert (err.line, err.column) == (1, 1)
    assert err.message == "System variables zoho.* cannot be assigned"


def test_crm_tasks_parse() -> None:
    compiles('r = zoho.crm.getRecordById("deals", 1);')
    compiles('r = zoho.crm.v8.getRecords("Deals");')
    compiles('r = Zoho.CRM.getRecords("deals", 1, 200);')
    compiles('zoho.crm.updateRecord("Deals", 1, {"Stage": "Won"});')
    assert type(value_of('r = zoho.crm.getRecordById("deals", 1); return r;')) is DelugeMap
    assert type(value_of('r = zoho.crm.v8.getRecords("Deals"); return r;')) is DelugeList


def test_encryption_task() -> None:
    assert value_of('r = zoho.encryption.base64Encode("hi"); return r;') == "aGk="


def test_method_chain_split_before_dot() -> None:
    src = 'x = "  abc "\n    .trim()\n    .toUpperCase()\n    // comment between\n    .length();\nreturn x;'
    assert value_of(src) == 3


# --- bare scripts starting with keyword + dotted expression (header detection) ------------


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        ('return zoho.encryption.base64Encode("hi");', "aGk="),
        ("return zoho.loginuserid;", "admin@floodway.local"),
        ("return input.x;", "7"),
        ("return x.length();", 1),
    ],
)
def test_bare_script_first_statement_return_dotted(src: str, expected: Any) -> None:
    # A bare script may start with `return a.b...`; that is not a function header.
    assert value_of(src, x="7") == expected


def test_bare_script_first_statement_info_dotted() -> None:
    res = run_src("info zoho.loginuserid;")
    assert res.status == "success" and res.info == ["admin@floodway.local"]
    res = run_src("throw input.x;", x="oops")
    assert res.error.message == "oops"


# --- headers -------------------------------------------------------------------------------


def test_header_forms() -> None:
    res = run_src("void automation.rollup(Int accountId)\n{\n    info accountId;\n}", accountId="5")
    assert res.status == "success" and res.info == ["5"] and res.value is None
    assert value_of('string button.x(String id) { return "btn " + id; }', id=3) == "btn 3"
    src = "map validation.check(map crmAPIRequest)\n{\n r = Map(); r.put('status','success'); return r;\n}"
    v = value_of(src, crmAPIRequest=DelugeMap({"record": DelugeMap()}))
    assert text_form(v) == '{"status":"success"}'


def test_header_type_aliases_and_case() -> None:
    src = "TEXT Standalone.X(Long a, Double b, Boolean c, Text d, BigInt e, Number f) { return a + b; }"
    assert value_of(src, a="5", b="2.5", c="true", d="x") == "7.5"
    compiles("KeyValue related_list.y(Integer a, Float b, Collection c, DateTime d) { }")
    compiles("list schedule.y(Date a, Map m, List l, Bool b, String s, Decimal d) { return l; }")
    compiles("void validation_rule.y() { }")


def test_comments_before_and_after_header() -> None:
    src = "/* header\n comment */\n// another\n\nVOID automation.y()\n{\n info 1;\n}\n// after\n/* x */\n"
    assert run_src(src).info == ["1"]


def test_garbage_after_body() -> None:
    err = syntax_error("void automation.y() { info 1; }\nx = 1;")
    assert (err.line, err.column) == (2, 1)
    assert err.message == "Unexpected 'x' — expected end of file after the function body"
    err = syntax_error("void automation.y() { info 1; } }")
    assert (err.line, err.column) == (1, 33)


def test_unknown_header_category() -> None:
    err = syntax_error("void workflow.x(Int a) { info a; }")
    assert (err.line, err.column) == (1, 6)
    assert err.message == "Invalid function header: unknown category 'workflow'"


def test_header_variable_not_defined() -> None:
    err = syntax_error("void standalone.x(Int a)\n{\n    info x;\n}")
    assert (err.line, err.column, err.message) == (3, 10, "Variable 'x' is not defined")


def test_header_errors() -> None:
    assert syntax_error("void automation.y(Foo a) { }").message == (
        "Invalid function header: unknown type 'Foo'"
    )
    assert syntax_error("void automation.y(Int date) { }").message == "'date' is a reserved keyword"
    err = syntax_error("void automation.y(Int a,) { }")
    assert (err.line, err.column) == (1, 25)
    err = syntax_error("void automation.y() info 1;")
    assert (err.line, err.column) == (1, 21)


def test_bare_script() -> None:
    assert value_of("a = 1;\nb = a + 1;\nreturn b;") == 2


# --- syntax errors: line, column, message --------------------------------------------------

SYNTAX_ERRORS = [
    ("x = 1\ny = 2;", 2, 1, "Unexpected 'y' — expected ';'"),
    ('x = "abc;', 1, 5, "Unterminated text literal"),
    ("x = 'abc", 1, 5, "Unterminated text literal"),
    ("x = 1; /* never closed\n more", 1, 8, "Unterminated comment"),
    ("date = 1;", 1, 1, "'date' is a reserved keyword"),
    ("x = 1;\nmap = 2;", 2, 1, "'map' is a reserved keyword"),
    ("while (true) { x = 1; }", 1, 1, "'while' loops do not exist in Deluge; use 'for each'"),
    ("do { x = 1; }", 1, 1, "'do' loops do not exist in Deluge; use 'for each'"),
    (
        "x = 1; y = x > 0 ? 1 : 2;",
        1,
        18,
        "The '?:' operator does not exist in Deluge; use if(condition, a, b)",
    ),
    ('m = Map(); m.get("k") = 1;', 1, 23, "Only a variable or input.<name> can be assigned"),
    ("l = List(); n = l.size;", 1, 19, "A method call needs parentheses: write .size()"),
    ("l = {1,2,};", 1, 10, "Unexpected '}' — expected an element after ','"),
    ('l = {1, "a": 2};', 1, 12, "A list literal cannot mix elements with 'key: value' pairs"),
    (
        'x = {"a": 1, 2};',
        1,
        15,
        "Unexpected '}' — expected ':' (a map literal cannot mix keys with list elements)",
    ),
    (
        "if (true) x = 1;",
        1,
        11,
        "Unexpected 'x' — expected '{' (Deluge needs braces around every block)",
    ),
    (
        "if (true) { } else x = 1;",
        1,
        20,
        "Unexpected 'x' — expected '{' (Deluge needs braces around every block)",
    ),
    ("x = 99999999999999999999;", 1, 5, "Number out of range"),
    ("1 + 2;", 1, 1, "Improper statement"),
    ("x = 1 +;", 1, 8, "Unexpected ';' — expected a value"),
    ("x = (1;", 1, 7, "Unexpected ';' — expected ')'"),
    ('m = {"a":1};\ninfo m.get("a")\ninfo 2;', 3, 1, "Unexpected 'info' — expected ';'"),
    ("x = 1; x = x.;", 1, 14, "Unexpected ';' — expected a method name after '.'"),
    (
        "void workflow.x(Int a) { info a; }",
        1,
        6,
        "Invalid function header: unknown category 'workflow'",
    ),
    ("void standalone.x(Int a) { info x; }", 1, 33, "Variable 'x' is not defined"),
    ("x.y = 1;", 1, 3, "A method call needs parentheses: write .y()"),
]


@pytest.mark.parametrize(("src", "line", "col", "message"), SYNTAX_ERRORS)
def test_syntax_error_positions(src: str, line: int, col: int, message: str) -> None:
    err = syntax_error(src)
    assert (err.line, err.column, err.message) == (line, col, message)
    assert err.kind == "syntax"


@pytest.mark.parametrize("word", ["switch", "function", "var", "let", "case"])
def test_not_deluge_statements_name_the_construct(word: str) -> None:
    err = syntax_error(f"x = 1;\n{word} (x) {{ }}")
    assert (err.line, err.column) == (2, 1)
    assert f"'{word}'" in err.message


@pytest.mark.parametrize("op", ["++", "--"])
def test_increment_operators_name_the_construct(op: str) -> None:
    # D-45: a syntax error naming the construct, at the operator
    err = syntax_error(f"x = 1;\nx{op};")
    assert (err.line, err.column) == (2, 2)
    assert f"'{op}'" in err.message and "does not exist in Deluge" in err.message
    err = syntax_error(f"x = 1;\n{op}x;")
    assert (err.line, err.column) == (2, 1)
    assert f"'{op}'" in err.message


def test_reserved_keywords_cannot_be_variables() -> None:
    for word in [
        "bool",
        "collection",
        "else",
        "float",
        "for",
        "from",
        "if",
        "in",
        "int",
        "is",
        "list",
        "null",
        "permissions",
        "portal",
        "reload",
        "return",
        "string",
        "thisapp",
        "true",
        "void",
        "zoho",
        "try",
        "catch",
        "throw",
        "info",
        "break",
        "continue",
    ]:
        with pytest.raises(DelugeSyntaxError):
            compile_program(f"{word} = 1;", name="t")


def test_contextual_words_are_variables() -> None:
    assert value_of("each = 1; index = 2; return each + index;") == 3
    assert value_of("automation = 1; standalone = 2; return automation + standalone;") == 3


def test_excerpt_shows_line_and_caret() -> None:
    err = syntax_error("x = 1;\n  y = (2;\nz = 3;")
    assert err.excerpt == "  y = (2;\n        ^"
    err = syntax_error("\tx = 1 +;")
    assert err.excerpt == "\tx = 1 +;\n\t       ^"


def test_columns_count_code_points() -> None:
    err = syntax_error('x = "é😀" +;')
    assert (err.line, err.column) == (1, 11)


def test_crlf_and_cr_line_numbers() -> None:
    for nl in ("\r\n", "\r"):
        err = syntax_error(f"x = 1;{nl}y = 2{nl}z = 3;")
        assert (err.line, err.column) == (3, 1)


def test_deep_nesting_is_syntax_error_not_crash() -> None:
    with pytest.raises(DelugeSyntaxError):
        compile_program("x = " + "(" * 500 + "1" + ")" * 500 + ";", name="t")
    with pytest.raises(DelugeSyntaxError):
        compile_program("if (true) {" * 300 + "}" * 300, name="t")


def test_wrong_argument_count_on_known_receiver_is_syntax_error() -> None:
    # §8 general rules: a syntax error when the receiver type is known to the compiler
    err = syntax_error('x = "abc".substring(1, 2, 3);')
    assert (err.line, err.column) == (1, 11)
    assert err.message == "'substring' takes 1 or 2 arguments but got 3"


def test_wrong_argument_count_on_unknown_receiver_is_runtime_error() -> None:
    res = run_src("x = y.substring(1, 2, 3);", y="abc")
    assert res.error.kind == "runtime"
    assert res.error.message == "'substring' takes 1 or 2 arguments but got 3"


def test_builtin_forms_arity_are_syntax_errors() -> None:
    assert syntax_error("x = ifnull(1);").message == (
        "ifnull(value, fallback) takes 2 arguments but got 1"
    )
    assert (
        syntax_error("x = if(true, 1);").message
        == "if(condition, a, b) takes 3 arguments but got 2"
    )
