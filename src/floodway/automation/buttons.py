"""Buttons (functions-platform.md §2.3): a click runs the button's function synchronously as the
clicking user and answers with the text to show and the URL to open.

A detail-page button runs for exactly one record, a list button for one or more selected
records (``${selected_ids}``). The user must be able to read every record (security.md AZ-3).
Problems with the request (unknown or disabled button, wrong number of ids, no right, missing
record) raise ``AutomationError``. A run that fails is not a request error: the answer carries
``The function failed: <message>`` with the execution id (HTTP 200), which is what the user sees.
"""

from __future__ import annotations

from typing import Any, Final

from floodway.deluge.values import text_form
from floodway.project.model import Button

from .errors import AutomationError
from .synchronous import (
    enabled_item,
    function_failed,
    live_function,
    readable_records,
    render_arguments,
)

__all__ = ["MAX_MESSAGE", "MAX_SELECTED", "Buttons", "button_message"]

MAX_MESSAGE: Final = 1000  # characters shown after a click (the UI's limit)
MAX_SELECTED: Final = 100  # records per list-button click (a page of the list view)
FAILED: Final = "The function failed"


def button_message(value: Any) -> str | None:
    """The text shown for a returned value: text as it is, other values in their text form,
    ``""``/null as nothing; at most 1,000 characters."""
    if value is None:
        return None
    text = value if isinstance(value, str) else text_form(value)
    return text[:MAX_MESSAGE] or None


class Buttons:
    """Runs buttons (``auto.buttons``)."""

    def __init__(self, crm: Any, functions: Any, store: Any) -> None:
        self.crm = crm
        self.functions = functions
        self.store = store

    def attach(self) -> None:
        """Nothing to subscribe to: buttons run when clicked."""

    def close(self) -> None:
        """Nothing to undo."""

    def run(self, button_id: str, ids: list[str], user_id: str) -> dict[str, Any]:
        """Click ``button_id`` for the records ``ids`` as ``user_id``:
        ``{"message": str | None, "url": str | None, "execution_id": str | None}``."""
        item = enabled_item(self.store, "button", button_id, "button")
        spec: Button = item.spec
        selected = _ids(ids, spec)
        records = readable_records(self.crm, spec.module, selected, user_id)
        record = records[0] if spec.placement == "detail" else {}
        live = live_function(self.functions, spec.function)
        arguments = render_arguments(
            self.crm,
            live,
            spec.arguments,
            spec.module,
            record,
            selected_ids=[str(r["id"]) for r in records] if spec.placement == "list" else None,
        )
        trigger = {
            "type": "button",
            "button": spec.name,
            "module": spec.module,
            "record_id": str(records[0]["id"]) if spec.placement == "detail" else None,
        }
        try:
            result = self.functions.executor.run(
                live or spec.function, arguments, user_id=str(user_id), trigger=trigger
            )
        except Exception as exc:  # no live version, function deleted: nothing ran
            message = function_failed(exc)
            if message is None:
                raise
            return {
                "message": f"{FAILED}: {message}"[:MAX_MESSAGE],
                "url": None,
                "execution_id": None,
            }
        if result.status != "success":
            error = str((result.error or {}).get("message") or "unknown error")
            return {
                "message": f"{FAILED}: {error}"[:MAX_MESSAGE],
                "url": None,
                "execution_id": result.id,
            }
        actions = result.client_actions or []
        return {
            "message": button_message(result.value),
            "url": actions[-1]["url"] if actions else None,
            "execution_id": result.id,
        }


def _ids(ids: Any, spec: Button) -> list[str]:
    """The selected ids, checked against the placement: one for detail, 1-100 for list."""
    if isinstance(ids, str):
        ids = [ids]
    if not isinstance(ids, list) or not all(isinstance(i, str | int) for i in ids):
        raise AutomationError("INVALID_DATA", "ids must be a list of record ids", {"field": "ids"})
    clean = [str(i).strip() for i in ids if str(i).strip()]
    if len(set(clean)) != len(clean):
        clean = list(dict.fromkeys(clean))
    if spec.placement == "detail" and len(clean) != 1:
        raise AutomationError(
            "INVALID_DATA",
            f"The button '{spec.name}' is on the detail page: give exactly one record id",
            {"field": "ids"},
        )
    if not clean:
        raise AutomationError("INVALID_DATA", "Select at least one record", {"field": "ids"})
    if len(clean) > MAX_SELECTED:
        raise AutomationError(
            "INVALID_DATA",
            f"Select at most {MAX_SELECTED} records for one click",
            {"field": "ids", "limit": MAX_SELECTED},
        )
    return clean
