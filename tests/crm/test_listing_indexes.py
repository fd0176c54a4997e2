"""Sorted listings and the name prefix search at scale: the results are exact on both databases,
and the queries can read an index instead of sorting or scanning the module (SQLite: the sort
indexes of migration 0009 and the ``lower(name)`` range for ``starts_with``; PostgreSQL: the
partial sort indexes of migration 0012, in both directions)."""

# ruff: noqa: F401, F811  (pytest fixtures imported from floodway.crm.testing)

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from floodway.crm import Crm
from floodway.crm.criteria_sql import prefix_range
from floodway.crm.testing import admin_actor, fresh_crm

NAMES = [
    "Benchmark deal 42",
    "benchmark DEAL 421",
    "Benchmark deal 4",
    "Benchmark deam",
    "Benchmark dea",
    "Ärger deal",
    "100% sure",
    "100x sure",
    "a_b",
    "axb",
    "zz\U0010ffff",
]
AMOUNTS = [500, None, 20, 7000, None, 20, 1, 99999.5, 3, None, 64]


def seed(crm: Crm) -> None:
    rows = [
        {"Deal_Name": n, "Stage": "Qualification", **({"Amount": a} if a is not None else {})}
        for n, a in zip(NAMES, AMOUNTS, strict=True)
    ]
    crm.records.create("Deals", rows, actor=admin_actor(crm))


def names(crm: Crm, prefix: str) -> set[str]:
    escaped = prefix.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    escaped = escaped.replace(",", "\\,")
    page = crm.records.search("Deals", criteria=f"(Deal_Name:starts_with:{escaped})", per_page=200)
    return {r["Deal_Name"] for r in page.data}


def test_name_prefix_search_finds_exactly_the_prefixed_names(fresh_crm: Crm) -> None:
    seed(fresh_crm)
    assert names(fresh_crm, "Benchmark deal 42") == {"Benchmark deal 42", "benchmark DEAL 421"}
    assert names(fresh_crm, "BENCHMARK DEA") == {
        "Benchmark deal 42",
        "benchmark DEAL 421",
        "Benchmark deal 4",
        "Benchmark deam",
        "Benchmark dea",
    }
    assert names(fresh_crm, "benchmark deal") == {
        "Benchmark deal 42",
        "benchmark DEAL 421",
        "Benchmark deal 4",
    }
    assert names(fresh_crm, "Är") == {"Ärger deal"}
    assert names(fresh_crm, "100%") == {"100% sure"}  # wildcards are literal
    assert names(fresh_crm, "a_") == {"a_b"}
    assert names(fresh_crm, "zz") == {"zz\U0010ffff"}
    assert names(fresh_crm, "zz\U0010ffff") == {"zz\U0010ffff"}  # no upper bound: LIKE alone
    assert names(fresh_crm, "Benchmark deal 420") == set()


def test_prefix_range_bounds() -> None:
    col: Any = sa.column("x")
    lo, hi = prefix_range(col, "AbC")
    assert lo.right.value == "abc" and hi.right.value == "abd"  # type: ignore[attr-defined]
    _, hi = prefix_range(col, "a\ud7ff")
    assert hi.right.value == "a\ue000"  # type: ignore[attr-defined]  # past the surrogates
    assert prefix_range(col, "") == []
    assert prefix_range(col, "z\U0010ffff") == []


def amounts(crm: Crm, order: str, **kw: Any) -> list[Any]:
    page = crm.records.list("Deals", sort_by="Amount", sort_order=order, per_page=200, **kw)
    return [r.get("Amount") for r in page.data]


def test_sorted_by_amount_with_empty_values_last(fresh_crm: Crm) -> None:
    seed(fresh_crm)
    filled = sorted(Decimal(str(a)) for a in AMOUNTS if a is not None)
    got_desc = amounts(fresh_crm, "desc")
    got_asc = amounts(fresh_crm, "asc")
    assert [Decimal(str(a)) for a in got_desc[:8]] == filled[::-1]
    assert [Decimal(str(a)) for a in got_asc[:8]] == filled
    assert got_desc[8:] == [None, None, None] and got_asc[8:] == [None, None, None]
    page = fresh_crm.records.list("Deals", sort_by="Amount", sort_order="asc", per_page=3, page=3)
    got = [r.get("Amount") for r in page.data]
    assert [Decimal(str(a)) for a in got[:2]] == filled[6:8] and got[2] is None


def test_every_page_size_pages_through_values_then_empty_ones(fresh_crm: Crm) -> None:
    # PostgreSQL reads such a page in two parts (records with a value, then the others); pages
    # that straddle the boundary or start past it must join up exactly.
    seed(fresh_crm)
    for sort_by, order in [(f, o) for f in ("Amount", "Deal_Name") for o in ("desc", "asc")]:
        whole = fresh_crm.records.list("Deals", sort_by=sort_by, sort_order=order, per_page=200)
        expected = [r["id"] for r in whole.data]
        assert len(expected) == len(NAMES)
        for size in range(1, len(NAMES) + 1):
            got: list[str] = []
            page_no = 1
            while True:
                page = fresh_crm.records.list(
                    "Deals", sort_by=sort_by, sort_order=order, per_page=size, page=page_no
                )
                got += [r["id"] for r in page.data]
                if not page.info["more_records"]:
                    break
                page_no += 1
            assert got == expected, (sort_by, order, size)
        beyond = fresh_crm.records.list(
            "Deals", sort_by=sort_by, sort_order=order, per_page=5, page=4
        )
        assert beyond.data == [] and beyond.info["more_records"] is False


@contextmanager
def captured(crm: Crm) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def note(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        seen.append((statement, params))

    sa.event.listen(crm.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        sa.event.remove(crm.engine, "before_cursor_execute", note)


def plan(crm: Crm, run: Any) -> str:
    """SQLite's plan of the records query ``run`` makes."""
    with captured(crm) as seen:
        run()
    statement, params = next(s for s in seen if "FROM records" in s[0] and "LIMIT" in s[0])
    with crm.engine.connect() as conn:
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).all()
    return " | ".join(str(r[-1]) for r in rows)


def test_sqlite_reads_indexes_for_sorted_pages_and_prefix_search(fresh_crm: Crm) -> None:
    if fresh_crm.engine.dialect.name != "sqlite":
        return  # PostgreSQL plans by its statistics; these indexes are SQLite's
    seed(fresh_crm)
    for order in ("desc", "asc"):
        p = plan(
            fresh_crm,
            lambda o=order: fresh_crm.records.list("Deals", sort_by="Amount", sort_order=o),
        )
        assert "ix_records_sort_amount" in p and "TEMP B-TREE" not in p, p
    p = plan(
        fresh_crm,
        lambda: fresh_crm.records.list("Deals", sort_by="Closing_Date", sort_order="desc"),
    )
    assert "ix_records_sort_closing_date" in p and "TEMP B-TREE" not in p, p
    p = plan(
        fresh_crm,
        lambda: fresh_crm.records.search(
            "Deals", criteria="(Amount:greater_than:90000)", sort_by="Amount", sort_order="asc"
        ),
    )
    assert "ix_records_sort_amount" in p and "TEMP B-TREE" not in p, p
    for order in ("desc", "asc"):
        p = plan(
            fresh_crm,
            lambda o=order: fresh_crm.records.list("Deals", sort_by="Deal_Name", sort_order=o),
        )
        # ties of the name are put in id order as the walk goes, not the whole module
        assert "ix_records_module_name" in p and "TEMP B-TREE FOR ORDER BY" not in p, p
    p = plan(fresh_crm, lambda: names(fresh_crm, "Benchmark deal 42"))
    assert "ix_records_module_name" in p and ">?" in p, p


def test_postgresql_sort_indexes_serve_both_directions(fresh_crm: Crm) -> None:
    if fresh_crm.engine.dialect.name != "postgresql":
        return  # SQLite's plans are checked above
    seed(fresh_crm)
    records = fresh_crm.records
    # (query, whether its criteria are a range the index must read as a condition)
    cases: list[tuple[Any, bool]] = [
        (lambda o: records.list("Deals", sort_by="Amount", sort_order=o), False),
        (lambda o: records.list("Deals", sort_by="Closing_Date", sort_order=o), False),
        (
            lambda o: records.search(
                "Deals",
                criteria="(Closing_Date:greater_than:2026-01-01)",
                sort_by="Closing_Date",
                sort_order=o,
            ),
            True,
        ),
        (
            lambda o: records.search(
                "Deals", criteria="(Amount:greater_than:90000)", sort_by="Amount", sort_order=o
            ),
            True,
        ),
    ]
    for order in ("desc", "asc"):  # the name column's index, ties put in id order as it goes
        with captured(fresh_crm) as seen:
            records.list("Deals", sort_by="Deal_Name", sort_order=order)
        statement, params = next(s for s in seen if "FROM records" in s[0] and "LIMIT" in s[0])
        with fresh_crm.engine.connect() as conn:
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            conn.exec_driver_sql("SET LOCAL enable_sort = off")  # a full sort, not per name
            rows = conn.exec_driver_sql("EXPLAIN " + statement, params).all()
        p = " | ".join(str(r[0]) for r in rows)
        assert "ix_records_module_name" in p and "Presorted Key" in p, p
    for run, ranged in cases:
        for order in ("desc", "asc"):
            with captured(fresh_crm) as seen:
                run(order)
            statement, params = next(s for s in seen if "FROM records" in s[0] and "LIMIT" in s[0])
            with fresh_crm.engine.connect() as conn:
                # Eleven rows would be read in a sequential scan: ask whether the index can
                # give the order at all.
                conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
                rows = conn.exec_driver_sql("EXPLAIN " + statement, params).all()
            lines = [str(r[0]) for r in rows]
            p = " | ".join(lines)
            assert "ix_records_sort_" in p and "Sort" not in p, p
            if ranged:  # the range bounds the walk instead of filtering every record
                cond = next(line for line in lines if "Index Cond" in line)
                assert " > " in cond, p
