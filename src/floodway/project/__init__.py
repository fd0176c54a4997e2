"""Project directories (project-format.md): the pure half of ``floodway deploy`` / ``pull``.

Parsing, validation and planning only; no database. The deploy step reads the org, calls::

    project = load_project(path, schema=org_schema, org_functions=org_signatures)
    plan = plan_functions(project, live_sources)

and applies what it gets; ``floodway pull`` calls ``write_functions`` and
``write_trigger_tables``. Every problem of a
directory is reported at once in one ``ProjectError``.

Submodules: ``model`` (the dataclass tree), ``loader`` (``load_project``), ``manifest`` and
``triggers`` (the tables), ``functions`` (``.dg`` files), ``merge_fields`` (``${...}`` templates),
``cron`` (schedules), ``timing`` (durations, offsets, HH:MM), ``signatures`` (function/use fit),
``plan`` (what would change), ``problems``.
"""

from __future__ import annotations

from .catalog import Schema
from .cron import Schedule, ScheduleError, Timing, parse_cron, parse_timing, resolve_local
from .functions import WriteReport, load_functions, write_functions
from .loader import load_project, parse_schedule
from .merge_fields import (
    MergeField,
    MergeFieldError,
    Template,
    parse_template,
    render,
    render_json,
)
from .model import (
    Action,
    Button,
    Connection,
    EmailAction,
    Field,
    FieldUpdateAction,
    FunctionAction,
    FunctionFile,
    FunctionRef,
    FunctionSetting,
    Module,
    Org,
    Project,
    RelatedList,
    TaskAction,
    Validation,
    Variable,
    WebhookAction,
    Workflow,
)
from .plan import FunctionPlan, TablePlan, plan_entries, plan_functions
from .problems import Problem, ProjectError
from .signatures import FunctionSignature, check_org_functions
from .timing import Duration, Offset, parse_duration, parse_hhmm, parse_offset
from .toml_writer import ManifestWrite, write_trigger_tables

__all__ = [
    "Action",
    "Button",
    "Connection",
    "Duration",
    "EmailAction",
    "Field",
    "FieldUpdateAction",
    "FunctionAction",
    "FunctionFile",
    "FunctionPlan",
    "FunctionRef",
    "FunctionSetting",
    "FunctionSignature",
    "ManifestWrite",
    "MergeField",
    "MergeFieldError",
    "Module",
    "Offset",
    "Org",
    "Problem",
    "Project",
    "ProjectError",
    "RelatedList",
    "Schedule",
    "ScheduleError",
    "Schema",
    "TablePlan",
    "TaskAction",
    "Template",
    "Timing",
    "Validation",
    "Variable",
    "WebhookAction",
    "Workflow",
    "WriteReport",
    "check_org_functions",
    "load_functions",
    "load_project",
    "parse_cron",
    "parse_duration",
    "parse_hhmm",
    "parse_offset",
    "parse_schedule",
    "parse_template",
    "parse_timing",
    "plan_entries",
    "plan_functions",
    "render",
    "render_json",
    "resolve_local",
    "write_functions",
    "write_trigger_tables",
]
