"""The rule store: workflow rules, buttons, related lists, validation rules and schedules of an org
(automation-service-api.md §2.1).

Every item is kept as the manifest table that defines it (``[[workflow]]`` ... ``[[schedule]]`` of
project-format.md, as JSON) and parsed with the project readers (``floodway.project``) against the
org's metadata and live functions. The admin API and ``floodway deploy`` therefore accept exactly
the same definitions and report the same problems, and ``floodway pull`` writes back what was
stored.

Rule order: ``position``, then creation (``created_ms``, ``id``). A workflow's position is its
``order`` (rules without one come after every ordered rule); for the other kinds it is the
creation sequence, and ``apply`` sets it to the manifest order so that a deploy decides the order
validation rules run in.

``active(kind, module)`` is what the engine asks on every record change: the enabled items, cached
in memory. A write through this object drops the cache at once; another process sees it within
``function_cache_ttl_s`` (the same promise as function publishing). Parsed definitions are kept
by (id, modified time), so a cache refresh re-reads rows but does not parse them again.
"""

from __future__ import annotations

import builtins
import datetime as _dt
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from floodway.db import read_transaction, write_transaction
from floodway.functions.model import ms_to_iso
from floodway.project import FunctionSignature, Problem, Project, Schedule, check_org_functions
from floodway.project.catalog import Catalog
from floodway.project.loader import TRIGGER_READERS
from floodway.project.manifest import Context
from floodway.project.model import Button, FunctionRef, Org, RelatedList, Validation, Workflow
from floodway.project.reader import ORDER_MAX

from . import schema as _schema
from .errors import AutomationError

__all__ = ["KINDS", "LABELS", "UNORDERED", "AutomationStore", "Item", "problem_field"]

log = logging.getLogger("floodway.automation.store")

KINDS: Final = ("workflow", "button", "related_list", "validation", "schedule")
LABELS: Final = {
    "workflow": "workflow rule",
    "button": "button",
    "related_list": "related list",
    "validation": "validation rule",
    "schedule": "schedule",
}
UNORDERED: Final = ORDER_MAX + 1  # position of workflow rules without ``order``
NEXT_RUNS: Final = 5

T = _schema.automation_items

Spec = Workflow | Button | RelatedList | Validation | Schedule


@dataclass(frozen=True)
class Item:
    """One stored definition. ``spec`` is the parsed project model object; ``None`` only when a
    stored definition no longer parses at all (``problem`` says why; never ``active``)."""

    id: str
    kind: str
    name: str
    module: str | None  # None for schedules
    enabled: bool
    position: int
    definition: dict[str, Any]
    spec: Spec
    created_ms: int
    modified_ms: int
    problem: str | None = field(default=None, compare=False)

    def to_json(
        self, now: _dt.datetime | None = None, default_timezone: str | None = None
    ) -> dict[str, Any]:
        """``{"id", "enabled", "created_time", "modified_time", **definition}``; schedules add
        ``next_runs`` (the next five due times after ``now``, ISO UTC; the org's time zone
        ``default_timezone`` applies when the schedule names none)."""
        out: dict[str, Any] = {
            "id": self.id,
            "enabled": self.enabled,
            "created_time": ms_to_iso(self.created_ms),
            "modified_time": ms_to_iso(self.modified_ms),
            **self.definition,
        }
        if self.kind == "schedule":
            out["next_runs"] = self.next_runs(now, default_timezone)
        if self.problem is not None:
            out["problem"] = self.problem
        return out

    def next_runs(
        self,
        now: _dt.datetime | None = None,
        default_timezone: str | None = None,
        n: int = NEXT_RUNS,
    ) -> list[str]:
        if not isinstance(self.spec, Schedule):
            return []
        after = now or _dt.datetime.now(_dt.UTC)
        times = self.spec.next_times(after, n, default_timezone=default_timezone or "UTC")
        return [ms_to_iso(int(t.timestamp() * 1000)) or "" for t in times]


def problem_field(problem: Problem) -> str | None:
    """The JSON path of what a problem is about: ``criteria``, ``arguments.dealId``,
    ``actions[0].webhook.url`` (action indexes count from 0, as in the JSON body)."""
    key = problem.key
    if problem.sub == "workflow.actions" and problem.sub_index is not None:
        head = f"actions[{problem.sub_index - 1}]"
        return f"{head}.{key}" if key else head
    return key


def _invalid(problems: Sequence[Problem]) -> AutomationError:
    first = problems[0]
    details: dict[str, Any] = {}
    where = problem_field(first)
    if where is not None:
        details["field"] = where
    if len(problems) > 1:
        details["problems"] = [{"field": problem_field(p), "message": p.message} for p in problems]
    return AutomationError("INVALID_DATA", first.message, details)


def _clean(table: Any) -> dict[str, Any]:
    """A JSON copy of a definition without ``null`` values (a form's empty optional keys)."""
    if not isinstance(table, Mapping):
        raise AutomationError("INVALID_DATA", "the definition must be a JSON object")
    out = {str(k): v for k, v in table.items() if v is not None}
    actions = out.get("actions")
    if isinstance(actions, list):
        out["actions"] = [
            {str(k): v for k, v in a.items() if v is not None} if isinstance(a, Mapping) else a
            for a in actions
        ]
    try:
        copied: dict[str, Any] = json.loads(json.dumps(out))
    except (TypeError, ValueError):
        raise AutomationError(
            "INVALID_DATA", "the definition must contain only JSON values"
        ) from None
    return copied


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise AutomationError(
            "INVALID_DATA", f'unknown kind "{kind}"; expected one of: {", ".join(KINDS)}'
        )


def _item_id(item_id: Any) -> int | None:
    try:
        value = int(str(item_id))
    except (TypeError, ValueError):
        return None
    return value if 0 < value < 2**63 else None


@dataclass(slots=True)
class _Desired:
    kind: str
    module: str
    name: str
    definition: dict[str, Any]
    position: int


class AutomationStore:
    """The automation definitions of ``crm``'s org; ``functions`` is the org's ``Functions``
    (its live functions are what definitions may name). One per process; thread-safe."""

    def __init__(
        self, crm: Any, functions: Any, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        """``monotonic`` times the cache of ``active`` (tests pass a controllable one)."""
        self.crm = crm
        self.functions = functions
        self._monotonic = monotonic
        registry = getattr(functions, "registry", None)
        self.cache_ttl_s = float(getattr(registry, "cache_ttl_s", 1.0))
        self._lock = threading.Lock()
        self._generation = 0
        self._active: tuple[float, dict[tuple[str, str | None], list[Item]]] | None = None
        self._specs: dict[int, tuple[int, Any, str | None]] = {}  # id -> (modified, spec, problem)

    # ------------------------------------------------------------------ validation

    def validate(self, kind: str, table: Any) -> tuple[dict[str, Any], Any]:
        """``(clean definition, spec)``; ``AutomationError`` INVALID_DATA naming the first
        problem (``details["problems"]`` lists them all when there are several)."""
        _check_kind(kind)
        definition = _clean(table)
        ctx = self._context(self._schema())
        specs = TRIGGER_READERS[kind]({kind: [definition]}, ctx)
        problems = list(ctx.problems)
        problems.extend(self._function_problems(ctx.external))
        if problems:
            raise _invalid(problems)
        if len(specs) != 1:  # pragma: no cover - a reader drops a table only with a problem
            raise AutomationError("INVALID_DATA", f"not a valid {LABELS[kind]}")
        return definition, specs[0]

    def _context(self, schema: Mapping[str, Any] | None) -> Context:
        ctx = Context(Catalog(schema), {})
        ctx.org = Org(time_zone=self.crm.time_zone_name)
        return ctx

    def _schema(self) -> dict[str, dict[str, str]]:
        md = self.crm.metadata
        return {m.api_name: md.field_types(m) for m in md.modules()}

    def _function_problems(self, refs: Iterable[FunctionRef]) -> list[Problem]:
        """Functions named must exist in the org with a published version and fit their use
        (category, argument names, parameterless schedules)."""
        refs = list(refs)
        if not refs:
            return []
        infos = self.functions.registry.list()
        live = {
            f.api_name: FunctionSignature(f.category, tuple((n, t or "") for n, t in f.arguments))
            for f in infos
            if f.live_version is not None
        }
        live_keys = {name.lower() for name in live}
        drafts = {f.api_name.lower() for f in infos if f.live_version is None}
        out: list[Problem] = []
        found: list[FunctionRef] = []
        for ref in refs:
            low = ref.api_name.lower()
            if low in live_keys:
                found.append(ref)
            elif low in drafts:
                message = f'function "{ref.api_name}" has no published version; publish it first'
                out.append(Problem.at(ref.loc, message, ref.key))
            else:
                out.append(
                    Problem.at(ref.loc, f'function "{ref.api_name}" does not exist', ref.key)
                )
        out.extend(check_org_functions(found, live))
        return out

    def _parse_stored(
        self, kind: str, definition: Mapping[str, Any], schema: Callable[[], Any]
    ) -> tuple[Any, str | None]:
        """A stored definition's spec, leniently: against the org's metadata, else without it
        (a field deleted since keeps the rule readable); functions are not looked up."""
        problem = None
        for catalog_schema in (schema(), None):
            ctx = self._context(catalog_schema)
            specs = TRIGGER_READERS[kind]({kind: [dict(definition)]}, ctx)
            if specs and not ctx.problems:
                return specs[0], None
            if problem is None and ctx.problems:
                p = ctx.problems[0]
                where = problem_field(p)
                problem = f"{where}: {p.message}" if where else p.message
        return None, problem or "the definition does not parse"

    # ------------------------------------------------------------------ rows -> items

    def _items(self, rows: Sequence[Any]) -> list[Item]:
        schema_cache: list[Any] = []

        def schema() -> Any:
            if not schema_cache:
                schema_cache.append(self._schema())
            return schema_cache[0]

        out = []
        for row in rows:
            hit = self._specs.get(row.id)
            if hit is not None and hit[0] == row.modified_ms:
                spec, problem = hit[1], hit[2]
            else:
                spec, problem = self._parse_stored(row.kind, row.definition, schema)
                if problem is not None:
                    log.warning(
                        "%s %s (%s) does not parse: %s", row.kind, row.id, row.name, problem
                    )
                with self._lock:
                    self._specs[row.id] = (row.modified_ms, spec, problem)
            out.append(self._item(row, spec, problem))
        return out

    @staticmethod
    def _item(row: Any, spec: Any, problem: str | None = None) -> Item:
        return Item(
            id=str(row.id),
            kind=row.kind,
            name=row.name,
            module=row.module or None,
            enabled=bool(row.enabled),
            position=int(row.position),
            definition=dict(row.definition),
            spec=spec,
            created_ms=int(row.created_ms),
            modified_ms=int(row.modified_ms),
            problem=problem,
        )

    def _order(self, q: Any) -> Any:
        return q.order_by(T.c.position, T.c.created_ms, T.c.id)

    def _module_name(self, module: str) -> str:
        found = self.crm.metadata.find(module)
        return str(found.api_name) if found is not None else module

    # ------------------------------------------------------------------ reads

    def list(
        self, kind: str, *, module: str | None = None, enabled_only: bool = False
    ) -> builtins.list[Item]:
        """Items of ``kind`` in rule order (``module`` compares case-insensitively)."""
        _check_kind(kind)
        q = sa.select(T).where(T.c.org_id == self.crm.org_id, T.c.kind == kind)
        if module is not None:
            q = q.where(T.c.module == self._module_name(module))
        if enabled_only:
            q = q.where(T.c.enabled.is_(True))
        with read_transaction(self.crm.engine) as conn:
            rows = conn.execute(self._order(q)).all()
        return self._items(rows)

    def get(self, kind: str, item_id: str) -> Item:
        _check_kind(kind)
        with read_transaction(self.crm.engine) as conn:
            row = self._row(conn, kind, item_id)
        return self._items([row])[0]

    def _row(self, conn: Connection, kind: str, item_id: Any) -> Any:
        pk = _item_id(item_id)
        row = None
        if pk is not None:
            row = conn.execute(
                sa.select(T).where(T.c.id == pk, T.c.org_id == self.crm.org_id, T.c.kind == kind)
            ).first()
        if row is None:
            raise AutomationError(
                "NOT_FOUND", f"no {LABELS[kind]} has this id", {"id": str(item_id)}
            )
        return row

    def item_json(self, item: Item) -> dict[str, Any]:
        """``item.to_json()`` with this org's clock and time zone (schedules' ``next_runs``)."""
        return item.to_json(self.crm.clock(), self.crm.time_zone_name)

    def active(self, kind: str, module: str | None = None) -> builtins.list[Item]:
        """Enabled items of ``kind`` (of ``module``, case-insensitive) in rule order; cached."""
        key = (kind, module.lower() if module is not None else None)
        now = self._monotonic()
        with self._lock:
            snap = self._active
            generation = self._generation
        if snap is None or snap[0] <= now:
            index = self._load_active()
            with self._lock:
                if self._generation == generation:
                    self._active = (now + self.cache_ttl_s, index)
        else:
            index = snap[1]
        return list(index.get(key, ()))

    def _load_active(self) -> dict[tuple[str, str | None], builtins.list[Item]]:
        q = sa.select(T).where(T.c.org_id == self.crm.org_id, T.c.enabled.is_(True))
        with read_transaction(self.crm.engine) as conn:
            rows = conn.execute(self._order(q)).all()
        items = [i for i in self._items(rows) if i.spec is not None]
        index: dict[tuple[str, str | None], builtins.list[Item]] = {}
        for item in items:
            index.setdefault((item.kind, None), []).append(item)
            if item.module is not None:
                index.setdefault((item.kind, item.module.lower()), []).append(item)
        return index

    def invalidate(self) -> None:
        """Forget the cached active items (the next ``active`` reads the database)."""
        with self._lock:
            self._generation += 1
            self._active = None

    # ------------------------------------------------------------------ writes

    def _position(self, conn: Connection, kind: str, spec: Any) -> int:
        if kind == "workflow":
            order = getattr(spec, "order", None)
            return int(order) if order is not None else UNORDERED
        top = conn.execute(
            sa.select(sa.func.max(T.c.position)).where(
                T.c.org_id == self.crm.org_id, T.c.kind == kind
            )
        ).scalar()
        return int(top or 0) + 1

    def _check_unique(
        self, conn: Connection, kind: str, module: str, name: str, exclude: int | None = None
    ) -> None:
        q = sa.select(T.c.id).where(
            T.c.org_id == self.crm.org_id,
            T.c.kind == kind,
            T.c.module == module,
            sa.func.lower(T.c.name) == name.lower(),
        )
        if exclude is not None:
            q = q.where(T.c.id != exclude)
        if conn.execute(q.limit(1)).first() is not None:
            raise _duplicate(kind, module, name)

    def create(self, kind: str, table: Any, *, enabled: bool = True) -> Item:
        """A new item; INVALID_DATA (the definition) or DUPLICATE_DATA (kind, module, name)."""
        definition, spec = self.validate(kind, table)
        module = _spec_module(kind, spec)
        now = self.crm.now_ms()
        try:
            with write_transaction(self.crm.engine) as conn:
                self._check_unique(conn, kind, module, spec.name)
                values = {
                    "id": self.crm.ids.next_id(),
                    "org_id": self.crm.org_id,
                    "kind": kind,
                    "name": spec.name,
                    "module": module,
                    "enabled": bool(enabled),
                    "position": self._position(conn, kind, spec),
                    "definition": definition,
                    "created_ms": now,
                    "modified_ms": now,
                }
                conn.execute(T.insert().values(**values))
        except sa.exc.IntegrityError:
            raise _duplicate(kind, module, spec.name) from None
        finally:
            self.invalidate()
        return self._remember(values, spec)

    def update(self, kind: str, item_id: str, table: Any) -> Item:
        """Replace the definition of an item (its enabled state and id stay)."""
        definition, spec = self.validate(kind, table)
        module = _spec_module(kind, spec)
        try:
            with write_transaction(self.crm.engine) as conn:
                row = self._row(conn, kind, item_id)
                self._check_unique(conn, kind, module, spec.name, exclude=row.id)
                position = self._position(conn, kind, spec) if kind == "workflow" else row.position
                changes = {
                    "name": spec.name,
                    "module": module,
                    "position": position,
                    "definition": definition,
                    "modified_ms": max(self.crm.now_ms(), int(row.modified_ms) + 1),
                }
                conn.execute(T.update().where(T.c.id == row.id).values(**changes))
        except sa.exc.IntegrityError:
            raise _duplicate(kind, module, spec.name) from None
        finally:
            self.invalidate()
        values = {**row._mapping, **changes}
        return self._remember(values, spec)

    def move(self, kind: str, item_id: str, step: int) -> Item:
        """Move an item one place earlier (``step`` -1) or later (+1) in its module's rule
        order; at either end nothing changes. The module's items of the kind are then numbered
        1..n in the new order: workflow rules through their ``order`` key (so the definition,
        a pull and the manifest say it), other kinds through their position."""
        _check_kind(kind)
        if step not in (-1, 1):
            raise AutomationError("INVALID_DATA", "step must be -1 or 1", {"field": "step"})
        try:
            with write_transaction(self.crm.engine) as conn:
                row = self._row(conn, kind, item_id)
                q = sa.select(T).where(
                    T.c.org_id == self.crm.org_id, T.c.kind == kind, T.c.module == row.module
                )
                siblings = list(conn.execute(self._order(q)).all())
                ids = [r.id for r in siblings]
                i = ids.index(row.id)
                j = i + step
                if 0 <= j < len(ids):
                    ids[i], ids[j] = ids[j], ids[i]
                    by_id = {r.id: r for r in siblings}
                    now = self.crm.now_ms()
                    for n, rid in enumerate(ids, 1):
                        r = by_id[rid]
                        changes: dict[str, Any] = {"position": n}
                        if kind == "workflow":
                            changes["definition"] = {**r.definition, "order": n}
                        if int(r.position) == n and r.definition == changes.get(
                            "definition", r.definition
                        ):
                            continue
                        # A later modified time refreshes every process's cached definition.
                        changes["modified_ms"] = max(now, int(r.modified_ms) + 1)
                        conn.execute(T.update().where(T.c.id == rid).values(**changes))
                row = self._row(conn, kind, item_id)
        finally:
            self.invalidate()
        return self._items([row])[0]

    def set_enabled(self, kind: str, item_id: str, enabled: bool) -> Item:
        try:
            with write_transaction(self.crm.engine) as conn:
                row = self._row(conn, kind, item_id)
                if bool(row.enabled) != bool(enabled):
                    conn.execute(
                        T.update()
                        .where(T.c.id == row.id)
                        .values(enabled=bool(enabled), modified_ms=self.crm.now_ms())
                    )
                row = self._row(conn, kind, item_id)
        finally:
            self.invalidate()
        return self._items([row])[0]

    def delete(self, kind: str, item_id: str) -> None:
        try:
            with write_transaction(self.crm.engine) as conn:
                row = self._row(conn, kind, item_id)
                conn.execute(T.delete().where(T.c.id == row.id))
        finally:
            self.invalidate()
        with self._lock:
            self._specs.pop(row.id, None)

    def _remember(self, values: Mapping[str, Any], spec: Any) -> Item:
        item = Item(
            id=str(values["id"]),
            kind=values["kind"],
            name=values["name"],
            module=values["module"] or None,
            enabled=bool(values["enabled"]),
            position=int(values["position"]),
            definition=dict(values["definition"]),
            spec=spec,
            created_ms=int(values["created_ms"]),
            modified_ms=int(values["modified_ms"]),
        )
        with self._lock:
            self._specs[int(values["id"])] = (item.modified_ms, spec, None)
        return item

    # ------------------------------------------------------------------ deploy and pull

    def apply(
        self, project: Project, *, dry_run: bool = False
    ) -> dict[str, builtins.list[dict[str, Any]]]:
        """Make the org's items of every kind equal to ``project``'s (a loaded, validated
        project), matched by (kind, module, name) case-insensitively, in one transaction.

        Returns ``{"created", "updated", "deleted", "unchanged"}``, each a list of
        ``{"kind", "module", "name"}`` (``module`` None for schedules). An item whose
        definition and position are as the project says is left alone (enabled state is kept
        either way); items the project does not have are deleted. ``dry_run`` writes nothing.
        """
        desired = _desired(project)
        result: dict[str, builtins.list[dict[str, Any]]] = {
            "created": [],
            "updated": [],
            "deleted": [],
            "unchanged": [],
        }
        open_tx = read_transaction if dry_run else write_transaction
        with open_tx(self.crm.engine) as conn:
            rows = conn.execute(
                self._order(sa.select(T).where(T.c.org_id == self.crm.org_id))
            ).all()
            have = {(r.kind, r.module.lower(), r.name.lower()): r for r in rows}
            plan: list[tuple[str, _Desired, Any]] = []
            for d in desired:
                row = have.pop((d.kind, d.module.lower(), d.name.lower()), None)
                if row is None:
                    plan.append(("created", d, None))
                elif (
                    dict(row.definition) != d.definition
                    or int(row.position) != d.position
                    or row.name != d.name
                    or row.module != d.module
                ):
                    plan.append(("updated", d, row))
                else:
                    plan.append(("unchanged", d, row))
            gone = list(have.values())
            for row in gone:
                result["deleted"].append(_entry(row.kind, row.module, row.name))
            for action, d, _row in plan:
                result[action].append(_entry(d.kind, d.module, d.name))
            if dry_run:
                return result
            now = self.crm.now_ms()
            if gone:
                conn.execute(T.delete().where(T.c.id.in_([r.id for r in gone])))
            for action, d, row in plan:
                if action == "created":
                    conn.execute(
                        T.insert().values(
                            id=self.crm.ids.next_id(),
                            org_id=self.crm.org_id,
                            kind=d.kind,
                            name=d.name,
                            module=d.module,
                            enabled=True,
                            position=d.position,
                            definition=d.definition,
                            created_ms=now,
                            modified_ms=now,
                        )
                    )
                elif action == "updated":
                    conn.execute(
                        T.update()
                        .where(T.c.id == row.id)
                        .values(
                            name=d.name,
                            module=d.module,
                            position=d.position,
                            definition=d.definition,
                            modified_ms=max(now, int(row.modified_ms) + 1),
                        )
                    )
        self.invalidate()
        return result

    def export(self) -> dict[str, builtins.list[dict[str, Any]]]:
        """Every kind's definitions, as manifest tables, for ``floodway pull``: workflows in
        creation order (their ``order`` key keeps the run order), the others in rule order."""
        out: dict[str, builtins.list[dict[str, Any]]] = {k: [] for k in KINDS}
        q = sa.select(T.c.kind, T.c.definition, T.c.position, T.c.created_ms, T.c.id).where(
            T.c.org_id == self.crm.org_id
        )
        with read_transaction(self.crm.engine) as conn:
            rows = conn.execute(q).all()

        def key(r: Any) -> tuple[int, int, int]:
            first = 0 if r.kind == "workflow" else int(r.position)
            return (first, int(r.created_ms), int(r.id))

        for row in sorted(rows, key=key):
            if row.kind in out:
                out[row.kind].append(dict(row.definition))
        return out


def _spec_module(kind: str, spec: Any) -> str:
    return "" if kind == "schedule" else str(spec.module)


def _entry(kind: str, module: str, name: str) -> dict[str, Any]:
    return {"kind": kind, "module": module or None, "name": name}


def _duplicate(kind: str, module: str, name: str) -> AutomationError:
    where = f" on {module}" if module else ""
    return AutomationError(
        "DUPLICATE_DATA",
        f'a {LABELS[kind]} named "{name}" already exists{where}',
        {"field": "name"},
    )


def _desired(project: Project) -> builtins.list[_Desired]:
    out: list[_Desired] = []
    specs_by_kind: dict[str, Sequence[Any]] = {
        "workflow": project.workflows,
        "button": project.buttons,
        "related_list": project.related_lists,
        "validation": project.validations,
        "schedule": project.schedules,
    }
    for kind, specs in specs_by_kind.items():
        tables = project.tables.get(kind, [])
        if len(tables) != len(specs):
            raise ValueError(
                f"the project's {kind} tables do not match its parsed entries; load it with "
                "load_project"
            )
        for i, (spec, table) in enumerate(zip(specs, tables, strict=True), start=1):
            if kind == "workflow":
                position = spec.order if spec.order is not None else UNORDERED
            else:
                position = i
            out.append(_Desired(kind, _spec_module(kind, spec), spec.name, _clean(table), position))
    return out
