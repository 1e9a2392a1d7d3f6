"""Tables of the lead store and how to connect to it (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import declarative_base

Base: Any = declarative_base()


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Lead(Base):
    """A sign-up or a handoff case: what a coordinator acts on."""

    __tablename__ = "leads"

    id = sa.Column(sa.Integer, primary_key=True)
    reference = sa.Column(sa.String(20), nullable=False, unique=True)
    submission_key = sa.Column(sa.String(64), nullable=False, unique=True)
    kind = sa.Column(sa.String(10), nullable=False, default="signup")
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    updated_at = sa.Column(sa.DateTime, nullable=False, default=utcnow, onupdate=utcnow)
    name = sa.Column(sa.String(120), nullable=False, default="")
    email = sa.Column(sa.String(254), nullable=False, default="")
    phone = sa.Column(sa.String(20), nullable=False, default="")
    region = sa.Column(sa.String(20), nullable=False, default="", index=True)
    municipality = sa.Column(sa.String(60), nullable=False, default="")
    interests = sa.Column(sa.JSON, nullable=False, default=list)
    availability = sa.Column(sa.String(300), nullable=False, default="")
    message = sa.Column(sa.Text, nullable=False, default="")
    question = sa.Column(sa.Text, nullable=False, default="")
    channel = sa.Column(sa.String(20), nullable=False, default="")
    conversation_id = sa.Column(sa.String(255), nullable=False, default="", index=True)
    status = sa.Column(sa.String(20), nullable=False, default="ny", index=True)
    consent_at = sa.Column(sa.DateTime, nullable=True)
    consent_version = sa.Column(sa.String(40), nullable=False, default="")
    transcript = sa.Column(sa.JSON, nullable=False, default=list)
    assigned_to = sa.Column(sa.Integer, sa.ForeignKey("coordinators.id", ondelete="SET NULL"), nullable=True)
    closed_at = sa.Column(sa.DateTime, nullable=True)


class Note(Base):
    __tablename__ = "notes"

    id = sa.Column(sa.Integer, primary_key=True)
    lead_id = sa.Column(sa.Integer, sa.ForeignKey("leads.id", ondelete="CASCADE"), nullable=False, index=True)
    author = sa.Column(sa.String(254), nullable=False)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    text = sa.Column(sa.Text, nullable=False)


class Coordinator(Base):
    """A dashboard account. Admins see every region; coordinators only their own."""

    __tablename__ = "coordinators"

    id = sa.Column(sa.Integer, primary_key=True)
    email = sa.Column(sa.String(254), nullable=False, unique=True)
    name = sa.Column(sa.String(120), nullable=False)
    password_hash = sa.Column(sa.String(255), nullable=False)
    role = sa.Column(sa.String(20), nullable=False, default="coordinator")
    regions = sa.Column(sa.JSON, nullable=False, default=list)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id = sa.Column(sa.Integer, primary_key=True)
    at = sa.Column(sa.DateTime, nullable=False, default=utcnow, index=True)
    actor = sa.Column(sa.String(254), nullable=False)
    action = sa.Column(sa.String(40), nullable=False)
    lead_reference = sa.Column(sa.String(20), nullable=False, default="")
    detail = sa.Column(sa.JSON, nullable=False, default=dict)


class LoginAttempt(Base):
    __tablename__ = "login_attempts"

    id = sa.Column(sa.Integer, primary_key=True)
    key = sa.Column(sa.String(300), nullable=False, index=True)
    at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    ok = sa.Column(sa.Boolean, nullable=False, default=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, future=True)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10, future=True)
