"""Tests for bot.store.accounts: creating and changing accounts, argon2 passwords, login throttling, sessions and the demo admin."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from argon2 import PasswordHasher

from bot.settings import ROOT
from bot.store import LeadStore, migrations
from bot.store.accounts import AccountError, LoginThrottled, SessionPolicy, viewer_of
from bot.store.database import make_engine
from bot.store.schema import LEAD_FIELDS, AuditEntry, Coordinator, DashboardSession, LoginAttempt, utcnow


@pytest.fixture
def store(tmp_path: Path) -> LeadStore:
    return LeadStore(f"sqlite:///{tmp_path / 'leads.db'}")


def _audit(store: LeadStore) -> list[AuditEntry]:
    return list(reversed(store.audit.entries()))


def _logins(store: LeadStore) -> list[AuditEntry]:
    return [e for e in _audit(store) if e.action.startswith("login")]


def _age_attempts(store: LeadStore, minutes: int) -> None:
    """Move every recorded login attempt `minutes` into the past, as if that much time had gone by."""
    with store.db.session() as session:
        for attempt in session.execute(sa.select(LoginAttempt)).scalars():
            attempt.at = attempt.at - dt.timedelta(minutes=minutes)
        session.commit()


# --------------------------------------------------------------------------- creating accounts


def test_add_coordinator_returns_a_random_password_and_stores_only_an_argon2_hash(store: LeadStore) -> None:
    password = store.accounts.add("Mette.Midt@RM.dk", "Mette Midt", "coordinator", ["midtjylland"])
    other = store.accounts.add("ole@rn.dk", "Ole Nord", "coordinator", ["nordjylland"])
    assert len(password) >= 16 and password != other
    [row] = [c for c in store.accounts.all() if c.name == "Mette Midt"]
    assert row.email == "mette.midt@rm.dk"
    assert row.regions == ["midtjylland"] and row.role == "coordinator"
    assert row.password_hash.startswith("$argon2id$") and password not in row.password_hash


def test_add_coordinator_keeps_a_given_password(store: LeadStore) -> None:
    assert store.accounts.add("anne@regionh.dk", "Anne Admin", "admin", [], password="en lang adgangskode") == "en lang adgangskode"
    assert store.accounts.authenticate("anne@regionh.dk", "en lang adgangskode", "10.0.0.1") is not None


@pytest.mark.parametrize(
    ("email", "name", "role", "regions", "password", "message"),
    [
        ("ikke-en-adresse", "Navn", "coordinator", ["midtjylland"], None, "invalid e-mail"),
        ("a@b", "Navn", "coordinator", ["midtjylland"], None, "invalid e-mail"),
        ("mette@rm.dk", "Navn", "superuser", ["midtjylland"], None, "role must be one of"),
        ("mette@rm.dk", "Navn", "coordinator", [], None, "needs at least one region"),
        ("mette@rm.dk", "Navn", "coordinator", ["jylland"], None, "unknown region"),
        ("mette@rm.dk", "   ", "coordinator", ["midtjylland"], None, "name must be"),
        ("mette@rm.dk", "Navn", "coordinator", ["midtjylland"], "kort", "at least 8 characters"),
    ],
)
def test_add_coordinator_rejects_bad_input(store: LeadStore, email: str, name: str, role: str, regions: list[str], password: str | None, message: str) -> None:
    with pytest.raises(AccountError, match=message):
        store.accounts.add(email, name, role, regions, password)
    assert store.accounts.all() == []


def test_add_coordinator_rejects_a_duplicate_whatever_the_case(store: LeadStore) -> None:
    store.accounts.add("mette@rm.dk", "Mette", "coordinator", ["midtjylland"])
    with pytest.raises(AccountError, match="already exists"):
        store.accounts.add("METTE@rm.dk", "Mette igen", "admin", [])
    assert [c.email for c in store.accounts.all()] == ["mette@rm.dk"]


def test_admins_need_no_region_and_may_have_several(store: LeadStore) -> None:
    store.accounts.add("anne@regionh.dk", "Anne", "admin", [])
    store.accounts.add("bo@rm.dk", "Bo", "coordinator", ["midtjylland", "nordjylland", "midtjylland"])
    rows = {c.email: c for c in store.accounts.all()}
    assert rows["anne@regionh.dk"].role == "admin" and rows["anne@regionh.dk"].regions == []
    assert rows["bo@rm.dk"].regions == ["midtjylland", "nordjylland"]


def test_assignable_is_the_regions_coordinators_and_every_admin(store: LeadStore) -> None:
    store.accounts.add("anne@regionh.dk", "Anne", "admin", [])
    store.accounts.add("mette@rm.dk", "Mette", "coordinator", ["midtjylland"])
    store.accounts.add("ole@rn.dk", "Ole", "coordinator", ["nordjylland"])
    assert {c.email for c in store.accounts.assignable("midtjylland")} == {"anne@regionh.dk", "mette@rm.dk"}


# --------------------------------------------------------------------------- logging in


@pytest.fixture
def mette(store: LeadStore) -> str:
    store.accounts.add("mette@rm.dk", "Mette", "coordinator", ["midtjylland"], password="rigtig-kode-123")
    return "mette@rm.dk"


def test_authenticate_with_the_right_password_ignores_case_and_spaces(store: LeadStore, mette: str) -> None:
    coordinator = store.accounts.authenticate("  Mette@RM.dk ", "rigtig-kode-123", "10.0.0.1")
    assert coordinator is not None and coordinator.name == "Mette"
    assert viewer_of(coordinator).regions == ("midtjylland",)
    assert [(e.actor, e.action, e.detail) for e in _logins(store)] == [("mette@rm.dk", "login", {"client": "10.0.0.1"})]


@pytest.mark.parametrize(("email", "password"), [("mette@rm.dk", "forkert-kode"), ("ukendt@rm.dk", "rigtig-kode-123"), ("", ""), ("mette@rm.dk", "")])
def test_authenticate_refuses_wrong_passwords_and_unknown_accounts_and_logs_without_the_password(
    store: LeadStore, mette: str, email: str, password: str
) -> None:
    assert store.accounts.authenticate(email, password, "10.0.0.1") is None
    [entry] = _logins(store)
    assert entry.action == "login_failed" and entry.detail == {"client": "10.0.0.1", "reason": "invalid"}
    assert "rigtig-kode-123" not in repr(entry.detail) and "forkert-kode" not in repr(entry.detail)


def test_five_failures_for_one_email_lock_it_for_fifteen_minutes(store: LeadStore, mette: str) -> None:
    for n in range(5):
        assert store.accounts.authenticate("mette@rm.dk", "forkert", f"10.0.0.{n}") is None
    with pytest.raises(LoginThrottled) as locked:
        store.accounts.authenticate("mette@rm.dk", "rigtig-kode-123", "10.0.0.99")
    assert dt.timedelta(minutes=14) < locked.value.until - utcnow() <= dt.timedelta(minutes=15)
    assert _audit(store)[-1].detail == {"client": "10.0.0.99", "reason": "throttled"}
    _age_attempts(store, 14)
    with pytest.raises(LoginThrottled):
        store.accounts.authenticate("mette@rm.dk", "rigtig-kode-123", "10.0.0.99")
    _age_attempts(store, 2)
    assert store.accounts.authenticate("mette@rm.dk", "rigtig-kode-123", "10.0.0.99") is not None


def test_five_failures_from_one_client_lock_that_client_for_every_email(store: LeadStore, mette: str) -> None:
    for n in range(5):
        assert store.accounts.authenticate(f"gaet{n}@rm.dk", "forkert", "192.0.2.7") is None
    with pytest.raises(LoginThrottled):
        store.accounts.authenticate("mette@rm.dk", "rigtig-kode-123", "192.0.2.7")
    assert store.accounts.authenticate("mette@rm.dk", "rigtig-kode-123", "192.0.2.8") is not None


def test_failures_spread_over_more_than_fifteen_minutes_do_not_lock(store: LeadStore, mette: str) -> None:
    for _ in range(3):
        store.accounts.authenticate("mette@rm.dk", "forkert", "10.0.0.1")
    _age_attempts(store, 16)
    for _ in range(2):
        store.accounts.authenticate("mette@rm.dk", "forkert", "10.0.0.1")
    assert store.accounts.authenticate("mette@rm.dk", "rigtig-kode-123", "10.0.0.1") is not None


def test_a_successful_login_resets_the_count_for_the_email(store: LeadStore, mette: str) -> None:
    for n in range(4):
        store.accounts.authenticate("mette@rm.dk", "forkert", f"10.0.1.{n}")
    assert store.accounts.authenticate("mette@rm.dk", "rigtig-kode-123", "10.0.1.9") is not None
    store.accounts.authenticate("mette@rm.dk", "forkert", "10.0.1.10")
    assert store.accounts.authenticate("mette@rm.dk", "rigtig-kode-123", "10.0.1.11") is not None


def test_the_lock_holds_in_another_process(tmp_path: Path, store: LeadStore, mette: str) -> None:
    for _ in range(5):
        store.accounts.authenticate("mette@rm.dk", "forkert", "10.0.0.1")
    script = (
        "import sys\n"
        "from bot.store import LeadStore\n"
        "from bot.store.accounts import LoginThrottled\n"
        f"store = LeadStore({store.db.url!r})\n"
        "try:\n"
        "    store.accounts.authenticate('mette@rm.dk', 'rigtig-kode-123', '10.9.9.9')\n"
        "except LoginThrottled:\n"
        "    sys.exit(42)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, timeout=120)
    assert result.returncode == 42, result.stderr.decode()


# --------------------------------------------------------------------------- the demo admin


def test_ensure_demo_admin_creates_one_admin_with_a_random_password_once(store: LeadStore) -> None:
    created = store.accounts.ensure_demo_admin()
    assert created is not None
    email, password = created
    assert email == "admin@frivilligbotten.local" and len(password) >= 16
    [row] = store.accounts.all()
    assert row.role == "admin" and row.password_hash.startswith("$argon2id$")
    assert store.accounts.authenticate(email, password, "127.0.0.1") is not None
    assert store.accounts.ensure_demo_admin() is None


def test_ensure_demo_admin_does_nothing_when_accounts_exist(store: LeadStore, mette: str) -> None:
    assert store.accounts.ensure_demo_admin() is None
    with store.db.session() as session:
        assert [c.email for c in session.execute(sa.select(Coordinator)).scalars()] == ["mette@rm.dk"]


# --------------------------------------------------------------------------- changing accounts and sessions


@pytest.mark.parametrize(
    ("email", "role", "regions", "message"),
    [
        ("mette@rm.dk", None, None, "nothing to change"),
        ("ukendt@rm.dk", "admin", None, "no account for ukendt@rm.dk"),
        ("mette@rm.dk", None, [], "needs at least one region"),
        ("mette@rm.dk", None, ["jylland"], "unknown region"),
        ("mette@rm.dk", "superuser", None, "role must be one of"),
    ],
)
def test_update_refuses_bad_input_and_changes_nothing(
    store: LeadStore, mette: str, email: str, role: str | None, regions: list[str] | None, message: str
) -> None:
    with pytest.raises(AccountError, match=message):
        store.accounts.update(email, role=role, regions=regions)
    [row] = store.accounts.all()
    assert (row.role, row.regions) == ("coordinator", ["midtjylland"])
    assert [e.action for e in _audit(store)] == ["account_created"]


def test_an_admin_made_coordinator_keeps_no_region_it_did_not_get(store: LeadStore) -> None:
    store.accounts.add("anne@regionh.dk", "Anne", "admin", [])
    with pytest.raises(AccountError, match="needs at least one region"):
        store.accounts.update("anne@regionh.dk", role="coordinator")
    assert store.accounts.update("anne@regionh.dk", role="coordinator", regions=["sjaelland"]).regions == ["sjaelland"]


def test_reset_password_refuses_a_short_one_and_an_unknown_account(store: LeadStore, mette: str) -> None:
    with pytest.raises(AccountError, match="at least 8 characters"):
        store.accounts.reset_password("mette@rm.dk", "kort")
    with pytest.raises(AccountError, match="no account"):
        store.accounts.reset_password("ukendt@rm.dk")
    assert store.accounts.authenticate("mette@rm.dk", "rigtig-kode-123", "10.0.0.1") is not None


def test_a_session_lives_until_idle_or_too_old_and_stale_ones_are_cleared_at_the_next_login(store: LeadStore, mette: str) -> None:
    coordinator = store.accounts.find(mette)
    assert coordinator is not None
    policy = SessionPolicy(idle=dt.timedelta(minutes=30), lifetime=dt.timedelta(hours=8))
    token = store.accounts.open_session(coordinator.id, policy)
    holder = store.accounts.session_holder(token, policy)
    assert holder is not None and holder.email == mette
    assert store.accounts.session_holder(token + "x", policy) is None
    with store.db.session() as session:
        session.execute(sa.update(DashboardSession).values(last_seen=DashboardSession.last_seen - dt.timedelta(minutes=31)))
        session.commit()
    store.accounts.open_session(coordinator.id, policy)  # another login clears the idle one out
    with store.db.session() as session:
        assert session.execute(sa.select(sa.func.count()).select_from(DashboardSession)).scalar() == 1
    assert store.accounts.session_holder(token, policy) is None


def test_accounts_and_assignments_survive_the_migration_to_server_side_sessions(tmp_path: Path) -> None:
    """A lead store made before revision 0002: its accounts may log in and its leads stay assigned."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    command.upgrade(migrations._config(engine), "0001")
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO coordinators (id, email, name, password_hash, role, regions, created_at) "
                "VALUES (7, 'mette@rm.dk', 'Mette', :hash, 'coordinator', '[\"midtjylland\"]', '2026-11-01 10:00:00')"
            ),
            {"hash": PasswordHasher().hash("rigtig-kode-123")},
        )
        values = {f.name: "[]" if f.many else "" for f in LEAD_FIELDS}
        columns = ", ".join(values)
        connection.execute(
            sa.text(
                f"INSERT INTO leads (reference, submission_key, kind, created_at, updated_at, {columns}, channel, conversation_id, status, "
                f"consent_version, transcript, assigned_to) VALUES ('FRV-1', 'k1', 'signup', '2026-11-01', '2026-11-01', "
                f"{', '.join(':' + name for name in values)}, 'rest', 'c1', 'ny', '', '[]', 7)"
            ),
            values,
        )
    store = LeadStore(url)
    coordinator = store.accounts.authenticate("mette@rm.dk", "rigtig-kode-123", "10.0.0.1")
    assert coordinator is not None and coordinator.disabled_at is None and coordinator.must_change_password is False
    with store.db.session() as session:
        assert session.execute(sa.text("SELECT assigned_to FROM leads")).scalar() == 7
