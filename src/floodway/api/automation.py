"""The automation admin JSON API: workflow rules, buttons, related lists, validation rules and
schedules (docs/automation-service-api.md §3).

For each kind, under its path (``/api/workflows``, ``/api/buttons``, ``/api/related-lists``,
``/api/validation-rules``, ``/api/schedules``):

- ``GET``  list (``?module=``) -> ``{"workflows": [...]}`` (rule order)
- ``POST`` create (201) -> the item; ``GET``/``PUT``/``DELETE`` ``/{id}``
- ``POST /{id}/enable`` and ``/{id}/disable`` -> the item

plus ``GET /api/workflows/{id}/activity`` (``?record_id=``, ``?limit=``). A body is the manifest
table as JSON (project-format.md); an item is that table with ``id``, ``enabled``,
``created_time`` and ``modified_time`` (schedules add ``next_runs``). Those read-only keys are
ignored when a body carries them back, so a client may PUT what it got; ``enabled`` in a POST or
PUT body sets the state.

Who may call (security.md AZ-1, AZ-2): writes and reads of workflow rules, validation rules and
schedules need *manage_workflow* and a settings scope; buttons and related lists may be listed by
any signed-in user (the record pages show them). Errors are ``AutomationError`` JSON with its
status.

``automation(request)`` is the ``Automation`` given to ``create_app(automation=...)``; without
one, the CRUD routes use a rule store created on first use (definitions can be managed while no
worker runs) and the routes that need the running parts answer 501.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from .auth import authenticate
from .errors import ZohoError, json_response, no_permission, scope_mismatch
from .functions import service as functions_service
from .parsing import json_body

router = APIRouter()

T = TypeVar("T")

PERMISSION: Final = "manage_workflow"
# AUTH-3: the scopes that reach the automation admin API (self clients hold settings.ALL).
WRITE_SCOPES: Final = frozenset({"zohocrm.settings.all", "zohocrm.settings.workflow_rules.all"})
READ_SCOPES: Final = WRITE_SCOPES | {
    "zohocrm.settings.read",
    "zohocrm.settings.workflow_rules.read",
}
# Buttons and related lists are shown on record pages: any signed-in user may list them.
VIEW_SCOPES: Final = READ_SCOPES | {"zohocrm.modules.all", "zohocrm.modules.read"}
READ_ONLY_KEYS: Final = ("id", "created_time", "modified_time", "next_runs", "problem")

_store_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class KindRoute:
    kind: str
    path: str
    plural: str  # key of the list response
    label: str
    public_read: bool  # any signed-in user may read


KIND_ROUTES: Final = (
    KindRoute("workflow", "/api/workflows", "workflows", "workflow rule", False),
    KindRoute("button", "/api/buttons", "buttons", "button", True),
    KindRoute("related_list", "/api/related-lists", "related_lists", "related list", True),
    KindRoute("validation", "/api/validation-rules", "validation_rules", "validation rule", False),
    KindRoute("schedule", "/api/schedules", "schedules", "schedule", False),
)


# ---- plumbing shared with automation_runs.py ----------------------------------------------------


def automation(request: Request) -> Any:
    """The app's ``Automation``, or ``None`` when it was built without one."""
    return getattr(request.app.state, "automation", None)


def running(request: Request) -> Any:
    """The app's ``Automation``; 501 when this app has none (no engine, no schedules)."""
    auto = automation(request)
    if auto is None:
        raise ZohoError("NOT_SUPPORTED", "automation is not enabled on this server", 501, {})
    return auto


def store(request: Request) -> Any:
    """The rule store: the ``Automation``'s, else one created on first use."""
    auto = automation(request)
    if auto is not None:
        return auto.store
    state = request.app.state
    found = getattr(state, "automation_store", None)
    if found is not None:
        return found
    with _store_lock:
        found = getattr(state, "automation_store", None)
        if found is None:
            from ..automation.store import AutomationStore

            found = AutomationStore(state.crm, functions_service(request))
            state.automation_store = found
    return found


async def acall(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking service call off the event loop (``AutomationError`` reaches the app's
    handler unchanged)."""
    return await run_in_threadpool(fn, *args, **kwargs)


async def workflow_admin(request: Request, *, write: bool = True) -> Any:
    """Authenticate; the token needs a settings scope and its user ``manage_workflow``."""
    principal = await authenticate(request)
    if not (set(principal.scopes) & (WRITE_SCOPES if write else READ_SCOPES)):
        raise scope_mismatch()
    if not principal.profile.has(PERMISSION):
        raise no_permission({"permission": PERMISSION})
    return principal


async def signed_in(request: Request) -> Any:
    """Any authenticated user whose token reaches records or settings."""
    principal = await authenticate(request)
    if not (set(principal.scopes) & VIEW_SCOPES):
        raise scope_mismatch()
    return principal


def _limit(request: Request, default: int = 100) -> int:
    raw = request.query_params.get("limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise ZohoError("INVALID_DATA", "limit must be 1 to 1000", 400, {"param_name": "limit"})
    return int(raw)


async def _body(request: Request) -> tuple[dict[str, Any], bool | None]:
    """The definition of a POST/PUT body without the read-only keys, and ``enabled`` if given."""
    body = await json_body(request, request.app.state.config.max_json_depth)
    if not isinstance(body, dict):
        raise ZohoError("INVALID_DATA", "the body must be a JSON object", 400, {})
    enabled = body.pop("enabled", None)
    if enabled is not None and not isinstance(enabled, bool):
        raise ZohoError("INVALID_DATA", "enabled must be true or false", 400, {"field": "enabled"})
    for key in READ_ONLY_KEYS:
        body.pop(key, None)
    return body, enabled


# ---- routes -------------------------------------------------------------------------------------


def _routes(k: KindRoute) -> None:
    tags: list[str | Any] = ["automation"]

    async def read_access(request: Request) -> None:
        if k.public_read:
            await signed_in(request)
        else:
            await workflow_admin(request, write=False)

    async def list_items(request: Request) -> Response:
        await read_access(request)
        st = store(request)
        module = request.query_params.get("module") or None
        items = await acall(st.list, k.kind, module=module)
        return json_response({k.plural: [st.item_json(i) for i in items]})

    async def create_item(request: Request) -> Response:
        await workflow_admin(request)
        table, enabled = await _body(request)
        st = store(request)
        item = await acall(st.create, k.kind, table, enabled=True if enabled is None else enabled)
        return json_response(st.item_json(item), 201)

    async def get_item(request: Request, item_id: str) -> Response:
        await read_access(request)
        st = store(request)
        return json_response(st.item_json(await acall(st.get, k.kind, item_id)))

    async def update_item(request: Request, item_id: str) -> Response:
        await workflow_admin(request)
        table, enabled = await _body(request)
        st = store(request)
        item = await acall(st.update, k.kind, item_id, table)
        if enabled is not None and enabled != item.enabled:
            item = await acall(st.set_enabled, k.kind, item_id, enabled)
        return json_response(st.item_json(item))

    async def delete_item(request: Request, item_id: str) -> Response:
        await workflow_admin(request)
        await acall(store(request).delete, k.kind, item_id)
        return Response(status_code=204)

    def switch(enabled: bool) -> Callable[[Request, str], Any]:
        async def set_state(request: Request, item_id: str) -> Response:
            await workflow_admin(request)
            st = store(request)
            return json_response(
                st.item_json(await acall(st.set_enabled, k.kind, item_id, enabled))
            )

        return set_state

    one = f"{k.path}/{{item_id}}"
    add = router.add_api_route
    add(k.path, list_items, methods=["GET"], tags=tags, summary=f"List {k.plural}")
    add(k.path, create_item, methods=["POST"], tags=tags, summary=f"Create a {k.label}")
    add(one, get_item, methods=["GET"], tags=tags, summary=f"Get a {k.label}")
    add(one, update_item, methods=["PUT"], tags=tags, summary=f"Replace a {k.label}")
    add(one, delete_item, methods=["DELETE"], tags=tags, summary=f"Delete a {k.label}")
    add(f"{one}/enable", switch(True), methods=["POST"], tags=tags, summary=f"Enable a {k.label}")
    add(
        f"{one}/disable", switch(False), methods=["POST"], tags=tags, summary=f"Disable a {k.label}"
    )


for _kind in KIND_ROUTES:
    _routes(_kind)


@router.get(
    "/api/workflows/{item_id}/activity",
    tags=["automation"],
    summary="Activity of a workflow rule: non-function actions and suppressed firings",
)
async def workflow_activity(request: Request, item_id: str) -> Response:
    await workflow_admin(request, write=False)
    limit = _limit(request)
    record_id = request.query_params.get("record_id") or None
    item = await acall(store(request).get, "workflow", item_id)
    engine = getattr(running(request), "engine", None)
    if engine is None:
        raise ZohoError(
            "NOT_SUPPORTED", "the workflow engine is not enabled on this server", 501, {}
        )
    found = await acall(engine.activity, rule_id=item.id, record_id=record_id, limit=limit)
    return json_response({"activity": found})
