"""Several centres: a nullable centre_id on weekly_scores and call_list.

A network export (``clients.centre_id``) scores every centre in one week; each centre's
call list is sized by its own capacity and read by its own scheduler, so both tables keep
the centre of each row. Rows of a single centre (and every week stored before this
revision) have it NULL.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = ("weekly_scores", "call_list")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("centre_id", sa.String(64), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:  # SQLite rebuilds the table
            batch.drop_column("centre_id")
