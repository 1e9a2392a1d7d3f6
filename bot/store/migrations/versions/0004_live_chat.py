"""Live chat: a handoff case waiting for a coordinator or in a chat with one, and who is on duty.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE, not a batch copy: on SQLite a copy drops the table (see 0002).
    op.add_column("leads", sa.Column("live_state", sa.String(10), nullable=False, server_default=""))
    op.add_column("leads", sa.Column("live_requested_at", sa.DateTime, nullable=True))
    op.add_column("leads", sa.Column("live_by", sa.Integer, nullable=True))
    op.add_column("leads", sa.Column("live_since", sa.DateTime, nullable=True))
    op.add_column("leads", sa.Column("live_seen_at", sa.DateTime, nullable=True))
    op.add_column("coordinators", sa.Column("live_seen_at", sa.DateTime, nullable=True))


def downgrade() -> None:
    for column in ("live_seen_at", "live_since", "live_by", "live_requested_at", "live_state"):
        op.drop_column("leads", column)
    op.drop_column("coordinators", "live_seen_at")
