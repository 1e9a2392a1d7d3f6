"""Alembic environment: the engine comes from the caller (bot.store.migrations.upgrade)."""

from __future__ import annotations

from alembic import context

from bot.store.schema import Base

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
