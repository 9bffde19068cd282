"""The store's tables as SQLAlchemy Core objects: what queries are written against.

The database itself is created and changed only by the Alembic migrations in
``store/migrations/versions``; ``tests/store/test_migrations.py`` checks that the migrated
schema equals these definitions, so the two cannot drift apart.

A week is identified by ``(as_of, model_version)``: rerunning a week with the same model
replaces it; a week scored by a second model sits next to the first, and readers take the
one written last (``weeks.created_at``).
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

weeks = sa.Table(
    "weeks",
    metadata,
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("model_version", sa.String(64), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("n_clients", sa.Integer, nullable=False),
    sa.Column("snapshot_path", sa.String(1024), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
)

weekly_scores = sa.Table(
    "weekly_scores",
    metadata,
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("model_version", sa.String(64), primary_key=True),
    sa.Column("client_id", sa.BigInteger, primary_key=True),
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
    sa.Column("centre_id", sa.String(64), nullable=True),  # 0002: NULL for one centre
    sa.Column("name", sa.String(512), nullable=True),  # 0003: NULL when the export has none
    # 0004: every raw SHAP value, then the base (serving.stored_shap); NULL in older weeks
    sa.Column("shap_raw", sa.LargeBinary, nullable=True),
    sa.Index(None, "client_id", "as_of"),
    sa.Index(None, "as_of", "rank"),
)

call_list = sa.Table(
    "call_list",
    metadata,
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("model_version", sa.String(64), primary_key=True),
    sa.Column("client_id", sa.BigInteger, primary_key=True),
    sa.Column("rank", sa.Integer, nullable=False),
    sa.Column("selected", sa.Boolean, nullable=False),
    sa.Column("reason", sa.String(64), nullable=False),
    sa.Column("ranking", sa.String(32), nullable=True),
    sa.Column("expected_profit_rub", sa.Float, nullable=True),
    sa.Column("assignment", sa.String(16), nullable=True),
    sa.Column("propensity", sa.Float, nullable=True),
    sa.Column("centre_id", sa.String(64), nullable=True),  # 0002: rank is within the centre
    sa.Index(None, "as_of", "rank"),
    sa.Index(None, "client_id", "as_of"),
)

outcomes = sa.Table(
    "outcomes",
    metadata,
    sa.Column("outcome_id", sa.String(128), primary_key=True),
    sa.Column("client_id", sa.BigInteger, nullable=False),
    sa.Column("called_on", sa.Date, nullable=False),
    sa.Column("reached", sa.Boolean, nullable=False),
    sa.Column("result", sa.String(16), nullable=False),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index(None, "client_id", "called_on"),
    sa.Index(None, "called_on"),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(128), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
)
