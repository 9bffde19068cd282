"""The first schema: weeks, weekly_scores, call_list, outcomes, api_keys.

Revision ID: 0001
Revises:
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "weeks",
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("n_clients", sa.Integer, nullable=False),
        sa.Column("snapshot_path", sa.String(1024), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("as_of", "model_version", name="pk_weeks"),
    )
    op.create_table(
        "weekly_scores",
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("client_id", sa.BigInteger, nullable=False),
        sa.Column("probability", sa.Float, nullable=False),
        sa.Column("risk_band", sa.String(16), nullable=False),
        sa.Column("contact_index", sa.Float, nullable=True),
        sa.Column("rule_band", sa.String(32), nullable=True),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.Column("drivers", sa.JSON, nullable=True),
        sa.Column("evidence", sa.String(16), nullable=False),
        sa.Column("expected_loss_rub", sa.Float, nullable=True),
        sa.Column("monthly_fee_rub", sa.Float, nullable=True),
        sa.Column("segment", sa.String(32), nullable=True),
        sa.Column("service_mode", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("as_of", "model_version", "client_id", name="pk_weekly_scores"),
    )
    op.create_index("ix_weekly_scores_client_id_as_of", "weekly_scores", ["client_id", "as_of"])
    op.create_index("ix_weekly_scores_as_of_rank", "weekly_scores", ["as_of", "rank"])
    op.create_table(
        "call_list",
        sa.Column("as_of", sa.Date, nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("client_id", sa.BigInteger, nullable=False),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.Column("selected", sa.Boolean, nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("ranking", sa.String(32), nullable=True),
        sa.Column("expected_profit_rub", sa.Float, nullable=True),
        sa.Column("assignment", sa.String(16), nullable=True),
        sa.Column("propensity", sa.Float, nullable=True),
        sa.PrimaryKeyConstraint("as_of", "model_version", "client_id", name="pk_call_list"),
    )
    op.create_index("ix_call_list_as_of_rank", "call_list", ["as_of", "rank"])
    op.create_index("ix_call_list_client_id_as_of", "call_list", ["client_id", "as_of"])
    op.create_table(
        "outcomes",
        sa.Column("outcome_id", sa.String(128), nullable=False),
        sa.Column("client_id", sa.BigInteger, nullable=False),
        sa.Column("called_on", sa.Date, nullable=False),
        sa.Column("reached", sa.Boolean, nullable=False),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("outcome_id", name="pk_outcomes"),
    )
    op.create_index("ix_outcomes_client_id_called_on", "outcomes", ["client_id", "called_on"])
    op.create_index("ix_outcomes_called_on", "outcomes", ["called_on"])
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("name", name="uq_api_keys_name"),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )


def downgrade() -> None:
    for table in ("api_keys", "outcomes", "call_list", "weekly_scores", "weeks"):
        op.drop_table(table)
