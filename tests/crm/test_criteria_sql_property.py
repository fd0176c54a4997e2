"""The SQL translation agrees with the in-memory evaluator of criteria.py on random criteria."""

# ruff: noqa: F401, F811  (pytest fixtures imported from floodway.crm.testing)

from __future__ import annotations

import random
import secrets
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from floodway.crm import Crm
from floodway.crm.criteria import evaluate, parse_criteria
from floodway.crm.testing import admin_actor, crm

# ASCII only: SQLite's lower() folds ASCII letters only (docs/crm-data-model.md).
ALPHABET = "abAB xy%_'(),"
WORDS = ["ab", "AB", "a%", "x_y", "it's", "(x)", "a,b", "b"]


def escape(value: str) -> str:
    return "".join("\\" + ch if ch in "()," else ch for ch in value)


@pytest.fixture(scope="module")
def lab(crm: Crm) -> dict[str, Any]:
    name = f"Lab{secrets.token_hex(3)}"
    crm.metadata.add_module(name)
    crm.metadata.add_field(name, "Amount", "currency")
    crm.metadata.add_field(name, "Qty", "integer")
    crm.metadata.add_field(name, "Due", "date")
    crm.metadata.add_field(name, "Done", "boolean")
    crm.metadata.add_field(name, "Tags", "multiselectpicklist")
    crm.metadata.add_field(name, "Code", "text")
    rng = random.Random(7)
    rows = []
    for i in range(60):
        row: dict[str, Any] = {"Name": f"n{i}"}
        if rng.random() < 0.8:
            row["Code"] = rng.choice(WORDS) + rng.choice(["", "x", " A"])
        if rng.random() < 0.8:
            row["Amount"] = rng.choice([0, 0.1, 1.5, 10, 99.99, -3])
        if rng.random() < 0.8:
            row["Qty"] = rng.randint(-2, 5)
        if rng.random() < 0.8:
            row["Due"] = f"2026-0{rng.randint(1, 3)}-1{rng.randint(0, 2)}"
        if rng.random() < 0.8:
            row["Done"] = rng.random() < 0.5
        if rng.random() < 0.7:
            row["Tags"] = rng.sample(WORDS, rng.randint(1, 3))
        rows.append(row)
    res = crm.records.create(name, rows, actor=admin_actor(crm))
    assert all(r["status"] == "success" for r in res)
    records = crm.records.list(name).data
    return {"module": name, "records": records, "types": crm.metadata.field_types(name)}


texts = st.text(alphabet=ALPHABET, min_size=1, max_size=4).map(str.strip).filter(bool)
numbers = st.sampled_from(["0", "0.1", "1.5", "10", "-3", "99.99", "2", "5"])
dates = st.sampled_from(["2026-01-10", "2026-02-11", "2026-03-12", "2026-02-01"])


@st.composite
def condition(draw: st.DrawFn) -> str:
    field = draw(st.sampled_from(["Code", "Amount", "Qty", "Due", "Done", "Tags"]))
    if field == "Code":
        op = draw(
            st.sampled_from(
                ["equals", "not_equal", "starts_with", "contains", "not_contains", "in", "not_in"]
            )
        )
        vals = [draw(st.sampled_from(WORDS) | texts) for _ in range(2 if "in" in op else 1)]
    elif field == "Tags":
        op = draw(st.sampled_from(["equals", "not_equal", "in", "starts_with"]))
        vals = [draw(st.sampled_from(WORDS)) for _ in range(2 if op == "in" else 1)]
    elif field == "Done":
        op = draw(st.sampled_from(["equals", "not_equal"]))
        vals = [draw(st.sampled_from(["true", "false"]))]
    else:
        op = draw(
            st.sampled_from(
                [
                    "equals",
                    "not_equal",
                    "greater_than",
                    "greater_equal",
                    "less_than",
                    "less_equal",
                    "between",
                    "in",
                    "not_in",
                ]
            )
        )
        source = dates if field == "Due" else numbers
        n = 2 if op in ("between", "in", "not_in") else 1
        vals = [draw(source) for _ in range(n)]
    if draw(st.integers(0, 9)) == 0 and op in ("equals", "not_equal"):
        return f"({field}:{op}:${{EMPTY}})"
    return f"({field}:{op}:{','.join(escape(v) for v in vals)})"


@st.composite
def criteria(draw: st.DrawFn) -> str:
    parts = draw(st.lists(condition(), min_size=1, max_size=3))
    text = parts[0]
    for p in parts[1:]:
        text = f"({text}{draw(st.sampled_from(['and', 'or']))}{p})"
    return text


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=criteria())
def test_sql_matches_evaluator(crm: Crm, lab: dict[str, Any], text: str) -> None:
    tree = parse_criteria(text)
    want = {r["id"] for r in lab["records"] if evaluate(tree, r, lab["types"])}
    page = crm.records.search(lab["module"], criteria=text, per_page=200)
    got = {r["id"] for r in page.data}
    assert got == want, text
