"""Who is calling: the ``Authorization`` header, scopes, profile rights and the rate limit.

compat §3.1 and §2.5, security.md AUTH-3 (scope intersected with the user's profile rights),
AZ-2 (every route declares its requirement) and DOS-2 (token bucket per token).
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from .errors import (
    ZohoError,
    authentication_failure,
    invalid_token,
    no_permission,
    scope_mismatch,
)

_SCHEMES: Final = ("zoho-oauthtoken", "bearer")

# Record operations of compat §2.5 -> the profile right of security.md AZ-1.
_PROFILE_RIGHT: Final = {
    "read": "read",
    "search": "read",
    "create": "create",
    "update": "edit",
    "delete": "delete",
}


def bearer_token(request: Request) -> str:
    """The token of ``Authorization: Zoho-oauthtoken T`` or ``Bearer T`` (scheme any case)."""
    header = request.headers.get("authorization")
    if header is None or not header.strip():
        raise authentication_failure()
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() not in _SCHEMES or not token or len(token) > 512:
        raise invalid_token()
    return token


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def too_many(headers: dict[str, str]) -> ZohoError:
    return ZohoError("TOO_MANY_REQUESTS", "too many requests", 429, {}, headers)


async def authenticate(request: Request) -> Any:
    """The ``Principal`` of the request's OAuth token, rate-limited per token (once a request)."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    state = request.app.state
    limiter = state.limiter
    token = bearer_token(request)
    try:
        principal = await run_in_threadpool(state.crm.oauth.authenticate, token)
    except Exception as exc:
        # Failing tokens are throttled per client address, so guessing costs time.
        if limiter.enabled:
            decision = limiter.take("fail:" + client_address(request))
            if not decision.allowed:
                raise too_many(decision.headers()) from None
        raise _as_auth_error(exc) from None
    if limiter.enabled:
        key = "tok:" + hashlib.sha256(token.encode()).hexdigest()[:32]
        decision = limiter.take(key)
        if not decision.allowed:
            raise too_many(decision.headers())
    request.state.principal = principal
    return principal


def _as_auth_error(exc: Exception) -> Exception:
    code = getattr(exc, "code", None)
    if code == "AUTHENTICATION_FAILURE":
        return authentication_failure()
    if code in ("INVALID_TOKEN", "OAUTH_SCOPE_MISMATCH"):
        return invalid_token()
    return exc  # not an auth problem (database down...): the catch-all logs it


async def require(request: Request, operation: str, module: str | None = None) -> Any:
    """Authenticate, then check the token's scope and (for records) the profile right."""
    principal = await authenticate(request)
    if not principal.allows(operation, module):
        raise scope_mismatch()
    right = _PROFILE_RIGHT.get(operation)
    if right is not None and module is not None:
        if not principal.profile.can(module, right):
            raise no_permission({"permissions": [f"Crm_Implied_{right.title()}_{module}"]})
    return principal
