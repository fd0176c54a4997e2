"""Merge fields: ``${Module.Field}`` templates of argument mappings and actions (functions-platform.md
§3, project-format.md "Merge fields").

A template is parsed once into constant text and merge-field parts. Rendering walks those parts and
substitutes each value exactly once; substituted text is never parsed again (security.md SB-5), so
a record value that itself contains ``${...}`` stays literal text.

Values follow §3: a template that is exactly one merge field yields the field's typed value (the
Deluge value the executor then converts to the argument's declared type); a template mixing text
and merge fields yields TEXT with each merge field replaced by its text form.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from floodway.crm.criteria import parse_datetime
from floodway.deluge.values import DateTime, DelugeList, text_form

from .cron import zone

SUBFIELDS: Final = ("id", "name", "email")
_NAME_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_EXPECTED: Final = (
    "expected ${Module.Field}, ${Module.Field.id|name|email}, ${org.time_zone} or ${selected_ids}"
)
# Field types of the system fields every module has (crm.metadata ``field_types``).
SYSTEM_FIELD_TYPES: Final = {
    "Owner": "ownerlookup",
    "Created_By": "ownerlookup",
    "Modified_By": "ownerlookup",
    "Created_Time": "datetime",
    "Modified_Time": "datetime",
    "id": "id",
}
_NUMBER_TYPES: Final = frozenset({"integer", "bigint"})
_DECIMAL_TYPES: Final = frozenset({"decimal", "currency", "percent", "double"})
_REFERENCE_TYPES: Final = frozenset({"lookup", "parent", "ownerlookup"})


class MergeFieldError(ValueError):
    """A template that does not parse; ``column`` is 1-based in the template text."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.column = column


@dataclass(frozen=True, slots=True)
class MergeField:
    """One ``${...}``: a record field (``kind="field"``), ``${org.time_zone}`` (``"org"``) or
    ``${selected_ids}`` (``"selected_ids"``)."""

    kind: str
    text: str  # as written, "${Deals.Account_Name.id}"
    column: int  # 1-based position of "$" in the template
    module: str | None = None
    field: str | None = None  # "id" for ${Module.id}
    sub: str | None = None  # id | name | email (lower case)


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template: ``parts`` alternate constant text and ``MergeField``s, in order."""

    text: str
    parts: tuple[str | MergeField, ...]

    @property
    def merge_fields(self) -> tuple[MergeField, ...]:
        return tuple(p for p in self.parts if isinstance(p, MergeField))

    @property
    def is_constant(self) -> bool:
        return not self.merge_fields

    @property
    def single(self) -> MergeField | None:
        """The merge field when the template is exactly one merge field (typed rendering)."""
        if len(self.parts) == 1 and isinstance(self.parts[0], MergeField):
            return self.parts[0]
        return None

    def is_json(self) -> bool:
        """Whether the template is a JSON document once merge fields are substituted (webhook
        bodies: then substituted values are JSON-escaped, see ``render_json``)."""
        pieces = []
        for part, in_string in _json_contexts(self):
            if isinstance(part, str):
                pieces.append(part)
            else:
                pieces.append("x" if in_string else "0")
        try:
            json.loads("".join(pieces))
        except ValueError:
            return False
        return True


def parse_template(text: str) -> Template:
    """Split ``text`` into constants and merge fields; ``MergeFieldError`` when a ``${`` is not a
    well-formed merge field. A ``$`` not followed by ``{`` is ordinary text."""
    parts: list[str | MergeField] = []
    pos = 0
    while True:
        start = text.find("${", pos)
        if start < 0:
            break
        end = text.find("}", start + 2)
        if end < 0:
            raise MergeFieldError(
                f'unclosed merge field "{text[start : start + 40]}" at column {start + 1}',
                start + 1,
            )
        if start > pos:
            parts.append(text[pos:start])
        parts.append(_merge_field(text[start : end + 1], start + 1))
        pos = end + 1
    if pos < len(text) or not parts:
        parts.append(text[pos:])
    return Template(text, tuple(parts))


def _merge_field(raw: str, column: int) -> MergeField:
    inner = raw[2:-1]
    where = f'"{raw}" at column {column}'
    if inner == "":
        raise MergeFieldError(f"empty merge field {where}; {_EXPECTED}", column)
    names = inner.split(".")
    if not all(_NAME_RE.fullmatch(n) for n in names):
        raise MergeFieldError(f"invalid merge field {where}; {_EXPECTED}", column)
    if len(names) == 1:
        if inner == "selected_ids":
            return MergeField("selected_ids", raw, column)
        raise MergeFieldError(
            f"merge field {where} names no module; {_EXPECTED}",
            column,
        )
    if names[0] == "org":
        if len(names) == 2 and names[1] == "time_zone":
            return MergeField("org", raw, column, field="time_zone")
        raise MergeFieldError(
            f"unknown org merge field {where}; only ${{org.time_zone}} is available", column
        )
    if len(names) > 3:
        raise MergeFieldError(f"invalid merge field {where}; {_EXPECTED}", column)
    sub = None
    if len(names) == 3:
        sub = names[2].lower()
        if sub not in SUBFIELDS:
            raise MergeFieldError(
                f'merge field {where}: unknown part "{names[2]}"; expected id, name or email',
                column,
            )
    return MergeField("field", raw, column, module=names[0], field=names[1], sub=sub)


# --------------------------------------------------------------------------------------------
# Rendering


@dataclass(frozen=True, slots=True)
class _Value:
    """A rendered merge field: the typed value and the field type it came from (if known)."""

    value: Any
    field_type: str | None


def render(
    template: Template | str,
    record: Mapping[str, Any],
    module: str,
    org: Mapping[str, Any],
    *,
    field_types: Mapping[str, str] | None = None,
    selected_ids: Sequence[str] | None = None,
    declared_type: str | None = None,
    escape: Callable[[str], str] | None = None,
) -> Any:
    """The value of ``template`` for ``record`` of ``module`` (REST shape: lookups
    ``{"name","id"}``, owner ``{"name","id","email"}``, dates ``yyyy-MM-dd`` text).

    ``org`` supplies ``time_zone`` (DATE-TIME values are in it; default UTC). ``field_types``
    (API name -> floodway type, e.g. from ``Metadata.field_types``) makes single merge fields typed
    per §3; without it values are typed by their JSON shape. ``declared_type`` is the argument's
    type: a multi-select picklist bound to a ``String`` argument becomes ``"A;B"``. ``escape``
    is applied to substituted text in mixed templates (never to the constant parts).
    ``ValueError`` when a merge field names another module (load_project rejects that earlier).
    """
    tpl = parse_template(template) if isinstance(template, str) else template
    tz_name = str(org.get("time_zone") or "UTC")
    single = tpl.single
    if single is not None and escape is None:
        got = _value(single, record, module, tz_name, field_types, selected_ids)
        if declared_type is not None and declared_type.lower() == "string":
            return None if got.value is None else _text(got)
        return got.value
    out: list[str] = []
    for part in tpl.parts:
        if isinstance(part, str):
            out.append(part)
            continue
        text = _text(_value(part, record, module, tz_name, field_types, selected_ids))
        out.append(escape(text) if escape is not None else text)
    return "".join(out)


def render_json(
    template: Template | str,
    record: Mapping[str, Any],
    module: str,
    org: Mapping[str, Any],
    *,
    field_types: Mapping[str, str] | None = None,
) -> str:
    """A JSON webhook body: merge fields inside a JSON string are substituted JSON-escaped, merge
    fields outside strings become JSON values (``null``, numbers, booleans, strings, lists)."""
    tpl = parse_template(template) if isinstance(template, str) else template
    tz_name = str(org.get("time_zone") or "UTC")
    out: list[str] = []
    for part, in_string in _json_contexts(tpl):
        if isinstance(part, str):
            out.append(part)
            continue
        got = _value(part, record, module, tz_name, field_types, None)
        if in_string:
            out.append(json.dumps(_text(got), ensure_ascii=False)[1:-1])
        else:
            out.append(json.dumps(_json_value(got), ensure_ascii=False))
    return "".join(out)


def _json_contexts(tpl: Template) -> list[tuple[str | MergeField, bool]]:
    """Each part with whether it sits inside a JSON string literal (scanning the constants)."""
    out: list[tuple[str | MergeField, bool]] = []
    in_string = False
    escaped = False
    for part in tpl.parts:
        if isinstance(part, MergeField):
            out.append((part, in_string))
            escaped = False
            continue
        out.append((part, in_string))
        for ch in part:
            if escaped:
                escaped = False
            elif ch == "\\" and in_string:
                escaped = True
            elif ch == '"':
                in_string = not in_string
    return out


def _value(
    mf: MergeField,
    record: Mapping[str, Any],
    module: str,
    tz_name: str,
    field_types: Mapping[str, str] | None,
    selected_ids: Sequence[str] | None,
) -> _Value:
    if mf.kind == "org":
        return _Value(tz_name, "text")
    if mf.kind == "selected_ids":
        return _Value(",".join(str(i) for i in selected_ids or ()), "text")
    assert mf.module is not None and mf.field is not None
    if mf.module.lower() != module.lower():
        raise ValueError(f"merge field {mf.text} does not belong to module {module}")
    if mf.field.lower() == "id" and mf.sub is None:
        rid = _get(record, "id")
        return _Value(None if _empty(rid) else str(rid), "text")
    raw = _get(record, mf.field)
    ftype = _type_of(mf.field, field_types)
    if mf.sub is not None:
        part = raw.get(mf.sub) if isinstance(raw, Mapping) else (raw if mf.sub == "id" else None)
        return _Value(None if _empty(part) else str(part), "text")
    if _empty(raw):
        return _Value(None, ftype)
    return _Value(_typed(raw, ftype, tz_name), ftype)


def _get(record: Mapping[str, Any], name: str) -> Any:
    if name in record:
        return record[name]
    low = name.lower()
    for key, value in record.items():
        if isinstance(key, str) and key.lower() == low:
            return value
    return None


def _type_of(name: str, field_types: Mapping[str, str] | None) -> str | None:
    types = dict(SYSTEM_FIELD_TYPES)
    if field_types:
        types.update(field_types)
    found = types.get(name)
    if found is None:
        low = name.lower()
        found = next((t for k, t in types.items() if k.lower() == low), None)
    return found.lower() if found else None


def _empty(v: Any) -> bool:
    return v is None or (isinstance(v, str) and v == "") or (isinstance(v, list) and not v)


def _typed(raw: Any, ftype: str | None, tz_name: str) -> Any:
    """§3 "Field values by type": the Deluge value of a non-empty REST-shape field value."""
    if ftype in _REFERENCE_TYPES or isinstance(raw, Mapping):
        rid = raw.get("id") if isinstance(raw, Mapping) else raw
        return None if _empty(rid) else str(rid)
    if ftype == "multiselectpicklist" or isinstance(raw, list):
        items = raw.split(";") if isinstance(raw, str) else raw
        return DelugeList(str(x) for x in items)
    if ftype == "boolean":
        if isinstance(raw, str):
            return raw.lower() == "true"
        return bool(raw)
    if ftype in _NUMBER_TYPES:
        try:
            return int(raw)
        except (TypeError, ValueError):
            return str(raw)
    if ftype in _DECIMAL_TYPES:
        try:
            return float(raw)
        except (TypeError, ValueError):
            return str(raw)
    if ftype in ("date", "datetime") and isinstance(raw, str | _dt.date):
        return _datetime(raw, ftype == "date", tz_name)
    if ftype is None:
        return raw if isinstance(raw, bool | int | float | str) else text_form(raw)
    return raw if isinstance(raw, str) else text_form(raw)


def _datetime(raw: str | _dt.date, date_only: bool, tz_name: str) -> Any:
    tz = zone(tz_name)
    if isinstance(raw, _dt.datetime):
        when: _dt.datetime | None = raw if raw.tzinfo else raw.replace(tzinfo=tz)
    elif isinstance(raw, _dt.date):
        when = _dt.datetime(raw.year, raw.month, raw.day, tzinfo=tz)
    else:
        when = parse_datetime(raw[:10] if date_only else raw, tz)
    if when is None:
        return raw  # not a date after all: passed on as TEXT, the argument conversion decides
    if date_only:
        return DateTime(_dt.datetime(when.year, when.month, when.day, tzinfo=tz), date_only=True)
    return DateTime(when.astimezone(tz))


def _text(got: _Value) -> str:
    """Text form of a rendered value; a multi-select picklist reads ``A;B`` (§3)."""
    v = got.value
    if v is None:
        return ""
    if isinstance(v, DelugeList) and got.field_type in (None, "multiselectpicklist"):
        return ";".join(text_form(x) for x in v)
    return text_form(v)


def _json_value(got: _Value) -> Any:
    v = got.value
    if v is None or isinstance(v, bool | int | float | str):
        return v
    if isinstance(v, DelugeList):
        return [text_form(x) for x in v]
    return text_form(v)
