"""``floodway deploy`` and ``floodway pull``: a project directory applied to an org, and the
org's live functions written back (project-format.md, docs/project-format-notes.md).

Deploy runs in two phases so that nothing is half-applied:

1. **Plan** (reads only). The org's schema and function signatures are read and the directory
   is loaded with them (``load_project``: every manifest and function-file problem at once).
   Then every table is compared with the org and everything that could still refuse the apply
   is checked up front: a field whose type would change, ``unique`` on a field whose records
   already repeat a value, a missing or empty environment variable of a ``[[connection]]``, a
   connection the credentials layer would refuse, a function the registry would not accept,
   connection secrets without a secrets key. Any problem ends the deploy here, before a single
   write, with one ``ProjectError`` listing all of them.
2. **Apply** what the plan found changed, in this order: org settings and metadata (one
   transaction for the updates this module writes itself; ``add_module`` / ``add_field`` commit
   one each), org variables, connections, functions and their settings (one registry
   transaction per function), then the trigger tables (one transaction through the automation
   rule store, after the functions they name are live). The services do not accept an outer
   transaction, so a failure the plan could not foresee (the database going away) leaves a
   prefix applied; deploying the same directory again finishes the job, because the plan only
   ever applies differences.

Deploying the same directory twice changes nothing the second time: every kind is compared by
value (function sources byte for byte, connection secrets after decryption, in memory only).
Secrets are read from the environment at deploy time, handed to the connection store to be
encrypted and never appear in a report, a problem message or a log line (SEC-8); problems name
the environment variable, never its value.

The trigger tables (workflow rules, buttons, related lists, validation rules, schedules) are
validated with everything else and then made equal to the manifest by the automation rule store
(``AutomationStore.apply``): entries are matched by (kind, module, name), changed ones updated,
and rules the manifest no longer has are deleted (reported as ``deleted``); an entry's enabled
state (switched in the console) is kept. ``pull`` writes them back into ``floodway.toml``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa

from floodway.crm import schema as crm_tables
from floodway.crm.standard import FieldDef, ModuleDef
from floodway.db import read_transaction, write_transaction
from floodway.functions.connections import (
    OAUTH2_TYPES,
    ConnectionConfigError,
    ConnectionSpec,
)
from floodway.project import (
    Connection,
    Field,
    FunctionFile,
    FunctionSetting,
    FunctionSignature,
    Module,
    Problem,
    Project,
    ProjectError,
    WriteReport,
    load_project,
    plan_functions,
    write_functions,
)
from floodway.project.problems import MANIFEST, Loc
from floodway.project.toml_writer import ManifestWrite, write_trigger_tables

__all__ = [
    "AUTHOR",
    "KINDS",
    "TRIGGER_KINDS",
    "DeployReport",
    "KindReport",
    "PullReport",
    "deploy",
    "format_problem",
    "plan",
    "pull",
]

AUTHOR: Final = "deploy"
KINDS: Final = (
    "org",
    "module",
    "field",
    "variable",
    "connection",
    "function",
    "function_settings",
)
TRIGGER_KINDS: Final = ("workflow", "button", "related_list", "validation", "schedule")
_ACTIONS: Final = ("created", "updated", "deleted", "unchanged")
# The function category each trigger table attaches (functions-platform.md §2).
_TRIGGER_CATEGORIES: Final = frozenset(
    {"automation", "button", "related_list", "validation", "schedule"}
)
_MAX_TIMEOUT_S: Final = 86_400.0  # the registry's upper bound for timeout_s
_MAX_DISPLAY_NAME: Final = 200
_MAX_DESCRIPTION: Final = 10_000
_MAX_FUNCTION_NAME: Final = 100

_FIELDS = crm_tables.fields
_MODULES = crm_tables.modules
_RECORDS = crm_tables.records
_ORGS = crm_tables.orgs


# ---------------------------------------------------------------------------------------------
# Reports


@dataclass(slots=True)
class KindReport:
    """Names per outcome for one kind (``Accounts.Total_Revenue``, ``time_zone``,
    ``Deals/Roll up revenue``, ...). Only trigger tables are ever ``deleted``."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, list[str]]:
        return {
            "created": list(self.created),
            "updated": list(self.updated),
            "deleted": list(self.deleted),
            "unchanged": list(self.unchanged),
        }


@dataclass(slots=True)
class DeployReport:
    """What a deploy changed (or, with ``dry_run``, would change).

    ``details`` names the attributes an update changes (``{"field": {"Accounts.Tier":
    ["label", "values"]}}``); ``versions`` the live version number of every function created or
    updated; trigger entries are named ``Module/Name`` (schedules: ``Name``); ``notes`` things
    the user should know (a connection that still needs authorising)."""

    project: str
    dry_run: bool = False
    kinds: dict[str, KindReport] = field(
        default_factory=lambda: {k: KindReport() for k in (*KINDS, *TRIGGER_KINDS)}
    )
    details: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, kind: str, action: str, name: str, changed: Iterable[str] = ()) -> None:
        getattr(self.kinds[kind], action).append(name)
        attrs = list(changed)
        if attrs:
            self.details.setdefault(kind, {})[name] = attrs

    @property
    def changed(self) -> bool:
        return any(k.created or k.updated or k.deleted for k in self.kinds.values())

    def set_triggers(self, result: Mapping[str, Any]) -> None:
        """The trigger kinds from ``AutomationStore.apply``'s result."""
        for kind in TRIGGER_KINDS:
            self.kinds[kind] = KindReport()
        for action in _ACTIONS:
            for entry in result.get(action, ()):
                getattr(self.kinds[entry["kind"]], action).append(_trigger_name(entry))

    def counts(self) -> dict[str, int]:
        return {a: sum(len(getattr(k, a)) for k in self.kinds.values()) for a in _ACTIONS}

    def to_json(self) -> dict[str, Any]:
        return {
            "status": "success",
            "project": self.project,
            "dry_run": self.dry_run,
            "changed": self.changed,
            "summary": self.counts(),
            "kinds": {k: r.to_json() for k, r in self.kinds.items()},
            "details": {k: dict(v) for k, v in self.details.items()},
            "versions": dict(self.versions),
            "notes": list(self.notes),
        }

    def text(self) -> list[str]:
        """Plain lines for the terminal: one per kind and outcome that has entries."""
        verb = (
            {"created": "create", "updated": "update", "deleted": "delete"}
            if self.dry_run
            else None
        )
        lines = []
        for kind, rep in self.kinds.items():
            for action in ("created", "updated", "deleted"):
                names = getattr(rep, action)
                if not names:
                    continue
                shown = [self._shown(kind, n) for n in names]
                label = f"would {verb[action]}" if verb else action
                lines.append(f"  {kind:<18} {label}: {', '.join(shown)}")
        lines.extend(f"  note: {n}" for n in self.notes)
        c = self.counts()
        if self.dry_run:
            deleting = f"{c['deleted']} to delete, " if c["deleted"] else ""
            summary = (
                f"dry run: {c['created']} to create, {c['updated']} to update, {deleting}"
                f"{c['unchanged']} unchanged; nothing was written"
            )
        elif not self.changed:
            summary = f"no changes ({c['unchanged']} unchanged)"
        else:
            deleted = f"{c['deleted']} deleted, " if c["deleted"] else ""
            summary = (
                f"{c['created']} created, {c['updated']} updated, {deleted}"
                f"{c['unchanged']} unchanged"
            )
        return [*lines, summary]

    def _shown(self, kind: str, name: str) -> str:
        extra = []
        if kind == "function" and name in self.versions:
            extra.append(f"v{self.versions[name]}")
        attrs = self.details.get(kind, {}).get(name)
        if attrs:
            extra.append(", ".join(attrs))
        return f"{name} ({'; '.join(extra)})" if extra else name


@dataclass(slots=True)
class PullReport:
    """``floodway pull``: ``write_functions``' report plus the live versions written, and
    what ``write_trigger_tables`` did to ``floodway.toml``."""

    project: str
    written: WriteReport
    versions: dict[str, int]
    manifest: ManifestWrite | None = None

    @property
    def changed(self) -> bool:
        return self.written.changed or bool(self.manifest and self.manifest.changed)

    def to_json(self) -> dict[str, Any]:
        w = self.written
        m = self.manifest
        return {
            "status": "success",
            "project": self.project,
            "changed": self.changed,
            "created": list(w.created),
            "updated": list(w.updated),
            "unchanged": list(w.unchanged),
            "kept": list(w.kept),
            "versions": dict(self.versions),
            "manifest": {
                "changed": bool(m and m.changed),
                "tables": dict(m.counts) if m else {},
            },
        }

    def text(self) -> list[str]:
        w = self.written
        lines = []
        for label, names in (("created", w.created), ("updated", w.updated)):
            if names:
                shown = ", ".join(f"functions/{n}.dg (v{self.versions[n]})" for n in names)
                lines.append(f"  {label}: {shown}")
        if w.kept:
            lines.append(
                f"  kept (not live in the org): {', '.join('functions/' + n for n in w.kept)}"
            )
        m = self.manifest
        if m is not None and m.changed:
            counts = ", ".join(f"{n} {kind}" for kind, n in m.counts.items()) or "none left"
            lines.append(f"  updated: {MANIFEST} trigger tables ({counts})")
        if self.changed and not w.changed:
            lines.append(
                f"{MANIFEST} updated; functions: no changes ({len(w.unchanged)} unchanged)"
            )
        elif w.changed:
            lines.append(
                f"{len(w.created)} created, {len(w.updated)} updated, {len(w.unchanged)} unchanged"
            )
        else:
            lines.append(f"no changes ({len(w.unchanged)} unchanged)")
        return lines


def format_problem(problem: Problem, project_dir: Path | str | None = None) -> str:
    """``PATH:LINE:COL: where: message`` with PATH inside ``project_dir`` (as the user gave it),
    so that editors and terminals can jump to it."""
    text = str(problem)
    if project_dir is None:
        return text
    return f"{Path(project_dir) / problem.file}{text[len(problem.file) :]}"


def problem_json(problem: Problem, project_dir: Path | str | None = None) -> dict[str, Any]:
    return {
        "file": problem.file,
        "line": problem.line,
        "column": problem.column,
        "table": problem.table,
        "index": problem.index,
        "name": problem.name,
        "key": problem.key,
        "message": problem.message,
        "text": format_problem(problem, project_dir),
    }


# ---------------------------------------------------------------------------------------------
# The plan


@dataclass(slots=True)
class _Plan:
    report: DeployReport
    project: Project
    problems: list[Problem] = field(default_factory=list)
    org_values: dict[str, str] = field(default_factory=dict)
    new_modules: list[Module] = field(default_factory=list)
    module_labels: list[tuple[ModuleDef, Module]] = field(default_factory=list)
    new_fields: list[Field] = field(default_factory=list)
    field_updates: list[tuple[ModuleDef, FieldDef, Field, list[str]]] = field(default_factory=list)
    variables: list[tuple[str, str]] = field(default_factory=list)
    connections: list[ConnectionSpec] = field(default_factory=list)
    # (file, registry fields, whether the function exists in the org)
    functions: list[tuple[FunctionFile, dict[str, Any], bool]] = field(default_factory=list)
    settings: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def problem(self, loc: Loc, message: str, key: str | None = None) -> None:
        self.problems.append(Problem.at(loc, message, key))


def _loc(table: str, index: int, name: str | None) -> Loc:
    # The loader keeps the entries of a valid manifest in file order, so list position + 1 is
    # the entry's index in floodway.toml.
    return Loc(MANIFEST, table, index, name)


def _org_schema(crm: Any) -> dict[str, dict[str, str]]:
    return {m.api_name: crm.metadata.field_types(m) for m in crm.metadata.modules()}


def _org_signatures(functions: Iterable[Any]) -> dict[str, FunctionSignature]:
    return {
        f.api_name: FunctionSignature(f.category, tuple((n, t or "") for n, t in f.arguments))
        for f in functions
    }


def plan(
    crm: Any,
    fx: Any,
    project_dir: Path | str,
    *,
    env: Mapping[str, str] | None = None,
    store: Any = None,
) -> _Plan:
    """Load ``project_dir`` against the org and compare it with what the org has; raises
    ``ProjectError`` with every problem found. Reads only. ``store``: the org's automation
    rule store (``AutomationStore``; one is made when omitted)."""
    env = os.environ if env is None else env
    org_functions = fx.registry.list()
    project = load_project(
        project_dir, schema=_org_schema(crm), org_functions=_org_signatures(org_functions)
    )
    p = _Plan(DeployReport(str(project_dir)), project)
    _plan_org(crm, p)
    _plan_modules(crm, p)
    _plan_fields(crm, p)
    _plan_variables(fx, p)
    _plan_connections(fx, p, env)
    _plan_functions(fx, p, {f.api_name.lower(): f for f in org_functions})
    _plan_triggers(p, {f.api_name.lower(): f for f in org_functions})
    if p.problems:
        raise ProjectError(p.problems)
    p.report.set_triggers(_store(crm, fx, store).apply(project, dry_run=True))
    return p


def _store(crm: Any, fx: Any, store: Any) -> Any:
    if store is not None:
        return store
    from floodway.automation.store import AutomationStore

    return AutomationStore(crm, fx)


def _trigger_name(entry: Mapping[str, Any]) -> str:
    module = entry.get("module")
    return f"{module}/{entry['name']}" if module else str(entry["name"])


def _plan_triggers(p: _Plan, org: Mapping[str, Any]) -> None:
    """A trigger may name a function of the org that is not in ``functions/`` only when it has
    a published version: automation runs live versions, never drafts."""
    for ref in p.project.external_functions:
        if ref.category not in _TRIGGER_CATEGORIES:
            continue
        info = org.get(ref.api_name.lower())
        if info is not None and info.live_version is None:
            p.problems.append(
                Problem.at(
                    ref.loc,
                    f'function "{info.api_name}" has no published version in the org; '
                    "publish it or add it to functions/",
                    ref.key,
                )
            )


def _plan_org(crm: Any, p: _Plan) -> None:
    with read_transaction(crm.engine) as conn:
        row = conn.execute(
            sa.select(_ORGS.c.time_zone, _ORGS.c.currency).where(_ORGS.c.id == crm.org_id)
        ).one()
    current = {"time_zone": row.time_zone, "currency": row.currency}
    for key in ("time_zone", "currency"):
        wanted = getattr(p.project.org, key)
        if wanted is None:
            continue
        if wanted == current[key]:
            p.report.add("org", "unchanged", key)
        else:
            p.report.add("org", "updated", key, [f"{current[key]} -> {wanted}"])
            p.org_values[key] = wanted


def _plan_modules(crm: Any, p: _Plan) -> None:
    for i, m in enumerate(p.project.modules, start=1):
        have = crm.metadata.find(m.api_name)
        if have is None:
            p.new_modules.append(m)
            p.report.add("module", "created", m.api_name)
            continue
        if not have.custom:  # the loader refuses standard names; a seeded module all the same
            p.problem(
                _loc("module", i, m.api_name),
                f'"{have.api_name}" is a standard module; [[module]] defines custom modules',
                "api_name",
            )
            continue
        changed = []
        if m.singular is not None and m.singular != have.singular_label:
            changed.append("singular")
        if m.plural is not None and m.plural != have.plural_label:
            changed.append("plural")
        if changed:
            p.module_labels.append((have, m))
            p.report.add("module", "updated", have.api_name, changed)
        else:
            p.report.add("module", "unchanged", have.api_name)


def _plan_fields(crm: Any, p: _Plan) -> None:
    for i, f in enumerate(p.project.fields, start=1):
        loc = _loc("field", i, f.api_name)
        mod = crm.metadata.find(f.module)
        have = mod.field(f.api_name) if mod is not None else None
        if mod is None or have is None:
            p.new_fields.append(f)
            p.report.add("field", "created", f"{f.module}.{f.api_name}")
            continue
        name = f"{mod.api_name}.{have.api_name}"
        if not have.custom:
            p.problem(loc, f'"{have.api_name}" is a standard field of {mod.api_name}', "api_name")
            continue
        if have.type != f.type:
            p.problem(
                loc,
                f"{name} is a {have.type} field in the org; its type cannot change to {f.type} "
                "(existing values would not fit): add a new field instead",
                "type",
            )
            continue
        if f.type == "lookup":
            target = have.targets[0] if have.targets else None
            if (
                f.lookup_module is None
                or target is None
                or target.lower() != f.lookup_module.lower()
            ):
                p.problem(
                    loc,
                    f"{name} looks up {target} in the org; it cannot change to {f.lookup_module} "
                    "(existing values hold ids of the other module): add a new field instead",
                    "lookup_module",
                )
                continue
        changed = []
        if f.label is not None and f.label != have.display_label:
            changed.append("label")
        if tuple(f.values) != tuple(have.pick_list_values) and f.type in (
            "picklist",
            "multiselectpicklist",
        ):
            changed.append("values")
        if f.length is not None and f.length != have.length:
            changed.append("length")
        if f.required != have.mandatory:
            changed.append("required")
        if f.unique != have.unique:
            changed.append("unique")
            if f.unique:
                dupe = _repeated_value(crm, mod, have.api_name)
                if dupe is not None:
                    p.problem(
                        loc,
                        f'{name} cannot become unique: records already share the value "{dupe}"',
                        "unique",
                    )
                    continue
        if changed:
            p.field_updates.append((mod, have, f, changed))
            p.report.add("field", "updated", name, changed)
        else:
            p.report.add("field", "unchanged", name)


def _repeated_value(crm: Any, mod: ModuleDef, api_name: str) -> str | None:
    """A value that two records of ``mod`` hold in ``api_name`` (compared case-insensitively,
    as unique fields are), or None."""
    value = sa.func.lower(_RECORDS.c.data[api_name].as_string())
    q = (
        sa.select(value)
        .where(_RECORDS.c.module_id == int(mod.id), value.is_not(None), value != "")
        .group_by(value)
        .having(sa.func.count() > 1)
        .limit(1)
    )
    with read_transaction(crm.engine) as conn:
        found = conn.execute(q).scalar()
    return None if found is None else str(found)


def variable_text(value: str | int | float | bool) -> str:
    """An org variable's stored text (``zoho.crm.getOrgVariable`` returns text)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def _plan_variables(fx: Any, p: _Plan) -> None:
    have = {v["name"].lower(): v for v in fx.variables.list()}
    for var in p.project.variables:
        text = variable_text(var.value)
        old = have.get(var.api_name.lower())
        if old is None:
            p.variables.append((var.api_name, text))
            p.report.add("variable", "created", var.api_name)
        elif old["value"] != text:
            p.variables.append((old["name"], text))
            p.report.add("variable", "updated", old["name"], ["value"])
        else:
            p.report.add("variable", "unchanged", old["name"])


def _env_secret(c: Connection, key: str, env: Mapping[str, str], p: _Plan, loc: Loc) -> str | None:
    name = getattr(c, key)
    if name is None:
        return None
    value = env.get(name)
    if value is None:
        p.problem(loc, f'environment variable "{name}" is not set (connection "{c.name}")', key)
        return None
    if value == "":
        p.problem(loc, f'environment variable "{name}" is empty (connection "{c.name}")', key)
        return None
    return value


def connection_spec(c: Connection, secrets: Mapping[str, str | None]) -> ConnectionSpec:
    """The ``ConnectionSpec`` of a manifest connection with its secrets (by manifest key)."""
    if c.type in OAUTH2_TYPES:
        return ConnectionSpec(
            name=c.name,
            type=c.type,  # type: ignore[arg-type]
            token_url=c.token_url,
            client_id=secrets.get("client_id_env"),
            client_secret=secrets.get("client_secret_env"),
            scopes=tuple(c.scope.split()) if c.scope else (),
            hosts=c.hosts,
        )
    if c.type == "api_key":
        return ConnectionSpec(
            name=c.name,
            type="api_key",
            api_key=secrets.get("key_env"),
            api_key_header=c.header,
            api_key_query=c.query,
            hosts=c.hosts,
        )
    return ConnectionSpec(
        name=c.name,
        type="basic",
        username=secrets.get("user_env"),
        password=secrets.get("password_env"),
        hosts=c.hosts,
    )


def _plan_connections(fx: Any, p: _Plan, env: Mapping[str, str]) -> None:
    from floodway.functions.model import FunctionsError
    from floodway.functions.secrets import DecryptionError, SecretsKeyError

    stored = {c["name"].lower(): c["name"] for c in fx.connections.list()}
    no_key = fx.keyring is None
    for i, c in enumerate(p.project.connections, start=1):
        loc = _loc("connection", i, c.name)
        values = {k: _env_secret(c, k, env, p, loc) for k in c.env}
        if any(v is None for v in values.values()):
            continue
        if no_key:
            p.problem(
                loc,
                "connection secrets cannot be stored: no secrets key is configured "
                "(FLOODWAY_SECRET_KEY, or secret.key in the data directory)",
            )
            continue
        spec = connection_spec(c, values)
        old: ConnectionSpec | None = None
        exists = c.name.lower() in stored
        if exists:
            try:
                old = fx.connections.spec(stored[c.name.lower()])
            except (FunctionsError, DecryptionError, SecretsKeyError) as exc:
                # Secrets that no longer decrypt (another key): the deploy replaces them.
                p.report.notes.append(
                    f'connection "{c.name}": the stored secrets could not be read '
                    f"({type(exc).__name__}); they are replaced"
                )
        if old is not None:
            # What the manifest cannot express stays as the org has it; an authorised
            # connection keeps its refresh token.
            spec = replace(
                spec,
                name=old.name,
                refresh_token=old.refresh_token if old.type == spec.type else None,
                base_url=old.base_url,
                client_auth=old.client_auth,
                api_key_prefix=old.api_key_prefix,
            )
        if spec.type == "oauth2_authorization_code" and not spec.refresh_token:
            p.problem(
                loc,
                "an oauth2_authorization_code connection needs an authorisation (a refresh "
                "token) before it can be stored, and this version has no console to authorise "
                "it; use oauth2_client_credentials, or authorise it through the admin API first",
                "type",
            )
            continue
        try:
            spec.validate()
        except ConnectionConfigError as exc:
            p.problem(loc, str(exc))
            continue
        if old is not None and old == spec:
            p.report.add("connection", "unchanged", old.name)
            continue
        p.connections.append(spec)
        if not exists:
            p.report.add("connection", "created", c.name)
        else:
            p.report.add("connection", "updated", spec.name, _spec_changes(old, spec))


def _spec_changes(old: ConnectionSpec | None, new: ConnectionSpec) -> list[str]:
    if old is None:
        return ["secrets"]
    secret = {"client_secret", "refresh_token", "api_key", "password"}
    changed = []
    for name in ConnectionSpec.__dataclass_fields__:
        if getattr(old, name) != getattr(new, name):
            label = "secrets" if name in secret else name
            if label not in changed:
                changed.append(label)
    return changed


def _setting_fields(s: FunctionSetting | None) -> dict[str, Any]:
    if s is None:
        return {}
    out: dict[str, Any] = {}
    if s.rest is not None:
        out["rest_enabled"] = s.rest
    if s.timeout_s is not None:
        out["timeout_s"] = float(s.timeout_s)
    if s.display_name is not None:
        out["display_name"] = s.display_name.strip()
    if s.description is not None:
        out["description"] = s.description
    return out


def _check_setting(s: FunctionSetting, loc: Loc, p: _Plan) -> bool:
    ok = True
    if s.timeout_s is not None and s.timeout_s > _MAX_TIMEOUT_S:
        p.problem(loc, f"must be at most {int(_MAX_TIMEOUT_S)} seconds", "timeout_s")
        ok = False
    if s.display_name is not None and len(s.display_name.strip()) > _MAX_DISPLAY_NAME:
        p.problem(loc, f"must be at most {_MAX_DISPLAY_NAME} characters", "display_name")
        ok = False
    if s.description is not None and len(s.description) > _MAX_DESCRIPTION:
        p.problem(loc, f"must be at most {_MAX_DESCRIPTION:,} characters", "description")
        ok = False
    return ok


def _diff(info: Any, wanted: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in wanted.items() if getattr(info, k) != v}


def _plan_functions(fx: Any, p: _Plan, org: Mapping[str, Any]) -> None:
    from floodway.functions.model import FunctionsError
    from floodway.functions.registry import compile_source

    project = p.project
    settings: dict[str, FunctionSetting] = {}
    for i, setting in enumerate(project.function_settings, start=1):
        if _check_setting(setting, _loc("function", i, setting.api_name), p):
            settings[setting.api_name.lower()] = setting
    live: dict[str, str] = {}
    for key, info in org.items():
        if info.live_version is not None and project.function(info.api_name) is not None:
            live[key] = fx.registry.version(info.api_name).source
    fplan = plan_functions(project, live)
    changed = {fn.api_name.lower() for fn in (*fplan.create, *fplan.update)}
    for fn in project.functions:
        key = fn.api_name.lower()
        info = org.get(key)
        s = settings.pop(key, None)
        wanted = _setting_fields(s)
        if key in changed:
            rel = f"functions/{fn.path.name}"
            if len(fn.api_name) > _MAX_FUNCTION_NAME:
                p.problems.append(
                    Problem(rel, f"the API name is longer than {_MAX_FUNCTION_NAME} characters")
                )
                continue
            try:
                compile_source(fn.source, fn.api_name)
            except FunctionsError as exc:
                d = exc.details
                p.problems.append(
                    Problem(rel, exc.message, line=d.get("line"), column=d.get("column"))
                )
                continue
            fields = wanted if info is None else _diff(info, wanted)
            p.functions.append((fn, fields, info is not None))
            p.report.add("function", "updated" if info is not None else "created", fn.api_name)
            if s is not None:
                action = "created" if info is None else ("updated" if fields else "unchanged")
                p.report.add("function_settings", action, fn.api_name, list(fields))
            continue
        p.report.add("function", "unchanged", info.api_name if info else fn.api_name)
        if s is not None:
            _plan_setting(p, info, wanted)
    for setting in settings.values():  # settings of functions that live only in the org
        info = org.get(setting.api_name.lower())
        if info is None:  # load_project(org_functions=...) has reported it already
            continue
        _plan_setting(p, info, _setting_fields(setting))


def _plan_setting(p: _Plan, info: Any, wanted: Mapping[str, Any]) -> None:
    fields = _diff(info, wanted)
    if fields:
        p.settings.append((info.api_name, fields))
        p.report.add("function_settings", "updated", info.api_name, list(fields))
    else:
        p.report.add("function_settings", "unchanged", info.api_name)


# ---------------------------------------------------------------------------------------------
# Apply


def deploy(
    crm: Any,
    fx: Any,
    project_dir: Path | str,
    *,
    env: Mapping[str, str] | None = None,
    dry_run: bool = False,
    author: str = AUTHOR,
    progress: Callable[[str], None] | None = None,
    store: Any = None,
) -> DeployReport:
    """Apply ``project_dir`` to the org of ``crm`` / ``fx`` (``floodway.functions.service.
    Functions``). ``ProjectError`` (nothing written) when anything would be refused; with
    ``dry_run`` the report says what would change and nothing is written. ``store``: the
    org's ``AutomationStore`` (a running server's, so that its cache drops at once)."""
    store = _store(crm, fx, store)
    p = plan(crm, fx, project_dir, env=env, store=store)
    p.report.dry_run = dry_run
    if dry_run:
        return p.report
    say = progress or (lambda _msg: None)
    if p.org_values or p.module_labels or p.field_updates:
        say("updating org settings and fields")
        _apply_metadata_updates(crm, p)
    for m in p.new_modules:
        say(f"creating module {m.api_name}")
        crm.metadata.add_module(m.api_name, singular_label=m.singular, plural_label=m.plural)
    for f in p.new_fields:
        say(f"creating field {f.module}.{f.api_name}")
        crm.metadata.add_field(
            f.module,
            f.api_name,
            f.type,
            label=f.label,
            mandatory=f.required,
            unique=f.unique,
            length=f.length,
            pick_list_values=f.values,
            lookup_module=f.lookup_module,
        )
    for name, text in p.variables:
        say(f"setting variable {name}")
        fx.variables.set(name, text)
    for spec in p.connections:
        say(f"storing connection {spec.name}")
        fx.connections.put(spec)
    for fn, fields, exists in p.functions:
        say(f"publishing function {fn.api_name}")
        result = fx.registry.save(
            fn.api_name, fn.source, author=author, publish=True, create=not exists, **fields
        )
        p.report.versions[fn.api_name] = result.version.number
    for api_name, fields in p.settings:
        say(f"updating settings of {api_name}")
        fx.registry.update(api_name, **fields)
    changing = ("created", "updated", "deleted")
    if any(getattr(p.report.kinds[k], a) for k in TRIGGER_KINDS for a in changing):
        say("applying workflow rules, buttons, related lists, validation rules and schedules")
        p.report.set_triggers(store.apply(p.project))
    return p.report


def _apply_metadata_updates(crm: Any, p: _Plan) -> None:
    """Org settings, module labels and field definitions in one transaction (the metadata
    service has no update calls yet). Records are never touched: values live in the records'
    JSON and stay as they are whatever the definition says."""
    with write_transaction(crm.engine) as conn:
        if p.org_values:
            conn.execute(_ORGS.update().where(_ORGS.c.id == crm.org_id).values(**p.org_values))
        for have_mod, m in p.module_labels:
            labels = {}
            if m.singular is not None:
                labels["singular_label"] = m.singular
            if m.plural is not None:
                labels["plural_label"] = m.plural
            conn.execute(
                _MODULES.update().where(_MODULES.c.id == int(have_mod.id)).values(**labels)
            )
        dupes: dict[str, tuple[ModuleDef, list[str]]] = {}
        for mod, have, f, changed in p.field_updates:
            values: dict[str, Any] = {}
            if "label" in changed:
                values["label"] = f.label
            if "length" in changed:
                values["length"] = f.length
            if "required" in changed:
                values["mandatory"] = f.required
            if "unique" in changed:
                values["is_unique"] = f.unique
                names = dupes.setdefault(mod.api_name, (mod, list(mod.duplicate_fields)))[1]
                if f.unique and have.api_name not in names:
                    names.append(have.api_name)
                elif not f.unique and have.api_name in names and have.api_name != mod.name_field:
                    names.remove(have.api_name)
            if "values" in changed:
                options = dict(have.options)
                options["pick_list_values"] = list(f.values)
                values["options"] = options
            conn.execute(_FIELDS.update().where(_FIELDS.c.id == int(have.id or 0)).values(**values))
        for mod, names in dupes.values():
            conn.execute(
                _MODULES.update().where(_MODULES.c.id == int(mod.id)).values(duplicate_fields=names)
            )
        if p.module_labels or p.field_updates:
            conn.execute(
                _ORGS.update()
                .where(_ORGS.c.id == crm.org_id)
                .values(meta_version=_ORGS.c.meta_version + 1)
            )
    crm.metadata.invalidate()
    if "time_zone" in p.org_values:
        from zoneinfo import ZoneInfo

        crm.time_zone_name = p.org_values["time_zone"]
        crm.tz = ZoneInfo(crm.time_zone_name)


# ---------------------------------------------------------------------------------------------
# Pull


def pull(fx: Any, project_dir: Path | str, *, store: Any = None) -> PullReport:
    """Write the live version of every org function to ``project_dir/functions/<api_name>.dg``
    (byte for byte; files of functions that are not live are kept, never deleted), and the
    org's trigger tables into ``floodway.toml`` (the rest of the file is kept as written)."""
    tables = _store(fx.crm, fx, store).export()
    items: list[tuple[str, str]] = []
    versions: dict[str, int] = {}
    for info in fx.registry.list():
        if info.live_version is None:
            continue
        version = fx.registry.version(info.api_name, info.live_version)
        assert version.source is not None
        items.append((info.api_name, version.source))
        versions[info.api_name] = version.number
    written = write_functions(project_dir, items)
    manifest = write_trigger_tables(project_dir, tables)
    return PullReport(str(project_dir), written, versions, manifest)
