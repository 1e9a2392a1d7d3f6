"""Dashboard accounts: disabled accounts, a forced password change, server-side sessions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE, not a batch copy: on SQLite a copy drops the table, which would clear leads.assigned_to.
    op.add_column("coordinators", sa.Column("disabled_at", sa.DateTime, nullable=True))
    op.add_column("coordinators", sa.Column("must_change_password", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_table(
        "dashboard_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("coordinator_id", sa.Integer, sa.ForeignKey("coordinators.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("last_seen", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("dashboard_sessions")
    op.drop_column("coordinators", "must_change_password")
    op.drop_column("coordinators", "disabled_at")
