"""Reviewers' decisions on the messages the bot handled badly (bot.store.review).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("group_key", sa.String(300), nullable=False, index=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("examples", sa.JSON, nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("intent", sa.String(60), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("region", sa.String(20), nullable=False),
        sa.Column("decided_by", sa.String(254), nullable=False),
        sa.Column("decided_at", sa.DateTime, nullable=False),
        sa.Column("undone_by", sa.String(254), nullable=False),
        sa.Column("undone_at", sa.DateTime, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("reviews")
