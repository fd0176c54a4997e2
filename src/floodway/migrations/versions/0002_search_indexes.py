"""Expression indexes for the searches every org runs: record names and e-mail addresses.

``lower(name)`` serves criteria on a module's name field (``Deal_Name``, ``Account_Name``,
``Full_Name``, …), lookups by name and the default upsert duplicate checks; the e-mail index
serves ``email=`` searches and upserts of Leads and Contacts by ``Email``. The expressions are
exactly the ones ``crm/criteria_sql.py`` emits, so the planners can use them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-01-02
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX ix_records_module_name ON records (module_id, lower(name))")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_records_module_email ON records (module_id, lower(data ->> 'Email'))"
        )
    else:
        op.execute(
            "CREATE INDEX ix_records_module_email "
            "ON records (module_id, lower(json_extract(data, '$.\"Email\"')))"
        )


def downgrade() -> None:
    op.drop_index("ix_records_module_email", table_name="records")
    op.drop_index("ix_records_module_name", table_name="records")
