"""Execution records: what is stored, masking, listing, retention, re-runs, skipped runs and the
``floodway executions`` / ``floodway run --data`` commands (functions-platform.md §8)."""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from floodway.cli import app
from floodway.crm.testing import crm  # noqa: F401  (fixture)
from floodway.db import write_transaction
from floodway.functions import schema as t
from floodway.functions.model import FunctionsError
from floodway.functions.service import Functions

ISO_UTC = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z"
DAY_MS = 86_400_000


@pytest.fixture(scope="module")
def fx(crm: Any) -> Functions:  # noqa: F811
    return Functions(crm)


def name() -> str:
    return "fn_" + secrets.token_hex(4)


def deploy(fx: Functions, body: str, params: str = "", rtype: str = "string") -> str:
    api = name()
    fx.registry.create(f"{rtype} standalone.{api}({params})\n{{\n{body}\n}}\n", publish=True)
    return api


def test_a_successful_run_is_recorded(fx: Functions) -> None:
    api = deploy(
        fx,
        '    info "got " + who;\n    info {"n": 1};\n    return {"hello": who};',
        "String who",
        "map",
    )
    result = fx.run(api, {"who": "Ann"}, trigger={"type": "manual"})
    assert result.status == "success" and result.output == {"hello": "Ann"}
    assert result.output_type == "map" and result.output_text == '{"hello":"Ann"}'
    rec = fx.executions.get(result.id)
    assert set(rec) == {
        "id",
        "function",
        "function_id",
        "version",
        "trigger",
        "trigger_type",
        "status",
        "caller",
        "run_as",
        "arguments",
        "output",
        "output_text",
        "output_truncated",
        "info",
        "error",
        "notes",
        "statements",
        "http_calls",
        "emails",
        "records",
        "client_actions",
        "started_at",
        "finished_at",
        "duration_ms",
        "rerun_of",
        "chain_id",
        "chain_depth",
    }
    assert rec["id"] == result.id and rec["function"] == api and rec["version"] == 1
    assert rec["function_id"] == fx.registry.get(api).id
    assert rec["trigger"] == {"type": "manual"} and rec["trigger_type"] == "manual"
    assert rec["status"] == "success" and rec["arguments"] == {"who": "Ann"}
    assert rec["output"] == {"hello": "Ann"} and rec["output_text"] == '{"hello":"Ann"}'
    assert rec["info"] == ["got Ann", '{"n":1}'] and rec["error"] is None
    assert rec["statements"] == 3 and rec["duration_ms"] > 0
    assert re.fullmatch(ISO_UTC, rec["started_at"]) and re.fullmatch(ISO_UTC, rec["finished_at"])
    assert rec["started_at"] <= rec["finished_at"] and result.started_at == rec["started_at"]
    assert rec["rerun_of"] is None and rec["chain_id"] is None and rec["chain_depth"] == 0


def test_a_failure_is_recorded_with_its_location(fx: Functions) -> None:
    api = deploy(fx, '    info "before";\n    x = 1 / 0;\n    return "never";')
    result = fx.run(
        api, trigger={"type": "workflow", "rule_id": "7", "record_id": "9"}, chain=("123", 2)
    )
    rec = fx.executions.get(result.id)
    assert rec["status"] == "failure" and rec["output"] is None
    assert rec["error"] == {
        "kind": "runtime",
        "message": "Division by zero",
        "line": 4,
        "column": 11,
    }
    assert rec["info"] == ["before"]
    assert rec["chain_id"] == "123" and rec["chain_depth"] == 2


def test_get_unknown(fx: Functions) -> None:
    for bad in ("123", "abc", "-1", ""):
        with pytest.raises(FunctionsError) as exc:
            fx.executions.get(bad)
        assert exc.value.code == "NOT_FOUND"


def test_secrets_are_masked(fx: Functions) -> None:
    api = deploy(
        fx,
        '    info "calling with api_key=" + key + " and Authorization: Bearer abcdef123456";\n'
        '    info "the key was " + key;\n'
        '    return {"token": key, "plain": "visible"};',
        "String apiKey, String key",
        "map",
    )
    result = fx.run(api, {"apiKey": "zk-0123456789", "key": "sk-secret-42"})
    assert result.output == {"token": "sk-secret-42", "plain": "visible"}  # the caller sees it
    rec = fx.executions.get(result.id)
    assert rec["arguments"] == {"apiKey": "****", "key": "****"}
    assert rec["info"][0] == "calling with api_key=**** and Authorization: ****"
    assert rec["info"][1] == "the key was ****"  # the value of a secret argument, anywhere
    assert rec["output"] == {"token": "****", "plain": "visible"}
    assert "sk-secret-42" not in json.dumps(rec) and "zk-0123456789" not in json.dumps(rec)


def test_output_is_capped_at_64_kb(fx: Functions) -> None:
    api = deploy(fx, '    return "".leftpad(70000).replaceAll(" ", "ab");')
    result = fx.run(api)
    assert len(result.output) == 140000  # the caller gets all of it
    rec = fx.executions.get(result.id)
    assert rec["output"] is None and rec["output_truncated"] is True
    assert len(rec["output_text"]) == 64 * 1024


def test_recording_long_words_stays_fast(fx: Functions) -> None:
    """The by-name redaction pass must not go quadratic on long runs of letters (hex blobs)."""
    import time

    api = deploy(
        fx,
        '    blob = "".leftpad(100000).replaceAll(" ", "f");\n'
        "    info blob + key + blob;\n"
        "    return blob;",
        "String key",
    )
    started = time.monotonic()
    result = fx.run(api, {"key": "tok-secret-value"})
    assert time.monotonic() - started < 5
    rec = fx.executions.get(result.id)
    assert "tok-secret-value" not in rec["info"][0] and "****" in rec["info"][0]


def test_list_filters_newest_first(fx: Functions) -> None:
    ok = deploy(fx, '    return "ok";')
    bad = deploy(fx, '    throw "bad";')
    ids = [
        fx.run(ok).id,
        fx.run(bad, trigger={"type": "schedule", "schedule": "nightly"}).id,
        fx.run(ok, trigger={"type": "rest", "auth_type": "apikey"}).id,
    ]
    mine = [r["id"] for r in fx.executions.list(limit=1000) if r["id"] in ids]
    assert mine == list(reversed(ids))
    assert [r["id"] for r in fx.executions.list(function=ok.upper())] == [ids[2], ids[0]]
    assert [r["id"] for r in fx.executions.list(function=bad, status="failure")] == [ids[1]]
    assert [r["id"] for r in fx.executions.list(function=ok, trigger="rest")] == [ids[2]]
    assert [r["id"] for r in fx.executions.list(function=ok, limit=1)] == [ids[2]]
    assert [r["id"] for r in fx.executions.list(function=ok, before_id=ids[2])] == [ids[0]]
    first = fx.executions.get(ids[0])
    later = fx.executions.list(function=ok, since=_ms(first["started_at"]) + 1)
    assert ids[0] not in [r["id"] for r in later]
    assert fx.executions.list(function=ok, until=_ms(first["started_at"])) == []
    for bad_args in ({"status": "odd"}, {"limit": 0}, {"limit": 5000}, {"before_id": "x"}):
        with pytest.raises(FunctionsError):
            fx.executions.list(**bad_args)


def _ms(iso: str) -> int:
    import datetime as dt

    return int(dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def test_cli_json_item(fx: Functions) -> None:
    api = deploy(fx, '    info "x";\n    return {"a": [1, 2]};', rtype="map")
    rec = fx.executions.get(fx.run(api).id)
    item = fx.executions.cli_json(rec)
    assert list(item) == [
        "id",
        "function",
        "trigger",
        "status",
        "output",
        "info",
        "error",
        "statements",
        "duration_ms",
        "started_at",
    ]
    assert item["trigger"] == "manual" and item["output"] == {"a": [1, 2]}


def test_skipped_execution(fx: Functions) -> None:
    api = deploy(fx, '    return "x";')
    eid = fx.executor.skip(
        api,
        {"type": "workflow", "rule": "Roll up", "record_id": "4150868000000402001"},
        "loop guard: chain depth 5 reached",
        chain=("99", 5),
    )
    rec = fx.executions.get(eid)
    assert rec["status"] == "skipped" and rec["version"] == 1 and rec["statements"] == 0
    assert rec["error"]["message"] == "loop guard: chain depth 5 reached"
    assert rec["error"]["kind"] == "skipped" and rec["chain_depth"] == 5
    with pytest.raises(FunctionsError):
        fx.executor.rerun(eid)


def test_rerun_repeats_the_same_version_and_arguments(fx: Functions) -> None:
    api = name()
    fx.registry.create(
        f'string standalone.{api}(String a)\n{{\n    return "v1 " + a;\n}}\n', publish=True
    )
    first = fx.run(api, {"a": "x"})
    fx.registry.save(
        api, f'string standalone.{api}(String a)\n{{\n    return "v2 " + a;\n}}\n', publish=True
    )
    again = fx.executor.rerun(first.id)
    assert again.output == "v1 x" and again.version == 1
    rec = fx.executions.get(again.id)
    assert rec["rerun_of"] == first.id
    assert rec["trigger"] == {"type": "manual", "rerun_of": first.id}
    masked = fx.run(api, {"a": "x", "password": "hunter22"})
    with pytest.raises(FunctionsError) as exc:
        fx.executor.rerun(masked.id)
    assert exc.value.code == "INVALID_DATA"


def test_purge_keeps_failures_longer(fx: Functions) -> None:
    ok = deploy(fx, '    return "ok";')
    bad = deploy(fx, '    throw "bad";')
    ids = {k: fx.run(api).id for k, api in (("ok", ok), ("bad", bad))}
    recent_ok = fx.run(ok).id
    now = fx.crm.now_ms()
    with write_transaction(fx.crm.engine) as conn:
        for eid in ids.values():
            conn.execute(
                sa.update(t.executions)
                .where(t.executions.c.id == int(eid))
                .values(started_time=now - 40 * DAY_MS)
            )
    fx.executions.purge()
    assert fx.executions.get(ids["bad"])["status"] == "failure"  # kept 90 days
    with pytest.raises(FunctionsError):
        fx.executions.get(ids["ok"])
    assert fx.executions.get(recent_ok)["status"] == "success"
    fx.executions.purge(now=now + 60 * DAY_MS)
    with pytest.raises(FunctionsError):
        fx.executions.get(ids["bad"])


# --------------------------------------------------------------------------- CLI


def invoke(*argv: str) -> Any:
    return CliRunner().invoke(app, list(argv))


def test_cli_run_with_data_and_executions(tmp_path: Path) -> None:
    data = tmp_path / "data"
    helper = tmp_path / "lib"
    helper.mkdir()
    main = tmp_path / "main.dg"
    main.write_text(
        'string standalone.main(String who)\n{\n    info "hi " + who;\n'
        '    r = zoho.crm.createRecord("Leads", {"Last_Name": who});\n'
        '    return zoho.crm.getRecordById("Leads", r.get("id")).get("Last_Name");\n}\n',
        "utf-8",
    )
    out = invoke("run", str(main), "--arg", "who=Ann", "--data", str(data))
    assert out.exit_code == 0, out.output
    assert "hi Ann" in out.stdout and "Ann" in out.stdout.splitlines()[-1]
    out = invoke("run", str(main), "--arg", "who=Bob", "--data", str(data), "--json")
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["output"] == "Bob" and result["execution_id"]
    failing = tmp_path / "failing.dg"
    failing.write_text('throw "nope";\n', "utf-8")
    assert invoke("run", str(failing), "--data", str(data)).exit_code == 1
    out = invoke("executions", "--data", str(data), "--json")
    assert out.exit_code == 0, out.output
    items = json.loads(out.stdout.strip().splitlines()[-1])
    assert [(i["function"], i["status"]) for i in items] == [
        ("failing", "failure"),
        ("main", "success"),
        ("main", "success"),
    ]
    assert items[1]["id"] == result["execution_id"]
    assert items[1]["trigger"] == "cli" and items[1]["output"] == "Bob"
    assert items[1]["info"] == ["hi Bob"] and re.fullmatch(ISO_UTC, items[1]["started_at"])
    assert items[0]["error"]["message"] == "nope"
    out = invoke("executions", "--data", str(data), "--json", "--function", "MAIN", "--limit", "1")
    assert [i["id"] for i in json.loads(out.stdout.strip().splitlines()[-1])] == [items[1]["id"]]
    out = invoke("executions", "--data", str(data))
    assert out.exit_code == 0 and "failing  cli  failure" in out.stdout


def test_cli_run_with_data_uses_deployed_standalone_functions(tmp_path: Path) -> None:
    from floodway.crm.service import Crm
    from floodway.db import create_engine_for

    data = tmp_path / "data"
    main = tmp_path / "main.dg"
    main.write_text("int standalone.main()\n{\n    return standalone.twice(21);\n}\n", "utf-8")
    (tmp_path / "twice.dg").write_text(  # a sibling file: used only without --data
        "int standalone.twice(Int n)\n{\n    return 0;\n}\n", "utf-8"
    )
    assert invoke("run", str(main), "--data", str(data)).exit_code == 1  # nothing deployed yet
    engine = create_engine_for(data_dir=data)
    try:
        org = Crm(engine)
        org.bootstrap()
        Functions(org).registry.create(
            "int standalone.twice(Int n)\n{\n    return n * 2;\n}\n", publish=True
        )
    finally:
        engine.dispose()
    out = invoke("run", str(main), "--data", str(data))
    assert out.exit_code == 0 and out.stdout.strip().splitlines()[-1] == "42"
    out = invoke("run", str(main))
    assert out.exit_code == 0 and out.stdout.strip().splitlines()[-1] == "0"
