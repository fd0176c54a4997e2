"""The function registry: functions, immutable versions, drafts, publish and rollback
(functions-platform.md §1), on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from floodway.crm.testing import crm  # noqa: F401  (fixture)
from floodway.functions.model import FunctionsError
from floodway.functions.service import Functions


@pytest.fixture(scope="module")
def fx(crm: Any) -> Functions:  # noqa: F811
    return Functions(crm)


def name() -> str:
    return "fn_" + secrets.token_hex(4)


def src(api: str, body: str = 'return "v1";', header: str = "string standalone") -> str:
    return f"{header}.{api}(String who)\n{{\n    {body}\n}}\n"


def test_create_makes_a_draft_version_1(fx: Functions) -> None:
    api = name()
    res = fx.registry.create(src(api), author="cli:ann@host", description="Says hi")
    assert res.function_created and res.version_created and not res.published
    fn = res.function.to_json()
    assert fn["api_name"] == api and fn["display_name"] == api
    assert fn["category"] == "standalone" and fn["return_type"] == "string"
    assert fn["arguments"] == [{"name": "who", "type": "String"}]
    assert fn["rest_enabled"] is False and fn["rest_auth"] == "any" and fn["timeout_s"] is None
    assert fn["live_version"] is None and fn["latest_version"] == 1
    assert fn["description"] == "Says hi" and fn["created_by"] == "cli:ann@host"
    assert fn["created_time"].endswith("Z")
    v = res.version.to_json()
    assert v["number"] == 1 and v["status"] == "draft" and v["live"] is False
    assert len(v["sha256"]) == 64 and v["author"] == "cli:ann@host"
    assert "source" not in v
    with pytest.raises(FunctionsError) as exc:
        fx.run(api)
    assert exc.value.code == "NO_LIVE_VERSION" and exc.value.http_status == 409


def test_api_names_are_unique_case_insensitively(fx: Functions) -> None:
    api = name()
    fx.registry.create(src(api))
    with pytest.raises(FunctionsError) as exc:
        fx.registry.create(src(api.upper()))
    assert exc.value.code == "DUPLICATE_DATA" and exc.value.http_status == 409
    assert fx.registry.get(api.upper()).api_name == api


def test_a_source_that_does_not_compile_is_never_stored(fx: Functions) -> None:
    api = name()
    with pytest.raises(FunctionsError) as exc:
        fx.registry.create(src(api, 'return "x"'))
    assert exc.value.code == "SYNTAX_ERROR"
    assert exc.value.details["line"] == 4 and exc.value.details["column"] == 1
    assert "expected ';'" in exc.value.message and "^" in exc.value.details["excerpt"]
    assert fx.registry.find(api) is None
    fx.registry.create(src(api))
    with pytest.raises(FunctionsError) as exc:
        fx.registry.save(api, src(api, "x = ;"))
    assert exc.value.code == "SYNTAX_ERROR" and exc.value.details["line"] == 3
    assert [v.number for v in fx.registry.versions(api)] == [1]


def test_header_must_name_the_function(fx: Functions) -> None:
    api = name()
    fx.registry.create(src(api))
    with pytest.raises(FunctionsError) as exc:
        fx.registry.save(api, src("other_name"))
    assert exc.value.code == "INVALID_DATA" and "other_name" in exc.value.message
    with pytest.raises(FunctionsError) as exc:
        fx.registry.create(src(name()), api_name=name())
    assert exc.value.code == "INVALID_DATA"


@pytest.mark.parametrize("bad", ["", "1abc", "has-dash", "a" * 101, "sp ace"])
def test_invalid_api_names(fx: Functions, bad: str) -> None:
    with pytest.raises(FunctionsError) as exc:
        fx.registry.create('info "x";', api_name=bad)
    assert exc.value.code == "INVALID_DATA" and exc.value.details == {"field": "api_name"}


def test_bare_script_needs_an_api_name(fx: Functions) -> None:
    with pytest.raises(FunctionsError) as exc:
        fx.registry.create("return total;")
    assert exc.value.code == "INVALID_DATA"
    api = name()
    res = fx.registry.create("return total;", api_name=api, publish=True)
    assert res.function.category == "standalone" and res.function.return_type is None
    assert res.function.to_json()["arguments"] == [{"name": "total", "type": None}]
    assert fx.run(api, {"total": 5}).output == 5


def test_save_publish_rollback(fx: Functions) -> None:
    api = name()
    fx.registry.create(src(api), publish=True)
    assert fx.run(api).output == "v1"
    same = fx.registry.save(api, src(api))
    assert not same.version_created and same.version.number == 1  # unchanged: no version
    v2 = fx.registry.save(api, src(api, 'return "v2";'), author="u2")
    assert v2.version_created and v2.version.number == 2 and v2.version.status == "draft"
    assert v2.function.live_version == 1 and v2.function.latest_version == 2
    assert fx.run(api).output == "v1"  # drafts do not run unless asked for
    assert fx.run(api, version=2).output == "v2"
    live = fx.registry.publish(api, author="u3")
    assert live.live_version == 2 and live.modified_by == "u3"
    assert fx.run(api).output == "v2"
    back = fx.registry.publish(api, 1)  # rollback
    assert back.live_version == 1
    assert fx.run(api).version == 1
    versions = fx.registry.versions(api)
    assert [(v.number, v.status, v.live) for v in versions] == [
        (2, "published", False),
        (1, "published", True),
    ]
    assert fx.registry.version(api).number == 1  # the live one
    assert fx.registry.version(api, 2).source == src(api, 'return "v2";')
    with pytest.raises(FunctionsError) as exc:
        fx.registry.publish(api, 7)
    assert exc.value.code == "NOT_FOUND" and exc.value.details["version"] == 7
    with pytest.raises(FunctionsError):
        fx.run(api, version=7)


def test_save_and_publish_in_one_step_is_what_deploy_does(fx: Functions) -> None:
    api = name()
    first = fx.registry.save(api, src(api), publish=True, create=True, rest_enabled=True)
    assert first.function_created and first.published and first.function.live_version == 1
    assert first.function.rest_enabled is True
    again = fx.registry.save(api, src(api), publish=True, create=True)
    assert not again.version_created and not again.published  # deploying twice changes nothing
    changed = fx.registry.save(api, src(api, 'return "v2";'), publish=True, create=True)
    assert changed.version_created and changed.published and changed.function.live_version == 2
    with pytest.raises(FunctionsError) as exc:
        fx.registry.save(name(), src("x"))
    assert exc.value.code in ("NOT_FOUND", "INVALID_DATA")


def test_header_facts_follow_the_live_version(fx: Functions) -> None:
    api = name()
    fx.registry.create(src(api), publish=True)
    fx.registry.save(api, f"map button.{api}(Int dealId)\n{{\n    return Map();\n}}\n")
    fn = fx.registry.get(api)
    assert fn.category == "standalone" and fn.return_type == "string"  # live v1 still decides
    fx.registry.publish(api)
    fn = fx.registry.get(api)
    assert fn.category == "button" and fn.return_type == "map"
    assert fn.to_json()["arguments"] == [{"name": "dealId", "type": "Int"}]
    assert api in [f.api_name for f in fx.registry.list(category="button")]
    assert api not in [f.api_name for f in fx.registry.list(category="standalone")]


def test_update_settings(fx: Functions) -> None:
    api = name()
    fx.registry.create(src(api))
    fn = fx.registry.update(
        api,
        display_name="Hello",
        rest_enabled=True,
        rest_auth="oauth",
        timeout_s=5,
        settings={"a": 1},
    )
    assert (fn.display_name, fn.rest_enabled, fn.rest_auth, fn.timeout_s) == (
        "Hello",
        True,
        "oauth",
        5.0,
    )
    assert fn.settings == {"a": 1}
    assert fx.registry.update(api, description="d").display_name == "Hello"  # others untouched
    for bad in (
        {"timeout_s": 0},
        {"timeout_s": True},
        {"rest_auth": "key"},
        {"rest_enabled": "yes"},
        {"nope": 1},
    ):
        with pytest.raises(FunctionsError) as exc:
            fx.registry.update(api, **bad)
        assert exc.value.code == "INVALID_DATA"


def test_delete(fx: Functions) -> None:
    api = name()
    fx.registry.create(src(api), publish=True)
    result = fx.run(api)
    fx.registry.delete(api)
    assert fx.registry.find(api) is None
    assert fx.registry.live(api) is None
    with pytest.raises(FunctionsError) as exc:
        fx.registry.delete(api)
    assert exc.value.code == "NOT_FOUND" and exc.value.http_status == 404
    assert fx.executions.get(result.id)["function"] == api  # the log keeps the run
    fx.registry.create(src(api))  # the name is free again
    assert fx.registry.get(api).latest_version == 1


def test_live_cache_follows_writes(fx: Functions) -> None:
    api = name()
    fx.registry.create(src(api))
    assert fx.registry.live(api) is None
    fx.registry.publish(api)
    live = fx.registry.live(api.upper())
    assert live is not None and live.version.number == 1 and live.program.api_name == api
    assert fx.registry.live(api) is live  # cached
    fx.registry.save(api, src(api, 'return "v2";'), publish=True)
    assert fx.registry.live(api).version.number == 2


def test_other_nodes_see_a_publish_within_the_ttl(fx: Functions) -> None:
    other = Functions(fx.crm, type("S", (), {"function_cache_ttl_s": 0.0})())
    api = name()
    fx.registry.create(src(api), publish=True)
    assert other.registry.live(api).version.number == 1
    fx.registry.save(api, src(api, 'return "v2";'), publish=True)
    assert other.registry.live(api).version.number == 2  # TTL 0: read again
