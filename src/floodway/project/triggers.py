"""The trigger tables besides workflow rules: ``[[button]]``, ``[[related_list]]``,
``[[validation]]`` and ``[[schedule]]`` (functions-platform.md §2, §6)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .cron import SCHEDULE_KINDS, Schedule, ScheduleError, parse_timing, zone
from .manifest import Context, entries, module_name, unique
from .model import Button, RelatedList, Validation
from .problems import Loc
from .reader import NAME_MAX, TableReader, one_of
from .references import Scope, function_ref, templates

PLACEMENTS: Final = ("detail", "list")

# --------------------------------------------------------------------------------------------
# Buttons, related lists, validation rules


def read_buttons(data: Mapping[str, Any], ctx: Context) -> list[Button]:
    found: list[tuple[Button, Loc]] = []
    for raw, loc in entries(data, "button", ctx):
        r = TableReader(
            raw, loc, ctx.problems, ("name", "module", "placement", "function", "arguments")
        )
        r.check_keys()
        before = len(ctx.problems)
        name = r.text("name", required=True, max_length=NAME_MAX)
        module = module_name(r, ctx)
        placement = r.text("placement", choices=PLACEMENTS) or "detail"
        args_text = r.text_map("arguments") or {}
        function = function_ref(ctx, r, "function", "button", args_text)
        scope = Scope(module, "button", list_button=placement == "list")
        args = templates(ctx, r, "arguments", args_text, scope)
        if len(ctx.problems) != before or None in (name, module, function, args):
            continue
        assert name and module and function and args is not None
        found.append((Button(name, module, function, placement, args), loc))
    return unique(
        found,
        lambda b: f"{b.module}\x00{b.name}",
        lambda b: f'button "{b.name}" on {b.module}',
        ctx,
        "name",
    )


def read_related_lists(data: Mapping[str, Any], ctx: Context) -> list[RelatedList]:
    found: list[tuple[RelatedList, Loc]] = []
    for raw, loc in entries(data, "related_list", ctx):
        r = TableReader(raw, loc, ctx.problems, ("name", "module", "function", "arguments"))
        r.check_keys()
        before = len(ctx.problems)
        name = r.text("name", required=True, max_length=NAME_MAX)
        module = module_name(r, ctx)
        args_text = r.text_map("arguments") or {}
        function = function_ref(ctx, r, "function", "related_list", args_text)
        args = templates(ctx, r, "arguments", args_text, Scope(module, "related list"))
        if len(ctx.problems) != before or None in (name, module, function, args):
            continue
        assert name and module and function and args is not None
        found.append((RelatedList(name, module, function, args), loc))
    return unique(
        found,
        lambda x: f"{x.module}\x00{x.name}",
        lambda x: f'related list "{x.name}" on {x.module}',
        ctx,
        "name",
    )


def read_validations(data: Mapping[str, Any], ctx: Context) -> list[Validation]:
    found: list[tuple[Validation, Loc]] = []
    for raw, loc in entries(data, "validation", ctx):
        r = TableReader(raw, loc, ctx.problems, ("name", "module", "function"))
        r.check_keys()
        before = len(ctx.problems)
        name = r.text("name", required=True, max_length=NAME_MAX)
        module = module_name(r, ctx)
        function = function_ref(ctx, r, "function", "validation")
        if len(ctx.problems) != before or None in (name, module, function):
            continue
        assert name and module and function
        found.append((Validation(name, module, function), loc))
    return unique(
        found,
        lambda x: f"{x.module}\x00{x.name}",
        lambda x: f'validation "{x.name}" on {x.module}',
        ctx,
        "name",
    )


# --------------------------------------------------------------------------------------------
# Schedules


def read_schedule(raw: Mapping[str, Any], loc: Loc, ctx: Context) -> Schedule | None:
    """One ``[[schedule]]`` table; ``None`` (with problems recorded) when it is not valid."""
    r = TableReader(
        raw, loc, ctx.problems, ("name", "function", "timezone", "catch_up", *SCHEDULE_KINDS)
    )
    r.check_keys()
    before = len(ctx.problems)
    name = r.text("name", required=True, max_length=NAME_MAX)
    function = function_ref(ctx, r, "function", "schedule")
    tz_name = r.text("timezone")
    tz = None
    if tz_name is not None:
        try:
            tz = zone(tz_name)
        except ValueError as exc:
            r.problem("timezone", str(exc))
    elif ctx.org.time_zone is not None:
        tz = zone(ctx.org.time_zone)
    catch_up = r.boolean("catch_up")
    kinds = [k for k in SCHEDULE_KINDS if k in raw]
    timing = None
    if not kinds:
        r.problem(None, f"a schedule needs one of: {one_of(SCHEDULE_KINDS)}")
    elif len(kinds) > 1:
        r.problem(
            None,
            f"a schedule has exactly one of {one_of(SCHEDULE_KINDS)}; found {' and '.join(kinds)}",
        )
    else:
        text = r.text(kinds[0])
        if text is not None:
            try:
                timing = parse_timing(kinds[0], text, tz)
            except ScheduleError as exc:
                r.problem(kinds[0], str(exc))
    if len(ctx.problems) != before or name is None or function is None or timing is None:
        return None
    return Schedule(name, function, timing, tz_name, bool(catch_up))


def read_schedules(data: Mapping[str, Any], ctx: Context) -> list[Schedule]:
    found: list[tuple[Schedule, Loc]] = []
    for raw, loc in entries(data, "schedule", ctx):
        schedule = read_schedule(raw, loc, ctx)
        if schedule is not None:
            found.append((schedule, loc))
    return unique(found, lambda s: s.name, lambda s: f'schedule "{s.name}"', ctx, "name")
