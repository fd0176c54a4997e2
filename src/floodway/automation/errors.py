"""``AutomationError``: the one error type of the automation layer (automation-service-api.md §2).

Errors are values with a code, a message a user can act on and, in ``details``, the part they are
about (``{"field": "criteria"}``, ``{"field": "actions[0].arguments.dealId"}``). The HTTP layer
renders ``to_json()`` with ``http_status``; the same object reaches CLI and tests unchanged.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["HTTP_STATUS", "AutomationError"]

HTTP_STATUS: Final = {
    "NOT_FOUND": 404,
    "INVALID_DATA": 400,
    "DUPLICATE_DATA": 409,
    "NO_PERMISSION": 403,
}


class AutomationError(Exception):
    """``code`` is one of ``HTTP_STATUS``'s keys; ``details`` names the offending part."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 400)

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "details": dict(self.details),
            "message": self.message,
            "status": "error",
        }
