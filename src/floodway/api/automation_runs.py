"""The synchronous automation endpoints: run a button, show a function-fed related list, a
record's pending scheduled actions, and the webhook outbox (automation-service-api.md §3).

Every route needs an OAuth token (``Zoho-oauthtoken`` or ``Bearer``), as the other ``/api/*``
routers (security.md AZ-2):

- buttons and related lists: a records read scope and the profile's read right on the module;
  they run as the calling user (AZ-3). At most ``MAX_SYNC_RUNS`` of them run at once per user
  (DOS-5); more answer 429.
- scheduled actions: the module read right plus ``manage_workflow`` or ``manage_functions``;
- webhooks: a settings scope and ``manage_workflow`` (``api/automation.py``'s
  ``workflow_admin``).

The automation service is ``request.app.state.automation`` (``create_app(automation=…)``);
without one these routes answer 501 ``NOT_SUPPORTED``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from .auth import authenticate, require
from .automation import running, workflow_admin
from .common import resolve_module
from .errors import ZohoError, json_response, no_permission
from .functions import fcall
from .parsing import id_text, json_body, query

router = APIRouter()


MAX_SYNC_RUNS: Final = 4  # buttons and related lists running at once per user (DOS-5)
WORKFLOW_PERMISSION: Final = "manage_workflow"
WEBHOOK_STATUSES: Final = ("pending", "sent", "failed")
_TAGS: Final[list[str | Any]] = ["automation"]


class RunSlots:
    """How many synchronous runs each user has going (per process)."""

    def __init__(self, limit: int = MAX_SYNC_RUNS) -> None:
        self.limit = limit
        self._running: dict[str, int] = {}
        self._lock = threading.Lock()

    @contextmanager
    def take(self, user_id: str) -> Iterator[None]:
        with self._lock:
            n = self._running.get(user_id, 0)
            if n >= self.limit:
                raise ZohoError(
                    "TOO_MANY_REQUESTS",
                    f"at most {self.limit} buttons or related lists run at once per user; "
                    "wait for one to finish",
                    429,
                    {"limit": self.limit},
                    {"Retry-After": "1"},
                )
            self._running[user_id] = n + 1
        try:
            yield
        finally:
            with self._lock:
                left = self._running.get(user_id, 1) - 1
                if left <= 0:
                    self._running.pop(user_id, None)
                else:
                    self._running[user_id] = left


def _slots(request: Request) -> RunSlots:
    state = request.app.state
    slots = getattr(state, "sync_run_slots", None)
    if slots is None:
        slots = state.sync_run_slots = RunSlots()
    return slots  # type: ignore[no-any-return]


def _path_id(value: str, name: str) -> str:
    found = id_text(value)
    if found is None:
        raise ZohoError("INVALID_DATA", f"{name} is not a valid id", 400, {"param_name": name})
    return found


# ---- buttons and related lists ------------------------------------------------------------------


@router.post(
    "/api/buttons/{button_id}/run",
    tags=_TAGS,
    summary="Click a button: run its function for the given records as the calling user",
    description=(
        'Body `{"ids": ["<record id>", …]}`: exactly one id for a detail-page button, 1-100 for '
        'a list button. Answer `{"message","url","execution_id"}`: `message` is the text to '
        "show (at most 1,000 characters, null for nothing; a failed run reads `The function "
        "failed: <message>`), `url` the last `openUrl` target. A failed run is still HTTP 200."
    ),
)
async def run_button(request: Request, button_id: str) -> Response:
    principal = await authenticate(request)
    auto = running(request)
    bid = _path_id(button_id, "button_id")
    body = await json_body(request, request.app.state.config.max_json_depth)
    ids = body.get("ids") if isinstance(body, dict) else None
    if ids is None:
        raise ZohoError("MANDATORY_NOT_FOUND", "required field not found", 400, {"field": "ids"})
    if not isinstance(ids, list):
        raise ZohoError("INVALID_DATA", "ids must be a list of record ids", 400, {"field": "ids"})
    item = await fcall(auto.store.get, "button", bid)
    await require(request, "read", item.spec.module)
    uid = str(principal.user.id)
    with _slots(request).take(uid):
        result = await fcall(auto.buttons.run, bid, [str(i) for i in ids], uid)
    return json_response(result)


@router.get(
    "/api/records/{module}/{record_id}/related-functions/{related_list_id}",
    tags=_TAGS,
    summary="A function-fed related list of one record, run now as the calling user",
    description=(
        'Answer `{"columns","rows","links","message","error","total_rows","truncated",'
        '"execution_id"}`: `rows` are `{column: text}`; `links` `{row index: {column: url}}`; '
        "`message` the text of an `<error><message>` answer; `error` set when the run failed "
        "or returned invalid XML (HTTP 200 all the same)."
    ),
)
async def run_related_list(
    request: Request, module: str, record_id: str, related_list_id: str
) -> Response:
    principal = await authenticate(request)
    auto = running(request)
    mod = await resolve_module(request, module)
    await require(request, "read", mod.api_name)
    rid = _path_id(record_id, "record_id")
    lid = _path_id(related_list_id, "related_list_id")
    uid = str(principal.user.id)
    with _slots(request).take(uid):
        result = await fcall(auto.related_lists.run, lid, mod.api_name, rid, uid)
    return json_response(result)


# ---- scheduled actions and webhooks ---------------------------------------------------------


@router.get(
    "/api/records/{module}/{record_id}/scheduled-actions",
    tags=_TAGS,
    summary="The record's pending scheduled workflow actions",
)
async def scheduled_actions(request: Request, module: str, record_id: str) -> Response:
    principal = await authenticate(request)
    auto = running(request)
    mod = await resolve_module(request, module)
    await require(request, "read", mod.api_name)
    if not (
        principal.profile.has(WORKFLOW_PERMISSION) or principal.profile.has("manage_functions")
    ):
        raise no_permission({"permission": WORKFLOW_PERMISSION})
    rid = _path_id(record_id, "record_id")
    pending = await fcall(auto.engine.pending, mod.api_name, rid)
    return json_response({"scheduled_actions": pending})


@router.get(
    "/api/webhooks",
    tags=_TAGS,
    summary="Workflow webhook deliveries, newest first (`?status=pending|sent|failed`)",
)
async def list_webhooks(request: Request) -> Response:
    await workflow_admin(request, write=False)
    auto = running(request)
    status = query(request).get("status") or None
    if status is not None and status not in WEBHOOK_STATUSES:
        raise ZohoError(
            "INVALID_DATA",
            f"status must be one of {', '.join(WEBHOOK_STATUSES)}",
            400,
            {"param_name": "status"},
        )
    items = await fcall(auto.webhooks.list, status=status)
    return json_response({"webhooks": items})


@router.post(
    "/api/webhooks/{webhook_id}/resend",
    tags=_TAGS,
    summary="Deliver a failed (or already sent) webhook again",
)
async def resend_webhook(request: Request, webhook_id: str) -> Response:
    await workflow_admin(request, write=True)
    auto = running(request)
    wid = _path_id(webhook_id, "webhook_id")
    item = await fcall(auto.webhooks.resend, wid)
    return json_response({"webhook": item})
