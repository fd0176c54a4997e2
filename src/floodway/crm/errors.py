"""Errors of the CRM service layer: values with Zoho's code, message and details.

``CrmError`` is raised for request-level problems (nothing was written); per-row problems of
bulk writes are returned as ``row_error`` dicts in the same shape.
"""

from __future__ import annotations

from typing import Any, Final

MSG_INVALID_DATA: Final = "invalid data"
MSG_INVALID_ID: Final = "the id given seems to be invalid"
MSG_MANDATORY: Final = "required field not found"
MSG_DUPLICATE: Final = "duplicate data"
MSG_INVALID_MODULE: Final = "the module name given seems to be invalid"
MSG_LIMIT_EXCEEDED: Final = "limit exceeded"
MSG_INVALID_QUERY: Final = "invalid query formed"
MSG_LIMIT_REACHED: Final = "Maximum response iteration limit reached"
MSG_PARAM_MISSING: Final = "mandatory param missing"
MSG_REQUIRED_PARAM: Final = "One of the expected parameter is missing"

_STATUS: Final = {
    "INVALID_TOKEN": 401,
    "AUTHENTICATION_FAILURE": 401,
    "OAUTH_SCOPE_MISMATCH": 401,
    "NO_PERMISSION": 403,
    "INVALID_URL_PATTERN": 404,
    "TOO_MANY_REQUESTS": 429,
    "INTERNAL_ERROR": 500,
}


class CrmError(Exception):
    """A Zoho-shaped error: ``to_json()`` is the response body, ``http_status`` its status."""

    def __init__(
        self,
        code: str,
        message: str,
        details: dict[str, Any] | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details or {}
        self.http_status = status if status is not None else _STATUS.get(code, 400)

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "details": self.details,
            "message": self.message,
            "status": "error",
        }


def row_error(code: str, details: dict[str, Any], message: str) -> dict[str, Any]:
    return {"code": code, "details": details, "message": message, "status": "error"}


def row_success(details: dict[str, Any], message: str) -> dict[str, Any]:
    return {"code": "SUCCESS", "details": details, "message": message, "status": "success"}


def invalid_module() -> CrmError:
    return CrmError("INVALID_MODULE", MSG_INVALID_MODULE)


def limit_exceeded(limit: int | str) -> CrmError:
    return CrmError("LIMIT_EXCEEDED", MSG_LIMIT_EXCEEDED, {"limit": limit})


class RowError(Exception):
    """Internal: one row of a write failed; carries the row's error dict."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error["code"])
        self.error = error
