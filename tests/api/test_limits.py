"""Inbound limits (security.md DOS-5), the rate limit (DOS-2) and the catch-all error handler.

These run against stand-in CRM objects: they pin the HTTP layer's own behaviour.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from floodway.api.app import create_app
from floodway.api.config import ApiConfig
from floodway.api.parsing import id_text, parse_json, token_params
from floodway.api.ratelimit import TokenBucket


class _Profile:
    def can(self, module: str, op: str) -> bool:
        return True


class _Principal:
    user = SimpleNamespace(id="1")
    profile = _Profile()

    def allows(self, operation: str, module: str | None = None) -> bool:
        return True

    def actor(self, channel: str = "api", workflow: bool = True) -> Any:
        return SimpleNamespace(user_id="1", channel=channel, workflow=workflow)


class _OAuth:
    def authenticate(self, token: str) -> Any:
        from floodway.crm.errors import CrmError

        if token != "good":
            raise CrmError("INVALID_TOKEN", "invalid oauth token")
        return _Principal()

    def token(self, params: Any, *, api_domain: str) -> dict[str, Any]:
        return {"error": "invalid_client"}


class _Metadata:
    def module(self, name: str) -> Any:
        if name == "Boom":
            raise RuntimeError("secret internal detail")
        return SimpleNamespace(api_name=name)


class _Records:
    def create(self, module: str, rows: list[Any], *, actor: Any) -> list[Any]:
        return [
            {
                "code": "SUCCESS",
                "details": {"id": "1"},
                "message": "record added",
                "status": "success",
            }
            for _ in rows
        ]

    def list(self, module: str, **kw: Any) -> Any:
        return SimpleNamespace(data=[], info={})


STUB = SimpleNamespace(oauth=_OAuth(), metadata=_Metadata(), records=_Records())
AUTH = {"Authorization": "Zoho-oauthtoken good"}


def client(**config: Any) -> TestClient:
    config.setdefault("rate_limit_per_s", 0)
    return TestClient(create_app(STUB, config=ApiConfig(**config)), raise_server_exceptions=False)


def test_body_over_limit_is_413() -> None:
    c = client(max_body_bytes=1024)
    body = b'{"data":[{"x":"' + b"a" * 2000 + b'"}]}'
    response = c.post("/crm/v8/Deals", headers=AUTH, content=body)
    assert response.status_code == 413
    assert response.json() == {
        "code": "LIMIT_EXCEEDED",
        "details": {"limit": "1KB"},
        "message": "limit exceeded",
        "status": "error",
    }
    # Without a Content-Length (chunked), the stream is counted.
    chunked = c.post("/crm/v8/Deals", headers=AUTH, content=iter([body[:600], body[600:]]))
    assert chunked.status_code == 413
    assert c.post("/crm/v8/Deals", headers=AUTH, content=b'{"data":[{}]}').status_code == 201


def test_default_limits() -> None:
    config = ApiConfig()
    assert config.max_body_bytes == 5 * 1024 * 1024
    assert config.max_function_body_bytes == 1024 * 1024
    assert config.rate_limit_per_s == 20 and config.rate_limit_burst == 100
    body = b" " * (5 * 1024 * 1024 + 1)
    response = client().post("/crm/v8/Deals", headers=AUTH, content=body)
    assert response.status_code == 413
    assert response.json()["details"] == {"limit": "5MB"}


def test_compressed_body_is_415() -> None:
    response = client().post(
        "/crm/v8/Deals",
        headers={**AUTH, "Content-Encoding": "gzip"},
        content=b"\x1f\x8b\x08\x00",
    )
    assert response.status_code == 415
    assert response.json()["status"] == "error"


def test_headers_over_16kb() -> None:
    response = client().get("/crm/v8/Deals", headers={**AUTH, "X-Big": "a" * 17000})
    assert response.status_code == 431
    assert response.json()["code"] == "LIMIT_EXCEEDED"


def test_json_depth() -> None:
    deep = b'{"data":[' + b"[" * 70 + b"]" * 70 + b"]}"
    response = client().post("/crm/v8/Deals", headers=AUTH, content=deep)
    assert response.status_code == 400
    assert response.json()["code"] == "LIMIT_EXCEEDED"
    very_deep = b"[" * 100_000 + b"]" * 100_000
    response = client().post("/crm/v8/Deals", headers=AUTH, content=very_deep)
    assert response.status_code == 400


def test_catch_all_hides_the_traceback(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="floodway.api"):
        response = client().get("/crm/v8/Boom", headers=AUTH)
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json;charset=UTF-8"
    assert response.json() == {
        "code": "INTERNAL_ERROR",
        "details": {},
        "message": "Internal Server Error",
        "status": "error",
    }
    assert "secret internal detail" not in response.text
    assert "secret internal detail" in caplog.text  # logged server-side


def test_rate_limit_per_token() -> None:
    c = client(rate_limit_per_s=1, rate_limit_burst=3)
    statuses = [c.get("/crm/v8/Deals", headers=AUTH).status_code for _ in range(4)]
    assert statuses[:3] == [204, 204, 204]
    assert statuses[3] == 429
    response = c.get("/crm/v8/Deals", headers=AUTH)
    assert response.json()["code"] == "TOO_MANY_REQUESTS"
    assert int(response.headers["Retry-After"]) >= 1
    assert response.headers["X-RATELIMIT-LIMIT"] == "3"
    assert response.headers["X-RATELIMIT-REMAINING"] == "0"
    # Failing tokens are throttled per client address.
    bad = [
        c.get("/crm/v8/Deals", headers={"Authorization": "Bearer nope"}).status_code
        for _ in range(5)
    ]
    assert bad[:3] == [401, 401, 401] and bad[-1] == 429
    # The token endpoint too.
    token = [c.post("/oauth/v2/token").status_code for _ in range(5)]
    assert token[:3] == [200, 200, 200] and token[-1] == 429


def test_token_bucket_refills() -> None:
    now = [0.0]
    bucket = TokenBucket(2, 2, clock=lambda: now[0])
    assert bucket.take("k").allowed and bucket.take("k").allowed
    assert not bucket.take("k").allowed
    now[0] += 0.5
    assert bucket.take("k").allowed
    assert not bucket.take("k").allowed
    assert not TokenBucket(0, 1).enabled


def test_id_text() -> None:
    assert id_text("4150868000000402001") == "4150868000000402001"
    assert id_text(4150868000000402001) == "4150868000000402001"
    assert id_text(" 12 ") == "12"
    for bad in ("abc", "", "-1", "0", "99999999999999999999", True, None, 1.5, "١٢"):
        assert id_text(bad) is None, bad


def test_parse_json() -> None:
    assert parse_json(b"") is None
    assert parse_json(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}
    for bad in (b"{", b"NaN", b"\xff", b'{"a": Infinity}'):
        with pytest.raises(Exception) as info:
            parse_json(bad)
        assert getattr(info.value, "code", None) == "INVALID_DATA"


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        (None, b"a=1&b=2", {"a": "1", "b": "2", "q": "x"}),
        ("application/json", b'{"a": "1", "n": 2}', {"a": "1", "n": "2", "q": "x"}),
        ("text/plain", b"", {"q": "x"}),
        ("multipart/form-data; boundary=zz", b"garbage", {"q": "x"}),
    ],
)
def test_token_params(content_type: str | None, body: bytes, expected: dict[str, str]) -> None:
    import asyncio

    from starlette.requests import Request

    headers = [(b"content-type", content_type.encode())] if content_type else []
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/oauth/v2/token",
        "query_string": b"q=x",
        "headers": headers,
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    assert asyncio.run(token_params(Request(scope, receive))) == expected


def test_request_log_redacts_secrets(caplog: pytest.LogCaptureFixture) -> None:
    from floodway.api.guard import redacted_query

    assert redacted_query(b"") == ""
    assert (
        redacted_query(b"zapikey=k&a=1&client_secret=s") == "?zapikey=****&a=1&client_secret=****"
    )
    with caplog.at_level(logging.INFO, logger="floodway.api.requests"):
        client().post("/oauth/v2/token?refresh_token=supersecret&grant_type=refresh_token")
    assert (
        "path=/oauth/v2/token?refresh_token=****&grant_type=refresh_token status=200" in caplog.text
    )
    assert "supersecret" not in caplog.text
