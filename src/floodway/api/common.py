"""Helpers shared by the routers: versions, modules, write statuses, calling the CRM layer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from .errors import invalid_url

VERSIONS: Final = frozenset({"v2", "v2.1", "v3", "v4", "v5", "v6", "v7", "v8"})
LEGACY_VERSIONS: Final = frozenset({"v2", "v2.1"})
V2_INFO_KEYS: Final = ("per_page", "count", "page", "more_records")

T = TypeVar("T")


def check_version(version: str) -> bool:
    """True for the legacy (v2, v2.1) shapes; unknown versions are ``INVALID_URL_PATTERN``."""
    if version not in VERSIONS:
        raise invalid_url()
    return version in LEGACY_VERSIONS


def crm(request: Request) -> Any:
    return request.app.state.crm


async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a (blocking, database) CRM call off the event loop."""
    return await run_in_threadpool(fn, *args, **kwargs)


async def resolve_module(request: Request, name: str) -> Any:
    """The ``ModuleDef`` for a path or parameter name, case-insensitively (compat §3.5)."""
    return await call(crm(request).metadata.module, name)


def trim_info(info: dict[str, Any], legacy: bool) -> dict[str, Any]:
    if legacy:
        return {k: info.get(k) for k in V2_INFO_KEYS}
    return info


def write_status(rows: list[dict[str, Any]], *, created: bool) -> int:
    """compat §4: all rows succeeded -> 201 (create) / 200; all failed -> 400; mixed -> 207."""
    ok = sum(1 for r in rows if r.get("status") == "success")
    if ok == len(rows):
        return 201 if created else 200
    if ok == 0:
        return 400
    return 207
