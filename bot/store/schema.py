"""What a lead is: its fields, kinds and statuses, and the tables of the lead store.

Each field a citizen gives is defined once, in LEAD_FIELDS. The table's column, the draft a
form fills, a submission's identity, the export, the dashboard's free-text search and the
form slot a value comes from all follow from it. Adding a field means adding it here,
writing a migration (tests/unit/test_schema.py compares the migrated database with these
tables) and giving it its Danish labels (domain.yml's utter_summary_<field> and the
dashboard's _labels.html, which the same test checks).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import declarative_base

Base: Any = declarative_base()

SIGNUP = "signup"  # a citizen who wants to be a volunteer
HANDOFF = "handoff"  # a citizen who asked for a person
KINDS = (SIGNUP, HANDOFF)

STATUSES = ("ny", "kontaktet", "aftalt", "aktiv", "afsluttet", "afvist")
NEW = "ny"
CLOSED = ("afsluttet", "afvist")
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "ny": ("kontaktet", "afvist", "afsluttet"),
    "kontaktet": ("aftalt", "afvist", "afsluttet"),
    "aftalt": ("aktiv", "afvist", "afsluttet"),
    "aktiv": ("afsluttet",),
    "afsluttet": (),
    "afvist": (),
}

COORDINATOR = "coordinator"  # sees and works on the leads of their own regions
ADMIN = "admin"  # sees every region and the audit log
ROLES = (COORDINATOR, ADMIN)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


@dataclass(frozen=True)
class LeadField:
    """One answer a citizen gives in the chat; its name is the form slot's, the column's and the export's."""

    name: str
    type: Any
    kinds: tuple[str, ...] = KINDS  # the forms that ask for it
    searchable: bool = False  # found by the dashboard's free-text search
    index: bool = False
    many: bool = False  # a list of codes, stored as JSON

    @property
    def empty(self) -> Any:
        return [] if self.many else ""

    def column(self) -> sa.Column:
        return sa.Column(self.name, self.type, nullable=False, default=list if self.many else "", index=self.index)


LEAD_FIELDS: tuple[LeadField, ...] = (
    LeadField("name", sa.String(120), searchable=True),
    LeadField("email", sa.String(254), searchable=True),
    LeadField("phone", sa.String(20), searchable=True),
    LeadField("region", sa.String(20), index=True),
    LeadField("municipality", sa.String(60), searchable=True),
    LeadField("interests", sa.JSON, kinds=(SIGNUP,), many=True),
    LeadField("availability", sa.String(300), kinds=(SIGNUP,), searchable=True),
    LeadField("message", sa.Text, kinds=(SIGNUP,), searchable=True),
    LeadField("question", sa.Text, kinds=(HANDOFF,), searchable=True),
)
FIELD_NAMES = tuple(f.name for f in LEAD_FIELDS)
SEARCHED = ("reference", *(f.name for f in LEAD_FIELDS if f.searchable))


def search_text(values: Mapping[str, Any]) -> str:
    """What the dashboard's free-text search looks in: the reference and the searchable fields, lower-cased.

    Kept in the lead's own row (leads.search_text), so a search reads one column, not eight through
    lower(), and Danish letters fold as Python folds them (SQLite's lower() leaves Æ, Ø and Å alone).
    Deleting or changing the lead deletes or changes it with the row.
    """
    return "\x1f".join(str(values.get(name) or "") for name in SEARCHED).lower()


def fields_of(kind: str) -> tuple[LeadField, ...]:
    """The fields the form of this kind asks for, in the order of LEAD_FIELDS."""
    return tuple(f for f in LEAD_FIELDS if kind in f.kinds)


leads_table = sa.Table(
    "leads",
    Base.metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("reference", sa.String(20), nullable=False, unique=True),
    sa.Column("submission_key", sa.String(64), nullable=False, unique=True),
    sa.Column("kind", sa.String(10), nullable=False, default=SIGNUP),
    sa.Column("created_at", sa.DateTime, nullable=False, default=utcnow),
    sa.Column("updated_at", sa.DateTime, nullable=False, default=utcnow, onupdate=utcnow),
    *(f.column() for f in LEAD_FIELDS),
    sa.Column("channel", sa.String(20), nullable=False, default=""),
    sa.Column("conversation_id", sa.String(255), nullable=False, default="", index=True),
    sa.Column("status", sa.String(20), nullable=False, default=NEW, index=True),
    sa.Column("consent_at", sa.DateTime, nullable=True),
    sa.Column("consent_version", sa.String(40), nullable=False, default=""),
    sa.Column("transcript", sa.JSON, nullable=False, default=list),
    sa.Column("assigned_to", sa.Integer, sa.ForeignKey("coordinators.id", ondelete="SET NULL"), nullable=True),
    sa.Column("closed_at", sa.DateTime, nullable=True),
    sa.Column("search_text", sa.Text, nullable=False, default=""),
    # Live chat (bot.store.live): waiting for a coordinator, in a chat with one (live_by), or over.
    sa.Column("live_state", sa.String(10), nullable=False, default="", server_default=""),
    sa.Column("live_requested_at", sa.DateTime, nullable=True),
    sa.Column("live_by", sa.Integer, nullable=True),  # the coordinator in the chat; no foreign key: an account is disabled, never deleted
    sa.Column("live_since", sa.DateTime, nullable=True),
    sa.Column("live_seen_at", sa.DateTime, nullable=True),  # the coordinator's chat page last asked for news
)


class Lead(Base):
    """A sign-up or a handoff case: what a coordinator acts on."""

    __table__ = leads_table


@sa.event.listens_for(Lead, "before_insert")
@sa.event.listens_for(Lead, "before_update")
def _keep_search_text(mapper: Any, connection: Any, lead: Lead) -> None:
    lead.search_text = search_text({name: getattr(lead, name) for name in SEARCHED})


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
    role = sa.Column(sa.String(20), nullable=False, default=COORDINATOR)
    regions = sa.Column(sa.JSON, nullable=False, default=list)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    disabled_at = sa.Column(sa.DateTime, nullable=True)  # a disabled account cannot log in and has no sessions
    must_change_password = sa.Column(sa.Boolean, nullable=False, default=False)  # a password someone else chose: changed at first login
    live_seen_at = sa.Column(sa.DateTime, nullable=True)  # the live chat page last asked for news: on duty for live chats

    @property
    def is_admin(self) -> bool:
        return bool(self.role == ADMIN)


class DashboardSession(Base):
    """A dashboard login, kept on the server so that logout, a password change or a disabled account ends it
    at once, in every web process. The browser's cookie holds the token; only its SHA-256 is stored."""

    __tablename__ = "dashboard_sessions"

    token_hash = sa.Column(sa.String(64), primary_key=True)
    coordinator_id = sa.Column(sa.Integer, sa.ForeignKey("coordinators.id", ondelete="CASCADE"), nullable=False, index=True)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    last_seen = sa.Column(sa.DateTime, nullable=False, default=utcnow)


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id = sa.Column(sa.Integer, primary_key=True)
    at = sa.Column(sa.DateTime, nullable=False, default=utcnow, index=True)
    actor = sa.Column(sa.String(254), nullable=False)
    action = sa.Column(sa.String(40), nullable=False)
    lead_reference = sa.Column(sa.String(20), nullable=False, default="")
    detail = sa.Column(sa.JSON, nullable=False, default=dict)


class Review(Base):
    """A reviewer's decision on a group of messages the bot handled badly (bot.store.review)."""

    __tablename__ = "reviews"

    id = sa.Column(sa.Integer, primary_key=True)
    group_key = sa.Column(sa.String(300), nullable=False, index=True)
    text = sa.Column(sa.Text, nullable=False)  # the group's most frequent wording, masked
    examples = sa.Column(sa.JSON, nullable=False, default=list)  # every wording of the group, masked
    decision = sa.Column(sa.String(20), nullable=False)  # intent, out_of_scope, needs_answer
    intent = sa.Column(sa.String(60), nullable=False, default="")
    note = sa.Column(sa.Text, nullable=False, default="")  # needs_answer: what is missing and where the answer should come from
    region = sa.Column(sa.String(20), nullable=False, default="")
    decided_by = sa.Column(sa.String(254), nullable=False)
    decided_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    undone_by = sa.Column(sa.String(254), nullable=False, default="")
    undone_at = sa.Column(sa.DateTime, nullable=True)


class LoginAttempt(Base):
    __tablename__ = "login_attempts"

    id = sa.Column(sa.Integer, primary_key=True)
    key = sa.Column(sa.String(300), nullable=False, index=True)
    at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    ok = sa.Column(sa.Boolean, nullable=False, default=False)
