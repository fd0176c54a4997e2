"""Console sign-in, sessions and CSRF (security.md AUTH-6, AUTH-7, AUTH-8; console-ux.md §3.1)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.testclient import TestClient

from .conftest import ADMIN, BASE, PASSWORD, Console, clear_throttle, csrf_of


def _login_post(client: TestClient, email: str, password: str) -> Any:
    token = csrf_of(client.get("/login").text)
    return client.post(
        "/login",
        data={"csrf_token": token, "email": email, "password": password},
        follow_redirects=False,
    )


def test_signed_out_root_redirects_to_login(anon: Console) -> None:
    r = anon.client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    r = anon.client.get("/m/Deals?sort=Amount", follow_redirects=False)
    assert r.headers["location"] == "/login?next=%2Fm%2FDeals%3Fsort%3DAmount"


def test_auth7_session_cookie_is_http_only_lax_and_server_side(app: Any, anon: Console) -> None:
    r = _login_post(anon.client, ADMIN, PASSWORD)
    assert r.status_code == 303
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("floodway_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Domain" not in cookie
    token = cookie.split(";", 1)[0].split("=", 1)[1]
    # Only the digest is stored (AUTH-1).
    from floodway.web import schema

    with app.state.crm.engine.connect() as conn:
        digests = [row.digest for row in conn.execute(schema.console_sessions.select())]
    assert token not in digests
    import hashlib

    assert hashlib.sha256(token.encode()).hexdigest() in digests


def test_auth7_new_session_id_at_every_sign_in(anon: Console) -> None:
    first = _login_post(anon.client, ADMIN, PASSWORD).cookies.get("floodway_session")
    # Signing in again while the browser holds a session (or a planted cookie) replaces it.
    anon.client.cookies.set("floodway_login", "planted-login-token")
    r = anon.client.post(
        "/login",
        data={"csrf_token": "planted-login-token", "email": ADMIN, "password": PASSWORD},
        follow_redirects=False,
    )
    second = r.cookies.get("floodway_session")
    assert first and second and first != second
    # The first session ended when the second began.
    with TestClient(anon.client.app, base_url=BASE, cookies={"floodway_session": first}) as old:
        assert old.get("/", follow_redirects=False).status_code == 303


def test_logout_ends_the_session_on_the_server(admin: Console) -> None:
    token = admin.client.cookies.get("floodway_session")
    r = admin.post("/logout", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    with TestClient(admin.client.app, base_url=BASE, cookies={"floodway_session": token}) as c:
        assert c.get("/", follow_redirects=False).status_code == 303


def test_session_expires_after_session_max_age(app: Any, admin: Console) -> None:
    crm = app.state.crm
    real = crm.clock
    later = real() + dt.timedelta(seconds=app.state.settings.session_max_age_s + 1)
    crm.clock = lambda: later
    try:
        assert admin.client.get("/", follow_redirects=False).status_code == 303
    finally:
        crm.clock = real


def test_session_ends_after_two_idle_hours(app: Any, admin: Console) -> None:
    crm = app.state.crm
    real = crm.clock
    later = real() + dt.timedelta(hours=2, seconds=1)
    crm.clock = lambda: later
    try:
        assert admin.client.get("/", follow_redirects=False).status_code == 303
    finally:
        crm.clock = real


def test_auth6_wrong_password_and_unknown_user_get_one_message(anon: Console) -> None:
    wrong = _login_post(anon.client, ADMIN, "not the password")
    unknown = _login_post(anon.client, "nobody@example.test", "whatever it is")
    for r, email in ((wrong, ADMIN), (unknown, "nobody@example.test")):
        assert r.status_code == 401
        assert "Email or password is wrong" in r.text
        assert f'value="{email}"' in r.text  # the email is kept
        assert "set-cookie" not in r.headers or "floodway_session=" not in r.headers["set-cookie"]


def test_auth6_deactivated_user_gets_the_same_message(app: Any, anon: Console) -> None:
    crm = app.state.crm
    email = "gone@example.test"
    user = (
        crm.users.by_email(email) or crm.users.create(email, last_name="Gone", password=PASSWORD)[0]
    )
    crm.users.deactivate(user.id)
    r = _login_post(anon.client, email, PASSWORD)
    assert r.status_code == 401 and "Email or password is wrong" in r.text


def test_auth6_sixth_failure_waits_with_retry_after(app: Any, anon: Console) -> None:
    clear_throttle(app)
    for _ in range(5):
        assert _login_post(anon.client, ADMIN, "wrong password!").status_code == 401
    r = _login_post(anon.client, ADMIN, PASSWORD)  # even the right password waits now
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) >= 1
    assert "Too many failed sign-ins" in r.text and "data-retry-after" in r.text
    clear_throttle(app)
    assert _login_post(anon.client, ADMIN, PASSWORD).status_code == 303


def test_next_must_be_same_origin(anon: Console) -> None:
    for target, expected in (
        ("/m/Deals?page=2", "/m/Deals?page=2"),
        ("https://evil.test/x", "/"),
        ("//evil.test/x", "/"),
        ("/\\evil.test", "/"),
        ("/crm/v8/Deals", "/"),
    ):
        anon.client.cookies.clear()
        token = csrf_of(anon.client.get("/login").text)
        r = anon.client.post(
            "/login",
            data={"csrf_token": token, "email": ADMIN, "password": PASSWORD, "next": target},
            follow_redirects=False,
        )
        assert r.headers["location"] == expected, target


def test_login_form_without_its_token_is_refused(anon: Console) -> None:
    anon.client.get("/login")
    r = anon.client.post(
        "/login", data={"email": ADMIN, "password": PASSWORD}, follow_redirects=False
    )
    assert r.status_code == 403 and "floodway_session" not in r.headers.get("set-cookie", "")


def test_auth8_form_without_csrf_token_is_refused(app: Any, admin: Console) -> None:
    r = admin.client.post("/m/Accounts/new", data={"Account_Name": "No token Ltd"})
    assert r.status_code == 403
    assert "submit again" in r.text
    found = app.state.crm.records.search("Accounts", criteria="(Account_Name:equals:No token Ltd)")
    assert found.data == []


def test_auth8_wrong_token_and_foreign_origin_are_refused(admin: Console) -> None:
    r = admin.client.post("/m/Accounts/new", data={"csrf_token": "x" * 43, "Account_Name": "A"})
    assert r.status_code == 403
    r = admin.post(
        "/m/Accounts/new", {"Account_Name": "Cross"}, headers={"Origin": "http://evil.test"}
    )
    assert r.status_code == 403
    r = admin.post(
        "/m/Accounts/new", {"Account_Name": "Cross"}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert r.status_code == 403


def test_auth8_htmx_requests_send_the_token_in_a_header(admin: Console) -> None:
    page = admin.get("/")
    assert f'"X-CSRF-Token": "{admin.csrf}"' in page.text.replace("&#34;", '"')
    r = admin.client.post(
        "/logout", headers={"X-CSRF-Token": admin.csrf, "Origin": BASE}, follow_redirects=False
    )
    assert r.status_code == 303


def test_htmx_request_without_session_asks_for_a_full_page_sign_in(anon: Console) -> None:
    r = anon.client.get("/m/Deals", headers={"HX-Request": "true"}, follow_redirects=False)
    assert r.status_code == 401 and r.headers["hx-redirect"] == "/login?next=%2Fm%2FDeals"
