"""Users, profiles, passwords, OAuth tokens, grant codes and the org API key."""

# ruff: noqa: F401, F811  (pytest fixtures imported from floodway.crm.testing)

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from floodway.crm import Crm, CrmError
from floodway.crm.oauth import ACCESS_TTL_S, MAX_ACCESS_PER_REFRESH, Principal
from floodway.crm.testing import crm, fresh_crm
from floodway.crm.users import hash_password, verify_password_hash

BASE = "http://127.0.0.1:8000"


def all_text(crm: Crm) -> str:
    """Every credential-bearing table dumped as text."""
    out = []
    with crm.engine.connect() as conn:
        for table in (
            "oauth_clients",
            "oauth_tokens",
            "oauth_grant_codes",
            "org_api_keys",
            "users",
        ):
            for row in conn.execute(sa.text(f"SELECT * FROM {table}")).all():
                out.append(repr(tuple(row)))
    return "\n".join(out)


@contextmanager
def shifted(crm: Crm, seconds: float) -> Iterator[None]:
    real = crm.clock
    crm.clock = lambda: real() + dt.timedelta(seconds=seconds)
    try:
        yield
    finally:
        crm.clock = real


def test_password_hash_format() -> None:
    h = hash_password("correct horse battery")
    assert h.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert verify_password_hash(h, "correct horse battery")
    assert not verify_password_hash(h, "wrong horse battery")
    assert not verify_password_hash(None, "anything")
    # NFKC: a full-width letter matches its plain form
    assert verify_password_hash(hash_password("ｐassword-42x"), "password-42x")


def test_admin_user_and_profiles(crm: Crm) -> None:
    admin = crm.users.by_email("ADMIN@floodway.local")
    assert admin is not None and admin.id == crm.primary_admin_id
    prof = crm.users.profile(admin)
    assert prof.name == "Administrator"
    assert prof.has("manage_functions") and prof.has("manage_workflow")
    assert prof.has("manage_users") and prof.has("manage_settings")
    assert all(prof.can("Deals", op) for op in ("read", "create", "edit", "delete"))
    with crm.engine.connect() as conn:
        stored = conn.execute(
            sa.text("SELECT password_hash FROM users WHERE id = :i"), {"i": int(admin.id)}
        ).scalar()
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    user_json = crm.users.user_json(admin)
    assert user_json["email"] == "admin@floodway.local"
    assert user_json["profile"]["name"] == "Administrator"
    assert user_json["status"] == "active"


def test_standard_user_and_password_policy(crm: Crm) -> None:
    email = f"s{secrets.token_hex(3)}@example.com"
    user, password = crm.users.create(email, first_name="Sam", last_name="Std")
    assert len(password) >= 20
    prof = crm.users.profile(user)
    assert prof.name == "Standard" and not prof.has("manage_functions")
    assert prof.can("Leads", "delete")
    assert crm.users.verify_password(email, password) is not None
    assert crm.users.verify_password(email, "nope-nope") is None
    assert crm.users.verify_password("nobody@example.com", password) is None
    with pytest.raises(CrmError):
        crm.users.set_password(email, "short")
    with pytest.raises(CrmError):
        crm.users.set_password(email, "password123")
    crm.users.set_password(email, "a much better passphrase")
    assert crm.users.verify_password(email, "a much better passphrase") is not None
    with pytest.raises(CrmError) as e:
        crm.users.create(email.upper(), last_name="Dup")
    assert e.value.code == "DUPLICATE_DATA"
    assert {u.email for u in crm.users.list("AdminUsers")} == {"admin@floodway.local"}
    assert email in {u.email for u in crm.users.list("ActiveUsers")}


def test_self_client_refresh_flow(crm: Crm) -> None:
    client = crm.oauth.create_self_client("sdk-test")
    assert re.fullmatch(r"1000\.[A-Z0-9]{30}", client["client_id"])
    assert re.fullmatch(r"[0-9a-f]{42}", client["client_secret"])
    assert re.fullmatch(r"1000\.[0-9a-f]{32}\.[0-9a-f]{32}", client["refresh_token"])
    body = crm.oauth.token(
        {
            "grant_type": "refresh_token",
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
            "refresh_token": client["refresh_token"],
        },
        api_domain=BASE,
    )
    assert set(body) == {"access_token", "scope", "api_domain", "token_type", "expires_in"}
    assert body["expires_in"] == 3600 and body["api_domain"] == BASE
    assert body["token_type"] == "Bearer"
    assert "ZohoCRM.modules.ALL" in body["scope"].split()
    token = body["access_token"]
    assert re.fullmatch(r"1000\.[0-9a-f]{32}\.[0-9a-f]{32}", token)
    principal = crm.oauth.authenticate(token)
    assert isinstance(principal, Principal)
    assert principal.user.id == crm.primary_admin_id and principal.auth == "oauth"
    assert principal.client_id == client["client_id"]
    assert principal.allows("read", "Deals") and principal.allows("delete", "Deals")
    assert principal.allows("settings", "fields") and principal.allows("users")
    assert principal.allows("execute_post") and principal.allows("coql")
    assert principal.actor().user_id == crm.primary_admin_id
    # nothing issued is stored in plaintext; digests are
    dump = all_text(crm)
    for secret in (token, client["refresh_token"], client["client_secret"]):
        assert secret not in dump
    assert hashlib.sha256(token.encode()).hexdigest() in dump


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"grant_type": None}, "unsupported_grant_type"),
        ({"grant_type": "password"}, "unsupported_grant_type"),
        ({"client_secret": None}, "invalid_request"),
        ({"client_secret": "0" * 42}, "invalid_client"),
        ({"client_id": "1000.NOPE"}, "invalid_client"),
        ({"refresh_token": "1000.aa.bb"}, "invalid_code"),
    ],
)
def test_token_errors(crm: Crm, change: dict[str, str | None], error: str) -> None:
    client = crm.oauth.create_self_client("errors")
    params = {
        "grant_type": "refresh_token",
        "client_id": client["client_id"],
        "client_secret": client["client_secret"],
        "refresh_token": client["refresh_token"],
    }
    params.update(change)  # type: ignore[arg-type]
    params = {k: v for k, v in params.items() if v is not None}
    assert crm.oauth.token(params, api_domain=BASE) == {"error": error}


def test_refresh_token_of_another_client_is_refused(crm: Crm) -> None:
    a = crm.oauth.create_self_client("a")
    b = crm.oauth.create_self_client("b")
    body = crm.oauth.token(
        {
            "grant_type": "refresh_token",
            "client_id": a["client_id"],
            "client_secret": a["client_secret"],
            "refresh_token": b["refresh_token"],
        },
        api_domain=BASE,
    )
    assert body == {"error": "invalid_code"}


def refresh(crm: Crm, client: dict[str, str]) -> str:
    body = crm.oauth.token(
        {
            "grant_type": "refresh_token",
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
            "refresh_token": client["refresh_token"],
        },
        api_domain=BASE,
    )
    return str(body["access_token"])


def test_access_token_lifetime_is_honoured_exactly(crm: Crm) -> None:
    client = crm.oauth.create_self_client("ttl")
    token = refresh(crm, client)
    with shifted(crm, ACCESS_TTL_S - 1):
        assert crm.oauth.authenticate(token).user.id == crm.primary_admin_id
    with shifted(crm, ACCESS_TTL_S), pytest.raises(CrmError) as e:
        crm.oauth.authenticate(token)
    assert e.value.code == "INVALID_TOKEN" and e.value.http_status == 401
    assert e.value.to_json() == {
        "code": "INVALID_TOKEN",
        "details": {},
        "message": "invalid oauth token",
        "status": "error",
    }
    for bad in ("", "1000.x.y", None, "x" * 2000):
        with pytest.raises(CrmError):
            crm.oauth.authenticate(bad)


def test_at_most_30_access_tokens_per_refresh_token(crm: Crm) -> None:
    client = crm.oauth.create_self_client("many")
    tokens = [refresh(crm, client) for _ in range(MAX_ACCESS_PER_REFRESH + 2)]
    with pytest.raises(CrmError):
        crm.oauth.authenticate(tokens[0])
    with pytest.raises(CrmError):
        crm.oauth.authenticate(tokens[1])
    for tok in tokens[2:]:
        crm.oauth.authenticate(tok)


def test_revoke_refresh_token_ends_its_access_tokens(crm: Crm) -> None:
    client = crm.oauth.create_self_client("revoke")
    token = refresh(crm, client)
    assert crm.oauth.revoke(client["refresh_token"]) is True
    with pytest.raises(CrmError):
        crm.oauth.authenticate(token)
    assert refresh_body(crm, client) == {"error": "invalid_code"}
    assert crm.oauth.revoke("1000.unknown.token") is False


def refresh_body(crm: Crm, client: dict[str, str]) -> dict[str, object]:
    return crm.oauth.token(
        {
            "grant_type": "refresh_token",
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
            "refresh_token": client["refresh_token"],
        },
        api_domain=BASE,
    )


def test_grant_code_is_single_use_and_expires(crm: Crm) -> None:
    client = crm.oauth.create_self_client("grant")
    code = crm.oauth.create_grant_code(client["client_id"], minutes=3)
    params = {
        "grant_type": "authorization_code",
        "client_id": client["client_id"],
        "client_secret": client["client_secret"],
        "code": code,
        "redirect_uri": "ignored",
    }
    body = crm.oauth.token(params, api_domain=BASE)
    assert body["expires_in"] == 3600
    assert re.fullmatch(r"1000\.[0-9a-f]{32}\.[0-9a-f]{32}", str(body["refresh_token"]))
    crm.oauth.authenticate(str(body["access_token"]))
    assert crm.oauth.token(params, api_domain=BASE) == {"error": "invalid_code"}
    late = crm.oauth.create_grant_code(client["client_id"], minutes=3)
    with shifted(crm, 181):
        assert crm.oauth.token({**params, "code": late}, api_domain=BASE) == {
            "error": "invalid_code"
        }
    other = crm.oauth.create_self_client("other")
    stolen = crm.oauth.create_grant_code(client["client_id"])
    assert crm.oauth.token(
        {
            **params,
            "client_id": other["client_id"],
            "client_secret": other["client_secret"],
            "code": stolen,
        },
        api_domain=BASE,
    ) == {"error": "invalid_code"}
    with pytest.raises(CrmError):
        crm.oauth.create_grant_code(client["client_id"], minutes=11)
    assert code not in all_text(crm)


def test_scopes_are_checked(crm: Crm) -> None:
    client = crm.oauth.create_self_client(
        "narrow", scopes=["ZohoCRM.modules.Deals.READ", "ZohoCRM.settings.fields.READ"]
    )
    p = crm.oauth.authenticate(refresh(crm, client))
    assert p.allows("read", "deals") and p.allows("search", "Deals")
    assert not p.allows("read", "Accounts") and not p.allows("create", "Deals")
    assert p.allows("settings", "fields") and not p.allows("settings", "modules")
    assert not p.allows("users") and not p.allows("execute_get")


def test_password_change_and_deactivation_end_tokens(crm: Crm) -> None:
    email = f"t{secrets.token_hex(3)}@example.com"
    user, _ = crm.users.create(email, last_name="Tokened")
    client = crm.oauth.create_self_client("user", user_id=user.id)
    token = refresh(crm, client)
    assert crm.oauth.authenticate(token).user.id == user.id
    crm.users.set_password(email, "another fine passphrase")
    with pytest.raises(CrmError):
        crm.oauth.authenticate(token)
    assert refresh_body(crm, client) == {"error": "invalid_code"}
    client2 = crm.oauth.create_self_client("user2", user_id=user.id)
    token2 = refresh(crm, client2)
    crm.users.deactivate(user.id)
    with pytest.raises(CrmError):
        crm.oauth.authenticate(token2)
    assert refresh_body(crm, client2) == {"error": "invalid_code"}
    assert crm.users.verify_password(email, "another fine passphrase") is None


class ToySealer:
    """Stands in for the secrets layer's AES-GCM sealer (not encryption!)."""

    def seal(self, plaintext: str, aad: str) -> str:
        return f"{aad}::{plaintext[::-1]}"

    def unseal(self, sealed: str, aad: str) -> str:
        stored_aad, _, text = sealed.partition("::")
        assert stored_aad == aad
        return text[::-1]


def test_org_api_key_rotation(fresh_crm: Crm) -> None:
    c = fresh_crm
    assert not c.oauth.has_api_key()
    key = c.oauth.rotate_api_key(ToySealer())
    assert re.fullmatch(r"1003\.[0-9a-f]{32}\.[0-9a-f]{32}", key)
    assert c.oauth.api_key(ToySealer()) == key
    p = c.oauth.check_api_key(key)
    assert p is not None and p.auth == "apikey" and p.user.id == c.primary_admin_id
    assert p.allows("execute_get") and p.allows("execute_post")
    assert not p.allows("read", "Deals") and not p.allows("settings")
    assert c.oauth.check_api_key("1003.nope.nope") is None
    new = c.oauth.rotate_api_key()
    assert c.oauth.check_api_key(key) is None
    assert c.oauth.check_api_key(new) is not None
    assert c.oauth.api_key(ToySealer()) is None  # rotated without a sealer: no display copy
    assert key not in all_text(c) and new not in all_text(c)
