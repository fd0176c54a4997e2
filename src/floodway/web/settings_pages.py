"""Settings pages (console-ux.md §3.14): org time zone and currency, users and profiles, OAuth
clients, API key rotation and the SMTP status.

Rights (console-ux.md §1): *manage_users* for users and profiles, *manage_settings* for the org,
OAuth clients and SMTP, *manage_functions* for the API key. Secrets made here (a new user's
password, a self client's secret and refresh token, a rotated API key) are shown once, on the
answer to the POST that made them, and never again.
"""

from __future__ import annotations

import re
from typing import Any, Final

import sqlalchemy as sa
from fastapi import APIRouter
from starlette.responses import Response

from floodway.db import read_transaction, write_transaction

from .automation_forms import Errors
from .http import Ctx, Forbidden, NotFound, route

router = APIRouter()

SECTIONS: Final = (
    ("org", "Org", "manage_settings"),
    ("users", "Users", "manage_users"),
    ("profiles", "Profiles", "manage_users"),
    ("oauth-clients", "OAuth clients", "manage_settings"),
    ("api-key", "API key", "manage_functions"),
    ("smtp", "SMTP", "manage_settings"),
)
CURRENCY: Final = re.compile(r"[A-Z]{3}")
REASONS: Final = {
    "email": "Enter a valid email address that no other user has.",
    "last_name": "Last name is required.",
    "profile": "Choose a profile.",
}


def _tabs(ctx: Ctx) -> list[tuple[str, str]]:
    viewer = ctx.viewer
    return [(key, label) for key, label, perm in SECTIONS if viewer.has(perm)]


def _require(ctx: Ctx, section: str) -> None:
    for key, label, perm in SECTIONS:
        if key == section:
            ctx.viewer.require(perm, f"Settings › {label}")
            return
    raise NotFound("There is no settings page at this address.")


def _render(ctx: Ctx, section: str, status: int = 200, **context: Any) -> Response:
    return ctx.render(
        f"settings/{section.replace('-', '_')}.html",
        status=status,
        section=section,
        tabs=_tabs(ctx),
        **context,
    )


@route(router, "/settings")
def settings_home(ctx: Ctx) -> Response:
    tabs = _tabs(ctx)
    if not tabs:
        raise Forbidden(
            f"Your profile ({ctx.viewer.profile.name}) cannot open Settings. Ask an administrator."
        )
    return ctx.redirect(f"/settings/{tabs[0][0]}")


# ---------------------------------------------------------------------------------- org


def _org_row(ctx: Ctx) -> Any:
    from floodway.crm import schema as t

    with read_transaction(ctx.crm.engine) as conn:
        return conn.execute(sa.select(t.orgs).where(t.orgs.c.id == ctx.crm.org_id)).one()


@route(router, "/settings/org")
def org_page(ctx: Ctx) -> Response:
    _require(ctx, "org")
    row = _org_row(ctx)
    typed = {"time_zone": row.time_zone, "currency": row.currency}
    return _org(ctx, row, typed, Errors(), toast="Saved" if ctx.value("done") else None)


def _org(
    ctx: Ctx, row: Any, typed: dict[str, str], errors: Errors, status: int = 200, **kw: Any
) -> Response:
    import zoneinfo

    return _render(
        ctx,
        "org",
        status=status,
        org_row=row,
        typed=typed,
        errors=errors,
        zones=sorted(zoneinfo.available_timezones()),
        **kw,
    )


@route(router, "/settings/org", ("POST",))
def org_update(ctx: Ctx) -> Response:
    import zoneinfo

    from floodway.crm import schema as t

    _require(ctx, "org")
    typed = {
        "time_zone": ctx.value("time_zone").strip()[:100],
        "currency": ctx.value("currency").strip().upper()[:10],
    }
    errors = Errors()
    try:
        tz = zoneinfo.ZoneInfo(typed["time_zone"])
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        tz = None
        errors.add(
            "time_zone",
            f'Unknown time zone "{typed["time_zone"]}"; choose an IANA name such as Europe/Berlin.',
        )
    if not CURRENCY.fullmatch(typed["currency"]):
        errors.add("currency", "Enter a three-letter ISO 4217 code such as EUR or USD.")
    if errors:
        return _org(ctx, _org_row(ctx), typed, errors, status=422)
    with write_transaction(ctx.crm.engine) as conn:
        conn.execute(
            t.orgs.update()
            .where(t.orgs.c.id == ctx.crm.org_id)
            .values(time_zone=typed["time_zone"], currency=typed["currency"])
        )
    # This process follows at once (as deploy does); the console's cached org name/zone too.
    ctx.crm.time_zone_name = typed["time_zone"]
    ctx.crm.tz = tz
    ctx.app.state.console_org = None
    return ctx.redirect("/settings/org?done=saved")


# ---------------------------------------------------------------------------------- users


def _users(ctx: Ctx, status: int = 200, **kw: Any) -> Response:
    users = ctx.crm.users.list()
    profiles = {p.id: p for p in ctx.crm.users.profiles()}
    return _render(
        ctx,
        "users",
        status=status,
        users=[(u, profiles.get(u.profile_id)) for u in users],
        profiles=list(profiles.values()),
        typed=kw.pop("typed", {"profile": "Standard"}),
        errors=kw.pop("errors", Errors()),
        **kw,
    )


@route(router, "/settings/users")
def users_page(ctx: Ctx) -> Response:
    _require(ctx, "users")
    toasts = {"activated": "User activated", "deactivated": "User deactivated"}
    return _users(ctx, toast=toasts.get(ctx.value("done")))


def _crm_errors(exc: Exception, prefix: str = "") -> Errors:
    errors = Errors()
    details = getattr(exc, "details", None) or {}
    name = str(details.get("api_name") or "")
    reason = details.get("reason")
    code = getattr(exc, "code", "")
    if name == "password":
        message = f"Password: {reason}." if reason else "Choose another password."
    elif name == "email" and code == "DUPLICATE_DATA":
        message = "A user with this email already exists."
    else:
        message = REASONS.get(name, str(getattr(exc, "message", "The user was not saved.")))
    errors.add(prefix + name if name else None, message)
    return errors


@route(router, "/settings/users", ("POST",))
def user_create(ctx: Ctx) -> Response:
    from floodway.crm import CrmError

    _require(ctx, "users")
    typed = {
        "email": ctx.value("email").strip()[:320],
        "first_name": ctx.value("first_name").strip()[:100],
        "last_name": ctx.value("last_name").strip()[:100],
        "profile": ctx.value("profile").strip()[:100],
    }
    password = ctx.value("password") or None
    try:
        user, shown = ctx.crm.users.create(
            typed["email"],
            first_name=typed["first_name"] or None,
            last_name=typed["last_name"],
            profile=typed["profile"] or "Standard",
            password=password,
        )
    except CrmError as exc:
        return _users(ctx, status=422, typed=typed, errors=_crm_errors(exc))
    one_time = shown if password is None else None
    return _users(ctx, created=user, one_time=one_time, toast=f"{user.email} added")


def _user(ctx: Ctx, user_id: str) -> Any:
    user = ctx.crm.users.get(user_id) if user_id.isdigit() else None
    if user is None:
        raise NotFound(f"No user with id {user_id[:40]}.")
    return user


@route(router, "/settings/users/{user_id}/password", ("POST",))
def user_password(ctx: Ctx, user_id: str) -> Response:
    from floodway.crm import CrmError

    _require(ctx, "users")
    user = _user(ctx, user_id)
    try:
        ctx.crm.users.set_password(user.email, ctx.value("password"))
    except CrmError as exc:
        return _users(ctx, status=422, errors=_crm_errors(exc, f"{user.id}-"), password_for=user.id)
    return _users(ctx, toast=f"Password of {user.email} changed; their tokens were ended")


@route(router, "/settings/users/{user_id}/{action}", ("POST",))
def user_state(ctx: Ctx, user_id: str, action: str) -> Response:
    from floodway.crm import schema as t

    _require(ctx, "users")
    user = _user(ctx, user_id)
    if action not in ("activate", "deactivate"):
        raise NotFound("There is no such action.")
    if action == "deactivate":
        refusal = _deactivation_refused(ctx, user)
        if refusal:
            errors = Errors()
            errors.add(f"{user.id}-state", refusal)
            return _users(ctx, status=409, errors=errors)
        ctx.crm.users.deactivate(user.id)
    else:
        # Users has no activate call: the same row update deactivate makes, the other way.
        with write_transaction(ctx.crm.engine) as conn:
            conn.execute(
                t.users.update()
                .where(t.users.c.id == int(user.id), t.users.c.org_id == ctx.crm.org_id)
                .values(status="active", modified_time=ctx.crm.now_ms())
            )
    return ctx.redirect(f"/settings/users?done={action}d")


def _deactivation_refused(ctx: Ctx, user: Any) -> str | None:
    if user.id == ctx.viewer.user.id:
        return "You cannot deactivate yourself; ask another administrator."
    if str(user.id) == str(ctx.crm.primary_admin_id):
        return "The primary administrator cannot be deactivated."
    profile = ctx.crm.users.profile(user)
    if profile.has("manage_users"):
        others = [
            u
            for u in ctx.crm.users.list("ActiveUsers")
            if u.id != user.id and ctx.crm.users.profile(u).has("manage_users")
        ]
        if not others:
            return "This is the last active user who can manage users."
    return None


@route(router, "/settings/profiles")
def profiles_page(ctx: Ctx) -> Response:
    _require(ctx, "profiles")
    from floodway.crm.users import MODULE_OPS, PERMISSIONS

    return _render(
        ctx,
        "profiles",
        profiles=ctx.crm.users.profiles(),
        permissions=PERMISSIONS,
        ops=MODULE_OPS,
    )


# ---------------------------------------------------------------------------------- OAuth clients


def _clients(ctx: Ctx) -> list[dict[str, Any]]:
    from floodway.crm import schema as t
    from floodway.functions.model import ms_to_iso

    C, U = t.oauth_clients, t.users
    q = (
        sa.select(C.c.client_id, C.c.name, C.c.type, C.c.created_time, C.c.revoked_time, U.c.email)
        .join(U, U.c.id == C.c.user_id)
        .where(C.c.org_id == ctx.crm.org_id)
        .order_by(C.c.id.desc())
        .limit(200)
    )
    with read_transaction(ctx.crm.engine) as conn:
        rows = conn.execute(q).all()
    return [
        {
            "client_id": r.client_id,
            "name": r.name,
            "type": r.type,
            "user": r.email,
            "created": ms_to_iso(r.created_time),
            "revoked": r.revoked_time is not None,
        }
        for r in rows
    ]


@route(router, "/settings/oauth-clients")
def clients_page(ctx: Ctx) -> Response:
    _require(ctx, "oauth-clients")
    return _render(ctx, "oauth-clients", clients=_clients(ctx), errors=Errors(), typed={})


@route(router, "/settings/oauth-clients", ("POST",))
def client_create(ctx: Ctx) -> Response:
    _require(ctx, "oauth-clients")
    name = ctx.value("name").strip()[:200]
    if not name:
        errors = Errors()
        errors.add("name", "Name is required: it tells the clients apart.")
        return _render(
            ctx,
            "oauth-clients",
            status=422,
            clients=_clients(ctx),
            errors=errors,
            typed={"name": name},
        )
    made = ctx.crm.oauth.create_self_client(name, user_id=ctx.viewer.user.id)
    return _render(
        ctx,
        "oauth-clients",
        clients=_clients(ctx),
        errors=Errors(),
        typed={},
        made=made,
        toast="Self client created",
    )


# ---------------------------------------------------------------------------------- API key


def _key_info(ctx: Ctx) -> dict[str, Any] | None:
    from floodway.crm import schema as t
    from floodway.functions.model import ms_to_iso

    K = t.org_api_keys
    with read_transaction(ctx.crm.engine) as conn:
        row = conn.execute(
            sa.select(K.c.created_time).where(
                K.c.org_id == ctx.crm.org_id, K.c.revoked_time.is_(None)
            )
        ).first()
    return {"created": ms_to_iso(row.created_time)} if row else None


@route(router, "/settings/api-key")
def api_key_page(ctx: Ctx) -> Response:
    _require(ctx, "api-key")
    return _render(ctx, "api-key", key=_key_info(ctx), errors=Errors())


@route(router, "/settings/api-key", ("POST",))
def api_key_rotate(ctx: Ctx) -> Response:
    _require(ctx, "api-key")
    if ctx.value("confirm") != "on":
        errors = Errors()
        errors.add("confirm", "Tick the box to confirm: callers using the current key get 401.")
        return _render(ctx, "api-key", status=422, key=_key_info(ctx), errors=errors)
    sealer = getattr(ctx.app.state, "sealer", None)
    new_key = ctx.crm.oauth.rotate_api_key(sealer)
    return _render(
        ctx, "api-key", key=_key_info(ctx), errors=Errors(), new_key=new_key, toast="Key rotated"
    )


# ---------------------------------------------------------------------------------- SMTP


@route(router, "/settings/smtp")
def smtp_page(ctx: Ctx) -> Response:
    _require(ctx, "smtp")
    return _render(ctx, "smtp", smtp=_smtp_view(ctx))


TEST_MAIL_TIMEOUT_S: Final = 10.0


@route(router, "/settings/smtp/test", ("POST",))
def smtp_test(ctx: Ctx) -> Response:
    """ "Send test email to me": one message to the signed-in user through the configured
    server, sent now (not through the outbox), with the server's answer shown."""
    import dataclasses

    from floodway.deluge.host import Mail
    from floodway.functions.delivery import smtp_from_settings
    from floodway.functions.mailer import InvalidMail, deliver

    _require(ctx, "smtp")
    smtp = smtp_from_settings(ctx.settings)
    if smtp is None:
        return _render(ctx, "smtp", status=409, smtp=_smtp_view(ctx), test=None)
    to = ctx.viewer.user.email
    mail = Mail(
        sender="",
        to=[to],
        subject="floodway test message",
        message=(
            "This message was sent from the floodway console to check its mail settings.\n"
            f"Server: {smtp.host}:{smtp.port}\n"
        ),
        content_type="text/plain",
    )
    try:
        result = deliver(mail, dataclasses.replace(smtp, timeout_s=TEST_MAIL_TIMEOUT_S))
        test = {"ok": result.ok, "to": to, "message": result.message}
    except InvalidMail as exc:  # no usable sender: smtp_from is missing or malformed
        test = {"ok": False, "to": to, "message": str(exc)}
    return _render(ctx, "smtp", smtp=_smtp_view(ctx), test=test)


def _smtp_view(ctx: Ctx) -> dict[str, Any]:
    s = ctx.settings
    return {
        "host": getattr(s, "smtp_host", None),
        "port": getattr(s, "smtp_port", None),
        "security": "TLS"
        if getattr(s, "smtp_ssl", False)
        else ("STARTTLS" if getattr(s, "smtp_starttls", True) else "none"),
        "username": getattr(s, "smtp_username", None),
        "password_set": bool(getattr(s, "smtp_password", None)),
        "sender": getattr(s, "smtp_from", None),
    }
