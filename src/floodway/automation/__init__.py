"""Automation: workflow rules, buttons, related lists, validation rules, schedules and webhooks
(functions-platform.md §2-§6, docs/automation-service-api.md).

``floodway.automation.service.Automation`` composes the parts; ``store`` keeps the definitions.
Nothing else is imported here, so that importing one part does not pull in the others.
"""

from __future__ import annotations

from .errors import AutomationError

__all__ = ["AutomationError"]
