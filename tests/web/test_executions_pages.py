"""The executions log, a run's detail (failing source line of the version that ran, the causing
rule and record, the chain), "Run again", the record page's automation panel and the dashboard
figures, against real executions on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from floodway.web import execution_queries as q

from .automation_app import WORKFLOW_ADMIN, build_app
from .conftest import Console, open_console


@pytest.fixture(scope="module")
def app(crm: Any) -> Iterator[Any]:
    yield from build_app(crm)


@pytest.fixture
def wanda(app: Any) -> Iterator[Console]:
    yield from open_console(app, WORKFLOW_ADMIN)


def _fx(app: Any) -> Any:
    return app.state.functions


def test_percentile_is_nearest_rank() -> None:
    assert q.percentile([], 95) is None
    assert q.percentile([5.0], 50) == 5.0
    values = [float(v) for v in range(1, 101)]
    assert q.percentile(values, 50) == 50.0 and q.percentile(values, 95) == 95.0
    assert q.record_id_of("http://x/m/Deals/4150868000000402001?a=1") == "4150868000000402001"


def test_log_filters_and_paging(app: Any, admin: Console) -> None:
    fx = _fx(app)
    ok = fx.run("rollup", {"dealId": 11}, trigger={"type": "manual"})
    bad = fx.run("explode", {"dealId": 12})
    page = admin.get("/executions")
    assert page.status_code == 200
    assert f"/executions/{ok.id}" in page.text and f"/executions/{bad.id}" in page.text
    failures = admin.get("/executions?status=failure")
    assert f"/executions/{bad.id}" in failures.text and f"/executions/{ok.id}" not in failures.text
    by_fn = admin.get("/executions?function=rollup")
    assert f"/executions/{ok.id}" in by_fn.text and f"/executions/{bad.id}" not in by_fn.text
    text = admin.get("/executions?q=division")
    assert f"/executions/{bad.id}" in text.text and f"/executions/{ok.id}" not in text.text
    none = admin.get("/executions?function=rollup&status=skipped")
    assert "No executions match" in none.text and "Try 7 days" in none.text
    # Keyset paging: a page of 50, then "Load older" from the last id shown.
    for i in range(55):
        fx.run("rollup", {"dealId": i})
    first = admin.get("/executions?function=rollup")
    ids = re.findall(r'aria-label="Execution (\d+)"', first.text)
    assert len(ids) == 50
    older = re.search(r'href="(/executions\?[^"]*before=\d+)"', first.text)
    assert older is not None
    second = admin.get(older.group(1).replace("&amp;", "&"))
    more = re.findall(r'aria-label="Execution (\d+)"', second.text)
    assert more and not set(more) & set(ids) and max(map(int, more)) < min(map(int, ids))


def test_live_log_counts_newer_runs_matching_its_filters(app: Any, admin: Console) -> None:
    fx = _fx(app)
    fx.run("rollup", {"dealId": 1})
    page = admin.get("/executions?function=rollup")
    live = re.search(r'data-live="([^"]+)"', page.text)
    assert live is not None and "function=rollup" in live.group(1)
    url = live.group(1).replace("&amp;", "&")

    def newer() -> dict[str, Any]:
        r = admin.get(url)
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
        found: dict[str, Any] = r.json()
        return found

    assert newer() == {"count": 0, "more": False}
    fx.run("rollup", {"dealId": 2})
    fx.run("rollup", {"dealId": 3})
    fx.run("explode", {"dealId": 4})  # another function: not counted
    assert newer() == {"count": 2, "more": False}
    for i in range(100):
        fx.run("rollup", {"dealId": i})
    assert newer() == {"count": 99, "more": True}
    # Older pages and a closed time range do not poll; a bad id is refused.
    older = admin.get("/executions?function=rollup&before=" + re.findall(r"after=(\d+)", url)[0])
    assert "data-live=" not in older.text
    assert admin.get("/executions/newer?after=x").status_code == 400


def test_detail_shows_failing_line_of_the_version_that_ran(app: Any, admin: Console) -> None:
    fx = _fx(app)
    bad = fx.run("explode", {"dealId": 7})
    # A newer live version must not change what the detail shows.
    fx.registry.save(
        "explode", "void automation.explode(Int dealId)\n{\n    info 1;\n}\n", publish=True
    )
    page = admin.get(f"/executions/{bad.id}")
    assert page.status_code == 200
    assert 'class="hit"' in page.text
    hit = re.search(r'<span class="hit">(.*?)</span>', page.text)
    assert hit is not None and "y = 10 / x;" in hit.group(1) and "▶" in hit.group(1)
    assert "dealId" in page.text and "Run again" in page.text
    assert admin.get("/executions/123").status_code == 404
    assert admin.get("/executions/abc").status_code == 404


def test_run_again_repeats_the_same_version(app: Any, admin: Console) -> None:
    fx = _fx(app)
    first = fx.run("rollup", {"dealId": 99})
    admin.get(f"/executions/{first.id}")
    r = admin.post(f"/executions/{first.id}/rerun", follow_redirects=False)
    assert r.status_code == 303
    new_id = r.headers["location"].split("/")[-1].split("?")[0]
    again = fx.executions.get(new_id)
    assert again["rerun_of"] == first.id and again["arguments"] == {"dealId": 99}
    assert again["version"] == first.version
    page = admin.get(f"/executions/{new_id}?done=rerun")
    assert f"/executions/{first.id}" in page.text and "Run again finished" in page.text
    skipped = fx.executor.skip("rollup", {"type": "manual"}, "loop guard: test")
    refused = admin.post(f"/executions/{skipped}/rerun")
    assert refused.status_code in (200, 409)
    assert "Run again" not in refused.text or "cannot be run again" in refused.text


def test_workflow_execution_links_rule_record_and_panel(app: Any, admin: Console) -> None:
    auto = app.state.automation
    rule = auto.store.create(
        "workflow",
        {
            "name": "Panel rule",
            "module": "Deals",
            "on": "create",
            "actions": [
                {"function": "rollup", "arguments": {"dealId": "${Deals.id}"}},
                {"field_update": {"Next_Step": "Call"}, "after": "2d"},
            ],
        },
    )
    from floodway.crm import Actor

    admin_user = app.state.crm.users.by_email("alice@example.test")
    made = app.state.crm.records.create(
        "Deals",
        [{"Deal_Name": "Panel deal", "Stage": "Qualification"}],
        actor=Actor(admin_user.id, "ui", workflow=True),
    )[0]
    rid = made["details"]["id"]
    auto.queue.start(concurrency=1)
    assert auto.queue.wait_idle(20)
    rows = q.log_page(app.state.crm, q.LogFilter(record=rid), app.state.crm.now_ms()).rows
    assert [r["function"] for r in rows] == ["rollup"]
    page = admin.get(f"/executions/{rows[0]['id']}")
    assert f"/automation/rules/{rule.id}" in page.text and f"/m/Deals/{rid}" in page.text
    assert f"/executions/{rows[0]['id']}" in admin.get(f"/executions?record={rid}").text
    assert f"/executions/{rows[0]['id']}" in admin.get("/executions?module=Deals").text
    panel = admin.get(f"/m/Deals/{rid}/automation-panel")
    assert "Panel rule" in panel.text and 'id="pending-actions"' in panel.text
    assert f"/executions/{rows[0]['id']}" in panel.text


def test_dashboard_counts_and_chart_data(app: Any, admin: Console) -> None:
    fx = _fx(app)
    fx.run("rollup", {"dealId": 1})
    fx.run("explode", {"dealId": 1})
    d = q.dashboard(app.state.crm, "24h", app.state.crm.now_ms())
    assert len(d.buckets) == 24 and sum(d.series["failure"]) >= 1
    assert sum(d.series["success"]) == d.totals["success"]
    names = {p["name"] for p in d.per_function}
    assert {"rollup", "explode"} <= names
    assert d.failing and d.failing[0]["name"] == "explode"
    page = admin.get("/dashboard")
    assert page.status_code == 200
    chart = re.search(r'data-chart="([^"]+)"', page.text)
    assert chart is not None
    data = json.loads(chart.group(1).replace("&#34;", '"').replace("&quot;", '"'))
    assert sum(data["series"]["failure"]) == d.totals["failure"]
    assert "uPlot-1.6.32.iife.min.js" in page.text and "<script>" not in page.text
    assert "explode" in page.text and "<meter" in page.text
    for r in ("7d", "30d"):
        assert admin.get(f"/dashboard?range={r}").status_code == 200


def test_executions_need_manage_functions(app: Any, wanda: Console, standard: Console) -> None:
    for who in (wanda, standard):
        assert who.get("/executions").status_code == 403
        assert who.get("/dashboard").status_code == 403
    run = _fx(app).run("rollup", {"dealId": 1})
    r = wanda.get(f"/executions/{run.id}")
    assert r.status_code == 403 and "dealId" not in r.text
