"""The coordinator dashboard through Flask's test client, on a temporary lead store and tracker store.

Every test asserts what a coordinator sees (Danish texts, labels, the stored lead),
and the access rules: login, roles and regions, CSRF, throttling, escaping.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import uuid
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from jinja2 import ChoiceLoader, DictLoader
from werkzeug.test import TestResponse

from bot.conventions import today
from bot.knowledge import kb
from bot.settings import Settings
from bot.store import LeadStore, conversations
from bot.store.casework import Viewer
from bot.store.export import EXPORT_FIELDS
from bot.store.intake import LeadDraft
from bot.store.retention import purge
from bot.store.schema import TRANSITIONS, Lead, Note, utcnow
from bot.web.app import create_app

PASSWORD = "koordinator-kode-1"
ADMIN = "anne@regionh.dk"
MIDT = "mette@rm.dk"
NORD = "ole@rn.dk"
STATUS_LABELS = {"ny": "Ny", "kontaktet": "Kontaktet", "aftalt": "Aftalt", "aktiv": "Aktiv frivillig", "afsluttet": "Afsluttet", "afvist": "Afvist"}
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


# --------------------------------------------------------------------------- fixtures and helpers


@pytest.fixture
def config(tmp_path: Path) -> Settings:
    return Settings.from_env({"VAR_DIR": str(tmp_path), "COOKIE_SECURE": "false"})


@pytest.fixture
def app(config: Settings) -> Flask:
    return create_app(config)


@pytest.fixture
def store(app: Flask, config: Settings) -> LeadStore:
    """A second store on the app's database: what the tests see is what another process would see."""
    return LeadStore(config.leads_url, spool_dir=config.spool_dir)


@pytest.fixture
def people(store: LeadStore) -> dict[str, int]:
    store.accounts.add(ADMIN, "Anne Admin", "admin", [], PASSWORD)
    store.accounts.add(MIDT, "Mette Midt", "coordinator", ["midtjylland"], PASSWORD)
    store.accounts.add(NORD, "Ole Nord", "coordinator", ["nordjylland"], PASSWORD)
    return {c.email: c.id for c in store.accounts.all()}


class Browser:
    """A Flask test client with the habits of a person: reads the CSRF token from the page it is on."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def get(self, url: str, **kwargs: Any) -> TestResponse:
        return self.client.get(url, **kwargs)

    def token(self) -> str:
        page = self.client.get("/dashboard/login")
        if page.status_code == 302:
            page = self.client.get("/dashboard/")
        match = TOKEN.search(page.get_data(as_text=True))
        assert match, "no CSRF token on the page"
        return match.group(1)

    def post(self, url: str, data: dict[str, str] | None = None, token: bool = True, **kwargs: Any) -> TestResponse:
        form = dict(data or {})
        if token:
            form["csrf_token"] = self.token()
        return self.client.post(url, data=form, **kwargs)

    def login(self, email: str, password: str = PASSWORD, client: str = "127.0.0.1", next_url: str = "") -> TestResponse:
        return self.post("/dashboard/login", {"email": email, "password": password, "next": next_url}, environ_base={"REMOTE_ADDR": client})


@pytest.fixture
def browser(app: Flask) -> Browser:
    return Browser(app.test_client())


@pytest.fixture
def admin(browser: Browser, people: dict[str, int]) -> Browser:
    assert browser.login(ADMIN).status_code == 303
    return browser


@pytest.fixture
def midt(browser: Browser, people: dict[str, int]) -> Browser:
    assert browser.login(MIDT).status_code == 303
    return browser


@pytest.fixture
def nord(browser: Browser, people: dict[str, int]) -> Browser:
    assert browser.login(NORD).status_code == 303
    return browser


TRANSCRIPT = [
    {"who": "borger", "text": "Jeg vil gerne være vejviser", "at": 1795000000.0},
    {"who": "bot", "text": "Hvor godt! Hvad hedder du?", "at": 1795000001.0},
]


def seed(store: LeadStore, created: dt.datetime | None = None, status: str = "ny", **fields: Any) -> str:
    """A lead as the chat would save it, optionally moved back in time and along the workflow."""
    draft: dict[str, Any] = {
        "kind": "signup",
        "conversation_id": f"web-{uuid.uuid4().hex[:10]}",
        "channel": "socketio",
        "name": "Karen Jensen",
        "email": f"karen.{uuid.uuid4().hex[:8]}@eksempel.dk",  # one citizen per lead: a second sign-up with one e-mail updates the first
        "phone": "+45 20 30 40 50",
        "region": "midtjylland",
        "municipality": "Aarhus",
        "interests": ["vejviser"],
        "availability": "Hverdage efter kl. 16",
        "message": "Jeg glæder mig til at hjælpe",
        "consent_at": "2026-11-20T10:00:00",
        "consent_version": kb().consent_version,
        "transcript": TRANSCRIPT,
    }
    draft.update(fields)
    reference = store.intake.save(LeadDraft(**draft)).reference
    with store.db.session() as session:
        lead = session.execute(sa.select(Lead).where(Lead.reference == reference)).scalar_one()
        if created is not None:
            lead.created_at = created
        lead.status = status
        session.commit()
    return reference


def lead_of(store: LeadStore, reference: str) -> Lead | None:
    return store.cases.get(Viewer("test", "admin", ()), reference)


def text(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def audit_actions(store: LeadStore) -> list[tuple[str, str, str, dict[str, Any]]]:
    return [(e.actor, e.action, e.lead_reference, e.detail) for e in reversed(store.audit.entries())]


def add_events(url: str, sender: str, *events: tuple[str, str | None, str, float]) -> None:
    """Rasa tracker events: (type_name, intent, text, timestamp)."""
    with conversations.engine(url).begin() as connection:
        for type_name, intent, message, at in events:
            connection.execute(
                conversations.events.insert().values(
                    sender_id=sender,
                    type_name=type_name,
                    timestamp=at,
                    intent_name=intent,
                    data=json.dumps({"event": type_name, "text": message, "timestamp": at}),
                )
            )


def event_count(url: str, sender: str) -> int:
    with conversations.engine(url).connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).where(conversations.events.c.sender_id == sender)).scalar() or 0)


def references_in(html: str) -> list[str]:
    return re.findall(r'href="/dashboard/leads/(FRV-[^"/]+)"', html)


def chart(html: str, caption: str) -> dict[str, int]:
    """The rows of the chart table with this caption: label -> the number written next to the bar."""
    table = html.split(f"<caption>{caption}</caption>", 1)[1].split("</table>", 1)[0]
    rows = re.findall(r'<th scope="row">(.*?)</th>.*?<span class="bar__value">(\d+)</span>', table, re.S)
    return {label: int(count) for label, count in rows}


class FormAudit(HTMLParser):
    """Collects form controls and labels, to check that every control a person fills in has a <label>."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[str] = []
        self.labels: set[str] = set()
        self.lang = ""
        self.skip_link = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if tag == "html":
            self.lang = attr.get("lang") or ""
        if tag == "a" and attr.get("href") == "#indhold":
            self.skip_link = True
        if tag == "label" and attr.get("for"):
            self.labels.add(str(attr["for"]))
        if tag in ("select", "textarea") or (tag == "input" and attr.get("type") not in ("hidden", "submit")):
            self.controls.append(str(attr.get("id") or f"<{tag} name={attr.get('name')} without id>"))


# --------------------------------------------------------------------------- public pages


def test_healthz_is_public(browser: Browser) -> None:
    response = browser.get("/healthz")
    assert response.status_code == 200 and text(response) == "ok"


def test_privacy_notice_is_public_and_fills_in_the_retention_period(tmp_path: Path) -> None:
    app = create_app(Settings.from_env({"VAR_DIR": str(tmp_path), "RETENTION_DAYS": "30"}))
    html = text(app.test_client().get("/privatliv"))
    page = kb().privacy_page
    assert f"<h1>{page['title']}</h1>" in html
    for section in page["sections"]:
        assert f"<h2>{section['heading']}</h2>" in html
    assert "højst 30 dage" in html and "{retention_days}" not in html
    assert '<html lang="da">' in html


def test_demo_page_gets_the_rasa_url_and_the_privacy_link(app: Flask, config: Settings) -> None:
    # demo.html belongs to the widget; a stand-in shows what the route hands it.
    app.jinja_env.loader = ChoiceLoader([DictLoader({"demo.html": "{{ rasa_url }}|{{ privacy_url }}"}), app.jinja_env.loader])  # type: ignore[list-item]
    response = app.test_client().get("/")
    assert text(response) == f"{config.rasa_base_url}|{config.web_base_url}/privatliv"


def test_static_css_is_served(browser: Browser) -> None:
    response = browser.get("/static/dashboard.css")
    assert response.status_code == 200 and ":focus-visible" in text(response)


# --------------------------------------------------------------------------- nobody gets data without logging in

GET_PAGES = ["/dashboard/", "/dashboard/leads", "/dashboard/leads?status=ny", "/dashboard/leads/{ref}", "/dashboard/leads.csv", "/dashboard/audit"]
ACTIONS = [
    ("/dashboard/leads/{ref}/status", {"status": "kontaktet"}),
    ("/dashboard/leads/{ref}/note", {"text": "Ringet op"}),
    ("/dashboard/leads/{ref}/assign", {"coordinator": "1"}),
    ("/dashboard/leads/{ref}/delete", {"confirm": "ja"}),
    ("/dashboard/logout", {}),
]


def assert_untouched(store: LeadStore, reference: str) -> None:
    lead = lead_of(store, reference)
    assert lead is not None and lead.status == "ny" and lead.assigned_to is None and store.cases.notes(lead) == []


@pytest.mark.parametrize("page", GET_PAGES)
def test_anonymous_visitors_are_sent_to_the_login_page(browser: Browser, store: LeadStore, people: dict[str, int], page: str) -> None:
    reference = seed(store)
    response = browser.get(page.format(ref=reference))
    assert response.status_code == 302
    assert response.location.startswith("/dashboard/login?next=")
    body = text(response)
    assert "Karen Jensen" not in body and "@eksempel.dk" not in body
    login = text(browser.get(response.location))
    assert "<h1>Log ind</h1>" in login and "Karen" not in login


@pytest.mark.parametrize(("url", "data"), ACTIONS)
def test_anonymous_actions_are_refused_and_change_nothing(browser: Browser, store: LeadStore, people: dict[str, int], url: str, data: dict[str, str]) -> None:
    reference = seed(store)
    response = browser.post(url.format(ref=reference), data)
    assert response.status_code == 401
    assert "Du er ikke logget ind" in text(response) and "Karen" not in text(response)
    assert_untouched(store, reference)


# --------------------------------------------------------------------------- CSRF


@pytest.mark.parametrize(("url", "data"), [*ACTIONS, ("/dashboard/login", {"email": ADMIN, "password": PASSWORD})])
@pytest.mark.parametrize("token", ["", "forfalsket"])
def test_posts_without_a_valid_csrf_token_are_rejected(admin: Browser, store: LeadStore, url: str, data: dict[str, str], token: str) -> None:
    reference = seed(store)
    form = {**data, **({"csrf_token": token} if token else {})}
    response = admin.client.post(url.format(ref=reference), data=form)
    assert response.status_code == 400
    assert "Formularen kunne ikke sendes" in text(response)
    assert_untouched(store, reference)
    assert admin.get("/dashboard/").status_code == 200  # still logged in: logout was refused too


def test_a_token_from_another_session_is_rejected(app: Flask, admin: Browser, store: LeadStore) -> None:
    reference = seed(store)
    stranger = Browser(app.test_client())
    response = admin.client.post(f"/dashboard/leads/{reference}/note", data={"text": "x", "csrf_token": stranger.token()})
    assert response.status_code == 400
    assert_untouched(store, reference)


# --------------------------------------------------------------------------- logging in and out


def test_login_leads_to_the_overview_with_a_safe_session_cookie(browser: Browser, people: dict[str, int], app: Flask) -> None:
    response = browser.login(MIDT)
    assert response.status_code == 303 and response.location == "/dashboard/"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    expires = dt.datetime.strptime(re.search(r"Expires=([^;]+)", cookie).group(1), "%a, %d %b %Y %H:%M:%S GMT")  # type: ignore[union-attr]
    assert abs((expires - utcnow()) - dt.timedelta(hours=8)) < dt.timedelta(minutes=1)
    assert app.permanent_session_lifetime == dt.timedelta(hours=8)
    page = text(browser.get("/dashboard/"))
    assert "<h1>Overblik</h1>" in page and "Mette Midt (Koordinator)" in page and "Revisionslog" not in page


def test_the_session_cookie_is_secure_by_default_and_signed_with_the_configured_secret(tmp_path: Path, people: dict[str, int]) -> None:
    config = Settings.from_env({"VAR_DIR": str(tmp_path)})
    app = create_app(config)
    assert app.secret_key == config.session_secret() == (tmp_path / "secret_key").read_text().strip()
    browser = Browser(app.test_client())
    response = browser.login(MIDT)
    assert "Secure" in response.headers["Set-Cookie"]
    other = create_app(Settings.from_env({"VAR_DIR": str(tmp_path), "SECRET_KEY": "en anden nøgle"}))
    forged = other.test_client()
    forged.set_cookie("frivillig_session", browser.client.get_cookie("frivillig_session").value)  # type: ignore[union-attr]
    assert forged.get("/dashboard/").status_code == 302


def test_login_goes_back_to_the_page_asked_for_but_never_off_site(browser: Browser, people: dict[str, int]) -> None:
    assert browser.login(MIDT, next_url="/dashboard/leads?status=ny").location == "/dashboard/leads?status=ny"
    browser.post("/dashboard/logout")
    assert browser.login(MIDT, next_url="https://ondsindet.example/").location == "/dashboard/"
    browser.post("/dashboard/logout")
    assert browser.login(MIDT, next_url="//ondsindet.example/dashboard").location == "/dashboard/"


@pytest.mark.parametrize(("email", "password"), [(MIDT, "forkert-kode"), ("ukendt@rm.dk", PASSWORD)])
def test_a_failed_login_says_so_in_danish_and_is_audited_without_the_password(
    browser: Browser, store: LeadStore, people: dict[str, int], email: str, password: str
) -> None:
    response = browser.login(email, password)
    assert response.status_code == 401
    assert "Forkert e-mail eller adgangskode" in text(response)
    assert browser.get("/dashboard/").status_code == 302
    actor, action, _, detail = audit_actions(store)[-1]
    assert (actor, action, detail["reason"]) == (email, "login_failed", "invalid")
    assert password not in json.dumps(detail)


def test_logins_are_throttled_after_five_failures(browser: Browser, store: LeadStore, people: dict[str, int]) -> None:
    for _ in range(5):
        assert browser.login(MIDT, "forkert-kode").status_code == 401
    response = browser.login(MIDT, PASSWORD)
    assert response.status_code == 429
    assert "For mange forsøg. Af sikkerhedshensyn kan du først prøve igen om 15 minutter." in text(response)
    assert browser.get("/dashboard/").status_code == 302
    assert browser.login(MIDT, PASSWORD, client="10.1.1.1").status_code == 429  # the e-mail is locked wherever it comes from
    assert browser.login(ADMIN, PASSWORD).status_code == 429  # and so is the client address
    assert browser.login(ADMIN, PASSWORD, client="10.2.2.2").status_code == 303
    assert ("mette@rm.dk", "login_failed") in [(a, b) for a, b, _, d in audit_actions(store) if d.get("reason") == "throttled"]


def test_logout_ends_the_session(midt: Browser, store: LeadStore) -> None:
    response = midt.post("/dashboard/logout")
    assert response.status_code == 303 and response.location == "/dashboard/login"
    assert "Du er logget ud." in text(midt.get("/dashboard/login"))
    assert midt.get("/dashboard/leads").status_code == 302
    assert [a for _, a, _, _ in audit_actions(store)][-2:] == ["login", "logout"]


def test_a_removed_account_loses_access_at_once(midt: Browser, store: LeadStore) -> None:
    with store.db.session() as session:
        session.execute(sa.text("DELETE FROM coordinators WHERE email = :email"), {"email": MIDT})
        session.commit()
    assert midt.get("/dashboard/leads").status_code == 302


# --------------------------------------------------------------------------- roles and regions


def test_a_coordinator_lists_only_leads_of_their_region(midt: Browser, store: LeadStore) -> None:
    own = seed(store, name="Mads Midt")
    other = seed(store, name="Nina Nord", region="nordjylland", municipality="Aalborg")
    html = text(midt.get("/dashboard/leads"))
    assert references_in(html) == [own]
    assert "Mads Midt" in html and "Nina Nord" not in html and other not in html
    assert 'value="nordjylland"' not in html  # the region filter offers only their own regions


def test_an_admin_lists_every_region(admin: Browser, store: LeadStore) -> None:
    refs = {seed(store, name="Mads Midt"), seed(store, name="Nina Nord", region="nordjylland"), seed(store, name="Sara Sjælland", region="sjaelland")}
    html = text(admin.get("/dashboard/leads"))
    assert set(references_in(html)) == refs and "3 henvendelser" in html


CROSS_REGION = [
    ("GET", "/dashboard/leads/{ref}", {}),
    ("POST", "/dashboard/leads/{ref}/status", {"status": "kontaktet"}),
    ("POST", "/dashboard/leads/{ref}/note", {"text": "Ringet op"}),
    ("POST", "/dashboard/leads/{ref}/assign", {"coordinator": ""}),
    ("POST", "/dashboard/leads/{ref}/delete", {}),
    ("POST", "/dashboard/leads/{ref}/delete", {"confirm": "ja"}),
]


@pytest.mark.parametrize(("method", "url", "data"), CROSS_REGION)
def test_another_regions_lead_is_not_found_on_every_lead_url(nord: Browser, store: LeadStore, method: str, url: str, data: dict[str, str]) -> None:
    reference = seed(store)
    path = url.format(ref=reference)
    response = nord.get(path) if method == "GET" else nord.post(path, data)
    assert response.status_code == 404
    assert "Siden findes ikke" in text(response) and "Karen Jensen" not in text(response)
    assert_untouched(store, reference)
    assert "lead_viewed" not in [a for _, a, _, _ in audit_actions(store)]


def test_another_regions_lead_is_not_in_the_csv_export(nord: Browser, store: LeadStore) -> None:
    hidden = seed(store)
    own = seed(store, name="Nina Nord", region="nordjylland")
    for query in ("", "?region=midtjylland", f"?q={hidden}"):
        body = nord.get(f"/dashboard/leads.csv{query}").data.decode("utf-8-sig")
        assert hidden not in body and "Karen Jensen" not in body
    assert own in nord.get("/dashboard/leads.csv").data.decode("utf-8-sig")


def test_the_audit_log_is_for_admins_only(midt: Browser, store: LeadStore) -> None:
    response = midt.get("/dashboard/audit")
    assert response.status_code == 403 and "Det har du ikke adgang til" in text(response)


def test_the_audit_log_lists_the_latest_entries_in_danish(admin: Browser, store: LeadStore, config: Settings) -> None:
    reference = seed(store)
    admin.get(f"/dashboard/leads/{reference}")
    admin.get("/dashboard/leads.csv?status=ny")
    purge(config=config, store=store)
    html = text(admin.get("/dashboard/audit"))
    assert "<h1>Revisionslog</h1>" in html and "Revisionslog</a>" in html
    for label in ("Logget ind", "Henvendelse vist", "Eksport", "Oprettet af borger", "Automatisk oprydning"):
        assert label in html
    assert reference in html and "status=ny" in html and ADMIN in html and "leads_purged=0" in html


# --------------------------------------------------------------------------- the lead list


@pytest.fixture
def three(store: LeadStore) -> dict[str, str]:
    return {
        "Anders Alfa": seed(store, name="Anders Alfa", created=dt.datetime(2026, 10, 1, 9)),
        "Bente Beta": seed(
            store,
            name="Bente Beta",
            kind="handoff",
            region="nordjylland",
            municipality="Aalborg",
            interests=[],
            question="Må jeg tage min hund med?",
            created=dt.datetime(2026, 10, 15, 9),
        ),
        "Carl Gamma": seed(store, name="Carl Gamma", municipality="Silkeborg", interests=["cafe"], status="kontaktet", created=dt.datetime(2026, 11, 1, 9)),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, {"Anders Alfa", "Bente Beta", "Carl Gamma"}),
        ({"region": "nordjylland"}, {"Bente Beta"}),
        ({"status": "kontaktet"}, {"Carl Gamma"}),
        ({"interest": "cafe"}, {"Carl Gamma"}),
        ({"kind": "handoff"}, {"Bente Beta"}),
        ({"from": "2026-10-10", "to": "2026-10-31"}, {"Bente Beta"}),
        ({"to": "2026-10-01"}, {"Anders Alfa"}),
        ({"q": "SILKEBORG"}, {"Carl Gamma"}),
        ({"q": "hund"}, {"Bente Beta"}),
        ({"q": "gamma", "status": "ny"}, set()),
    ],
)
def test_the_list_filters(admin: Browser, three: dict[str, str], query: dict[str, str], expected: set[str]) -> None:
    html = text(admin.get("/dashboard/leads", query_string=query))
    assert {name for name in three if name in html} == expected
    assert set(references_in(html)) == {three[name] for name in expected}
    if not expected:
        assert "Ingen henvendelser passer til filtrene." in html
    for name, value in query.items():
        assert f'name="{name}"' in html and (f'value="{value}"' in html or f'value="{value}" selected' in html)


def test_the_list_shows_danish_labels(admin: Browser, three: dict[str, str]) -> None:
    html = text(admin.get("/dashboard/leads"))
    for label in ("Tilmelding", "Henvendelse", "Kontaktet", "Region Nordjylland", "Patient- og pårørendecafé", "Vejviser", "01.11.2026"):
        assert label in html
    assert '<option value="aktiv" >Aktiv frivillig</option>' in html


def test_a_filter_value_that_is_not_understood_is_ignored_and_said(admin: Browser, three: dict[str, str]) -> None:
    html = text(admin.get("/dashboard/leads?status=slettet&from=i+går"))
    assert "blev ikke forstået" in html and "Status" in html and "Fra dato" in html
    assert len(references_in(html)) == 3


def test_the_list_pages_by_25_and_keeps_the_filter_in_page_links(midt: Browser, store: LeadStore) -> None:
    for n in range(30):
        seed(store, name=f"Person {n:02d}", created=dt.datetime(2026, 11, 1) + n * dt.timedelta(hours=1))
    seed(store, name="Afvist person", status="afvist")
    first = text(midt.get("/dashboard/leads?status=ny"))
    assert len(references_in(first)) == 25
    assert "30 henvendelser, side 1 af 2" in first
    assert '<nav aria-label="Sider"' in first
    assert 'href="/dashboard/leads?page=2&amp;status=ny"' in first and "Næste" in first
    second = text(midt.get("/dashboard/leads?status=ny&page=2"))
    assert len(references_in(second)) == 5 and "Person 00" in second and "Person 29" not in second
    assert 'aria-current="page"><span class="visually-hidden">Side </span>2</a>' in second and "Forrige" in second
    beyond = text(midt.get("/dashboard/leads?status=ny&page=99"))
    assert "side 2 af 2" in beyond


def test_the_filter_form_is_a_get_form_with_a_label_for_every_field(admin: Browser) -> None:
    html = text(admin.get("/dashboard/leads"))
    assert '<form method="get" action="/dashboard/leads"' in html
    parser = FormAudit()
    parser.feed(html)
    assert parser.controls and set(parser.controls) <= parser.labels


# --------------------------------------------------------------------------- a lead's page


def test_the_lead_page_shows_every_answer_consent_and_the_transcript(midt: Browser, store: LeadStore) -> None:
    reference = seed(store, interests=["vejviser", "cafe"], email="karen@eksempel.dk")
    html = text(midt.get(f"/dashboard/leads/{reference}"))
    for shown in (
        "Karen Jensen",
        reference,
        'href="mailto:karen@eksempel.dk"',
        "+45 20 30 40 50",
        "Region Midtjylland",
        "Aarhus",
        "Vejviser, Patient- og pårørendecafé",
        "Hverdage efter kl. 16",
        "Jeg glæder mig til at hjælpe",
        "Tilmelding",
        "Chat på hjemmesiden",
        "20.11.2026 11:00",
        kb().consent_version,
        "Samtykke givet",
        "Samtykkeversion",
        "Borger",
        "Jeg vil gerne være vejviser",
        "Frivilligbotten",
        "Hvor godt! Hvad hedder du?",
    ):
        assert shown in html, shown
    assert audit_actions(store)[-1] == (MIDT, "lead_viewed", reference, {})


@pytest.mark.parametrize("status", list(TRANSITIONS))
def test_the_status_buttons_offer_exactly_the_allowed_transitions(admin: Browser, store: LeadStore, status: str) -> None:
    reference = seed(store, status=status)
    html = text(admin.get(f"/dashboard/leads/{reference}"))
    buttons = re.findall(r'<button type="submit" name="status" value="([^"]+)"[^>]*>([^<]+)</button>', html)
    assert buttons == [(code, STATUS_LABELS[code]) for code in TRANSITIONS[status]]
    assert f'Nu: <span class="status status--{status}">{STATUS_LABELS[status]}</span>' in html
    if not TRANSITIONS[status]:
        assert "Henvendelsen er lukket" in html


def test_changing_the_status(midt: Browser, store: LeadStore) -> None:
    reference = seed(store)
    response = midt.post(f"/dashboard/leads/{reference}/status", {"status": "kontaktet"})
    assert response.status_code == 303 and response.location == f"/dashboard/leads/{reference}"
    html = text(midt.get(response.location))
    assert "Status er ændret." in html and 'Nu: <span class="status status--kontaktet">Kontaktet</span>' in html
    assert lead_of(store, reference).status == "kontaktet"  # type: ignore[union-attr]
    assert (MIDT, "status_changed", reference, {"from": "ny", "to": "kontaktet"}) in audit_actions(store)
    refused = text(midt.get(midt.post(f"/dashboard/leads/{reference}/status", {"status": "aktiv"}).location))
    assert "Den status kan ikke vælges" in refused and lead_of(store, reference).status == "kontaktet"  # type: ignore[union-attr]


def test_closing_a_lead_records_when(midt: Browser, store: LeadStore) -> None:
    reference = seed(store)
    midt.post(f"/dashboard/leads/{reference}/status", {"status": "afsluttet"})
    lead = lead_of(store, reference)
    assert lead is not None and lead.status == "afsluttet" and lead.closed_at is not None


def test_adding_a_note(midt: Browser, store: LeadStore) -> None:
    reference = seed(store)
    html = text(midt.get(midt.post(f"/dashboard/leads/{reference}/note", {"text": "Ringet op, ringer igen fredag"}).location))
    assert "Noten er gemt." in html and "Ringet op, ringer igen fredag" in html
    assert re.search(r'<p class="note__meta">mette@rm.dk, <time datetime="[^"]+">\d\d\.\d\d\.\d{4} \d\d:\d\d</time></p>', html)
    [note] = store.cases.notes(lead_of(store, reference))  # type: ignore[arg-type]
    assert note.author == MIDT and note.text == "Ringet op, ringer igen fredag"
    assert (MIDT, "note_added", reference, {}) in audit_actions(store)
    empty = text(midt.get(midt.post(f"/dashboard/leads/{reference}/note", {"text": "   "}).location))
    assert "Noten var tom" in empty


def test_assignment_offers_the_regions_coordinators_and_admins(midt: Browser, store: LeadStore, people: dict[str, int]) -> None:
    reference = seed(store)
    html = text(midt.get(f"/dashboard/leads/{reference}"))
    options = re.findall(r'<option value="(\d*)"[^>]*>([^<]+)</option>', html.split('id="koordinator"', 1)[1].split("</select>", 1)[0])
    assert options == [("", "Ingen"), (str(people[ADMIN]), "Anne Admin (Administrator)"), (str(people[MIDT]), "Mette Midt (Koordinator)")]
    assigned = text(midt.get(midt.post(f"/dashboard/leads/{reference}/assign", {"coordinator": str(people[MIDT])}).location))
    assert "Tildelingen er gemt." in assigned and "Tildelt: Mette Midt (mette@rm.dk)" in assigned
    assert lead_of(store, reference).assigned_to == people[MIDT]  # type: ignore[union-attr]
    assert (MIDT, "assigned", reference, {"coordinator_id": people[MIDT]}) in audit_actions(store)
    for bad in (str(people[NORD]), "ikke-et-tal", "99999"):
        refused = text(midt.get(midt.post(f"/dashboard/leads/{reference}/assign", {"coordinator": bad}).location))
        assert "kan kun tildeles" in refused
        assert lead_of(store, reference).assigned_to == people[MIDT]  # type: ignore[union-attr]
    midt.post(f"/dashboard/leads/{reference}/assign", {"coordinator": ""})
    assert lead_of(store, reference).assigned_to is None  # type: ignore[union-attr]


def test_deleting_a_lead_asks_first_then_removes_it_and_its_conversation(midt: Browser, store: LeadStore, config: Settings) -> None:
    reference = seed(store, conversation_id="web-slet-mig")
    add_events(config.tracker_url, "web-slet-mig", ("user", "signup", "jeg vil være frivillig", time.time()))
    add_events(config.tracker_url, "web-en-anden", ("user", "greet", "hej", time.time()))
    midt.post(f"/dashboard/leads/{reference}/note", {"text": "Bad om at blive slettet"})
    confirm = midt.post(f"/dashboard/leads/{reference}/delete")
    assert confirm.status_code == 200
    page = text(confirm)
    assert "Vil du slette henvendelsen?" in page and "Ja, slet alt om personen" in page and reference in page
    assert lead_of(store, reference) is not None
    done = midt.post(f"/dashboard/leads/{reference}/delete", {"confirm": "ja"})
    assert done.status_code == 303 and done.location == "/dashboard/leads"
    assert "Henvendelsen og alt om personen er slettet." in text(midt.get(done.location))
    assert lead_of(store, reference) is None
    with store.db.session() as session:
        assert session.execute(sa.select(sa.func.count(Note.id))).scalar() == 0
    assert event_count(config.tracker_url, "web-slet-mig") == 0 and event_count(config.tracker_url, "web-en-anden") == 1
    actions = audit_actions(store)
    assert (MIDT, "lead_deleted", reference, {"reason": "gdpr"}) in actions
    assert (MIDT, "conversation_deleted", reference, {"events": 1}) in actions
    assert midt.get(f"/dashboard/leads/{reference}").status_code == 404


def test_lead_pages_have_labels_lang_and_a_skip_link(admin: Browser, store: LeadStore) -> None:
    reference = seed(store)
    pages = [admin.get(f"/dashboard/leads/{reference}"), admin.post(f"/dashboard/leads/{reference}/delete"), admin.get("/dashboard/")]
    admin.post("/dashboard/logout")
    pages.append(admin.get("/dashboard/login"))
    for response in pages:
        parser = FormAudit()
        parser.feed(text(response))
        assert parser.lang == "da" and parser.skip_link
        assert set(parser.controls) <= parser.labels, parser.controls
        assert 'id="indhold"' in text(response)


def test_dashboard_pages_load_nothing_from_outside_and_are_not_cached(admin: Browser, store: LeadStore) -> None:
    reference = seed(store)
    for path in ("/dashboard/", "/dashboard/leads", f"/dashboard/leads/{reference}", "/dashboard/audit"):
        response = admin.get(path)
        html = text(response)
        assert not re.search(r'(src|href)="(https?:)?//', html), path
        assert "<script" not in html
        assert response.headers["Cache-Control"] == "no-store"
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]


# --------------------------------------------------------------------------- CSV export


def test_csv_export_of_the_filtered_list(admin: Browser, store: LeadStore, three: dict[str, str]) -> None:
    response = admin.get("/dashboard/leads.csv?region=midtjylland&status=kontaktet")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == f'attachment; filename="leads-{today().isoformat()}.csv"'
    body = response.data.decode("utf-8")
    assert body.startswith("\ufeff")
    lines = body[1:].strip().split("\r\n")
    assert lines[0] == ";".join(EXPORT_FIELDS)
    assert len(lines) == 2 and lines[1].startswith(three["Carl Gamma"] + ";signup;") and "Silkeborg" in lines[1]
    assert (ADMIN, "export", "", {"filter": {"region": "midtjylland", "status": "kontaktet"}, "count": 1, "format": "csv"}) in audit_actions(store)


def test_the_export_link_carries_the_filter(admin: Browser, three: dict[str, str]) -> None:
    html = text(admin.get("/dashboard/leads?kind=handoff"))
    assert 'href="/dashboard/leads.csv?kind=handoff"' in html and "Eksportér 1 som CSV" in html


# --------------------------------------------------------------------------- overview


def test_overview_counts_weeks_regions_statuses_and_unanswered_questions(admin: Browser, store: LeadStore, config: Settings) -> None:
    now = utcnow()
    seed(store, created=now)
    seed(store, created=now, region="nordjylland", status="kontaktet")
    seed(store, created=now - dt.timedelta(weeks=3), status="aktiv")
    seed(store, created=now - dt.timedelta(weeks=20), region="sjaelland")
    for n in range(3):
        add_events(config.tracker_url, f"web-{n}", ("user", "nlu_fallback", "Hvad koster  en kage?", time.time()))
    add_events(config.tracker_url, "web-9", ("user", "nlu_fallback", "Hvornår åbner i?", time.time()), ("user", "greet", "hej", time.time()))
    html = text(admin.get("/dashboard/"))
    weeks = chart(html, "De seneste 12 uger, ældste først")
    assert len(weeks) == 12 and sum(weeks.values()) == 3
    monday = today() - dt.timedelta(days=today().weekday())  # the dashboard counts weeks in Danish time
    this_week = monday.isocalendar()[1]
    assert next(count for label, count in weeks.items() if label.startswith(f"Uge {this_week} ")) >= 2
    assert chart(html, "Alle henvendelser efter region") == {
        "Region Hovedstaden": 0,
        "Region Sjælland": 1,
        "Region Syddanmark": 0,
        "Region Midtjylland": 2,
        "Region Nordjylland": 1,
    }
    assert chart(html, "Hvor langt henvendelserne er nået") == {"Ny": 2, "Kontaktet": 1, "Aftalt": 0, "Aktiv frivillig": 1, "Afsluttet": 0, "Afvist": 0}
    assert chart(html, "De hyppigste beskeder uden et svar") == {"hvad koster en kage?": 3, "hvornår åbner i?": 1}
    assert "4</strong> henvendelser i alt" in html


def test_a_coordinators_overview_counts_only_their_region(midt: Browser, store: LeadStore) -> None:
    seed(store)
    seed(store, region="nordjylland")
    html = text(midt.get("/dashboard/"))
    assert chart(html, "Alle henvendelser efter region") == {"Region Midtjylland": 1}
    assert "Region Midtjylland:" in html and "1</strong> henvendelse i alt" in html


def test_overview_without_a_tracker_store_shows_an_empty_state(admin: Browser, config: Settings) -> None:
    html = text(admin.get("/dashboard/"))
    assert "Der er endnu ingen samtaler at vise" in html
    assert not (config.var_dir / "tracker.db").exists()


def test_overview_when_the_bot_understood_everything(admin: Browser, config: Settings) -> None:
    add_events(config.tracker_url, "web-1", ("user", "greet", "hej", time.time()))
    assert "Chatbotten har forstået alt" in text(admin.get("/dashboard/"))


# --------------------------------------------------------------------------- HTML and SQL in what citizens type

PAYLOAD = "<script>alert('x')</script><img src=x onerror=alert(1)>'; DROP TABLE leads; --"
ESCAPED = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;&#39;; DROP TABLE leads; --"


@pytest.fixture
def hostile(admin: Browser, store: LeadStore) -> Iterator[str]:
    yield PAYLOAD
    with store.db.session() as session:
        assert session.execute(sa.select(sa.func.count(Lead.id))).scalar() >= 1  # the table is still there
    html = text(admin.get("/dashboard/audit"))
    assert "<script>" not in html


@pytest.mark.parametrize(
    "field", ["name", "email", "phone", "municipality", "availability", "message", "question", "interests", "conversation_id", "transcript"]
)
def test_html_and_sql_in_a_lead_field_are_stored_verbatim_and_shown_escaped(admin: Browser, store: LeadStore, hostile: str, field: str) -> None:
    values: dict[str, Any] = {"interests": [hostile], "transcript": [{"who": "borger", "text": hostile, "at": None}]}
    reference = seed(store, **{field: values.get(field, hostile)})
    lead = lead_of(store, reference)
    assert lead is not None
    stored = getattr(lead, field)
    assert stored == values.get(field, hostile)
    pages = [text(admin.get(f"/dashboard/leads/{reference}")), text(admin.get("/dashboard/leads")), text(admin.post(f"/dashboard/leads/{reference}/delete"))]
    detail = pages[0]
    assert ESCAPED in detail
    for html in pages:
        assert "<script>" not in html and "<img src=x" not in html
    found = text(admin.get("/dashboard/leads", query_string={"q": "DROP TABLE leads"}))
    if field in ("name", "email", "phone", "municipality", "availability", "message", "question"):
        assert references_in(found) == [reference]
    csv = admin.get("/dashboard/leads.csv").data.decode("utf-8-sig")
    assert reference in csv


def test_html_and_sql_in_a_note_are_stored_verbatim_and_shown_escaped(admin: Browser, store: LeadStore, hostile: str) -> None:
    reference = seed(store)
    admin.post(f"/dashboard/leads/{reference}/note", {"text": hostile})
    html = text(admin.get(f"/dashboard/leads/{reference}"))
    assert ESCAPED in html and "<script>" not in html
    with store.db.session() as session:
        assert session.execute(sa.select(Note.text)).scalar() == hostile


@pytest.mark.parametrize("query", ["'; DROP TABLE leads; --", "' OR '1'='1", "%", "_", "<script>alert(1)</script>"])
def test_sql_and_html_in_the_search_and_filters_are_harmless(midt: Browser, store: LeadStore, query: str) -> None:
    seed(store, name="Nina Nord", region="nordjylland")
    for args in ({"q": query}, {"region": query}, {"status": query}, {"from": query}):
        response = midt.get("/dashboard/leads", query_string=args)
        assert response.status_code == 200
        html = text(response)
        assert "Nina Nord" not in html and "<script>alert" not in html
    with store.db.session() as session:
        assert session.execute(sa.select(sa.func.count(Lead.id))).scalar() == 1


def test_html_in_the_login_form_is_shown_escaped(browser: Browser, people: dict[str, int]) -> None:
    html = text(browser.login('"><script>alert(1)</script>', "x"))
    assert "<script>alert(1)</script>" not in html and "&#34;&gt;&lt;script&gt;" in html


def test_the_demo_page_tells_the_roles_as_the_knowledge_base_does(app: Flask) -> None:
    page = app.test_client().get("/").get_data(as_text=True)
    hospice = kb().opportunity("hospice")
    assert hospice is not None and escape(hospice.answer, quote=False) in page
    assert "Hospicelimfjord" not in page and "regionernes chatbot" not in page


# --------------------------------------------------------------------------- live chat (bot/web/live.py)


def waiting_handoff(store: LeadStore, config: Settings, region: str = "midtjylland") -> tuple[str, str]:
    """A handoff case waiting for a coordinator, with its conversation in the tracker store; (reference, conversation id)."""
    conversation = f"web:{uuid.uuid4().hex}"
    reference = seed(
        store, kind="handoff", conversation_id=conversation, region=region, question="Må min hund komme med?", interests=[], availability="", message=""
    )
    assert store.live.request(reference)
    now = time.time()
    add_events(config.tracker_url, conversation, ("user", "request_human", "kan jeg tale med et menneske", now - 30), ("bot", None, "Selvfølgelig!", now - 29))
    return reference, conversation


def test_the_live_page_shows_only_the_coordinators_own_regions(midt: Browser, store: LeadStore, config: Settings) -> None:
    mine, _ = waiting_handoff(store, config)
    theirs, _ = waiting_handoff(store, config, region="nordjylland")
    page = text(midt.get("/dashboard/live"))
    assert mine in page and theirs not in page and "Må min hund komme med?" in page
    listed = midt.get("/dashboard/live/chats").get_json()["chats"]
    assert [(c["reference"], c["state"], c["region"]) for c in listed] == [(mine, "waiting", "Region Midtjylland")]
    for url in (f"/dashboard/live/{theirs}", f"/dashboard/live/{theirs}/events?after=0"):
        assert midt.get(url).status_code == 404
    assert midt.post(f"/dashboard/live/{theirs}/join").status_code == 404
    assert store.live.get(Viewer("x", "admin", ()), theirs).state == "waiting"  # type: ignore[union-attr]


def test_the_live_pages_run_their_own_script_and_the_rest_of_the_dashboard_none(midt: Browser, store: LeadStore, config: Settings) -> None:
    reference, _ = waiting_handoff(store, config)
    for url in ("/dashboard/live", f"/dashboard/live/{reference}"):
        response = midt.get(url)
        assert (
            "script-src 'self'" in response.headers["Content-Security-Policy"]
            and "unsafe-inline" not in response.headers["Content-Security-Policy"].split("script-src")[1].split(";")[0]
        )
        assert '<script src="/static/live.js" defer></script>' in text(response)
    assert "script-src" not in midt.get("/dashboard/leads").headers["Content-Security-Policy"]


def test_a_conversation_that_starts_over_ends_the_chat_for_the_coordinator(midt: Browser, store: LeadStore, config: Settings, people: dict[str, int]) -> None:
    """A session expiry or a restart un-pauses Rasa: the coordinator's page learns it at the next poll, and the chat ends."""
    reference, conversation = waiting_handoff(store, config)
    assert store.live.claim(Viewer(MIDT, "coordinator", ("midtjylland",)), people[MIDT], reference)
    first = midt.get(f"/dashboard/live/{reference}/events?after=0").get_json()
    assert first["holding"] and [line["text"] for line in first["lines"]] == ["kan jeg tale med et menneske", "Selvfølgelig!"]
    last = first["lines"][-1]["id"]
    add_events(config.tracker_url, conversation, ("session_started", None, "", time.time()), ("user", "greet", "hej igen", time.time()))
    later = midt.get(f"/dashboard/live/{reference}/events?after={last}").get_json()
    assert not later["holding"] and later["state"] == "ended"
    assert [line["who"] for line in later["lines"]] == ["system", "citizen"]
    assert (MIDT, "live_left", reference, {"reason": "conversation_restarted"}) in audit_actions(store)
    page = text(midt.get(f"/dashboard/live/{reference}"))
    assert "Samtalen startede forfra." in page and "Chatbotten svarer borgeren." in page


def test_only_what_the_citizen_wrote_while_the_bot_was_silent_is_marked_for_the_coordinator(
    midt: Browser, store: LeadStore, config: Settings, people: dict[str, int]
) -> None:
    """Before the coordinator joined and after they handed back the bot answered an erasure request itself: no mark."""
    reference, conversation = waiting_handoff(store, config)
    assert store.live.claim(Viewer(MIDT, "coordinator", ("midtjylland",)), people[MIDT], reference)
    now = time.time()
    add_events(config.tracker_url, conversation, ("user", "delete_data", "slet mine data før", now - 20), ("pause", None, "", now - 19))
    first = midt.get(f"/dashboard/live/{reference}/events?after=0").get_json()["lines"]
    assert [(line["text"], line["alert"]) for line in first if line["who"] == "citizen"][-1] == ("slet mine data før", False)
    # Polled afterwards, from the last line seen: the page still knows the bot is silent.
    add_events(config.tracker_url, conversation, ("user", "delete_data", "slet mine data under", now - 10), ("user", "greet", "hej", now - 9))
    during = midt.get(f"/dashboard/live/{reference}/events?after={first[-1]['id']}").get_json()["lines"]
    assert [(line["text"], line["alert"]) for line in during] == [("slet mine data under", True), ("hej", False)]
    add_events(config.tracker_url, conversation, ("resume", None, "", now - 5), ("user", "delete_data", "slet mine data efter", now - 4))
    everything = midt.get(f"/dashboard/live/{reference}/events?after=0").get_json()["lines"]
    assert [line["text"] for line in everything if line.get("alert")] == ["slet mine data under"]
    assert text(midt.get(f"/dashboard/live/{reference}")).count("Vigtigt – chatbotten ville have reageret på dette:") == 1


def test_the_sweeper_hands_back_abandoned_chats_and_sends_on_unanswered_requests(store: LeadStore, config: Settings, people: dict[str, int]) -> None:
    """Even with Rasa unreachable (it is not running here), the chat is handed back in the lead store and the e-mail goes out."""
    from bot.web.live import sweep

    abandoned, _ = waiting_handoff(store, config)
    unanswered, _ = waiting_handoff(store, config)
    assert store.live.claim(Viewer(MIDT, "coordinator", ("midtjylland",)), people[MIDT], abandoned)
    with store.db.session() as session:
        session.execute(sa.update(Lead).values(live_seen_at=utcnow() - dt.timedelta(minutes=5), live_requested_at=utcnow() - dt.timedelta(minutes=5)))
        session.commit()
    quick = Settings.from_env({"VAR_DIR": str(config.var_dir), "RASA_PORT": "9", "LIVE_WAIT_SECONDS": "60", "LIVE_LEASE_SECONDS": "60"})
    sweep(quick, store)
    admin = Viewer("x", "admin", ())
    assert store.live.get(admin, abandoned).state == "ended" and store.cases.get(admin, abandoned).status == "ny"  # type: ignore[union-attr]
    assert store.live.get(admin, unanswered).state == "missed"  # type: ignore[union-attr]
    mails = [path.name for path in config.outbox_dir.glob("*.eml")]
    assert any(name.endswith(f"-{unanswered}.eml") for name in mails) and not any(name.endswith(f"-{abandoned}.eml") for name in mails)
    sweep(quick, store)  # nothing twice
    assert len(list(config.outbox_dir.glob("*.eml"))) == len(mails)
