"""What the synchronous triggers share (buttons, related lists, validation rules): finding an
enabled definition, reading the record as the user who asked (security.md AZ-3), mapping the
arguments (functions-platform.md §3) and marking a run whose result could not be used as failed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from floodway.deluge.values import DelugeList
from floodway.project.merge_fields import Template, render

from .errors import AutomationError

__all__ = [
    "enabled_item",
    "function_failed",
    "live_function",
    "mark_failure",
    "readable_records",
    "render_arguments",
]

_LIST_TYPES: Final = frozenset({"list"})


def enabled_item(store: Any, kind: str, item_id: str, label: str) -> Any:
    """The enabled item ``item_id`` of ``kind``; a disabled one is ``NOT_FOUND`` too (it is not
    offered to users, so a click on it comes from a stale page), with a message saying why."""
    item = store.get(kind, str(item_id))
    if not item.enabled:
        raise AutomationError(
            "NOT_FOUND",
            f"The {label} '{item.name}' is disabled",
            {"id": str(item_id), "enabled": False},
        )
    return runnable_item(item, label)


def runnable_item(item: Any, label: str) -> Any:
    """``item`` when its stored definition still parses (enabled or not), else INVALID_DATA
    naming the problem (a field or function it names is gone)."""
    if item.spec is None:
        raise AutomationError(
            "INVALID_DATA",
            f"The {label} '{item.name}' cannot run: {getattr(item, 'problem', None) or 'invalid'}",
            {"id": str(item.id)},
        )
    return item


def readable_records(
    crm: Any, module: str, ids: Sequence[str], user_id: str
) -> list[dict[str, Any]]:
    """The records ``ids`` of ``module`` in REST shape, read for ``user_id``: the user must
    exist, be active and hold the module's read right (``NO_PERMISSION``); every id must be a
    record of the module (``NOT_FOUND`` naming the first that is not)."""
    user = crm.users.get(str(user_id)) if str(user_id).isdigit() else None
    if user is None or not user.active:
        raise AutomationError("NO_PERMISSION", "The user cannot run this", {"user_id": user_id})
    profile = crm.users.profile(user)
    if not profile.can(module, "read"):
        raise AutomationError(
            "NO_PERMISSION",
            f"You need the right to read {module} records",
            {"permission": f"read {module}"},
        )
    out = []
    for rid in ids:
        record = crm.records.get(module, rid)
        if record is None:
            raise AutomationError(
                "NOT_FOUND", f"No {module} record with id {rid}", {"id": str(rid)}
            )
        out.append(record)
    return out


def live_function(functions: Any, api_name: str) -> Any:
    """The live version (``LiveFunction``) of ``api_name``, or None when there is none."""
    return functions.registry.live(api_name)


def render_arguments(
    crm: Any,
    live: Any,
    templates: Mapping[str, Template],
    module: str,
    record: Mapping[str, Any],
    *,
    selected_ids: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Each mapped argument's value (§3), typed for the function's declared arguments; a
    ``List`` argument mapped to exactly ``${selected_ids}`` gets the ids as a list."""
    declared: dict[str, str] = {}
    if live is not None:
        declared = {name: kind for name, kind in live.program.params}
    lowered = {name.lower(): kind for name, kind in declared.items()}
    org = {"time_zone": crm.time_zone_name}
    types = crm.metadata.field_types(module)
    out: dict[str, Any] = {}
    for name, template in templates.items():
        kind = declared.get(name) or lowered.get(name.lower())
        single = template.single
        if (
            single is not None
            and single.kind == "selected_ids"
            and kind is not None
            and kind.lower() in _LIST_TYPES
        ):
            out[name] = DelugeList(str(i) for i in selected_ids or ())
            continue
        out[name] = render(
            template,
            record,
            module,
            org,
            field_types=types,
            selected_ids=selected_ids,
            declared_type=kind,
        )
    return out


def function_failed(exc: Exception) -> str | None:
    """The message of a functions-service error raised before anything ran (no live version,
    function deleted); None for any other exception (which the caller lets through)."""
    if exc.__class__.__name__ != "FunctionsError":
        return None
    return str(getattr(exc, "message", exc))


def mark_failure(functions: Any, execution_id: str | None, message: str) -> None:
    """Record on the execution that its result could not be used (it ran, but failed the
    user): status ``failure``, error kind ``runtime`` with ``message``."""
    if execution_id is not None:
        functions.executions.mark_failure(execution_id, "runtime", message)
