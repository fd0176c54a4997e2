"""The host behind `floodway run`: daily quotas, recorded mail, sibling function files."""

from __future__ import annotations

from pathlib import Path

from floodway.deluge import Limits, compile_program, run
from floodway.functions.standalone_host import StandaloneHost
from floodway.settings import load_settings

MAIL = 'sendmail [ from: zoho.adminuserid to: "ops@example.com" subject: "s" message: "m" ]'


def test_sendmail_daily_quota_is_a_runtime_error_once_used_up(tmp_path: Path) -> None:
    limits = Limits(sendmail_daily=2)
    host = StandaloneHost(tmp_path, load_settings(), limits=limits)
    result = run(compile_program(f"for each i in {{1, 2, 3}} {{ {MAIL} }}"), {}, host, limits)
    assert result.status == "failure"
    assert result.error is not None and result.error.kind == "runtime"
    assert result.error.message == "sendmail limit of 2 per day reached"
    assert len(host.outbox) == 2


def test_invokeurl_daily_quota_counts_every_call(tmp_path: Path) -> None:
    limits = Limits(invokeurl_daily=1)
    host = StandaloneHost(tmp_path, load_settings(), limits=limits)
    src = """
    try { r = getUrl("http://127.0.0.1:9/"); } catch (e) { info e; }
    try { r = getUrl("http://127.0.0.1:9/"); } catch (e) { info e; }
    """
    result = run(compile_program(src), {}, host, limits)
    assert result.info[0].startswith("invokeurl")  # refused destination, still counted
    assert result.info[1] == "invokeurl limit of 1 per day reached"


def test_standalone_calls_resolve_sibling_files_case_insensitively(tmp_path: Path) -> None:
    (tmp_path / "Double.dg").write_text("int standalone.double(Int n) { return n * 2; }")
    host = StandaloneHost(tmp_path, load_settings())
    result = run(compile_program("return standalone.DOUBLE(21);"), {}, host)
    assert result.status == "success" and result.value == 42


def test_sendmail_is_recorded_with_every_field(tmp_path: Path) -> None:
    host = StandaloneHost(tmp_path, load_settings())
    src = """sendmail [
        from: zoho.adminuserid
        to: {"a@example.com", "b@example.com"}
        cc: "c@example.com"
        reply to: "r@example.com"
        subject: "Deal won"
        message: "<b>yes</b>"
        content type: "text/plain"
    ]"""
    assert run(compile_program(src), {}, host).status == "success"
    (mail,) = host.outbox
    assert mail.to == ["a@example.com", "b@example.com"] and mail.cc == ["c@example.com"]
    assert mail.reply_to == ["r@example.com"] and mail.subject == "Deal won"
    assert mail.content_type == "text/plain" and mail.message == "<b>yes</b>"
