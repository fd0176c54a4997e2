"""Module fields as the record pages use them: sections, list columns, form inputs, form values
turned into a CRM row, and CRM error rows turned into messages next to their field.

The CRM decides what is valid (console-ux.md §2 "Forms": the server decides, HTML constraints are
hints); this module only carries the typed text there and the answer back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

SYSTEM_FIELDS: Final = ("Owner", "Created_By", "Created_Time", "Modified_By", "Modified_Time")
ADDRESS: Final = re.compile(r"(Street|City|State|Zip|_Code$|Country)")
NUMBER_TYPES: Final = frozenset({"integer", "bigint", "decimal", "currency", "percent"})
UNSORTABLE: Final = frozenset({"lookup", "parent", "multiselectpicklist", "ownerlookup"})
MAX_LOOKUP_CHOICES: Final = 200

EXPECTED: Final = {
    "integer": "a whole number",
    "bigint": "a whole number",
    "decimal": "a number",
    "currency": "an amount (a number such as 1200.50)",
    "double": "a number",
    "percent": "a number",
    "date": "a date (YYYY-MM-DD)",
    "datetime": "a date and time",
    "email": "an email address",
    "website": "a web address starting with http:// or https://",
    "url": "a web address starting with http:// or https://",
    "lookup": "an existing record",
    "picklist": "one of the listed values",
    "boolean": "yes or no",
    "text": "shorter text",
    "textarea": "shorter text",
    "phone": "a phone number",
}


@dataclass(frozen=True, slots=True)
class FieldView:
    api_name: str
    label: str
    type: str
    mandatory: bool = False
    read_only: bool = False
    targets: tuple[str, ...] = ()
    picks: tuple[str, ...] = ()
    max_length: int | None = None

    @property
    def sortable(self) -> bool:
        return self.type not in UNSORTABLE

    @property
    def numeric(self) -> bool:
        return self.type in NUMBER_TYPES


def field_views(mod: Any) -> list[FieldView]:
    return [
        FieldView(
            f.api_name,
            f.display_label,
            f.type,
            bool(f.mandatory),
            bool(f.read_only) or f.type == "autonumber",
            tuple(f.targets),
            tuple(p for p in f.pick_list_values if p != "-None-"),
            f.max_length,
        )
        for f in mod.fields.values()
    ]


def system_views() -> list[FieldView]:
    return [
        FieldView("Owner", "Owner", "ownerlookup"),
        FieldView("Created_By", "Created by", "ownerlookup", read_only=True),
        FieldView("Created_Time", "Created", "datetime", read_only=True),
        FieldView("Modified_By", "Modified by", "ownerlookup", read_only=True),
        FieldView("Modified_Time", "Modified", "datetime", read_only=True),
    ]


def singular(mod: Any) -> str:
    return str(mod.singular_label or mod.api_name.rstrip("s"))


def plural(mod: Any) -> str:
    return str(mod.plural_label or mod.api_name)


def sections(mod: Any, fields: list[FieldView]) -> list[tuple[str, list[FieldView]]]:
    """Fields grouped as Zoho's default layouts group them: main, address, description."""
    main, address, description = [], [], []
    for f in fields:
        if f.type == "textarea":
            description.append(f)
        elif ADDRESS.search(f.api_name):
            address.append(f)
        else:
            main.append(f)
    out = [(f"{singular(mod)} information", main)]
    if address:
        out.append(("Address information", address))
    if description:
        out.append(("Description", description))
    return out


MAX_LIST_COLUMNS: Final = 12


def list_columns(
    mod: Any, fields: list[FieldView], chosen: Any = None, limit: int = 5
) -> list[FieldView]:
    """The columns of a module's list: the name field first, then the user's ``chosen`` API
    names in their order (names no longer offered are dropped); without a choice the first
    few short fields, then Owner and Modified."""
    name = next((f for f in fields if f.api_name == mod.name_field), None)
    head = [name] if name else []
    offered = {f.api_name: f for f in column_choices(mod, fields)}
    if isinstance(chosen, list):
        picked = [offered[n] for n in dict.fromkeys(chosen) if isinstance(n, str) and n in offered]
        if picked:
            return [*head, *picked[:MAX_LIST_COLUMNS]]
    skip = {mod.name_field, "First_Name", "Last_Name", "Salutation"}
    rest = [f for f in fields if f.api_name not in skip and f.type != "textarea"][:limit]
    sysf = {f.api_name: f for f in system_views()}
    return [*head, *rest, sysf["Owner"], sysf["Modified_Time"]]


def column_choices(mod: Any, fields: list[FieldView]) -> list[FieldView]:
    """What a list can show next to the name: the module's other fields but long text, then
    the record's owner, creator, modifier and times."""
    own = [f for f in fields if f.api_name != mod.name_field and f.type != "textarea"]
    return [*own, *system_views()]


def editable(fields: list[FieldView]) -> list[FieldView]:
    return [f for f in fields if not f.read_only]


# ---------------------------------------------------------------------------------- form values


def typed_from_record(record: dict[str, Any], fields: list[FieldView]) -> dict[str, Any]:
    """What the edit form shows for a stored record: text, ids for lookups, lists for
    multi-selects, ``datetime-local`` text for times."""
    out: dict[str, Any] = {}
    for f in [*fields, FieldView("Owner", "Owner", "ownerlookup")]:
        v = record.get(f.api_name)
        if v is None:
            out[f.api_name] = [] if f.type == "multiselectpicklist" else ""
        elif f.type in ("lookup", "parent", "ownerlookup") and isinstance(v, dict):
            out[f.api_name] = str(v.get("id") or "")
        elif f.type == "multiselectpicklist":
            out[f.api_name] = [str(x) for x in v] if isinstance(v, list) else [str(v)]
        elif f.type == "boolean":
            out[f.api_name] = bool(v)
        elif f.type == "datetime" and isinstance(v, str):
            out[f.api_name] = v[:16]
        else:
            out[f.api_name] = str(v)
    if record.get("$se_module"):
        out["$se_module"] = str(record["$se_module"])
    return out


def typed_from_form(ctx: Any, fields: list[FieldView]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in [*fields, FieldView("Owner", "Owner", "ownerlookup")]:
        if f.type == "multiselectpicklist":
            out[f.api_name] = ctx.values(f.api_name)
        elif f.type == "boolean":
            out[f.api_name] = ctx.value(f.api_name) == "on"
        else:
            out[f.api_name] = ctx.value(f.api_name)
    out["$se_module"] = ctx.value("$se_module")
    return out


def row_from_typed(
    typed: dict[str, Any], fields: list[FieldView], tz: Any, *, creating: bool
) -> dict[str, Any]:
    """The CRM row for what was typed; empty inputs clear a field (or are left out on create)."""
    row: dict[str, Any] = {}
    for f in [*fields, FieldView("Owner", "Owner", "ownerlookup")]:
        raw = typed.get(f.api_name)
        if f.type == "boolean":
            row[f.api_name] = bool(raw)
            continue
        if f.type == "multiselectpicklist":
            row[f.api_name] = list(raw or []) or None
        elif isinstance(raw, str):
            text = raw if f.type in ("textarea",) else raw.strip()
            if text == "":
                row[f.api_name] = None
            elif f.type == "datetime":
                row[f.api_name] = _with_zone(text, tz)
            elif f.type == "ownerlookup":
                row[f.api_name] = {"id": text}
            else:
                row[f.api_name] = text
        else:
            row[f.api_name] = None
        if f.type == "parent" and row.get(f.api_name) is not None:
            row["$se_module"] = typed.get("$se_module") or None
    if creating:
        row = {k: v for k, v in row.items() if v is not None}
    elif row.get("Owner") is None:
        row.pop("Owner", None)  # the owner is never cleared from the form
    return row


def _with_zone(text: str, tz: Any) -> str:
    """``datetime-local`` text read in the org's zone, with its offset (what the CRM expects)."""
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return text  # the CRM answers with the field's error
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    return dt.isoformat(timespec="seconds")


# ---------------------------------------------------------------------------------- errors


@dataclass
class FormErrors:
    fields: dict[str, str]
    summary: list[str]

    def __bool__(self) -> bool:
        return bool(self.fields or self.summary)


def errors_from_row(row: dict[str, Any], fields: list[FieldView], mod: Any) -> FormErrors:
    """A CRM error row as a message under its field (when it names one) and in the summary."""
    details = row.get("details") or {}
    code = row.get("code")
    api_name = details.get("api_name")
    by_name = {f.api_name: f for f in [*fields, *system_views()]}
    f = by_name.get(api_name) if isinstance(api_name, str) else None
    label = f.label if f else api_name
    if api_name == "Modified_Time":
        return FormErrors(
            {},
            [
                "This record was changed by someone else since you opened it. "
                "Open it again to see the new values, then re-apply your changes."
            ],
        )
    if code == "MANDATORY_NOT_FOUND" and f is not None:
        message = f"{label} is required."
    elif code == "INVALID_DATA" and f is not None:
        expected = details.get("expected_data_type") or f.type
        message = f"{label}: enter {EXPECTED.get(expected, 'a valid value')}."
        if expected in ("text", "textarea") and f.max_length:
            message = f"{label}: at most {f.max_length} characters."
    elif code == "DUPLICATE_DATA" and f is not None:
        message = f"Another {singular(mod).lower()} already has this {label}."
    else:
        text = str(row.get("message") or "The record could not be saved.")
        return FormErrors({}, [text[:1].upper() + text[1:]])
    return FormErrors({f.api_name: message}, [message])


# ---------------------------------------------------------------------------------- criteria


def escape_value(text: str) -> str:
    """A criteria value with ``(``, ``)`` and ``,`` escaped (zoho-rest-compat.md §6.2)."""
    return re.sub(r"([(),])", r"\\\1", text)


def combined_criteria(criteria: str, name_field: str, q: str) -> str | None:
    parts = []
    if criteria.strip():
        parts.append(criteria.strip())
    if q.strip():
        parts.append(f"({name_field}:starts_with:{escape_value(q.strip())})")
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return f"({parts[0]}and{parts[1]})"
