"""Ephemeral instances of the real store, for ``floodway run FILE`` without ``--data``.

An instance is a throw-away SQLite database with the same schema, bootstrap and code as a data
directory's (one CRM implementation, one set of shapes and validations). Migrating and
bootstrapping take a few hundred milliseconds, so they happen once per process, into a template
file; every instance is a copy of the template in the process's temporary directory, deleted
when the instance is closed (or garbage-collected, or at the latest when the process exits).
"""

from __future__ import annotations

import atexit
import shutil
import sqlite3
import tempfile
import threading
import uuid
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from floodway.crm.service import Crm

ADMIN_EMAIL: Final = "admin@floodway.local"
ADMIN_FIRST_NAME: Final = "Floodway"
ADMIN_LAST_NAME: Final = "Admin"

_lock = threading.Lock()
_state: dict[str, Path] = {}


def _folder() -> Path:
    folder = _state.get("dir")
    if folder is None:
        folder = Path(tempfile.mkdtemp(prefix="floodway-run-"))
        atexit.register(shutil.rmtree, folder, True)
        _state["dir"] = folder
    return folder


def _template() -> Path:
    """The migrated and bootstrapped template database of this process (built once)."""
    with _lock:
        path = _state.get("template")
        if path is not None:
            return path
        from floodway.crm import schema as t
        from floodway.crm.service import Crm
        from floodway.db import create_engine_for, ensure_schema, write_transaction

        path = _folder() / "template.db"
        engine = create_engine_for(database_url=f"sqlite:///{path}")
        try:
            ensure_schema(engine)
            crm = Crm(engine)
            crm.bootstrap(admin_email=ADMIN_EMAIL)
            with write_transaction(engine) as conn:
                conn.execute(
                    t.users.update()
                    .where(t.users.c.id == int(crm.primary_admin_id or 0))
                    .values(first_name=ADMIN_FIRST_NAME, last_name=ADMIN_LAST_NAME)
                )
        finally:
            engine.dispose()
        # Everything into the main file, so that a copy of the file alone is complete.
        raw = sqlite3.connect(path, isolation_level=None)
        try:
            raw.execute("PRAGMA journal_mode=DELETE")
        finally:
            raw.close()
        _state["template"] = path
        return path


def _remove(engine: Any, path: Path) -> None:
    engine.dispose()
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


class EphemeralStore:
    """One throw-away instance of the real store: ``crm`` (bootstrapped, admin
    ``admin@floodway.local``, org time zone ``time_zone``); ``close()`` deletes it."""

    def __init__(self, time_zone: str = "UTC") -> None:
        from floodway.crm import schema as t
        from floodway.crm.service import Crm
        from floodway.db import create_engine_for, write_transaction

        template = _template()
        path = _folder() / f"{uuid.uuid4().hex}.db"
        shutil.copyfile(template, path)
        engine = create_engine_for(database_url=f"sqlite:///{path}")
        self._finalizer = weakref.finalize(self, _remove, engine, path)
        if time_zone != "UTC":
            with write_transaction(engine) as conn:
                conn.execute(t.orgs.update().values(time_zone=time_zone))
        self.crm: Crm = Crm(engine)
        self.crm.bootstrap()

    def close(self) -> None:
        self._finalizer()
