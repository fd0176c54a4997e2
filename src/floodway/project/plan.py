"""What a deploy would change, computed without a database.

The deploy step reads the org's current state, hands it over in the project's own dataclasses
(or, for functions, as live sources), and gets back what to create, what to update and what is
already as the manifest says. Keeping this pure means "deploying the same directory twice changes
nothing" (project-format.md) is decided in one tested place rather than in SQL code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from .model import FunctionFile, Project

T = TypeVar("T")


@dataclass(slots=True)
class FunctionPlan:
    """Function files against the live versions: ``create`` (not in the org), ``update``
    (source differs: a new published version), ``unchanged`` (api names; left alone)."""

    create: list[FunctionFile] = field(default_factory=list)
    update: list[FunctionFile] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def plan_functions(project: Project, live: Mapping[str, str]) -> FunctionPlan:
    """``live``: api name -> source of the live version (api names compare case-insensitively;
    sources compare exactly, so whitespace edits make a new version like any edit)."""
    by_lower = {name.lower(): source for name, source in live.items()}
    plan = FunctionPlan()
    for fn in project.functions:
        current = by_lower.get(fn.api_name.lower())
        if current is None:
            plan.create.append(fn)
        elif current != fn.source:
            plan.update.append(fn)
        else:
            plan.unchanged.append(fn.api_name)
    return plan


@dataclass(slots=True)
class TablePlan(Generic[T]):
    """One manifest table against the org: ``update`` pairs are (current, desired); ``extra``
    are org entries the manifest does not mention (deploy never deletes them by itself)."""

    create: list[T] = field(default_factory=list)
    update: list[tuple[T, T]] = field(default_factory=list)
    unchanged: list[T] = field(default_factory=list)
    extra: list[T] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.create or self.update)


def plan_entries(
    desired: Iterable[T], current: Iterable[T], key: Callable[[T], str]
) -> TablePlan[T]:
    """Match entries by ``key`` (case-insensitive) and compare them by value (dataclass
    equality), e.g. ``plan_entries(project.fields, org_fields, lambda f: f"{f.module}.{f.api_name}")``."""
    have = {key(c).lower(): c for c in current}
    plan: TablePlan[T] = TablePlan()
    wanted: set[str] = set()
    for item in desired:
        k = key(item).lower()
        wanted.add(k)
        old = have.get(k)
        if old is None:
            plan.create.append(item)
        elif old == item:
            plan.unchanged.append(item)
        else:
            plan.update.append((old, item))
    plan.extra = [c for k, c in have.items() if k not in wanted]
    return plan
