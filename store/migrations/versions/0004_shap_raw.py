"""Stored SHAP values: a nullable shap_raw on weekly_scores.

The weekly run computes every client's raw SHAP values for the whole week anyway; keeping
them lets ``/explain`` word a stored client's explanation without another pass over the
trees (``serving.stored_shap``: little-endian float64, every feature in the model's order,
then the base value). Weeks stored before this revision have it NULL and are explained
the computed way.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("weekly_scores", sa.Column("shap_raw", sa.LargeBinary, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("weekly_scores") as batch:  # SQLite rebuilds the table
        batch.drop_column("shap_raw")
