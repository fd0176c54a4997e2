"""SQLite: indexes for sorting records by the standard modules' number and date fields.

A list sorted by a field stored in the JSON ``data`` column (``?sort=Amount``) otherwise reads
and sorts every record of the module (``json_extract`` over 100,000 rows: about 200 ms). With an
index on ``(module_id, json_extract(data, '$."F"'), id)`` the first pages are an index walk in
either direction (SQLite puts NULLs first ascending; it still walks the index for ``NULLS
LAST``), and a range condition on the field (``Amount:greater_than:…``) reads only its range.

The expressions are exactly those ``crm/criteria_sql.py`` ``Dialect`` emits (``number`` and
``text``), which ``crm/reading.py`` sorts by. One index per field name (the index leads with the
module, so a name shared by several modules shares the index). Custom fields and text fields
are not indexed: sorting by them still sorts the module (docs/performance.md). PostgreSQL is
left as it is: its sort of 100,000 values stays under the budget, and a cast index
(``(data ->> 'F')::numeric``) could make a write of an odd value fail.

Revision ID: 0009_records_sort_indexes
Revises: 0008_execution_hourly
Create Date: 2026-02-09
"""

from __future__ import annotations

from alembic import op

revision = "0009_records_sort_indexes"
down_revision = "0008_execution_hourly"
branch_labels = None
depends_on = None

# The number, currency and date fields of the standard modules (crm/standard.py).
FIELDS = (
    "Amount",
    "Closing_Date",
    "Probability",
    "Annual_Revenue",
    "No_of_Employees",
    "Account_Number",
    "Date_of_Birth",
    "Due_Date",
    "Remind_At",
    "Start_DateTime",
    "End_DateTime",
    "Call_Start_Time",
    "Unit_Price",
    "Qty_in_Stock",
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for field in FIELDS:
        op.execute(
            f"CREATE INDEX ix_records_sort_{field.lower()} ON records "
            f"(module_id, json_extract(data, '$.\"{field}\"'), id)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for field in FIELDS:
        op.execute(f"DROP INDEX IF EXISTS ix_records_sort_{field.lower()}")
