"""CRM data concerns shared by the REST API, the CRM tasks of Deluge and workflow rules.

``criteria`` parses Zoho's search criteria (zoho-rest-compat.md §6) into a small immutable tree
that can be evaluated in memory or compiled to SQL (``criteria_sql``). ``Crm`` (``service``) is
the data core: metadata, records, users, OAuth and record-change events over SQLAlchemy
(docs/crm-service-api.md). Importing this package does not import SQLAlchemy; the names below
load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .errors import CrmError
    from .events import RecordChange
    from .oauth import Principal
    from .reading import Page
    from .service import Actor, BootstrapResult, Crm

__all__ = ["Actor", "BootstrapResult", "Crm", "CrmError", "Page", "Principal", "RecordChange"]

_WHERE = {
    "Actor": "service",
    "BootstrapResult": "service",
    "Crm": "service",
    "CrmError": "errors",
    "Page": "reading",
    "Principal": "oauth",
    "RecordChange": "events",
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{where}"), name)
