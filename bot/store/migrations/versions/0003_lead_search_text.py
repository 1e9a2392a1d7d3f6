"""The dashboard's free-text search reads one column: leads.search_text (bot.store.schema.search_text).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.schema import SEARCHED, search_text

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BATCH = 2000


def upgrade() -> None:
    # Plain ALTER TABLE, not a batch copy: on SQLite a copy drops the table (see 0002).
    op.add_column("leads", sa.Column("search_text", sa.Text, nullable=False, server_default=""))
    leads = sa.table("leads", sa.column("id", sa.Integer), sa.column("search_text", sa.Text), *(sa.column(name, sa.Text) for name in SEARCHED))
    connection = op.get_bind()
    last = 0
    while True:  # the existing leads, a batch at a time, folded by the same function as new ones
        rows = connection.execute(sa.select(leads).where(leads.c.id > last).order_by(leads.c.id).limit(BATCH)).mappings().all()
        if not rows:
            break
        connection.execute(
            sa.update(leads).where(leads.c.id == sa.bindparam("lead_id")).values(search_text=sa.bindparam("text")),
            [{"lead_id": row["id"], "text": search_text(row)} for row in rows],
        )
        last = rows[-1]["id"]


def downgrade() -> None:
    op.drop_column("leads", "search_text")
