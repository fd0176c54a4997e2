"""``load_project``: a project directory read, parsed and checked as a whole.

The order matters only for what can be checked: function files first (the manifest names them),
then the settings tables (``[[module]]`` / ``[[field]]`` extend what merge fields and criteria may
name), then the trigger tables. Every problem is collected; nothing is raised before the end.
"""

from __future__ import annotations

import copy
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from .catalog import Catalog, Schema
from .cron import Schedule
from .functions import load_functions
from .manifest import (
    Context,
    check_top_level,
    read_connections,
    read_fields,
    read_function_settings,
    read_modules,
    read_org,
    read_variables,
)
from .model import Org, Project
from .problems import MANIFEST, Loc, Problem, ProjectError
from .signatures import FunctionSignature, check_org_functions
from .triggers import (
    read_buttons,
    read_related_lists,
    read_schedule,
    read_schedules,
    read_validations,
)
from .workflows import read_workflows

_TOML_POS: Final = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")

# The trigger tables, in the order the automation layer and deploy list them, with their readers
# (each reads ``data[kind]``; the automation store validates one table as ``{kind: [table]}``).
TRIGGER_READERS: Final[dict[str, Callable[[Mapping[str, Any], Context], list[Any]]]] = {
    "workflow": read_workflows,
    "button": read_buttons,
    "related_list": read_related_lists,
    "validation": read_validations,
    "schedule": read_schedules,
}


def load_project(
    path: Path | str,
    *,
    schema: Schema | None = None,
    org_functions: Mapping[str, FunctionSignature] | None = None,
) -> Project:
    """Read ``path/floodway.toml`` and ``path/functions/*.dg``; ``ProjectError`` lists every
    problem.

    ``schema`` (module API name -> field names, or -> {field: type}) is the org's metadata: with
    it, unknown modules and fields are errors; without it only what is certain is checked (a name
    the loader does not know may have been added in the web UI). ``org_functions`` (api name ->
    signature of the live functions) checks the functions the manifest names that are not in
    ``functions/``; without it they are listed in ``Project.external_functions`` for the caller.
    """
    root = Path(path)
    problems: list[Problem] = []
    functions, broken = load_functions(root, problems)
    data = _read_manifest(root / MANIFEST, problems)
    ctx = Context(Catalog(schema), {f.api_name.lower(): f for f in functions}, problems)
    ctx.broken = broken
    check_top_level(data, ctx)
    project = Project(root)
    project.org = ctx.org = read_org(data, ctx)
    project.modules = read_modules(data, ctx)
    project.fields = read_fields(data, ctx)
    project.variables = read_variables(data, ctx)
    project.function_settings = read_function_settings(data, ctx)
    project.connections = read_connections(data, ctx)
    project.workflows = read_workflows(data, ctx)
    project.buttons = read_buttons(data, ctx)
    project.related_lists = read_related_lists(data, ctx)
    project.validations = read_validations(data, ctx)
    project.schedules = read_schedules(data, ctx)
    project.functions = functions
    project.external_functions = ctx.external
    project.tables = _trigger_tables(data)
    if org_functions is not None:
        problems.extend(check_org_functions(ctx.external, org_functions))
    if problems:
        raise ProjectError(problems)
    return project


def _trigger_tables(data: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The trigger tables as written; only used when the project is valid, where every table
    became exactly one entry (a table with a problem raises ``ProjectError``)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for kind in TRIGGER_READERS:
        raw = data.get(kind)
        if isinstance(raw, list):
            out[kind] = [copy.deepcopy(dict(t)) for t in raw if isinstance(t, Mapping)]
    return out


def _read_manifest(path: Path, problems: list[Problem]) -> dict[str, Any]:
    if not path.is_file():
        problems.append(
            Problem(
                MANIFEST, "not found: a project directory needs a floodway.toml (it may be empty)"
            )
        )
        return {}
    try:
        return tomllib.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        problems.append(Problem(MANIFEST, f"not valid UTF-8 text (byte {exc.start})"))
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        m = _TOML_POS.search(message)
        line = column = None
        if m is not None:
            line, column = int(m[1]), int(m[2])
            message = message[: m.start()]
        problems.append(Problem(MANIFEST, f"invalid TOML: {message}", line=line, column=column))
    return {}


def parse_schedule(table: Mapping[str, Any], *, default_timezone: str | None = None) -> Schedule:
    """One ``[[schedule]]`` table on its own (the admin API's schedule form uses the same rules).

    ``default_timezone`` (the org's) is used to check a ``once`` time that names no timezone; the
    function named is not looked up. ``ProjectError`` when the table is not valid.
    """
    ctx = Context(Catalog(None), {})
    if default_timezone is not None:
        ctx.org = Org(time_zone=default_timezone)
    name = table.get("name")
    loc = Loc(table="schedule", index=1, name=name if isinstance(name, str) else None)
    schedule = read_schedule(table, loc, ctx)
    if schedule is None:
        raise ProjectError(ctx.problems)
    return schedule
