"""Zoho-shaped errors and JSON responses (zoho-rest-compat.md §3.6, §4, §10).

A request-level error is one ``ZohoError`` raised anywhere below a route; the app's exception
handler renders it as ``{"code","details","message","status":"error"}`` with its HTTP status.
Per-row errors of write requests use the same shape inside ``data`` (``row_error``).
"""

from __future__ import annotations

import json
from typing import Any, Final

from starlette.responses import Response

JSON_TYPE: Final = "application/json;charset=UTF-8"

# Zoho wording for the codes floodway raises most (compat doc §10).
MSG_INVALID_DATA: Final = "invalid data"
MSG_INVALID_ID: Final = "the id given seems to be invalid"
MSG_MANDATORY: Final = "required field not found"
MSG_INVALID_MODULE: Final = "the module name given seems to be invalid"
MSG_PARAM_MISSING: Final = "One of the expected parameter is missing"
MSG_LIMIT_EXCEEDED: Final = "limit exceeded"
MSG_INVALID_URL: Final = "Please check if the URL trying to access is a correct one"
MSG_INVALID_METHOD: Final = "The http request method type is not a valid one"
MSG_INVALID_QUERY: Final = "invalid query formed"


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str).encode(
        "utf-8"
    )


class ZohoJSONResponse(Response):
    """JSON with Zoho's exact ``Content-Type`` (the SDKs pick their parser by it)."""

    media_type = JSON_TYPE

    def render(self, content: Any) -> bytes:
        return dumps(content)


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> ZohoJSONResponse:
    return ZohoJSONResponse(payload, status_code=status, headers=headers)


def no_content() -> Response:
    """HTTP 204, no body, no ``Content-Type`` (§3.6)."""
    return Response(status_code=204)


class ZohoError(Exception):
    """A request-level error: nothing was processed."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int = 400,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.details = details or {}
        self.headers = headers

    def body(self) -> dict[str, Any]:
        return envelope(self.code, self.message, self.details)

    def response(self) -> ZohoJSONResponse:
        return json_response(self.body(), self.status, self.headers)


def envelope(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": code, "details": details or {}, "message": message, "status": "error"}


row_error = envelope


# ---- constructors for the common request-level errors ------------------------------------


def invalid_url() -> ZohoError:
    return ZohoError("INVALID_URL_PATTERN", MSG_INVALID_URL, 404)


def invalid_method() -> ZohoError:
    return ZohoError("INVALID_REQUEST_METHOD", MSG_INVALID_METHOD, 400)


def invalid_module() -> ZohoError:
    return ZohoError("INVALID_MODULE", MSG_INVALID_MODULE, 400)


def authentication_failure(details: dict[str, Any] | None = None) -> ZohoError:
    return ZohoError("AUTHENTICATION_FAILURE", "Authentication failed", 401, details)


def invalid_token() -> ZohoError:
    return ZohoError("INVALID_TOKEN", "invalid oauth token", 401)


def scope_mismatch() -> ZohoError:
    return ZohoError("OAUTH_SCOPE_MISMATCH", "invalid oauth scope to access this URL", 401)


def no_permission(details: dict[str, Any] | None = None) -> ZohoError:
    return ZohoError("NO_PERMISSION", "permission denied", 403, details)


def param_missing(name: str) -> ZohoError:
    return ZohoError("REQUIRED_PARAM_MISSING", MSG_PARAM_MISSING, 400, {"param_name": name})


def invalid_param(name: str, message: str = MSG_INVALID_DATA) -> ZohoError:
    return ZohoError("INVALID_DATA", message, 400, {"param_name": name})


def invalid_path_id(index: int) -> ZohoError:
    return ZohoError("INVALID_DATA", MSG_INVALID_ID, 400, {"resource_path_index": index})


def limit_exceeded(limit: Any, status: int = 400) -> ZohoError:
    return ZohoError("LIMIT_EXCEEDED", MSG_LIMIT_EXCEEDED, status, {"limit": limit})


def mandatory_data() -> ZohoError:
    return ZohoError("MANDATORY_NOT_FOUND", MSG_MANDATORY, 400, {"api_name": "data"})


def internal_error() -> ZohoError:
    return ZohoError("INTERNAL_ERROR", "Internal Server Error", 500)
