"""Dashboard accounts and sessions (issue 13): sessions end on the server, proxies are trusted only when
configured, and accounts are disabled, reset, changed and created with commands that the audit log records.

Each test drives the dashboard as a person would (Flask's test client, one per browser) and
looks at what that person sees: status codes, Danish page text, the audit log.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from werkzeug.test import TestResponse

from bot.proxies import client_address
from bot.settings import ROOT, Settings
from bot.store import LeadStore
from bot.store.intake import LeadDraft
from bot.store.schema import DashboardSession, Note
from bot.web.app import create_app

PASSWORD = "koordinator-kode-1"
NEW_PASSWORD = "en helt ny kode 2"
MIDT, NORD, ADMIN = "mette@rm.dk", "ole@rn.dk", "anne@regionh.dk"
PROXY = "10.0.0.5"  # the reverse proxy in front of the dashboard (TRUSTED_PROXIES below)
WRONG = "Forkert e-mail eller adgangskode. Prøv igen."
THROTTLED = "For mange forsøg. Af sikkerhedshensyn kan du først prøve igen om 15 minutter."
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
COOKIE = "frivillig_session"


class Dashboard:
    """One browser: its own cookie jar and address; posts carry the CSRF token of the page the browser is on."""

    def __init__(self, app: Flask, address: str = "192.0.2.10", forwarded_for: str | None = None) -> None:
        self.app, self.client = app, app.test_client()
        self.environ: dict[str, Any] = {"REMOTE_ADDR": address}
        self.headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}

    def get(self, url: str) -> TestResponse:
        return self.client.get(url, environ_base=self.environ, headers=self.headers)

    def post(self, url: str, **form: str) -> TestResponse:
        page = self.client.get("/dashboard/login", environ_base=self.environ, headers=self.headers, follow_redirects=True)
        token = CSRF.search(page.get_data(as_text=True))
        assert token, "no form on the page the browser is on"
        return self.client.post(url, data={**form, "csrf_token": token.group(1)}, environ_base=self.environ, headers=self.headers)

    def login(self, email: str, password: str = PASSWORD) -> TestResponse:
        return self.post("/dashboard/login", email=email, password=password, next="")

    def change_password(self, current: str, new: str, repeat: str | None = None) -> TestResponse:
        return self.post("/dashboard/password", current_password=current, new_password=new, repeat_password=new if repeat is None else repeat)

    def stolen(self, app: Flask | None = None) -> Dashboard:
        """Another browser (on this or another web instance) holding a copy of this browser's session cookie."""
        thief = Dashboard(app or self.app, address="198.51.100.66")
        cookie = self.client.get_cookie(COOKIE)
        assert cookie is not None
        thief.client.set_cookie(COOKIE, cookie.value)
        return thief


def page(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def may_read_leads(browser: Dashboard) -> bool:
    response = browser.get("/dashboard/leads")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def audit(store: LeadStore, since: int = 0) -> list[tuple[str, str, dict[str, Any]]]:
    return [(e.actor, e.action, e.detail) for e in reversed(store.audit.entries()) if e.id > since]


def last_audit_id(store: LeadStore) -> int:
    entries = store.audit.entries(limit=1)
    return int(entries[0].id) if entries else 0


def age_sessions(store: LeadStore, **back: dt.timedelta) -> None:
    """Move every session's `created_at` and/or `last_seen` back, as if that much time had passed."""
    with store.db.session() as session:
        for row in session.execute(sa.select(DashboardSession)).scalars():
            for column, delta in back.items():
                setattr(row, column, getattr(row, column) - delta)
        session.commit()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"VAR_DIR": str(tmp_path), "COOKIE_SECURE": "false", "TRUSTED_PROXIES": "10.0.0.0/8, 2001:db8::/32"}


@pytest.fixture
def app(env: dict[str, str]) -> Flask:
    return create_app(Settings.from_env(env))


@pytest.fixture
def store(app: Flask, env: dict[str, str]) -> LeadStore:
    """The lead store as another process sees it."""
    return LeadStore(Settings.from_env(env).leads_url)


@pytest.fixture
def people(store: LeadStore) -> None:
    store.accounts.add(ADMIN, "Anne Admin", "admin", [], PASSWORD)
    store.accounts.add(MIDT, "Mette Midt", "coordinator", ["midtjylland"], PASSWORD)
    store.accounts.add(NORD, "Ole Nord", "coordinator", ["nordjylland"], PASSWORD)


@pytest.fixture
def mette(app: Flask, people: None) -> Dashboard:
    browser = Dashboard(app)
    assert browser.login(MIDT).status_code == 303
    return browser


# --------------------------------------------------------------------------- sessions end on the server


def test_logout_ends_the_session_so_a_copied_cookie_stops_working_at_once(mette: Dashboard, store: LeadStore) -> None:
    thief = mette.stolen()
    assert may_read_leads(thief)
    response = mette.post("/dashboard/logout")
    assert response.status_code == 303 and "Du er logget ud." in page(mette.get("/dashboard/login"))
    response = thief.get("/dashboard/leads")
    assert response.status_code == 302 and response.location.startswith("/dashboard/login")
    assert not may_read_leads(mette)
    with store.db.session() as session:
        assert session.execute(sa.select(sa.func.count()).select_from(DashboardSession)).scalar() == 0


def test_a_session_ended_on_one_web_instance_is_ended_on_every_other(mette: Dashboard, env: dict[str, str]) -> None:
    """Several web instances share the lead store and SECRET_KEY (here VAR_DIR); no session state lives in one process."""
    other_instance = create_app(Settings.from_env(env))
    same_browser_elsewhere = mette.stolen(other_instance)
    assert may_read_leads(same_browser_elsewhere)
    assert same_browser_elsewhere.post("/dashboard/logout").status_code == 303
    assert not may_read_leads(mette)


def test_a_password_change_ends_every_other_session_of_the_account(app: Flask, mette: Dashboard, store: LeadStore) -> None:
    thief = mette.stolen()
    laptop = Dashboard(app, address="192.0.2.11")
    assert laptop.login(MIDT).status_code == 303
    ole = Dashboard(app, address="192.0.2.12")
    assert ole.login(NORD).status_code == 303
    before = last_audit_id(store)

    response = mette.change_password(PASSWORD, NEW_PASSWORD)
    assert response.status_code == 303 and response.location == "/dashboard/"
    assert "Din adgangskode er skiftet. Er du logget ind andre steder, er du nu logget ud der." in page(mette.get("/dashboard/"))
    assert may_read_leads(mette)  # the browser that changed it goes on, with a new session
    assert not may_read_leads(thief) and not may_read_leads(laptop)
    assert may_read_leads(ole)  # another account is not touched
    assert audit(store, before) == [(MIDT, "password_changed", {"client": "192.0.2.10", "account": MIDT})]
    assert Dashboard(app).login(MIDT, PASSWORD).status_code == 401
    assert Dashboard(app).login(MIDT, NEW_PASSWORD).status_code == 303


@pytest.mark.parametrize(
    ("current", "new", "repeat", "code", "message"),
    [
        ("forkert-kode", NEW_PASSWORD, None, 400, "Din nuværende adgangskode er forkert. Prøv igen."),
        (PASSWORD, NEW_PASSWORD, "en anden kode", 400, "De to nye adgangskoder er ikke ens. Skriv den samme i begge felter."),
        (PASSWORD, "kort", None, 400, "Den nye adgangskode er for kort."),
        (PASSWORD, PASSWORD, None, 400, "Den nye adgangskode skal være en anden end den, du har nu."),
    ],
)
def test_a_refused_password_change_says_why_in_danish_and_changes_nothing(
    app: Flask, mette: Dashboard, store: LeadStore, current: str, new: str, repeat: str | None, code: int, message: str
) -> None:
    thief = mette.stolen()
    response = mette.change_password(current, new, repeat)
    assert response.status_code == code and message in page(response)
    assert may_read_leads(thief)  # nothing changed, no session ended
    assert Dashboard(app).login(MIDT, PASSWORD).status_code == 303


def test_guessing_the_current_password_on_the_change_form_is_throttled_like_a_login(app: Flask, mette: Dashboard, store: LeadStore) -> None:
    """Someone holding a stolen session cannot try passwords there without limit."""
    for _ in range(5):
        assert mette.change_password("forkert-kode", NEW_PASSWORD).status_code == 400
    response = mette.change_password(PASSWORD, NEW_PASSWORD)
    assert response.status_code == 429 and THROTTLED in page(response)
    assert [a for _, a, d in audit(store) if a == "password_change_failed" and d["reason"] == "throttled"] == ["password_change_failed"]
    assert Dashboard(app, address="192.0.2.99").login(MIDT).status_code == 429  # the account is locked, as after wrong logins


def test_a_session_ends_after_the_configured_idle_time_but_not_while_it_is_used(tmp_path: Path, people: None, store: LeadStore) -> None:
    app = create_app(Settings.from_env({"VAR_DIR": str(tmp_path), "COOKIE_SECURE": "false", "DASHBOARD_IDLE_MINUTES": "10"}))
    browser = Dashboard(app)
    assert browser.login(MIDT).status_code == 303
    for _ in range(3):  # used every 9 minutes: half an hour and more in all
        age_sessions(store, last_seen=dt.timedelta(minutes=9), created_at=dt.timedelta(minutes=9))
        assert may_read_leads(browser)
    age_sessions(store, last_seen=dt.timedelta(minutes=11))
    response = browser.get("/dashboard/leads")
    assert response.status_code == 302 and response.location.startswith("/dashboard/login")


def test_the_idle_time_is_thirty_minutes_unless_configured(mette: Dashboard, store: LeadStore) -> None:
    assert Settings.from_env({}).dashboard_idle_minutes == 30
    age_sessions(store, last_seen=dt.timedelta(minutes=29))
    assert may_read_leads(mette)
    age_sessions(store, last_seen=dt.timedelta(minutes=31))
    assert not may_read_leads(mette)


def test_a_session_ends_eight_hours_after_login_even_when_used(mette: Dashboard, store: LeadStore) -> None:
    age_sessions(store, created_at=dt.timedelta(hours=8) - dt.timedelta(minutes=1))
    assert may_read_leads(mette)
    age_sessions(store, created_at=dt.timedelta(minutes=2))
    assert not may_read_leads(mette)


def test_the_server_keeps_no_usable_copy_of_the_session_token(mette: Dashboard, app: Flask, store: LeadStore) -> None:
    cookie = mette.client.get_cookie(COOKIE)
    assert cookie is not None
    token = app.session_interface.get_signing_serializer(app).loads(cookie.value)["sid"]  # type: ignore[attr-defined]
    with store.db.session() as session:
        [stored] = session.execute(sa.select(DashboardSession.token_hash)).scalars()
    assert len(token) >= 40 and token not in stored


# --------------------------------------------------------------------------- trusted proxies


def test_behind_a_trusted_proxy_wrong_passwords_from_one_address_do_not_lock_out_another(app: Flask, people: None, store: LeadStore) -> None:
    attacker = Dashboard(app, address=PROXY, forwarded_for="203.0.113.9")
    for n in range(5):
        assert attacker.post("/dashboard/login", email=f"gaet{n}@rm.dk", password="forkert").status_code == 401
    assert attacker.login(NORD).status_code == 429  # the attacker's own address is locked
    before = last_audit_id(store)
    mette = Dashboard(app, address=PROXY, forwarded_for="198.51.100.7")
    assert mette.login(MIDT).status_code == 303
    assert audit(store, before) == [(MIDT, "login", {"client": "198.51.100.7"})]


def test_a_client_cannot_escape_the_lock_by_forging_forwarded_addresses_in_front_of_the_proxy(app: Flask, people: None) -> None:
    """The proxy appends the address it saw; what stands left of it the client wrote itself."""
    for n in range(5):
        forged = Dashboard(app, address=PROXY, forwarded_for=f"10.9.9.{n}, 203.0.113.9")
        assert forged.post("/dashboard/login", email=f"gaet{n}@rm.dk", password="forkert").status_code == 401
    assert Dashboard(app, address=PROXY, forwarded_for="1.2.3.4, 203.0.113.9").login(MIDT).status_code == 429


def test_forwarded_addresses_from_a_client_that_is_not_a_trusted_proxy_are_ignored(app: Flask, people: None, store: LeadStore) -> None:
    for n in range(5):
        client = Dashboard(app, address="192.0.2.50", forwarded_for=f"203.0.113.{n}")
        assert client.post("/dashboard/login", email=f"gaet{n}@rm.dk", password="forkert").status_code == 401
    assert Dashboard(app, address="192.0.2.50", forwarded_for="198.51.100.7").login(MIDT).status_code == 429
    assert {d["client"] for _, a, d in audit(store) if a == "login_failed"} == {"192.0.2.50"}


@pytest.mark.parametrize(
    ("remote", "forwarded", "trusted", "client"),
    [
        ("192.0.2.1", ["203.0.113.9"], [], "192.0.2.1"),  # no proxies configured: the header is ignored
        ("10.0.0.5", ["203.0.113.9"], ["10.0.0.0/8"], "203.0.113.9"),
        ("10.0.0.5", ["1.2.3.4, 203.0.113.9, 10.0.0.7"], ["10.0.0.0/8"], "203.0.113.9"),  # two proxies of ours
        ("10.0.0.5", ["1.2.3.4", "203.0.113.9"], ["10.0.0.0/8"], "203.0.113.9"),  # the header given twice
        ("10.0.0.5", ["ikke-en-adresse, 203.0.113.9"], ["10.0.0.0/8"], "203.0.113.9"),
        ("10.0.0.5", [], ["10.0.0.0/8"], "10.0.0.5"),
        ("10.0.0.5", ["10.0.0.8"], ["10.0.0.0/8"], "10.0.0.8"),  # a request from inside: the first hop
        ("2001:db8::5", ["2001:db8:1::1, 203.0.113.9"], ["2001:db8::5"], "203.0.113.9"),
    ],
)
def test_the_client_is_the_right_most_address_that_is_not_a_trusted_proxy(remote: str, forwarded: list[str], trusted: list[str], client: str) -> None:
    proxies = Settings.from_env({"TRUSTED_PROXIES": ",".join(trusted)}).trusted_proxies()
    assert client_address(remote, forwarded, proxies) == client


def test_a_wrong_trusted_proxies_entry_stops_the_web_server_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="TRUSTED_PROXIES"):
        create_app(Settings.from_env({"VAR_DIR": str(tmp_path), "TRUSTED_PROXIES": "10.0.0.0/8, proxy.local"}))


# --------------------------------------------------------------------------- accounts: commands, the demo admin, disabled accounts


def bot_command(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m bot ...` as the operator runs it, on the test's lead store."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=ROOT, env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120
    )


def test_the_demo_admin_must_choose_its_own_password_before_it_sees_anything(app: Flask, store: LeadStore) -> None:
    demo = store.accounts.ensure_demo_admin()
    assert demo is not None
    email, password = demo
    reference = store.intake.save(LeadDraft("signup", "web-demo", "socketio", name="Karen Jensen", region="midtjylland", consent_at="2026-11-20T10:00:00"))
    admin = Dashboard(app)
    assert admin.login(email, password).status_code == 303
    for url in ("/dashboard/", "/dashboard/leads", f"/dashboard/leads/{reference}", "/dashboard/leads.csv", "/dashboard/audit"):
        response = admin.get(url)
        assert response.status_code == 303 and response.location == "/dashboard/password", url
    response = admin.post(f"/dashboard/leads/{reference}/note", text="Ringet op")
    assert response.status_code == 303 and response.location == "/dashboard/password"
    assert "Karen Jensen" not in page(admin.client.get("/dashboard/leads", follow_redirects=True))
    form = page(admin.get("/dashboard/password"))
    assert "Før du kan bruge dashboardet, skal du vælge din egen adgangskode." in form

    assert admin.change_password(password, NEW_PASSWORD).status_code == 303
    assert "<h1>Overblik</h1>" in page(admin.get("/dashboard/"))
    assert "Karen Jensen" in page(admin.get("/dashboard/leads"))
    assert [c.must_change_password for c in store.accounts.all()] == [False]
    actions = [(actor, action) for actor, action, _ in audit(store)]
    assert actions[0] == ("system:setup", "account_created") and (email, "password_changed") in actions
    with store.db.session() as session:
        assert session.execute(sa.select(sa.func.count()).select_from(Note)).scalar() == 0  # the note was not added


def test_a_disabled_account_is_refused_like_a_wrong_password_and_loses_its_sessions(app: Flask, mette: Dashboard, store: LeadStore) -> None:
    thief = mette.stolen()
    store.accounts.disable(MIDT, actor=ADMIN)
    assert not may_read_leads(mette) and not may_read_leads(thief)
    refused = Dashboard(app, address="192.0.2.20").login(MIDT)
    wrong = Dashboard(app, address="192.0.2.21").login(MIDT, "forkert-kode")
    assert refused.status_code == wrong.status_code == 401
    assert WRONG in page(refused) and CSRF.sub("", page(refused)) == CSRF.sub("", page(wrong))  # nothing tells the two apart
    assert [(a, d.get("reason")) for _, a, d in audit(store) if a in ("account_disabled", "login_failed")] == [
        ("account_disabled", None),
        ("login_failed", "disabled"),
        ("login_failed", "invalid"),
    ]
    store.accounts.enable(MIDT, actor=ADMIN)
    assert Dashboard(app, address="192.0.2.22").login(MIDT).status_code == 303


def test_the_account_commands_change_accounts_and_are_audited(app: Flask, env: dict[str, str], store: LeadStore) -> None:
    created = bot_command(env, "accounts", "add", MIDT, "--name", "Mette Midt", "--region", "midtjylland")
    assert created.returncode == 0, created.stderr
    password = created.stdout.rsplit(": ", 1)[1].strip()
    store.intake.save(LeadDraft("signup", "web-nord", "socketio", name="Nina Nord", region="nordjylland", consent_at="2026-11-20T10:00:00"))
    mette = Dashboard(app)
    assert mette.login(MIDT, password).status_code == 303
    assert "Nina Nord" not in page(mette.get("/dashboard/leads"))

    changed = bot_command(env, "accounts", "update", MIDT, "--region", "midtjylland", "--region", "nordjylland")
    assert changed.returncode == 0 and "coordinator, regions midtjylland,nordjylland" in changed.stdout
    assert "Nina Nord" in page(mette.get("/dashboard/leads"))  # the new scope holds at the next request

    assert bot_command(env, "accounts", "disable", MIDT).returncode == 0
    assert not may_read_leads(mette)
    assert Dashboard(app).login(MIDT, password).status_code == 401
    assert bot_command(env, "accounts", "enable", MIDT).returncode == 0
    assert mette.login(MIDT, password).status_code == 303

    reset = bot_command(env, "accounts", "reset-password", MIDT)
    assert reset.returncode == 0 and "new password (shown once)" in reset.stdout
    new_password = reset.stdout.rsplit(": ", 1)[1].strip()
    assert not may_read_leads(mette)  # its sessions ended
    assert mette.login(MIDT, password).status_code == 401
    assert mette.login(MIDT, new_password).status_code == 303
    assert mette.get("/dashboard/leads").location == "/dashboard/password"  # a password the operator saw is changed at once

    listed = bot_command(env, "coordinators", "list")  # the old name of the command group still works
    assert "mette@rm.dk" in listed.stdout and "(must change password)" in listed.stdout
    unknown = bot_command(env, "accounts", "disable", "ukendt@rm.dk")
    assert unknown.returncode == 2 and "no account for ukendt@rm.dk" in unknown.stderr

    rows = [(actor, action, detail) for actor, action, detail in audit(store) if actor == "cli"]
    assert rows == [
        ("cli", "account_created", {"account": MIDT, "role": "coordinator", "regions": ["midtjylland"]}),
        ("cli", "account_changed", {"account": MIDT, "role": "coordinator", "regions": ["midtjylland", "nordjylland"]}),
        ("cli", "account_disabled", {"account": MIDT}),
        ("cli", "account_enabled", {"account": MIDT}),
        ("cli", "password_reset", {"account": MIDT}),
    ]
    assert password not in str(rows) and new_password not in str(rows)


def test_every_account_action_has_its_danish_name_in_the_audit_log(app: Flask, people: None, store: LeadStore) -> None:
    store.accounts.disable(NORD, actor=ADMIN)
    store.accounts.enable(NORD, actor=ADMIN)
    store.accounts.update(NORD, role="admin", actor=ADMIN)
    store.accounts.reset_password(MIDT, actor=ADMIN)
    anne = Dashboard(app)
    assert anne.login(ADMIN).status_code == 303
    html = page(anne.get("/dashboard/audit"))
    for label in ("Konto oprettet", "Konto deaktiveret", "Konto genaktiveret", "Rolle eller regioner ændret", "Adgangskode nulstillet"):
        assert f'<td data-label="Handling">{label}</td>' in html, label
