"""Storage: engines, migrations, bootstrap, ids (SQLite and PostgreSQL)."""

# ruff: noqa: F401, F811  (pytest fixtures imported from floodway.crm.testing)

from __future__ import annotations

import threading
from pathlib import Path

import sqlalchemy as sa

from floodway.crm import Crm
from floodway.crm.ids import IdGenerator, id_time_ms
from floodway.crm.testing import crm, crm_database, fresh_crm
from floodway.db import create_engine_for, current_revision, ensure_schema, init_data_dir


def test_ids_have_19_digits_and_increase() -> None:
    gen = IdGenerator(5)
    ids = gen.take(50_000)
    assert all(len(str(i)) == 19 for i in ids)
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(i < 2**63 for i in ids)
    assert all(i & 0x3F == 5 for i in ids)
    assert id_time_ms(ids[0]) > 1_700_000_000_000


def test_ids_from_threads_are_unique() -> None:
    gen = IdGenerator(1)
    out: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        got = gen.take(5000)
        with lock:
            out.extend(got)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(set(out)) == 20_000


def test_sqlite_default_in_data_dir_uses_wal(tmp_path: Path) -> None:
    data = tmp_path / "data"
    engine = create_engine_for(data_dir=data)
    try:
        ensure_schema(engine)
        assert (data / "floodway.db").is_file()
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()
    assert (data.stat().st_mode & 0o777) == 0o700


def test_init_data_dir_reports_new_and_empty(tmp_path: Path) -> None:
    assert init_data_dir(tmp_path / "a") is True
    (tmp_path / "b").mkdir()
    assert init_data_dir(tmp_path / "b") is True
    (tmp_path / "b" / "x").write_text("x")
    assert init_data_dir(tmp_path / "b") is False


def test_migrations_are_idempotent_and_reach_head(tmp_path: Path) -> None:
    for backend in ("sqlite", "postgresql"):
        with crm_database(backend, tmp_path / backend) as url:
            engine = create_engine_for(database_url=url)
            try:
                ensure_schema(engine)
                ensure_schema(engine)
                assert current_revision(engine) is not None
                names = set(sa.inspect(engine).get_table_names())
                assert {"records", "modules", "fields", "users", "oauth_tokens"} <= names
            finally:
                engine.dispose()


def test_concurrent_migrations_on_postgres(tmp_path: Path) -> None:
    """Several nodes starting at once: one migrates, the others wait and find nothing to do."""
    with crm_database("postgresql", tmp_path) as url:
        engines = [create_engine_for(database_url=url) for _ in range(3)]
        errors: list[BaseException] = []

        def start(e: sa.Engine) -> None:
            try:
                ensure_schema(e)
                Crm(e).bootstrap()
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=start, args=(e,)) for e in engines]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        try:
            assert not errors
            with engines[0].connect() as conn:
                assert conn.execute(sa.text("SELECT count(*) FROM orgs")).scalar() == 1
                nodes = conn.execute(sa.text("SELECT node_counter FROM orgs")).scalar()
                assert nodes == 3
        finally:
            for e in engines:
                e.dispose()


def test_bootstrap_creates_once_and_reuses(fresh_crm: Crm) -> None:
    first_password = fresh_crm.test_admin_password  # type: ignore[attr-defined]
    assert first_password
    again = Crm(fresh_crm.engine).bootstrap()
    assert again.created is False and again.admin_password is None
    assert again.org_id == str(fresh_crm.org_id)
    assert again.admin_email == "admin@floodway.local"
    assert fresh_crm.users.verify_password("admin@floodway.local", first_password) is not None


def test_second_process_gets_another_node(fresh_crm: Crm) -> None:
    other = Crm(fresh_crm.engine)
    other.bootstrap()
    assert other.ids.node != fresh_crm.ids.node


def test_org_json(crm: Crm) -> None:
    org = crm.org_json()
    assert org["zgid"].isdigit()
    assert len(org["id"]) == 19
    assert org["time_zone"] == "UTC"


def test_concurrent_writers(crm: Crm) -> None:
    """Threads writing at once (a threaded server): no lock errors, nothing lost."""
    from floodway.crm.testing import admin_actor

    errors: list[BaseException] = []
    made: list[str] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        try:
            for b in range(5):
                rows = [{"Product_Name": f"T{n}-{b}-{i}"} for i in range(20)]
                res = crm.records.create("Products", rows, actor=admin_actor(crm))
                with lock:
                    made.extend(r["details"]["id"] for r in res)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    assert len(set(made)) == 400
