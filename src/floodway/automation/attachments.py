"""Where a function is attached, and what each attachment would pass it for a record.

The editor's "Fill as ‹attachment› would…" (console-ux.md §3.5): workflow rules with a function
action calling it, buttons and related lists running it. ``arguments_for`` applies the
attachment's argument mapping (functions-platform.md §3) to a record as it is stored now, read
with the user's rights: the values a save, a click or a page view would pass. A list button's
``${selected_ids}`` becomes the one record. Validation rules and schedules pass no mapped
arguments and are not listed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from floodway.project.merge_fields import Template
from floodway.project.model import Button, FunctionAction, RelatedList, Workflow

from .errors import AutomationError
from .synchronous import live_function, readable_records, render_arguments

__all__ = ["Attachment", "arguments_for", "attachments", "find"]

LABELS: Final = {"workflow": "rule", "button": "button", "related_list": "related list"}


@dataclass(frozen=True, slots=True)
class Attachment:
    kind: str  # workflow | button | related_list
    item_id: str
    name: str
    module: str
    function: str
    arguments: Mapping[str, Template]
    list_button: bool = False

    @property
    def ref(self) -> str:
        """The attachment's reference in a form: ``kind:item_id``."""
        return f"{self.kind}:{self.item_id}"

    @property
    def label(self) -> str:
        return f'{LABELS[self.kind]} "{self.name}"'


def attachments(store: Any, api_name: str) -> list[Attachment]:
    """The rules, buttons and related lists that call ``api_name`` (enabled or not)."""
    wanted = api_name.lower()
    out: list[Attachment] = []
    for item in store.list("workflow"):
        rule = item.spec
        if not isinstance(rule, Workflow):
            continue
        for action in rule.actions:
            if isinstance(action, FunctionAction) and action.function.lower() == wanted:
                out.append(
                    Attachment(
                        "workflow",
                        item.id,
                        item.name,
                        rule.module,
                        action.function,
                        action.arguments,
                    )
                )
                break  # the first action calling it; another would map the same record
    for kind in ("button", "related_list"):
        for item in store.list(kind):
            spec = item.spec
            if isinstance(spec, Button | RelatedList) and spec.function.lower() == wanted:
                list_button = isinstance(spec, Button) and spec.placement == "list"
                out.append(
                    Attachment(
                        kind,
                        item.id,
                        item.name,
                        spec.module,
                        spec.function,
                        spec.arguments,
                        list_button,
                    )
                )
    return out


def arguments_for(
    crm: Any, functions: Any, attachment: Attachment, record_id: str, user_id: str
) -> dict[str, Any]:
    """The arguments ``attachment`` would pass for the record ``record_id`` of its module, read
    as ``user_id`` (``NO_PERMISSION``/``NOT_FOUND`` as ``AutomationError``)."""
    records = readable_records(crm, attachment.module, [record_id], user_id)
    live = live_function(functions, attachment.function)
    return render_arguments(
        crm,
        live,
        attachment.arguments,
        attachment.module,
        records[0],
        selected_ids=[str(records[0]["id"])] if attachment.list_button else None,
    )


def find(listed: list[Attachment], api_name: str, ref: str) -> Attachment:
    """The attachment ``ref`` (``kind:item_id``) among ``api_name``'s; ``NOT_FOUND`` otherwise."""
    for found in listed:
        if found.ref == ref:
            return found
    raise AutomationError("NOT_FOUND", f"{api_name} has no attachment {ref}", {"attachment": ref})
