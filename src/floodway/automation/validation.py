"""Validation rules (functions-platform.md §2.6): functions that may block a save.

``Validations.attach()`` installs the CRM's pre-write hook, so the rules apply to every create
and update through ``crm.records``: the REST API, the web UI, Deluge CRM tasks and workflow field
updates. The hook runs before the save's transaction opens (security.md DOS-4), once per row:
the rules of the module in order, as the saving user, each receiving ``crmAPIRequest``
(``{record, module, operation, user}``; a ``string`` argument gets it as JSON text). The first
rule that blocks stops the row; a blocked row is not written and gets the per-row error
``{"code":"INVALID_DATA","details":{"validation_rule":…},"message":…,"status":"error"}``.

A rule whose function fails, or returns something other than ``{"status", "message"}`` (or
``""``/null, which allow), blocks with ``Validation function '<api_name>' failed`` (fail closed)
and its execution is recorded as a failure.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Final

from floodway.crm.errors import row_error
from floodway.deluge.values import text_form
from floodway.functions.crm_bridge import from_plain
from floodway.project.model import Validation

from .synchronous import function_failed, live_function, mark_failure, runnable_item

__all__ = ["DEFAULT_MESSAGE", "MAX_MESSAGE", "MAX_NESTING", "Validations", "verdict"]

log = logging.getLogger("floodway.automation")

MAX_MESSAGE: Final = 100  # the limit Zoho's validation template states
DEFAULT_MESSAGE: Final = "Validation failed"
MAX_NESTING: Final = 5  # validations of writes made by validation functions, on one thread
REQUEST_ARGUMENT: Final = "crmapirequest"
WRONG_SHAPE: Final = (
    'a validation function must return {"status": "error" or "success", "message": …}, "" or null'
)

_nesting = threading.local()


def failed_message(api_name: str) -> str:
    return f"Validation function '{api_name}' failed"[:200]


def verdict(output: Any) -> tuple[str, str | None]:
    """What a validation function's return value (plain JSON) means:
    ``("allow", None)``, ``("block", message)`` or ``("invalid", why)``."""
    if output is None or output == "":
        return "allow", None
    if isinstance(output, str):
        try:
            output = json.loads(output)  # a `string` function returning the map's JSON
        except ValueError:
            return "invalid", f"{WRONG_SHAPE}; it returned text"
    if not isinstance(output, Mapping):
        return "invalid", f"{WRONG_SHAPE}; it returned {type(output).__name__.lower()}"
    status = _get(output, "status")
    state = status.strip().lower() if isinstance(status, str) else None
    if state == "success":
        return "allow", None
    if state != "error":
        shown = "nothing" if status is None else f"status {json.dumps(status)[:40]}"
        return "invalid", f"{WRONG_SHAPE}; it returned {shown}"
    message = _get(output, "message")
    text = "" if message is None else message if isinstance(message, str) else _text(message)
    text = text.strip()
    return "block", (text[:MAX_MESSAGE] if text else DEFAULT_MESSAGE)


def _get(m: Mapping[str, Any], key: str) -> Any:
    if key in m:
        return m[key]
    return next((v for k, v in m.items() if isinstance(k, str) and k.lower() == key), None)


def _text(value: Any) -> str:
    return text_form(from_plain(value))


class Validations:
    """The validation rules of the org (``auto.validations``): the CRM's pre-write hook."""

    def __init__(self, crm: Any, functions: Any, store: Any) -> None:
        self.crm = crm
        self.functions = functions
        self.store = store
        self._remove: Any = None

    def attach(self) -> None:
        """Install the pre-write hook into ``crm.records``."""
        if self._remove is None:
            self._remove = self.crm.records.set_before_write(self)

    def close(self) -> None:
        """Remove the hook (writes are no longer validated)."""
        if self._remove is not None:
            self._remove()
            self._remove = None

    # ------------------------------------------------------------------ the hook

    def applies(self, module: str) -> bool:
        return bool(self.store.active("validation", module))

    def check(self, module: str, writes: Sequence[Any], actor: Any) -> dict[int, dict[str, Any]]:
        """Row index -> row error for every row a rule blocks."""
        rules = self.store.active("validation", module)
        if not rules or not writes:
            return {}
        user = self._user(str(actor.user_id))
        depth = getattr(_nesting, "depth", 0)
        errors: dict[int, dict[str, Any]] = {}
        _nesting.depth = depth + 1
        try:
            for write in writes:
                for item in rules:
                    message, _ = self._rule(item, module, write, user, actor, depth)
                    if message is not None:
                        errors[write.index] = row_error(
                            "INVALID_DATA", {"validation_rule": item.name}, message
                        )
                        break
        finally:
            _nesting.depth = depth
        return errors

    def test(self, item_id: str, write: Any, actor: Any) -> dict[str, Any]:
        """ "Test with a record": run one rule on ``write`` (a ``crm.records.planned`` row) as a
        save would, without saving anything but the execution (its trigger says ``"detail":
        "test"``). ``{"allowed": bool, "message": text or None, "execution_id": id or None}``.
        A disabled rule is tested too: that is how one checks it before switching it on."""
        item = runnable_item(self.store.get("validation", item_id), "validation rule")
        user = self._user(str(actor.user_id))
        message, execution_id = self._rule(
            item, item.spec.module, write, user, actor, 0, detail="test"
        )
        return {"allowed": message is None, "message": message, "execution_id": execution_id}

    def _user(self, user_id: str) -> dict[str, Any]:
        found = self.crm.users.get(user_id) if user_id.isdigit() else None
        if found is None:
            return {"id": user_id, "name": None, "email": None}
        return {"id": str(found.id), "name": found.full_name, "email": found.email}

    def _rule(
        self,
        item: Any,
        module: str,
        write: Any,
        user: dict[str, Any],
        actor: Any,
        depth: int,
        *,
        detail: str | None = None,
    ) -> tuple[str | None, str | None]:
        """Run one rule for one row: (None when it allows the save, else the message; the
        execution's id when the function ran)."""
        spec: Validation = item.spec
        failed = failed_message(spec.function)
        trigger = {
            "type": "validation",
            "rule": spec.name,
            "module": module,
            "record_id": write.record_id,
            "operation": write.operation,
        }
        if detail is not None:
            trigger["detail"] = detail
        chain = getattr(actor, "chain", None)
        if depth >= MAX_NESTING:
            # A validation function writing records whose validation writes records …: stop.
            skipped = self.functions.executor.skip(
                spec.function,
                trigger,
                f"loop guard: validation rules nested {MAX_NESTING} deep",
                user_id=str(actor.user_id),
                chain=chain,
            )
            return failed, str(skipped)
        request = {
            "record": write.record,
            "module": module,
            "operation": write.operation,
            "user": user,
        }
        live = live_function(self.functions, spec.function)
        arguments: dict[str, Any] = {}
        params = live.program.params if live is not None else [("crmAPIRequest", "Map")]
        for name, kind in params:
            if name.lower() == REQUEST_ARGUMENT:
                as_text = kind.lower() == "string"
                arguments[name] = json.dumps(request, ensure_ascii=False) if as_text else request
        try:
            result = self.functions.executor.run(
                live or spec.function,
                arguments,
                user_id=str(actor.user_id),
                trigger=trigger,
                chain=chain,
            )
        except Exception as exc:
            reason = function_failed(exc)
            if reason is None:
                raise
            log.warning("validation rule %r cannot run: %s", spec.name, reason)
            return failed, None
        if result.status != "success":
            return failed, result.id
        outcome, said = verdict(result.output)
        if outcome == "invalid":
            mark_failure(self.functions, result.id, said or WRONG_SHAPE)
            return failed, result.id
        return (said if outcome == "block" else None), result.id
