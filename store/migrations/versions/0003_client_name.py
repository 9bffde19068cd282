"""Client names: a nullable name on weekly_scores.

The CRM's client name (``clients.name``, optional in the raw contract) is kept with each
week's scores so that ``/history``, the call list and the supervisor page show whom a row
is about, as stored that week. An id for people, never a model input. Weeks stored before
this revision, and exports without names, have it NULL.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("weekly_scores", sa.Column("name", sa.String(512), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("weekly_scores") as batch:  # SQLite rebuilds the table
        batch.drop_column("name")
