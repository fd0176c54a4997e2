"""Database engines, the data directory and schema migrations.

Two databases serve the same code and migrations: SQLite in the data directory (the embedded
default, ``<data>/floodway.db`` in WAL mode) and PostgreSQL through a URL
(``FLOODWAY_DATABASE_URL`` / ``--database-url``). ``ensure_schema`` brings either to the newest
Alembic revision; on PostgreSQL it holds an advisory lock so that when several nodes start at
once one migrates and the others wait, then find nothing left to do.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

DEFAULT_DATA_DIR: Final = Path("floodway-data")
SQLITE_FILE: Final = "floodway.db"
# An arbitrary constant: the PostgreSQL advisory lock key that serialises migrations.
MIGRATION_LOCK_KEY: Final = 0x666C6F6F64776179 & 0x7FFFFFFFFFFFFFFF  # "floodway"
_WRITE: Final = "floodway_write"


def init_data_dir(path: Path) -> bool:
    """Create a missing or empty data directory (owner-only); return whether it was new.

    "Empty" counts as new too, so ``floodway serve --data DIR`` on a directory made by
    ``mkdir`` initialises it exactly as a first start does.
    """
    new = not path.exists() or (path.is_dir() and not any(path.iterdir()))
    path.mkdir(parents=True, exist_ok=True)
    if new:
        os.chmod(path, 0o700)
    return new


def database_url(
    settings: Any = None, *, database_url: str | None = None, data_dir: Path | None = None
) -> str:
    """The SQLAlchemy URL: an explicit URL, the settings' ``database_url``, else SQLite."""
    url = database_url or (getattr(settings, "database_url", None) if settings else None)
    if url:
        url = str(url)
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url
    data = data_dir or (getattr(settings, "data", None) if settings else None) or DEFAULT_DATA_DIR
    data = Path(data)
    init_data_dir(data)
    return f"sqlite:///{(data / SQLITE_FILE).resolve()}"


def create_engine_for(
    settings: Any = None,
    *,
    database_url: str | None = None,
    data_dir: Path | None = None,
    **engine_kw: Any,
) -> Engine:
    """An engine for SQLite (WAL, foreign keys, explicit write transactions) or PostgreSQL."""
    url = _url(settings, database_url, data_dir)
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, **engine_kw)
        _configure_sqlite(engine)
        return engine
    # No ping before every checkout: it costs a round trip per transaction, which job workers
    # pay several times per action. A connection that the server dropped fails its statement
    # once; SQLAlchemy then invalidates the whole pool, so later checkouts reconnect (and job
    # handlers retry database errors). Recycling bounds the age of idle connections.
    engine_kw.setdefault("pool_pre_ping", False)
    engine_kw.setdefault("pool_recycle", 1800)
    engine_kw.setdefault("pool_size", 10)
    engine_kw.setdefault("max_overflow", 20)
    return sa.create_engine(url, **engine_kw)


def _url(settings: Any, url: str | None, data_dir: Path | None) -> str:
    return database_url(settings, database_url=url, data_dir=data_dir)


def _configure_sqlite(engine: Engine) -> None:
    """pysqlite's own transaction handling is switched off so that SQLAlchemy's ``begin``
    emits the BEGIN: ``BEGIN IMMEDIATE`` for writes (the write lock is taken up front, so two
    writers never deadlock on a lock upgrade), plain ``BEGIN`` for reads."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        if conn.get_execution_options().get(_WRITE):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def is_sqlite(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "sqlite"


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One write transaction: committed when the block ends, rolled back when it raises.

    SQLite has one writer at a time. Writers of one process queue on a lock here instead of in
    SQLite's busy handler, which sleeps up to 100 ms between retries and makes the tail latency
    of concurrent writes long; other processes still meet the busy handler.
    """
    lock = _sqlite_write_lock(engine)
    if lock is None:
        with engine.connect().execution_options(**{_WRITE: True}) as conn, conn.begin():
            yield conn
        return
    with lock, engine.connect().execution_options(**{_WRITE: True}) as conn, conn.begin():
        yield conn


_write_locks: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()
_write_locks_guard = threading.Lock()


def _sqlite_write_lock(engine: Engine) -> threading.RLock | None:
    if engine.dialect.name != "sqlite":
        return None
    lock = _write_locks.get(engine)
    if lock is None:
        with _write_locks_guard:
            lock = _write_locks.setdefault(engine, threading.RLock())
    return lock


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn, conn.begin():
        yield conn


# --------------------------------------------------------------------------------------------
# Migrations

_migrate_lock = threading.Lock()


def alembic_config(connection: Connection | None = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


class PlannerStatistics:
    """Keeps PostgreSQL's statistics of the records tables fresh after bulk inserts.

    A bulk load changes row counts by orders of magnitude; until ``ANALYZE`` runs the planner
    keeps choosing plans for an empty table. After enough inserted rows (1,000 or a tenth of the
    rows counted at the last analysis) one ``ANALYZE`` runs on a background thread, off the
    request path. SQLite needs nothing: its planner uses the indexes as they are.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.enabled = engine.dialect.name == "postgresql"
        self._lock = threading.Lock()
        self._pending = 0
        self._rows_at_last = 0
        self._running = False

    def note_inserts(self, n: int) -> None:
        if not self.enabled or n <= 0:
            return
        with self._lock:
            self._pending += n
            if self._running or self._pending < max(1_000, self._rows_at_last // 10):
                return
            self._running = True
            self._rows_at_last += self._pending
            self._pending = 0
        threading.Thread(target=self._analyze, name="floodway-analyze", daemon=True).start()

    def _analyze(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("ANALYZE records, record_refs"))
                conn.commit()
        except Exception:  # statistics are an optimisation; a failure must not hurt writes
            logging.getLogger("floodway.db").warning("ANALYZE failed", exc_info=True)
        finally:
            with self._lock:
                self._running = False


def ensure_schema(engine: Engine) -> None:
    """Upgrade the database to the newest revision (idempotent; safe on several nodes)."""
    from alembic import command

    with _migrate_lock, engine.connect().execution_options(**{_WRITE: True}) as conn:
        if engine.dialect.name == "postgresql":
            # Session-level lock: held across the migration's own transactions.
            conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
            conn.commit()
            try:
                command.upgrade(alembic_config(conn), "head")
                conn.commit()
                # Fresh and restored databases have no planner statistics until autovacuum
                # runs (if it runs at all); without them searches read every row of a module.
                conn.execute(sa.text("ANALYZE records, record_refs"))
                conn.commit()
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK_KEY})
                conn.commit()
        else:
            command.upgrade(alembic_config(conn), "head")
            conn.commit()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@functools.cache
def insert_ignoring(table: sa.Table, dialect: str) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING RETURNING <first key column>`` on ``table``, built once
    per table and dialect; the rows travel as parameters (a dict, or a list of dicts sent as one
    multi-row INSERT), and the keys returned are the rows that were new. A statement built per
    call costs more Python time than its round trip; RETURNING because psycopg reports no
    rowcount for ``ON CONFLICT``."""
    from sqlalchemy.dialects import postgresql, sqlite

    if dialect == "postgresql":
        stmt: Any = postgresql.insert(table)
    elif dialect == "sqlite":
        stmt = sqlite.insert(table)
    else:  # pragma: no cover - other databases are not supported
        raise RuntimeError(f"unsupported database {dialect}")
    return stmt.on_conflict_do_nothing().returning(next(iter(table.primary_key.columns)))
