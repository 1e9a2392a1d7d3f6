"""Lead store: leads, notes, coordinators, audit log, login attempts.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
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
        "coordinators",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("regions", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "leads",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("reference", sa.String(20), nullable=False, unique=True),
        sa.Column("submission_key", sa.String(64), nullable=False, unique=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("region", sa.String(20), nullable=False, index=True),
        sa.Column("municipality", sa.String(60), nullable=False),
        sa.Column("interests", sa.JSON, nullable=False),
        sa.Column("availability", sa.String(300), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("conversation_id", sa.String(255), nullable=False, index=True),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("consent_at", sa.DateTime, nullable=True),
        sa.Column("consent_version", sa.String(40), nullable=False),
        sa.Column("transcript", sa.JSON, nullable=False),
        sa.Column("assigned_to", sa.Integer, sa.ForeignKey("coordinators.id", ondelete="SET NULL"), nullable=True),
        sa.Column("closed_at", sa.DateTime, nullable=True),
    )
    op.create_table(
        "notes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("lead_id", sa.Integer, sa.ForeignKey("leads.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("author", sa.String(254), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime, nullable=False, index=True),
        sa.Column("actor", sa.String(254), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("lead_reference", sa.String(20), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(300), nullable=False, index=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
    )


def downgrade() -> None:
    for table in ("login_attempts", "audit_log", "notes", "leads", "coordinators"):
        op.drop_table(table)
