"""``Automation``: the automation layer of one org in one process (automation-service-api.md §2).

It composes the parts around one rule store::

    auto = Automation(crm, functions, queue, settings)
    auto.store, auto.engine, auto.buttons, auto.related_lists, auto.validations,
    auto.schedules, auto.webhooks
    auto.close()

Construction builds every part and then attaches them (``attach=False`` defers that to an explicit
``auto.attach()``): webhooks first (their delivery task must be registered before the engine can
queue one), then the workflow engine (subscribes to ``crm.events``), schedules (the periodic
tick), validation rules (the pre-write hook), then buttons and related lists. Attaching registers
job handlers, so it must happen before ``queue.start()``. ``close()`` detaches in reverse order.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any, Final

from .errors import AutomationError
from .store import AutomationStore, Item

__all__ = ["Automation", "AutomationError", "AutomationStore", "Item"]

log = logging.getLogger("floodway.automation")

# Attribute -> (module, class); constructor arguments are fixed by ``_build``.
_PARTS: Final = {
    "webhooks": ("webhooks", "Webhooks"),
    "engine": ("engine", "WorkflowEngine"),
    "buttons": ("buttons", "Buttons"),
    "related_lists": ("related_lists", "RelatedLists"),
    "validations": ("validation", "Validations"),
    "schedules": ("schedules", "Schedules"),
}
ATTACH_ORDER: Final = ("webhooks", "engine", "schedules", "validations", "buttons", "related_lists")


def _part_class(module: str, name: str) -> Any:
    """The class of a part, or ``None`` while its module is not written yet.

    Only the part's own module being absent is tolerated: an import error inside an existing
    module is a bug and propagates.
    """
    qualified = f"{__package__}.{module}"
    try:
        mod = importlib.import_module(qualified)
    except ModuleNotFoundError as exc:
        if exc.name == qualified:
            return None
        raise
    return getattr(mod, name)


class Automation:
    """Rule store, workflow engine, buttons, related lists, validation rules, schedules and
    webhooks of ``crm``'s org. ``queue`` is the process's job queue (``floodway.jobs``)."""

    def __init__(
        self,
        crm: Any,
        functions: Any,
        queue: Any,
        settings: Any = None,
        *,
        attach: bool = True,
    ) -> None:
        self.crm = crm
        self.functions = functions
        self.queue = queue
        self.settings = settings
        self.store = AutomationStore(crm, functions)
        self.webhooks: Any = None
        self.engine: Any = None
        self.buttons: Any = None
        self.related_lists: Any = None
        self.validations: Any = None
        self.schedules: Any = None
        for attr, (module, name) in _PARTS.items():
            cls = _part_class(module, name)
            if cls is not None:
                setattr(self, attr, self._build(attr, cls))
        self._attached: list[Any] = []
        if attach:
            self.attach()

    def _build(self, attr: str, cls: Any) -> Any:
        crm, fx, store, queue, settings = (
            self.crm,
            self.functions,
            self.store,
            self.queue,
            self.settings,
        )
        if attr == "webhooks":
            return cls(crm, fx, queue, settings)
        if attr == "engine":  # one webhook outbox: the engine queues into the attached part
            return cls(crm, fx, store, queue, settings, webhooks=self.webhooks)
        if attr == "schedules":
            return cls(crm, fx, store, queue, settings)
        return cls(crm, fx, store)

    def attach(self) -> None:
        """Subscribe and register every part (once; in ``ATTACH_ORDER``)."""
        if self._attached:
            return
        for attr in ATTACH_ORDER:
            part = getattr(self, attr)
            hook = getattr(part, "attach", None)
            if hook is not None:
                hook()
                self._attached.append(part)

    def close(self) -> None:
        """Unsubscribe and uninstall what ``attach`` did, in reverse order (tests; shutdown)."""
        parts, self._attached = self._attached, []
        for part in reversed(parts):
            hook = getattr(part, "close", None)
            if hook is None:
                continue
            try:
                hook()
            except Exception:  # one part failing to detach must not keep the others attached
                log.exception("closing %s failed", type(part).__name__)
