"""The Zoho-compatible REST API and OAuth endpoints (zoho-rest-compat.md), on FastAPI.

``create_app(crm, settings)`` returns the ASGI app; ``floodway.server`` runs it on uvicorn.
"""

from __future__ import annotations

from typing import Any


def create_app(crm: Any, settings: Any = None, **kwargs: Any) -> Any:
    from .app import create_app as _create_app

    return _create_app(crm, settings, **kwargs)


__all__ = ["create_app"]
