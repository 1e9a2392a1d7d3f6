"""Dashboard accounts: creating and changing them, checking passwords, throttling guessing, sessions.

The command line and `make run` create and change accounts, the dashboard logs them in;
all of them use this class on the lead store, and every change is in the audit log.
Passwords are stored as argon2id hashes only. Failed logins are counted in the
login_attempts table and sessions live in the dashboard_sessions table, so the lock, a
logout and a disabled account hold across every web process that shares the database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from functools import cache
from typing import Any, Iterable

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
from bot.store.schema import ADMIN, ROLES, Coordinator, DashboardSession, LoginAttempt, utcnow

DEMO_ADMIN = "admin@frivilligbotten.local"
MIN_PASSWORD_LENGTH = 8
FAILURE_LIMIT = 5
WINDOW = dt.timedelta(minutes=15)
LOCK = dt.timedelta(minutes=15)
SESSION_TOUCH = dt.timedelta(minutes=1)  # how often a session's last_seen is written: at most once a minute per session
CLI = "cli"  # the audit log's name for whoever runs `python -m bot accounts`
SETUP = "system:setup"  # and for `make run` creating the demo admin

_hasher = PasswordHasher()


class AccountError(ValueError):
    """Bad input for an account (shown to the operator as is)."""


class PasswordRejected(AccountError):
    """A password that cannot be set; `reason` (wrong, short, unchanged) picks the dashboard's message."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class LoginThrottled(Exception):
    """Too many failed logins for this e-mail or client address; refused until `until` (UTC)."""

    def __init__(self, until: dt.datetime) -> None:
        super().__init__(f"locked until {until.isoformat()}Z")
        self.until = until


@dataclass(frozen=True)
class SessionPolicy:
    """How long a dashboard session lasts: `idle` without a request, and `lifetime` after login at the most."""

    idle: dt.timedelta
    lifetime: dt.timedelta

    def expired(self, row: DashboardSession, now: dt.datetime) -> bool:
        return bool(now - row.last_seen > self.idle or now - row.created_at > self.lifetime)


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


def _check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordRejected("short", f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    return password


def _by_email(email: str) -> sa.sql.Select:
    return sa.select(Coordinator).where(sa.func.lower(Coordinator.email) == email.strip().lower())


def _token_hash(token: str) -> str:
    """What the sessions table keeps of a browser's token: a copy of the table opens no session."""
    return hashlib.sha256(token.encode()).hexdigest()


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

    def _create(self, email: str, name: str, role: str, regions: list[str], password: str, actor: str, must_change_password: bool = False) -> None:
        with self.db.session() as session:
            hashed = _hasher.hash(password)
            session.add(Coordinator(email=email, name=name, role=role, regions=regions, password_hash=hashed, must_change_password=must_change_password))
            AuditLog.add(session, actor, "account_created", account=email, role=role, regions=regions)
            try:
                session.commit()
            except IntegrityError as exc:
                raise AccountError(f"an account for {email} already exists") from exc

    def add(self, email: str, name: str, role: str, regions: Iterable[str], password: str | None = None, actor: str = CLI) -> str:
        """Create an account and return its password (a random one unless given), which is shown once and never stored."""
        if role not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        address = _normalise_email(email)
        name = name.strip()
        if not name or len(name) > 120:
            raise AccountError("the name must be 1 to 120 characters")
        codes = _check_regions(role, regions)
        if password is not None:
            _check_password(password)
        if self.find(address) is not None:
            raise AccountError(f"an account for {address} already exists")
        password = password if password is not None else secrets.token_urlsafe(12)
        self._create(address, name, role, codes, password, actor)
        return password

    def all(self) -> list[Coordinator]:
        with self.db.session() as session:
            return list(session.execute(sa.select(Coordinator).order_by(Coordinator.role, Coordinator.name, Coordinator.email)).scalars())

    def find(self, email: str) -> Coordinator | None:
        with self.db.session() as session:
            return session.execute(_by_email(email)).scalar()

    def get(self, coordinator_id: int) -> Coordinator | None:
        with self.db.session() as session:
            return session.get(Coordinator, coordinator_id)

    def assignable(self, region: str) -> list[Coordinator]:
        """Who may take a lead of this region: its coordinators and every admin (the rule Casework.assign enforces)."""
        return [c for c in self.all() if viewer_of(c).may_take(region)]

    def _attempt(self, address: str, password: str, client_key: str, failure: str) -> Coordinator | None:
        """The enabled account if the password fits. Every attempt counts towards the lock; a failure is audited as
        `failure`, and a disabled account fails like a wrong password. Raises LoginThrottled while locked."""
        keys = _keys(address, client_key)
        with self.db.session() as session:
            until = locked_until(session, keys, utcnow())
        if until is not None:
            self.audit.record(address, failure, client=client_key, reason="throttled")
            raise LoginThrottled(until)
        coordinator = self.find(address) if address else None
        fits = _verify(coordinator.password_hash if coordinator else None, password)
        ok = fits and coordinator is not None and coordinator.disabled_at is None
        with self.db.session() as session:
            session.add_all(LoginAttempt(key=key, ok=ok) for key in keys)
            if ok and coordinator is not None and _hasher.check_needs_rehash(coordinator.password_hash):
                session.execute(sa.update(Coordinator).where(Coordinator.id == coordinator.id).values(password_hash=_hasher.hash(password)))
            session.commit()
        if ok:
            return coordinator
        self.audit.record(address, failure, client=client_key, reason="disabled" if fits else "invalid")
        return None

    def authenticate(self, email: str, password: str, client_key: str) -> Coordinator | None:
        """The account if the password fits and the account is enabled; raises LoginThrottled while the e-mail or the client address is locked."""
        address = email.strip().lower()[:254]
        coordinator = self._attempt(address, password, client_key, "login_failed")
        if coordinator is not None:
            self.audit.record(address, "login", client=client_key)
        return coordinator

    def _change(self, email: str, actor: str, action: str, end_sessions: bool, detail: dict[str, Any], **values: Any) -> Coordinator:
        """Set `values` on the account of this e-mail, audit it in the same transaction, and end its sessions if asked."""
        with self.db.session() as session:
            coordinator = session.execute(_by_email(email)).scalar()
            if coordinator is None:
                raise AccountError(f"there is no account for {email.strip()}")
            for name, value in values.items():
                setattr(coordinator, name, value)
            if end_sessions:
                session.execute(sa.delete(DashboardSession).where(DashboardSession.coordinator_id == coordinator.id))
            AuditLog.add(session, actor, action, account=coordinator.email, **detail)
            session.commit()
            return coordinator

    def disable(self, email: str, actor: str = CLI) -> Coordinator:
        """The account can no longer log in, and its sessions end at once."""
        return self._change(email, actor, "account_disabled", True, {}, disabled_at=utcnow())

    def enable(self, email: str, actor: str = CLI) -> Coordinator:
        return self._change(email, actor, "account_enabled", False, {}, disabled_at=None)

    def reset_password(self, email: str, password: str | None = None, actor: str = CLI) -> str:
        """A new password (a random one unless given) that must be changed at the next login; the account's sessions end."""
        password = _check_password(password) if password is not None else secrets.token_urlsafe(12)
        self._change(email, actor, "password_reset", True, {}, password_hash=_hasher.hash(password), must_change_password=True)
        return password

    def update(self, email: str, role: str | None = None, regions: Iterable[str] | None = None, actor: str = CLI) -> Coordinator:
        """Change the role and/or the regions; the account sees the new scope with its next request."""
        if role is None and regions is None:
            raise AccountError("nothing to change: give a role and/or regions")
        current = self.find(email)
        if current is None:
            raise AccountError(f"there is no account for {email.strip()}")
        role = role or str(current.role)
        if role not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        codes = _check_regions(role, (current.regions or []) if regions is None else regions)
        return self._change(email, actor, "account_changed", False, {"role": role, "regions": codes}, role=role, regions=codes)

    def change_password(self, coordinator: Coordinator, current: str, new: str, client_key: str) -> None:
        """The account holder's own change: the current password is checked (and throttled) like a login. Every session
        of the account ends, so the caller opens a new one for the browser that made the change."""
        if self._attempt(str(coordinator.email), current, client_key, "password_change_failed") is None:
            raise PasswordRejected("wrong", "the current password is wrong")
        if _check_password(new) == current:
            raise PasswordRejected("unchanged", "the new password must differ from the current one")
        email = str(coordinator.email)
        self._change(email, email, "password_changed", True, {"client": client_key}, password_hash=_hasher.hash(new), must_change_password=False)

    def open_session(self, coordinator_id: int, policy: SessionPolicy) -> str:
        """A session for a login; returns the token for the browser's cookie. Sessions past their time are cleared out here."""
        token, now = secrets.token_urlsafe(32), utcnow()
        with self.db.session() as session:
            stale = sa.or_(DashboardSession.last_seen < now - policy.idle, DashboardSession.created_at < now - policy.lifetime)
            session.execute(sa.delete(DashboardSession).where(stale))
            session.add(DashboardSession(token_hash=_token_hash(token), coordinator_id=coordinator_id, created_at=now, last_seen=now))
            session.commit()
        return token

    def session_holder(self, token: str, policy: SessionPolicy) -> Coordinator | None:
        """The enabled account whose live session this token opens; the request counts as activity. None ends the session."""
        now = utcnow()
        with self.db.session() as session:
            row = session.get(DashboardSession, _token_hash(token))
            if row is None:
                return None
            coordinator = session.get(Coordinator, row.coordinator_id)
            if coordinator is None or coordinator.disabled_at is not None or policy.expired(row, now):
                session.delete(row)
                session.commit()
                return None
            if now - row.last_seen >= SESSION_TOUCH:
                row.last_seen = now
                session.commit()
            return coordinator

    def close_session(self, token: str) -> None:
        with self.db.session() as session:
            session.execute(sa.delete(DashboardSession).where(DashboardSession.token_hash == _token_hash(token)))
            session.commit()

    def ensure_demo_admin(self) -> tuple[str, str] | None:
        """On a fresh install, one admin with a random password so the dashboard can be opened; never a default password.
        Whoever reads it in the console must choose their own at the first login."""
        with self.db.session() as session:
            if session.execute(sa.select(sa.func.count(Coordinator.id))).scalar():
                return None
        password = secrets.token_urlsafe(12)
        try:
            self._create(DEMO_ADMIN, "Demo-administrator", ADMIN, [], password, SETUP, must_change_password=True)
        except AccountError:
            return None  # another process created it at the same moment
        return DEMO_ADMIN, password
