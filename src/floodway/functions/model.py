"""What the function registry hands out: functions, versions, the runnable live version, the
result of a save, and the one error type of the functions service (with its HTTP status)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Final

from floodway.deluge import Program

_HTTP_STATUS: Final = {
    "NOT_FOUND": 404,
    "DUPLICATE_DATA": 409,
    "NO_LIVE_VERSION": 409,
    "SECRETS_UNAVAILABLE": 500,
}


class FunctionsError(Exception):
    """A request-level problem of the functions service (nothing was changed).

    ``to_json()`` is Zoho's error shape; ``http_status`` a suggested status for the API layer.
    """

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details or {}
        self.http_status = _HTTP_STATUS.get(code, 400)

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "details": self.details,
            "message": self.message,
            "status": "error",
        }


def ms_to_iso(ms: int | None) -> str | None:
    """BIGINT milliseconds as ISO-8601 UTC with milliseconds (``…T14:03:09.123Z``)."""
    if ms is None:
        return None
    secs, milli = divmod(int(ms), 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{milli:03d}Z"


@dataclass(frozen=True, slots=True)
class FunctionInfo:
    id: str
    api_name: str
    display_name: str
    description: str
    category: str
    return_type: str | None
    arguments: tuple[tuple[str, str | None], ...]
    rest_enabled: bool
    rest_auth: str
    timeout_s: float | None
    settings: dict[str, Any] = field(compare=False, hash=False)
    live_version: int | None = None
    latest_version: int = 0
    created_time: int = 0
    modified_time: int = 0
    created_by: str | None = None
    modified_by: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "api_name": self.api_name,
            "display_name": self.display_name,
            "description": self.description,
            "category": self.category,
            "return_type": self.return_type,
            "arguments": [{"name": n, "type": ty} for n, ty in self.arguments],
            "rest_enabled": self.rest_enabled,
            "rest_auth": self.rest_auth,
            "timeout_s": self.timeout_s,
            "settings": dict(self.settings),
            "live_version": self.live_version,
            "latest_version": self.latest_version,
            "created_time": ms_to_iso(self.created_time),
            "modified_time": ms_to_iso(self.modified_time),
            "created_by": self.created_by,
            "modified_by": self.modified_by,
        }


@dataclass(frozen=True, slots=True)
class VersionInfo:
    id: str
    function_id: str
    api_name: str
    number: int
    sha256: str
    author: str | None
    status: str  # draft | published
    live: bool
    category: str
    return_type: str | None
    arguments: tuple[tuple[str, str | None], ...]
    created_time: int
    published_time: int | None
    source: str | None = field(default=None, repr=False)

    def to_json(self, source: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "function_id": self.function_id,
            "api_name": self.api_name,
            "number": self.number,
            "sha256": self.sha256,
            "author": self.author,
            "created_time": ms_to_iso(self.created_time),
            "published_time": ms_to_iso(self.published_time),
            "status": self.status,
            "live": self.live,
            "category": self.category,
            "return_type": self.return_type,
            "arguments": [{"name": n, "type": ty} for n, ty in self.arguments],
        }
        if source:
            out["source"] = self.source
        return out


@dataclass(frozen=True, slots=True)
class LiveFunction:
    """What the executor needs to run a function: its row, the version and the program."""

    function: FunctionInfo
    version: VersionInfo
    program: Program


@dataclass(frozen=True, slots=True)
class SaveResult:
    function: FunctionInfo
    version: VersionInfo
    function_created: bool
    version_created: bool
    published: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "function": self.function.to_json(),
            "version": self.version.to_json(),
            "function_created": self.function_created,
            "version_created": self.version_created,
            "published": self.published,
        }
