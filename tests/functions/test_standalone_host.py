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


# ---- zoho.crm.* on an ephemeral instance of the real store -----------------------------------


def test_crm_tasks_run_on_an_ephemeral_store_made_on_first_use(tmp_path: Path) -> None:
    host = StandaloneHost(tmp_path, load_settings())
    assert run(compile_program("return 1;"), {}, host).value == 1
    assert host._store is None  # a script that never calls zoho.crm.* does not pay for it
    src = """
    a = zoho.crm.createRecord("Accounts", {"Account_Name": "a"});
    c = zoho.crm.createRecord("Contacts", {"Last_Name": "b"});
    r = zoho.crm.getRecordById("Contacts", c.get("id"));
    return {"a": a.get("id"), "c": c.get("id"), "owner": r.get("Owner"), "user": zoho.loginuser,
            "email": zoho.loginuserid};
    """
    result = run(compile_program(src), {}, host)
    assert result.status == "success", result.error
    out = result.value
    assert int(out["c"]) > int(out["a"])  # ids increase across modules
    assert out["owner"]["name"] == out["user"] == "Floodway Admin"
    assert out["owner"]["email"] == out["email"] == "admin@floodway.local"
    path = Path(str(host.crm.engine.url.database))
    assert path.exists()
    host.close()
    assert not path.exists()


def test_each_host_gets_its_own_empty_store(tmp_path: Path) -> None:
    create = 'return zoho.crm.createRecord("Leads", {"Last_Name": "x"}).get("id");'
    count = 'return zoho.crm.getRecords("Leads").size();'
    first = StandaloneHost(tmp_path, load_settings())
    assert run(compile_program(create), {}, first).status == "success"
    assert run(compile_program(count), {}, first).value == 1
    second = StandaloneHost(tmp_path, load_settings())
    assert run(compile_program(count), {}, second).value == 0
    first.close()
    second.close()


def test_ephemeral_store_uses_the_org_time_zone(tmp_path: Path) -> None:
    settings = load_settings().model_copy(update={"time_zone": "Asia/Kolkata"})
    host = StandaloneHost(tmp_path, settings)
    src = 'return zoho.crm.createRecord("Accounts", {"Account_Name": "a"}).get("Created_Time");'
    result = run(compile_program(src), {}, host, tz="Asia/Kolkata")
    assert result.status == "success", result.error
    assert str(result.value).endswith("+05:30")
    host.close()


def test_validations_are_the_real_stores(tmp_path: Path) -> None:
    host = StandaloneHost(tmp_path, load_settings())
    src = """
    r = zoho.crm.createRecord("Deals", {"Deal_Name": "x"});
    return {"code": r.get("code"), "details": r.get("details"),
            "deals": zoho.crm.getRecords("Deals").size()};
    """
    result = run(compile_program(src), {}, host)
    assert result.status == "success", result.error
    assert result.value == {
        "code": "MANDATORY_NOT_FOUND",
        "details": {"api_name": "Stage", "json_path": "$.data[0].Stage"},
        "deals": 0,
    }
    host.close()
