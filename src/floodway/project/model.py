"""The typed model of a project directory (project-format.md): plain dataclasses, no behaviour.

Everything in it is already validated and parsed (durations, offsets, times, templates, criteria,
schedules), so the deploy step and the automation layer never look at manifest text again. Entries
compare by value, which is what deploy needs to tell "unchanged" from "changed"; source positions
are kept out of comparisons.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeAlias

from floodway.crm.criteria import Criteria

from .cron import Schedule
from .merge_fields import Template
from .problems import Loc
from .timing import Duration, Offset

__all__ = [
    "Action",
    "Button",
    "Connection",
    "EmailAction",
    "Field",
    "FieldUpdateAction",
    "FunctionAction",
    "FunctionFile",
    "FunctionRef",
    "FunctionSetting",
    "Module",
    "Org",
    "Project",
    "RelatedList",
    "Schedule",
    "TaskAction",
    "Validation",
    "Variable",
    "WebhookAction",
    "Workflow",
]


@dataclass(frozen=True, slots=True)
class Org:
    """``[org]``; ``None`` means "not stated": deploy leaves the org's setting as it is."""

    time_zone: str | None = None
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class Module:
    """``[[module]]``: a custom module (created with a mandatory text field ``Name``)."""

    api_name: str
    singular: str | None = None
    plural: str | None = None


@dataclass(frozen=True, slots=True)
class Field:
    """``[[field]]``: a custom field (created or updated by deploy, never silently dropped)."""

    module: str
    api_name: str
    type: str
    label: str | None = None
    values: tuple[str, ...] = ()
    lookup_module: str | None = None
    unique: bool = False
    required: bool = False
    length: int | None = None


@dataclass(frozen=True, slots=True)
class Variable:
    """``[[variable]]``: an org variable (``zoho.crm.getOrgVariable``)."""

    api_name: str
    value: str | int | float | bool


@dataclass(frozen=True, slots=True)
class FunctionSetting:
    """``[[function]]``: settings of one function; ``None`` leaves the current setting alone."""

    api_name: str
    rest: bool | None = None
    timeout_s: float | None = None
    display_name: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Connection:
    """``[[connection]]``. Secrets are never here: ``*_env`` name environment variables that the
    deploy step reads. ``hosts`` has its default applied (oauth2: the token URL's host)."""

    name: str
    type: str  # oauth2_authorization_code | oauth2_client_credentials | api_key | basic
    hosts: tuple[str, ...] = ()
    token_url: str | None = None
    authorize_url: str | None = None
    scope: str | None = None
    client_id_env: str | None = None
    client_secret_env: str | None = None
    header: str | None = None
    query: str | None = None
    key_env: str | None = None
    user_env: str | None = None
    password_env: str | None = None

    @property
    def env(self) -> dict[str, str]:
        """Manifest key -> environment variable name, for every secret this connection needs."""
        keys = ("client_id_env", "client_secret_env", "key_env", "user_env", "password_env")
        return {k: v for k in keys if (v := getattr(self, k)) is not None}


# --------------------------------------------------------------------------------------------
# Workflow actions: one class per kind; ``after`` makes an action scheduled.


@dataclass(frozen=True, slots=True)
class FunctionAction:
    kind: ClassVar[str] = "function"
    function: str  # api name as resolved (the function file's spelling when it is in the project)
    arguments: dict[str, Template] = field(default_factory=dict)
    after: Duration | None = None


@dataclass(frozen=True, slots=True)
class FieldUpdateAction:
    kind: ClassVar[str] = "field_update"
    values: dict[str, Template] = field(default_factory=dict)
    after: Duration | None = None


@dataclass(frozen=True, slots=True)
class WebhookAction:
    kind: ClassVar[str] = "webhook"
    url: Template
    method: str = "POST"
    headers: dict[str, Template] = field(default_factory=dict)
    body: Template | None = None
    body_is_json: bool = False  # substitute with merge_fields.render_json
    after: Duration | None = None


@dataclass(frozen=True, slots=True)
class EmailAction:
    kind: ClassVar[str] = "email"
    to: Template
    subject: Template
    body: Template | None = None
    after: Duration | None = None


@dataclass(frozen=True, slots=True)
class TaskAction:
    """Creates a Tasks record; values are templates or relative times (``+2d``) counted from the
    trigger time."""

    kind: ClassVar[str] = "task"
    values: dict[str, Template | Offset] = field(default_factory=dict)
    after: Duration | None = None


Action: TypeAlias = FunctionAction | FieldUpdateAction | WebhookAction | EmailAction | TaskAction


@dataclass(frozen=True, slots=True)
class Workflow:
    """``[[workflow]]``; ``criteria_tree`` is the parsed ``criteria`` (not compared)."""

    name: str
    module: str
    on: str  # create | edit | create_or_edit | field_update | delete | date
    actions: tuple[Action, ...]
    fields: tuple[str, ...] = ()
    criteria: str | None = None
    repeat: str = "every_time"
    date_field: str | None = None
    offset: Offset | None = None  # date rules: default +0d
    at: _dt.time | None = None  # date rules on date fields; None = 00:00 in the org time zone
    order: int | None = None
    criteria_tree: Criteria | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Button:
    name: str
    module: str
    function: str
    placement: str = "detail"  # detail | list
    arguments: dict[str, Template] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RelatedList:
    name: str
    module: str
    function: str
    arguments: dict[str, Template] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Validation:
    name: str
    module: str
    function: str


@dataclass(frozen=True, slots=True)
class FunctionFile:
    """``functions/<api_name>.dg``: source exactly as in the file (compared by deploy)."""

    api_name: str
    category: str
    source: str
    path: Path
    return_type: str | None = None  # None: a bare script
    params: tuple[tuple[str, str], ...] = ()  # (name, canonical type) in header order

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.params)


@dataclass(frozen=True, slots=True)
class FunctionRef:
    """A function the manifest names but ``functions/`` does not hold: it must exist in the org
    with ``category`` (checked by ``check_org_functions`` / ``load_project(org_functions=...)``)."""

    api_name: str
    category: str
    arguments: tuple[str, ...] = ()  # argument names the manifest maps
    parameterless: bool = False  # schedules
    loc: Loc = field(default_factory=Loc, compare=False)
    key: str = "function"


@dataclass(slots=True)
class Project:
    """A loaded, fully validated project directory."""

    path: Path
    org: Org = field(default_factory=Org)
    modules: list[Module] = field(default_factory=list)
    fields: list[Field] = field(default_factory=list)
    variables: list[Variable] = field(default_factory=list)
    function_settings: list[FunctionSetting] = field(default_factory=list)
    connections: list[Connection] = field(default_factory=list)
    workflows: list[Workflow] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)
    related_lists: list[RelatedList] = field(default_factory=list)
    validations: list[Validation] = field(default_factory=list)
    schedules: list[Schedule] = field(default_factory=list)
    functions: list[FunctionFile] = field(default_factory=list)
    external_functions: list[FunctionRef] = field(default_factory=list)
    # The trigger tables as written (kind -> tables in file order, one per parsed entry above):
    # what the automation store keeps as each item's definition.
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def function(self, api_name: str) -> FunctionFile | None:
        """The project's function file by api name (case-insensitive, as Deluge calls are)."""
        low = api_name.lower()
        return next((f for f in self.functions if f.api_name.lower() == low), None)

    @property
    def has_triggers(self) -> bool:
        """Whether any trigger table is present (workflow, button, related list, validation,
        schedule)."""
        return bool(
            self.workflows
            or self.buttons
            or self.related_lists
            or self.validations
            or self.schedules
        )
