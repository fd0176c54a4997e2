"""The settings tables of ``floodway.toml``: ``[org]``, ``[[module]]``, ``[[field]]``,
``[[variable]]``, ``[[function]]`` and ``[[connection]]`` (project-format.md).

Trigger tables (workflow rules, buttons, related lists, validations, schedules) are in
``triggers.py``; both write into one ``Context`` so that all problems end up in one list.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

from floodway.crm.standard import MANIFEST_FIELD_TYPES

from .catalog import Catalog
from .cron import zone
from .model import (
    Connection,
    Field,
    FunctionFile,
    FunctionRef,
    FunctionSetting,
    Module,
    Org,
    Variable,
)
from .problems import Loc, Problem
from .reader import TableReader, type_name, unknown_hint

TOP_LEVEL: Final = {
    "org": "table",
    "module": "array",
    "field": "array",
    "variable": "array",
    "function": "array",
    "connection": "array",
    "workflow": "array",
    "button": "array",
    "related_list": "array",
    "validation": "array",
    "schedule": "array",
}
FIELD_TYPES: Final = MANIFEST_FIELD_TYPES
_LENGTH_TYPES: Final = frozenset(FIELD_TYPES) - {"date", "datetime", "boolean", "lookup"}
_RESERVED_FIELDS: Final = frozenset(
    {"id", "owner", "created_by", "modified_by", "created_time", "modified_time", "tag"}
)
CONNECTION_TYPES: Final = (
    "oauth2_authorization_code",
    "oauth2_client_credentials",
    "api_key",
    "basic",
)
_CONNECTION_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "oauth2_authorization_code": (
        "authorize_url",
        "token_url",
        "client_id_env",
        "client_secret_env",
        "scope",
    ),
    "oauth2_client_credentials": ("token_url", "client_id_env", "client_secret_env", "scope"),
    "api_key": ("header", "query", "key_env"),
    "basic": ("user_env", "password_env"),
}
_CONNECTION_REQUIRED: Final[dict[str, tuple[str, ...]]] = {
    "oauth2_authorization_code": (
        "authorize_url",
        "token_url",
        "client_id_env",
        "client_secret_env",
    ),
    "oauth2_client_credentials": ("token_url", "client_id_env", "client_secret_env"),
    "api_key": ("key_env", "hosts"),
    "basic": ("user_env", "password_env", "hosts"),
}
_HOST_RE: Final = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
    r"[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?"
)
_HEADER_RE: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_CURRENCY_RE: Final = re.compile(r"[A-Z]{3}")
# The names functions.connections accepts (Deluge refers to them as text: connection: "billing-eu").
_CONNECTION_NAME_RE: Final = re.compile(r"[A-Za-z0-9_.-]{1,100}")

T = TypeVar("T")


@dataclass(slots=True)
class Context:
    """State shared by every table reader of one ``load_project`` run."""

    catalog: Catalog
    functions: dict[str, FunctionFile]  # lower api name -> file
    problems: list[Problem] = field(default_factory=list)
    external: list[FunctionRef] = field(default_factory=list)
    org: Org = field(default_factory=Org)
    broken: set[str] = field(default_factory=set)  # lower stems of function files that failed

    def problem(self, loc: Loc, message: str, key: str | None = None) -> None:
        self.problems.append(Problem.at(loc, message, key))


def entries(
    data: Mapping[str, Any], table: str, ctx: Context
) -> list[tuple[Mapping[str, Any], Loc]]:
    """The tables of ``[[table]]`` with their locations (named after their name/api_name)."""
    raw = data.get(table)
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(t, Mapping) for t in raw):
        ctx.problem(Loc(), f"must be an array of tables ([[{table}]]), not {type_name(raw)}", table)
        return []
    out = []
    for i, item in enumerate(raw, start=1):
        name = item.get("name", item.get("api_name"))
        out.append((item, Loc(table=table, index=i, name=name if isinstance(name, str) else None)))
    return out


def check_top_level(data: Mapping[str, Any], ctx: Context) -> None:
    for key in data:
        if key not in TOP_LEVEL:
            ctx.problem(Loc(), f'unknown table "{key}"{unknown_hint(key, TOP_LEVEL)}', key)


def unique(
    items: list[tuple[T, Loc]],
    key: Callable[[T], str | None],
    what: Callable[[T], str],
    ctx: Context,
    key_name: str,
) -> list[T]:
    """Drop (and report) entries whose key repeats an earlier one (case-insensitive): deploy
    matches manifest entries with what the org has by that key."""
    seen: dict[str, Loc] = {}
    out = []
    for item, loc in items:
        k = key(item)
        if k is None:
            out.append(item)
            continue
        first = seen.get(k.lower())
        if first is not None:
            ctx.problem(
                loc, f"duplicate {what(item)} (also [[{loc.table}]] #{first.index})", key_name
            )
            continue
        seen[k.lower()] = loc
        out.append(item)
    return out


def read_org(data: Mapping[str, Any], ctx: Context) -> Org:
    raw = data.get("org")
    if raw is None:
        return Org()
    loc = Loc(table="org")
    if not isinstance(raw, Mapping):
        ctx.problem(Loc(), f"must be a table ([org]), not {type_name(raw)}", "org")
        return Org()
    r = TableReader(raw, loc, ctx.problems, ("time_zone", "currency"))
    r.check_keys()
    tz = r.text("time_zone")
    if tz is not None:
        try:
            zone(tz)
        except ValueError as exc:
            r.problem("time_zone", str(exc))
            tz = None
    currency = r.text("currency")
    if currency is not None and not _CURRENCY_RE.fullmatch(currency):
        r.problem(
            "currency", f'invalid currency "{currency}"; expected an ISO 4217 code such as "EUR"'
        )
        currency = None
    return Org(tz, currency)


def read_modules(data: Mapping[str, Any], ctx: Context) -> list[Module]:
    found: list[tuple[Module, Loc]] = []
    for raw, loc in entries(data, "module", ctx):
        r = TableReader(raw, loc, ctx.problems, ("api_name", "singular", "plural"))
        r.check_keys()
        name = r.api_name("api_name", what="module API name")
        singular, plural = r.text("singular"), r.text("plural")
        if name is None:
            continue
        if ctx.catalog.is_standard(name) or name.lower() == "potentials":
            r.problem(
                "api_name", f'"{name}" is a standard module; [[module]] defines custom modules'
            )
            continue
        found.append((Module(name, singular, plural), loc))
    modules = unique(
        found, lambda m: m.api_name, lambda m: f'module "{m.api_name}"', ctx, "api_name"
    )
    for m in modules:
        ctx.catalog.add_module(m.api_name)
    return modules


def read_fields(data: Mapping[str, Any], ctx: Context) -> list[Field]:
    allowed = (
        "module",
        "api_name",
        "type",
        "label",
        "values",
        "lookup_module",
        "unique",
        "required",
        "length",
    )
    found: list[tuple[Field, Loc]] = []
    for raw, loc in entries(data, "field", ctx):
        r = TableReader(raw, loc, ctx.problems, allowed)
        r.check_keys()
        module = module_name(r, ctx)
        name = r.api_name("api_name", what="field API name")
        ftype = r.text("type", required=True, choices=FIELD_TYPES)
        label = r.text("label")
        values = r.text_list("values")
        lookup_module = module_name(r, ctx, "lookup_module", required=False)
        is_unique, required = r.boolean("unique"), r.boolean("required")
        length = r.integer("length", minimum=1, maximum=32_000)
        ok = None not in (module, name, ftype) and not (
            r.has("lookup_module") and not lookup_module
        )
        if name is not None and name.lower() in _RESERVED_FIELDS:
            r.problem("api_name", f'"{name}" is a system field name')
            ok = False
        elif module is not None and name is not None:
            if ctx.catalog.standard_field(module, name):
                r.problem(
                    "api_name",
                    f'"{name}" is a standard field of {module}; [[field]] defines custom fields',
                )
                ok = False
            elif name.lower() == "name" and not ctx.catalog.is_standard(module):
                r.problem("api_name", f'"{name}" is the name field every custom module has')
                ok = False
        if ftype is not None:
            picklist = ftype in ("picklist", "multiselectpicklist")
            if picklist and values is None and not r.has("values"):
                r.problem("values", f'missing required key "values" (type {ftype})')
                ok = False
            elif not picklist and r.has("values"):
                r.problem(
                    "values",
                    f'"values" only applies to picklist and multiselectpicklist, not {ftype}',
                )
                ok = False
            elif values is not None and len({v.lower() for v in values}) != len(values):
                r.problem("values", "contains the same value twice")
                ok = False
            if ftype == "lookup" and not r.has("lookup_module"):
                r.problem("lookup_module", 'missing required key "lookup_module" (type lookup)')
                ok = False
            elif ftype != "lookup" and r.has("lookup_module"):
                r.problem(
                    "lookup_module", f'"lookup_module" only applies to lookup fields, not {ftype}'
                )
                ok = False
            if length is not None and ftype not in _LENGTH_TYPES:
                r.problem("length", f'"length" does not apply to {ftype} fields')
                ok = False
        if not ok:
            continue
        assert module is not None and name is not None and ftype is not None
        found.append(
            (
                Field(
                    module,
                    name,
                    ftype,
                    label,
                    values or (),
                    lookup_module,
                    bool(is_unique),
                    bool(required),
                    length,
                ),
                loc,
            )
        )
    fields = unique(
        found,
        lambda f: f"{f.module}.{f.api_name}",
        lambda f: f'field "{f.api_name}" on {f.module}',
        ctx,
        "api_name",
    )
    for f in fields:
        ctx.catalog.add_field(f.module, f.api_name, f.type)
    return fields


def module_name(
    r: TableReader, ctx: Context, key: str = "module", *, required: bool = True
) -> str | None:
    """The module ``key`` names, in the catalog's spelling when known (``deals`` -> ``Deals``);
    ``None`` after reporting a bad name, or an unknown module when the catalog is complete."""
    name = r.api_name(key, required=required, what="module API name")
    if name is None:
        return None
    info = ctx.catalog.module(name)
    if info is not None:
        return info.api_name
    if not ctx.catalog.complete:
        return name
    names = [m.api_name for m in ctx.catalog.modules.values()]
    r.problem(key, f'unknown module "{name}"{unknown_hint(name, names)}')
    return None


def read_variables(data: Mapping[str, Any], ctx: Context) -> list[Variable]:
    found: list[tuple[Variable, Loc]] = []
    for raw, loc in entries(data, "variable", ctx):
        r = TableReader(raw, loc, ctx.problems, ("api_name", "value"))
        r.check_keys()
        name = r.api_name("api_name", what="variable API name")
        if not r.has("value"):
            r.problem("value", 'missing required key "value"')
            continue
        value = raw["value"]
        if not isinstance(value, str | int | float | bool):
            r.problem("value", f"must be text, a number or a boolean, not {type_name(value)}")
            continue
        if name is not None:
            found.append((Variable(name, value), loc))
    return unique(
        found, lambda v: v.api_name, lambda v: f'variable "{v.api_name}"', ctx, "api_name"
    )


def read_function_settings(data: Mapping[str, Any], ctx: Context) -> list[FunctionSetting]:
    allowed = ("api_name", "rest", "timeout_s", "display_name", "description")
    found: list[tuple[FunctionSetting, Loc]] = []
    for raw, loc in entries(data, "function", ctx):
        r = TableReader(raw, loc, ctx.problems, allowed)
        r.check_keys()
        name = r.api_name("api_name", what="function API name")
        rest, timeout = r.boolean("rest"), r.positive_number("timeout_s")
        display, description = r.text("display_name"), r.text("description", nonempty=False)
        if name is None:
            continue
        fn = ctx.functions.get(name.lower())
        if fn is not None:
            name = fn.api_name
        elif name.lower() not in ctx.broken:
            ctx.external.append(FunctionRef(name, "", loc=loc, key="api_name"))
        found.append((FunctionSetting(name, rest, timeout, display, description), loc))
    return unique(
        found, lambda f: f.api_name, lambda f: f'[[function]] "{f.api_name}"', ctx, "api_name"
    )


def _url(r: TableReader, key: str) -> str | None:
    value = r.text(key)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        r.problem(key, f'must be an http or https URL with a host, not "{value}"')
        return None
    if parts.username is not None or parts.password is not None:
        r.problem(key, "must not contain a user name or password (use the *_env keys)")
        return None
    return value


def _hosts(r: TableReader) -> tuple[str, ...] | None:
    hosts = r.text_list("hosts")
    if hosts is None:
        return None
    for h in hosts:
        if "://" in h or "/" in h:
            r.problem("hosts", f'entry "{h}" must be a host name, not a URL')
            return None
        if not _HOST_RE.fullmatch(h):
            r.problem("hosts", f'entry "{h}" is not a host name')
            return None
    return tuple(h.lower() for h in hosts)


def read_connections(data: Mapping[str, Any], ctx: Context) -> list[Connection]:
    all_keys = {k for keys in _CONNECTION_KEYS.values() for k in keys}
    found: list[tuple[Connection, Loc]] = []
    for raw, loc in entries(data, "connection", ctx):
        r = TableReader(raw, loc, ctx.problems, ("name", "type", "hosts", *sorted(all_keys)))
        r.check_keys()
        name = r.text("name", required=True)
        if name is not None and not _CONNECTION_NAME_RE.fullmatch(name):
            r.problem(
                "name",
                f'invalid connection name "{name}": use letters, digits, _, . or - '
                "(at most 100 characters)",
            )
            name = None
        ctype = r.text("type", required=True, choices=CONNECTION_TYPES)
        if ctype is None:
            continue
        ok = name is not None
        own = _CONNECTION_KEYS[ctype]
        for k in raw:
            if k in all_keys and k not in own:
                r.problem(k, f'"{k}" does not apply to type {ctype}')
                ok = False
        for k in _CONNECTION_REQUIRED[ctype]:
            if k not in raw:
                r.problem(k, f'missing required key "{k}" (type {ctype})')
                ok = False
        values: dict[str, Any] = {}
        for k in own:
            if k.endswith("_env"):
                values[k] = r.env_name(k)
            elif k.endswith("_url"):
                values[k] = _url(r, k)
            elif k == "header":
                values[k] = r.text(k)
                if values[k] is not None and not _HEADER_RE.fullmatch(values[k]):
                    r.problem(k, f'invalid header name "{values[k]}"')
                    values[k] = None
            else:
                values[k] = r.text(k)
            if k in raw and values[k] is None:
                ok = False
        if ctype == "api_key" and ("header" in raw) == ("query" in raw):
            r.problem(None, 'an api_key connection needs exactly one of "header" or "query"')
            ok = False
        hosts = _hosts(r)
        if "hosts" in raw and hosts is None:
            ok = False
        if hosts is None and values.get("token_url"):
            hostname = urlsplit(values["token_url"]).hostname
            hosts = (hostname,) if hostname else ()
        if not ok:
            continue
        assert name is not None
        found.append((Connection(name, ctype, hosts or (), **values), loc))
    return unique(found, lambda c: c.name, lambda c: f'connection "{c.name}"', ctx, "name")
