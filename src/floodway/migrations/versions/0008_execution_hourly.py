"""Hourly execution counters for the dashboard (console-ux.md §7).

``execution_hourly`` holds, per org, hour (``started_time // 3,600,000``), function and final
status (success, failure, skipped): the number of runs, total and largest duration, total and
largest statement count, and a duration histogram (``h0`` … ``h15``, upper bounds in
``functions/schema.py`` ``DURATION_BOUNDS_MS``, which must equal ``BOUNDS`` here).

Triggers on ``executions`` keep it current in the writing transaction, so every write of a final
status is counted whatever code path makes it: a finished row inserted, a ``running`` row
updated to its result (or to an ``interrupted`` failure), a success turned into a failure
(``mark_failure``: counted out of its old status, into the new one). ``running`` rows are not
counted; deleting executions leaves the counters (the retention purge deletes old hours itself).
Existing executions are counted here once (backfill).

Revision ID: 0008_execution_hourly
Revises: 0007_console_indexes
Create Date: 2026-02-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_execution_hourly"
down_revision = "0007_console_indexes"
branch_labels = None
depends_on = None

BOUNDS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000)
HIST = [f"h{i}" for i in range(len(BOUNDS) + 1)]
FINAL = "('success', 'failure', 'skipped')"
KEY = ("org_id", "hour", "function", "status")
HOUR_MS = 3_600_000
COUNTS = ("runs", "duration_total", "duration_max", "statements_total", "statements_max")
COLS = ", ".join([*KEY, *COUNTS, *HIST])
# The SQL below is built from these constants only (no outside value reaches it): S608 noqa.


def _bucket(i: int, duration: str) -> str:
    """1 when ``duration`` falls in histogram bucket ``i``, else 0 (SQL)."""
    conds = []
    if i > 0:
        conds.append(f"{duration} >= {BOUNDS[i - 1]}")
    if i < len(BOUNDS):
        conds.append(f"{duration} < {BOUNDS[i]}")
    return f"(CASE WHEN {' AND '.join(conds)} THEN 1 ELSE 0 END)"


def _add(row: str, sign: str) -> str:
    """``SET`` list adding (``+``) or removing (``-``) execution ``row`` (NEW or OLD)."""
    sets = [
        f"runs = runs {sign} 1",
        f"duration_total = duration_total {sign} {row}.duration_ms",
        f"statements_total = statements_total {sign} {row}.statements",
    ]
    if sign == "+":
        grow = "max" if op.get_bind().dialect.name == "sqlite" else "greatest"
        sets += [
            f"duration_max = {grow}(duration_max, {row}.duration_ms)",
            f"statements_max = {grow}(statements_max, {row}.statements)",
        ]
    sets += [f"{h} = {h} {sign} {_bucket(i, f'{row}.duration_ms')}" for i, h in enumerate(HIST)]
    return ", ".join(sets)


def _where(row: str) -> str:
    return (
        f"org_id = {row}.org_id AND hour = {row}.started_time / {HOUR_MS} "
        f"AND function = {row}.function AND status = {row}.status"
    )


def _seed(row: str) -> str:
    """An all-zero counter row for ``row``'s key, if there is none yet."""
    zeros = ", ".join(["0"] * (len(COUNTS) + len(HIST)))
    return (
        f"INSERT OR IGNORE INTO execution_hourly ({COLS}) SELECT {row}.org_id, "
        f"{row}.started_time / {HOUR_MS}, {row}.function, {row}.status, {zeros} "
        f"WHERE {row}.status IN {FINAL}"
    )


def _sqlite_triggers() -> list[str]:
    return [
        f"""CREATE TRIGGER tr_executions_hourly_insert AFTER INSERT ON executions
        WHEN NEW.status IN {FINAL}
        BEGIN
            {_seed("NEW")};
            UPDATE execution_hourly SET {_add("NEW", "+")} WHERE {_where("NEW")};
        END""",  # noqa: S608
        f"""CREATE TRIGGER tr_executions_hourly_update
        AFTER UPDATE OF status, duration_ms, statements, started_time, function ON executions
        WHEN OLD.status IN {FINAL} OR NEW.status IN {FINAL}
        BEGIN
            UPDATE execution_hourly SET {_add("OLD", "-")}
                WHERE {_where("OLD")} AND OLD.status IN {FINAL};
            {_seed("NEW")};
            UPDATE execution_hourly SET {_add("NEW", "+")}
                WHERE {_where("NEW")} AND NEW.status IN {FINAL};
        END""",  # noqa: S608
    ]


def _postgres_triggers() -> list[str]:
    values = ", ".join(
        [
            "NEW.org_id",
            f"NEW.started_time / {HOUR_MS}",
            "NEW.function",
            "NEW.status",
            "1",
            "NEW.duration_ms",
            "NEW.duration_ms",
            "NEW.statements",
            "NEW.statements",
            *(_bucket(i, "NEW.duration_ms") for i in range(len(HIST))),
        ]
    )
    grow = [
        "runs = execution_hourly.runs + 1",
        "duration_total = execution_hourly.duration_total + EXCLUDED.duration_total",
        "duration_max = greatest(execution_hourly.duration_max, EXCLUDED.duration_max)",
        "statements_total = execution_hourly.statements_total + EXCLUDED.statements_total",
        "statements_max = greatest(execution_hourly.statements_max, EXCLUDED.statements_max)",
        *(f"{h} = execution_hourly.{h} + EXCLUDED.{h}" for h in HIST),
    ]
    return [
        f"""CREATE FUNCTION executions_hourly() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE' AND OLD.status IN {FINAL} THEN
                UPDATE execution_hourly SET {_add("OLD", "-")} WHERE {_where("OLD")};
            END IF;
            IF NEW.status IN {FINAL} THEN
                INSERT INTO execution_hourly ({COLS}) VALUES ({values})
                ON CONFLICT ({", ".join(KEY)}) DO UPDATE SET {", ".join(grow)};
            END IF;
            RETURN NULL;
        END $$""",  # noqa: S608
        """CREATE TRIGGER tr_executions_hourly_insert AFTER INSERT ON executions
        FOR EACH ROW EXECUTE FUNCTION executions_hourly()""",
        """CREATE TRIGGER tr_executions_hourly_update
        AFTER UPDATE OF status, duration_ms, statements, started_time, function ON executions
        FOR EACH ROW EXECUTE FUNCTION executions_hourly()""",
    ]


def upgrade() -> None:
    op.create_table(
        "execution_hourly",
        sa.Column("org_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hour", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("function", sa.String(100), primary_key=True),
        sa.Column("status", sa.String(10), primary_key=True),
        sa.Column("runs", sa.BigInteger, nullable=False),
        sa.Column("duration_total", sa.Float, nullable=False),
        sa.Column("duration_max", sa.Float, nullable=False),
        sa.Column("statements_total", sa.BigInteger, nullable=False),
        sa.Column("statements_max", sa.BigInteger, nullable=False),
        *(sa.Column(h, sa.BigInteger, nullable=False) for h in HIST),
    )
    sums = ", ".join(f"sum({_bucket(i, 'duration_ms')})" for i in range(len(HIST)))
    op.execute(
        f"INSERT INTO execution_hourly ({COLS}) "  # noqa: S608
        f"SELECT org_id, started_time / {HOUR_MS}, function, status, count(*), "
        f"sum(duration_ms), max(duration_ms), sum(statements), max(statements), {sums} "
        f"FROM executions WHERE status IN {FINAL} "
        f"GROUP BY org_id, started_time / {HOUR_MS}, function, status"
    )
    pg = op.get_bind().dialect.name == "postgresql"
    for statement in _postgres_triggers() if pg else _sqlite_triggers():
        op.execute(statement)


def downgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    for name in ("tr_executions_hourly_update", "tr_executions_hourly_insert"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON executions" if pg else ""))
    if pg:
        op.execute("DROP FUNCTION IF EXISTS executions_hourly()")
    op.drop_table("execution_hourly")
