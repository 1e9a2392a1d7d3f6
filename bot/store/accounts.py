"""Dashboard accounts: creating them, checking passwords and throttling guessing.

The command line and `make run` create accounts, the dashboard logs them in; all of them
use this class on the lead store. Passwords are stored as argon2id hashes only. Failed
logins are counted in the login_attempts table, so the lock holds across every web
process that shares the database.
"""

from __future__ import annotations

import datetime as dt
import secrets
from functools import cache
from typing import Iterable

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.knowledge import kb
from bot.store.audit import AuditLog
from bot.store.casework import Viewer
from bot.store.database import Database
from bot.store.schema import ADMIN, ROLES, Coordinator, LoginAttempt, utcnow

DEMO_ADMIN = "admin@frivilligbotten.local"
MIN_PASSWORD_LENGTH = 8
FAILURE_LIMIT = 5
WINDOW = dt.timedelta(minutes=15)
LOCK = dt.timedelta(minutes=15)

_hasher = PasswordHasher()


class AccountError(ValueError):
    """Bad input for an account (shown to the operator as is)."""


class LoginThrottled(Exception):
    """Too many failed logins for this e-mail or client address; refused until `until` (UTC)."""

    def __init__(self, until: dt.datetime) -> None:
        super().__init__(f"locked until {until.isoformat()}Z")
        self.until = until


def viewer_of(coordinator: Coordinator) -> Viewer:
    return Viewer(email=coordinator.email, role=coordinator.role, regions=tuple(coordinator.regions or ()))


def _normalise_email(email: str) -> str:
    try:
        return str(validate_email(email.strip(), check_deliverability=False).normalized).lower()
    except EmailNotValidError as exc:
        raise AccountError(f"invalid e-mail address {email!r}: {exc}") from exc


def _check_regions(role: str, regions: Iterable[str]) -> list[str]:
    codes = list(dict.fromkeys(r.strip() for r in regions if r.strip()))
    unknown = [code for code in codes if code not in kb().regions]
    if unknown:
        raise AccountError(f"unknown region(s) {', '.join(unknown)}; known: {', '.join(kb().regions)}")
    if role != ADMIN and not codes:
        raise AccountError("a coordinator needs at least one region (--region)")
    return codes


@cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_hex(16))


def _verify(password_hash: str | None, password: str) -> bool:
    """Check the password; unknown accounts cost the same time, so the answer does not reveal which e-mails exist."""
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def _keys(email: str, client_key: str) -> tuple[str, str]:
    return f"email:{email}"[:300], f"client:{client_key}"[:300]


def locked_until(session: Session, keys: Iterable[str], now: dt.datetime) -> dt.datetime | None:
    """When the lock ends if some 15 minutes held 5 failures for one of the keys; failures before a success don't count."""
    until: dt.datetime | None = None
    for key in keys:
        since = now - WINDOW - LOCK
        last_ok = session.execute(sa.select(sa.func.max(LoginAttempt.at)).where(LoginAttempt.key == key, LoginAttempt.ok.is_(True))).scalar()
        if last_ok is not None and last_ok > since:
            since = last_ok
        times = list(
            session.execute(
                sa.select(LoginAttempt.at).where(LoginAttempt.key == key, LoginAttempt.ok.is_(False), LoginAttempt.at > since).order_by(LoginAttempt.at)
            ).scalars()
        )
        for i in range(FAILURE_LIMIT - 1, len(times)):
            if times[i] - times[i - FAILURE_LIMIT + 1] <= WINDOW and (until is None or times[i] + LOCK > until):
                until = times[i] + LOCK
    return until if until is not None and until > now else None


class Accounts:
    def __init__(self, db: Database, audit: AuditLog) -> None:
        self.db, self.audit = db, audit

    def _create(self, email: str, name: str, role: str, regions: list[str], password: str) -> None:
        with self.db.session() as session:
            session.add(Coordinator(email=email, name=name, role=role, regions=regions, password_hash=_hasher.hash(password)))
            try:
                session.commit()
            except IntegrityError as exc:
                raise AccountError(f"an account for {email} already exists") from exc

    def add(self, email: str, name: str, role: str, regions: Iterable[str], password: str | None = None) -> str:
        """Create an account and return its password (a random one unless given), which is shown once and never stored."""
        if role not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        address = _normalise_email(email)
        name = name.strip()
        if not name or len(name) > 120:
            raise AccountError("the name must be 1 to 120 characters")
        codes = _check_regions(role, regions)
        if password is not None and len(password) < MIN_PASSWORD_LENGTH:
            raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
        if self.find(address) is not None:
            raise AccountError(f"an account for {address} already exists")
        password = password if password is not None else secrets.token_urlsafe(12)
        self._create(address, name, role, codes, password)
        return password

    def all(self) -> list[Coordinator]:
        with self.db.session() as session:
            return list(session.execute(sa.select(Coordinator).order_by(Coordinator.role, Coordinator.name, Coordinator.email)).scalars())

    def find(self, email: str) -> Coordinator | None:
        with self.db.session() as session:
            return session.execute(sa.select(Coordinator).where(sa.func.lower(Coordinator.email) == email.strip().lower())).scalar()

    def get(self, coordinator_id: int) -> Coordinator | None:
        with self.db.session() as session:
            return session.get(Coordinator, coordinator_id)

    def assignable(self, region: str) -> list[Coordinator]:
        """Who may take a lead of this region: its coordinators and every admin (the rule Casework.assign enforces)."""
        return [c for c in self.all() if viewer_of(c).may_take(region)]

    def authenticate(self, email: str, password: str, client_key: str) -> Coordinator | None:
        """The account if the password fits; raises LoginThrottled while the e-mail or the client address is locked."""
        address = email.strip().lower()[:254]
        keys = _keys(address, client_key)
        with self.db.session() as session:
            until = locked_until(session, keys, utcnow())
        if until is not None:
            self.audit.record(address, "login_failed", client=client_key, reason="throttled")
            raise LoginThrottled(until)
        coordinator = self.find(address) if address else None
        ok = _verify(coordinator.password_hash if coordinator else None, password)
        with self.db.session() as session:
            session.add_all(LoginAttempt(key=key, ok=ok) for key in keys)
            if ok and coordinator is not None and _hasher.check_needs_rehash(coordinator.password_hash):
                session.execute(sa.update(Coordinator).where(Coordinator.id == coordinator.id).values(password_hash=_hasher.hash(password)))
            session.commit()
        if ok:
            self.audit.record(address, "login", client=client_key)
            return coordinator
        self.audit.record(address, "login_failed", client=client_key, reason="invalid")
        return None

    def ensure_demo_admin(self) -> tuple[str, str] | None:
        """On a fresh install, one admin with a random password so the dashboard can be opened; never a default password."""
        with self.db.session() as session:
            if session.execute(sa.select(sa.func.count(Coordinator.id))).scalar():
                return None
        password = secrets.token_urlsafe(12)
        try:
            self._create(DEMO_ADMIN, "Demo-administrator", ADMIN, [], password)
        except AccountError:
            return None  # another process created it at the same moment
        return DEMO_ADMIN, password
