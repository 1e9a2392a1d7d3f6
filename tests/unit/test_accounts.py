"""Tests for bot.web.accounts: creating accounts, argon2 passwords, login throttling and the demo admin."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.db import AuditEntry, Coordinator, LoginAttempt, utcnow
from bot.leads import LeadStore
from bot.settings import ROOT
from bot.web import accounts
from bot.web.accounts import AccountError, LoginThrottled, add_coordinator, authenticate, ensure_demo_admin, list_coordinators


@pytest.fixture
def store(tmp_path: Path) -> LeadStore:
    return LeadStore(f"sqlite:///{tmp_path / 'leads.db'}")


def _audit(store: LeadStore) -> list[AuditEntry]:
    return list(reversed(store.audit_log()))


def _age_attempts(store: LeadStore, minutes: int) -> None:
    """Move every recorded login attempt `minutes` into the past, as if that much time had gone by."""
    with store.session() as session:
        for attempt in session.execute(sa.select(LoginAttempt)).scalars():
            attempt.at = attempt.at - dt.timedelta(minutes=minutes)
        session.commit()


# --------------------------------------------------------------------------- creating accounts


def test_add_coordinator_returns_a_random_password_and_stores_only_an_argon2_hash(store: LeadStore) -> None:
    password = add_coordinator("Mette.Midt@RM.dk", "Mette Midt", "coordinator", ["midtjylland"], store=store)
    other = add_coordinator("ole@rn.dk", "Ole Nord", "coordinator", ["nordjylland"], store=store)
    assert len(password) >= 16 and password != other
    [row] = [c for c in list_coordinators(store) if c.name == "Mette Midt"]
    assert row.email == "mette.midt@rm.dk"
    assert row.regions == ["midtjylland"] and row.role == "coordinator"
    assert row.password_hash.startswith("$argon2id$") and password not in row.password_hash


def test_add_coordinator_keeps_a_given_password(store: LeadStore) -> None:
    assert add_coordinator("anne@regionh.dk", "Anne Admin", "admin", [], password="en lang adgangskode", store=store) == "en lang adgangskode"
    assert authenticate("anne@regionh.dk", "en lang adgangskode", "10.0.0.1", store) is not None


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
        add_coordinator(email, name, role, regions, password, store=store)
    assert list_coordinators(store) == []


def test_add_coordinator_rejects_a_duplicate_whatever_the_case(store: LeadStore) -> None:
    add_coordinator("mette@rm.dk", "Mette", "coordinator", ["midtjylland"], store=store)
    with pytest.raises(AccountError, match="already exists"):
        add_coordinator("METTE@rm.dk", "Mette igen", "admin", [], store=store)
    assert [c.email for c in list_coordinators(store)] == ["mette@rm.dk"]


def test_admins_need_no_region_and_may_have_several(store: LeadStore) -> None:
    add_coordinator("anne@regionh.dk", "Anne", "admin", [], store=store)
    add_coordinator("bo@rm.dk", "Bo", "coordinator", ["midtjylland", "nordjylland", "midtjylland"], store=store)
    rows = {c.email: c for c in list_coordinators(store)}
    assert rows["anne@regionh.dk"].role == "admin" and rows["anne@regionh.dk"].regions == []
    assert rows["bo@rm.dk"].regions == ["midtjylland", "nordjylland"]


def test_assignable_is_the_regions_coordinators_and_every_admin(store: LeadStore) -> None:
    add_coordinator("anne@regionh.dk", "Anne", "admin", [], store=store)
    add_coordinator("mette@rm.dk", "Mette", "coordinator", ["midtjylland"], store=store)
    add_coordinator("ole@rn.dk", "Ole", "coordinator", ["nordjylland"], store=store)
    assert {c.email for c in accounts.assignable("midtjylland", store)} == {"anne@regionh.dk", "mette@rm.dk"}


# --------------------------------------------------------------------------- logging in


@pytest.fixture
def mette(store: LeadStore) -> str:
    add_coordinator("mette@rm.dk", "Mette", "coordinator", ["midtjylland"], password="rigtig-kode-123", store=store)
    return "mette@rm.dk"


def test_authenticate_with_the_right_password_ignores_case_and_spaces(store: LeadStore, mette: str) -> None:
    coordinator = authenticate("  Mette@RM.dk ", "rigtig-kode-123", "10.0.0.1", store)
    assert coordinator is not None and coordinator.name == "Mette"
    assert accounts.viewer_of(coordinator).regions == ("midtjylland",)
    assert [(e.actor, e.action, e.detail) for e in _audit(store)] == [("mette@rm.dk", "login", {"client": "10.0.0.1"})]


@pytest.mark.parametrize(("email", "password"), [("mette@rm.dk", "forkert-kode"), ("ukendt@rm.dk", "rigtig-kode-123"), ("", ""), ("mette@rm.dk", "")])
def test_authenticate_refuses_wrong_passwords_and_unknown_accounts_and_logs_without_the_password(
    store: LeadStore, mette: str, email: str, password: str
) -> None:
    assert authenticate(email, password, "10.0.0.1", store) is None
    [entry] = _audit(store)
    assert entry.action == "login_failed" and entry.detail == {"client": "10.0.0.1", "reason": "invalid"}
    assert "rigtig-kode-123" not in repr(entry.detail) and "forkert-kode" not in repr(entry.detail)


def test_five_failures_for_one_email_lock_it_for_fifteen_minutes(store: LeadStore, mette: str) -> None:
    for n in range(5):
        assert authenticate("mette@rm.dk", "forkert", f"10.0.0.{n}", store) is None
    with pytest.raises(LoginThrottled) as locked:
        authenticate("mette@rm.dk", "rigtig-kode-123", "10.0.0.99", store)
    assert dt.timedelta(minutes=14) < locked.value.until - utcnow() <= dt.timedelta(minutes=15)
    assert _audit(store)[-1].detail == {"client": "10.0.0.99", "reason": "throttled"}
    _age_attempts(store, 14)
    with pytest.raises(LoginThrottled):
        authenticate("mette@rm.dk", "rigtig-kode-123", "10.0.0.99", store)
    _age_attempts(store, 2)
    assert authenticate("mette@rm.dk", "rigtig-kode-123", "10.0.0.99", store) is not None


def test_five_failures_from_one_client_lock_that_client_for_every_email(store: LeadStore, mette: str) -> None:
    for n in range(5):
        assert authenticate(f"gaet{n}@rm.dk", "forkert", "192.0.2.7", store) is None
    with pytest.raises(LoginThrottled):
        authenticate("mette@rm.dk", "rigtig-kode-123", "192.0.2.7", store)
    assert authenticate("mette@rm.dk", "rigtig-kode-123", "192.0.2.8", store) is not None


def test_failures_spread_over_more_than_fifteen_minutes_do_not_lock(store: LeadStore, mette: str) -> None:
    for _ in range(3):
        authenticate("mette@rm.dk", "forkert", "10.0.0.1", store)
    _age_attempts(store, 16)
    for _ in range(2):
        authenticate("mette@rm.dk", "forkert", "10.0.0.1", store)
    assert authenticate("mette@rm.dk", "rigtig-kode-123", "10.0.0.1", store) is not None


def test_a_successful_login_resets_the_count_for_the_email(store: LeadStore, mette: str) -> None:
    for n in range(4):
        authenticate("mette@rm.dk", "forkert", f"10.0.1.{n}", store)
    assert authenticate("mette@rm.dk", "rigtig-kode-123", "10.0.1.9", store) is not None
    authenticate("mette@rm.dk", "forkert", "10.0.1.10", store)
    assert authenticate("mette@rm.dk", "rigtig-kode-123", "10.0.1.11", store) is not None


def test_the_lock_holds_in_another_process(tmp_path: Path, store: LeadStore, mette: str) -> None:
    for _ in range(5):
        authenticate("mette@rm.dk", "forkert", "10.0.0.1", store)
    script = (
        "import sys\n"
        "from bot.leads import LeadStore\n"
        "from bot.web.accounts import LoginThrottled, authenticate\n"
        f"store = LeadStore({store.url!r})\n"
        "try:\n"
        "    authenticate('mette@rm.dk', 'rigtig-kode-123', '10.9.9.9', store)\n"
        "except LoginThrottled:\n"
        "    sys.exit(42)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, timeout=120)
    assert result.returncode == 42, result.stderr.decode()


# --------------------------------------------------------------------------- the demo admin


def test_ensure_demo_admin_creates_one_admin_with_a_random_password_once(store: LeadStore) -> None:
    created = ensure_demo_admin(store)
    assert created is not None
    email, password = created
    assert email == "admin@frivilligbotten.local" and len(password) >= 16
    [row] = list_coordinators(store)
    assert row.role == "admin" and row.password_hash.startswith("$argon2id$")
    assert authenticate(email, password, "127.0.0.1", store) is not None
    assert ensure_demo_admin(store) is None


def test_ensure_demo_admin_does_nothing_when_accounts_exist(store: LeadStore, mette: str) -> None:
    assert ensure_demo_admin(store) is None
    with store.session() as session:
        assert [c.email for c in session.execute(sa.select(Coordinator)).scalars()] == ["mette@rm.dk"]
