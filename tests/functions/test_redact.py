"""SEC-6 / AU-5: the redactor by name and by value, and its logging hooks."""

from __future__ import annotations

import base64
import binascii
import io
import json
import logging
import re
from collections.abc import Iterator
from urllib.parse import quote, quote_plus

import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from floodway.functions import redact as R
from floodway.functions.redact import (
    MASK,
    RedactingFilter,
    Redactor,
    install_log_redaction,
    redact,
    redact_data,
    redact_headers,
    redact_processor,
    redact_url,
    registered,
    registry,
    uninstall_log_redaction,
)


@pytest.fixture(autouse=True)
def clean_registry() -> Iterator[None]:
    registry.clear()
    yield
    registry.clear()


# -- by name -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://user:pw@api.example.com/v1?a=1&access_token=abc&b=2",
            "https://api.example.com/v1?a=1&access_token=****&b=2",
        ),
        (
            "https://x.test/?api_key=K&apikey=K&key=K&q=key",
            "https://x.test/?api_key=****&apikey=****&key=****&q=key",
        ),
        ("https://x.test/cb?code=AUTHCODE&state=s1", "https://x.test/cb?code=****&state=s1"),
        ("https://x.test/?country_code=DE&zip=1", "https://x.test/?country_code=DE&zip=1"),
        (
            "https://x.test/?client_secret=a&password=b&sig=c&Signature=d",
            "https://x.test/?client_secret=****&password=****&sig=****&Signature=****",
        ),
        (
            "https://x.test/?X-Amz-Credential=a&auth=b&author=me",
            "https://x.test/?X-Amz-Credential=****&auth=****&author=me",
        ),
        ("https://x.test/?client%5Fsecret=a", "https://x.test/?client%5Fsecret=****"),
        (
            "https://x.test/cb#access_token=T&token_type=bearer",
            "https://x.test/cb#access_token=****&token_type=****",
        ),
        ("https://x.test/plain", "https://x.test/plain"),
        ("https://u@[::1/?token=a", "https://[::1/?token=****"),
    ],
)
def test_sec6_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_sec6_redact_headers() -> None:
    headers = [
        ("Authorization", "Bearer abc"),
        ("Proxy-Authorization", "Basic abc"),
        ("Cookie", "sid=1"),
        ("Set-Cookie", "sid=1; HttpOnly"),
        ("X-Api-Key", "k"),
        ("X-Auth-Token", "t"),
        ("Accept", "application/json"),
        ("Content-Type", "text/plain"),
    ]
    shown = redact_headers(headers)
    assert shown == [
        ("Authorization", MASK),
        ("Proxy-Authorization", MASK),
        ("Cookie", MASK),
        ("Set-Cookie", MASK),
        ("X-Api-Key", MASK),
        ("X-Auth-Token", MASK),
        ("Accept", "application/json"),
        ("Content-Type", "text/plain"),
    ]
    assert redact_headers({"authorization": "x", "Accept": "y"}) == {
        "authorization": MASK,
        "Accept": "y",
    }
    assert redact_headers({"X-Echo": "s3cr3t-value"}, ["s3cr3t-value"]) == {"X-Echo": MASK}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.def-ghi", "Authorization: ****"),
        ("sent Bearer abc.def-ghi to x", "sent Bearer **** to x"),
        ("password=hunter2 user=bob", "password=**** user=bob"),
        (
            '{"client_secret": "s", "code": "INVALID_DATA"}',
            '{"client_secret": "****", "code": "INVALID_DATA"}',
        ),
        ("refresh_token: r-1, status: ok", "refresh_token: ****, status: ok"),
        (
            "GET https://a:b@x.test/p?token=t&x=1 -> 200",
            "GET https://x.test/p?token=****&x=1 -> 200",
        ),
        (
            "Connection 'billing': token request failed: HTTP 400 invalid_client",
            "Connection 'billing': token request failed: HTTP 400 invalid_client",
        ),
        (
            "Connection 'billing' cannot be used for evil.example",
            "Connection 'billing' cannot be used for evil.example",
        ),
        ("author: Ann", "author: Ann"),
    ],
)
def test_sec6_redact_text(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_sec6_redact_data() -> None:
    value = {
        "args": {"apiKey": "k1", "name": "Ann", "nested": [{"password": 1}, "Bearer xyz123"]},
        "count": 3,
        "code": "SUCCESS",
        "raw": b"token=abc",
    }
    assert redact_data(value) == {
        "args": {"apiKey": MASK, "name": "Ann", "nested": [{"password": MASK}, "Bearer ****"]},
        "count": 3,
        "code": "SUCCESS",
        "raw": "token=****",
    }


# -- by value ------------------------------------------------------------------------------------


def test_registry_counts_and_scopes() -> None:
    registry.register("alpha-secret")
    registry.register("alpha-secret")
    registry.unregister("alpha-secret")
    assert redact("x alpha-secret y") == f"x {MASK} y"
    registry.unregister("alpha-secret")
    assert redact("x alpha-secret y") == "x alpha-secret y"
    with registered("beta-secret", None, ""):
        assert redact("beta-secret") == MASK
        assert len(registry) == 1
    assert redact("beta-secret") == "beta-secret"
    registry.register("abc")  # too short to mask by value
    assert redact("abc") == "abc"
    assert "beta" not in repr(registry)


def test_redactor_extra_secrets_are_local() -> None:
    r = Redactor(["per-execution-secret"])
    assert r.text("a per-execution-secret b") == f"a {MASK} b"
    assert redact("a per-execution-secret b") == "a per-execution-secret b"
    assert r.data({"out": ["per-execution-secret"]}) == {"out": [MASK]}
    assert r.url("https://x.test/per-execution-secret") == f"https://x.test/{MASK}"


def test_basic_header_with_known_password_is_masked() -> None:
    registry.register("correct horse battery")
    header = "Basic " + base64.b64encode(b"admin:correct horse battery").decode()
    assert base64.b64encode(b"correct horse battery").decode() not in redact(header)
    # Even without the scheme name in front, the value form is caught.
    blob = base64.b64encode(b"xyadmin:correct horse battery;more").decode()
    assert not _secret_decodable(redact(blob), b"correct horse battery")


_B64_RUN = re.compile(r"[A-Za-z0-9+/=_-]+")


def _secret_decodable(text: str, secret: bytes) -> bool:
    """Whether any Base64 run in ``text``, at any alignment, decodes to bytes holding secret."""
    for run in _B64_RUN.findall(text):
        run = run.replace("-", "+").replace("_", "/").rstrip("=")
        for start in range(4):
            piece = run[start:]
            piece = piece[: len(piece) - len(piece) % 4]
            try:
                if secret in base64.b64decode(piece):
                    return True
            except (binascii.Error, ValueError):
                continue
    return False


# Secrets: printable text without '*' (a secret spelled with stars would "survive" as the mask).
secret_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="*", exclude_categories=("Cs",)),
    min_size=R.MIN_SECRET_LENGTH,
    max_size=40,
).filter(lambda s: s.strip() == s and len(s) >= R.MIN_SECRET_LENGTH)
surround = st.text(max_size=30)


def _forms(secret: str) -> dict[str, str]:
    raw = secret.encode()
    return {
        "raw": secret,
        "quote": quote(secret, safe=""),
        "quote_path": quote(secret),
        "quote_plus": quote_plus(secret),
        "b64": base64.b64encode(raw).decode(),
        "b64url": base64.urlsafe_b64encode(raw).decode(),
        "b64_nopad": base64.b64encode(raw).decode().rstrip("="),
        "json": json.dumps(secret)[1:-1],
    }


@given(secret=secret_text, before=surround, after=surround)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
def test_sec6_random_secrets_never_survive(secret: str, before: str, after: str) -> None:
    with registered(secret):
        for name, form in _forms(secret).items():
            text = before + form + after
            out = redact(text)
            assert secret not in out, name
            assert form not in out, name
            assert form not in redact_url(f"https://x.test/p?q={form}&r=1"), name
            assert form not in Redactor().data({"v": [text]})["v"][0], name
            assert form not in logging_output(text), name


@given(
    secret=secret_text.filter(lambda s: len(s.encode()) >= 8),
    prefix=st.binary(max_size=5),
    suffix=st.binary(max_size=5),
)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
def test_sec6_secrets_inside_base64_blobs_never_survive(
    secret: str, prefix: bytes, suffix: bytes
) -> None:
    """``Basic base64(user:secret)`` and the like: the secret cannot be decoded from the output."""
    raw = secret.encode()
    blob = prefix + raw + suffix
    with registered(secret):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = "Basic " + encode(blob).decode()
            assert not _secret_decodable(redact(text), raw)
            assert not _secret_decodable(Redactor().text("x=" + encode(blob).decode()), raw)


@given(secret=secret_text)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
def test_sec6_extra_secrets_never_survive(secret: str) -> None:
    r = Redactor([secret])
    for name, form in _forms(secret).items():
        assert form not in r.text(f"<{form}>"), name


# -- logging -------------------------------------------------------------------------------------


def logging_output(message: str) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("floodway.test.redact.filter")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        logger.warning("value %s", message)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_au5_filter_masks_message_and_exception() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("floodway.test.redact.exc")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        with registered("tok-1234567890"):
            try:
                raise ValueError("upstream said tok-1234567890 is bad")
            except ValueError:
                logger.exception("call to https://x.test/?access_token=%s failed", "tok-1234567890")
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert "tok-1234567890" not in out
    assert "ValueError" in out and "access_token=****" in out


def test_au5_record_factory_covers_every_handler(caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction()
    install_log_redaction()  # idempotent
    try:
        with registered("hunter2-secret"), caplog.at_level(logging.INFO):
            logging.getLogger("floodway.test.redact.factory").info(
                "login with %s and password=%s", "hunter2-secret", "other"
            )
    finally:
        uninstall_log_redaction()
    assert "hunter2-secret" not in caplog.text
    assert "password=****" in caplog.text
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hunter2-secret", None, None)
    assert record.getMessage() == "hunter2-secret"  # uninstalled: factory restored


def test_au5_structlog_processor() -> None:
    out = io.StringIO()
    logger = structlog.wrap_logger(
        structlog.PrintLogger(out),
        processors=[
            structlog.processors.format_exc_info,
            redact_processor,
            structlog.processors.JSONRenderer(),
        ],
    )
    with registered("sk_live_0123456789"):
        logger.info(
            "calling sk_live_0123456789",
            password="p@ss-word",
            url="https://x.test/?key=abc&q=1",
            detail={"token": "t", "n": 1},
        )
    line = json.loads(out.getvalue())
    assert line == {
        "event": f"calling {MASK}",
        "password": MASK,
        "url": f"https://x.test/?key={MASK}&q=1",
        "detail": {"token": MASK, "n": 1},
    }
