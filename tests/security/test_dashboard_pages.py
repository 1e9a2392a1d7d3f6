"""What dashboard pages show and send (issue 13): HSTS with secure cookies, mailto: links that carry only
the address, and the overview's unanswered questions without form answers, masked and scoped to the
coordinator's regions.
"""

from __future__ import annotations

import html
import json
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from test_dashboard_accounts import PASSWORD, Dashboard, page

from bot.settings import Settings
from bot.store import LeadStore, conversations
from bot.store.intake import LeadDraft
from bot.web.app import create_app

ADMIN, MIDT, NORD = "anne@regionh.dk", "mette@rm.dk", "ole@rn.dk"


@pytest.fixture
def config(tmp_path: Path) -> Settings:
    return Settings.from_env({"VAR_DIR": str(tmp_path), "COOKIE_SECURE": "false"})


@pytest.fixture
def app(config: Settings) -> Flask:
    app = create_app(config)
    store = LeadStore(config.leads_url)
    store.accounts.add(ADMIN, "Anne Admin", "admin", [], PASSWORD)
    store.accounts.add(MIDT, "Mette Midt", "coordinator", ["midtjylland"], PASSWORD)
    store.accounts.add(NORD, "Ole Nord", "coordinator", ["nordjylland"], PASSWORD)
    return app


def logged_in(app: Flask, email: str) -> Dashboard:
    browser = Dashboard(app)
    assert browser.login(email).status_code == 303
    return browser


# --------------------------------------------------------------------------- HSTS


@pytest.mark.parametrize(("cookie_secure", "hsts"), [("true", True), ("false", False)])
def test_dashboard_responses_carry_hsts_when_session_cookies_are_secure(tmp_path: Path, cookie_secure: str, hsts: bool) -> None:
    client = create_app(Settings.from_env({"VAR_DIR": str(tmp_path), "COOKIE_SECURE": cookie_secure})).test_client()
    for url in ("/dashboard/login", "/dashboard/", "/dashboard/findes-ikke"):
        header = client.get(url).headers.get("Strict-Transport-Security")
        if hsts:
            assert header is not None and int(header.removeprefix("max-age=")) >= 180 * 24 * 3600, url
        else:
            assert header is None, url  # plain HTTP on purpose (a test, a closed network): browsers must not be told otherwise


# --------------------------------------------------------------------------- mailto: links


def test_a_mailto_link_on_a_lead_carries_only_the_address(app: Flask, config: Settings) -> None:
    """An address with "?" or "&" in it must not add copies, a subject or a body to the coordinator's e-mail."""
    crafted = "karen@eksempel.dk?bcc=ond@example.org&subject=Hej&body=Klik her"
    draft = LeadDraft("signup", "web-mailto", "socketio", name="Karen", email=crafted, region="midtjylland", consent_at="2026-11-20T10:00:00")
    reference = LeadStore(config.leads_url).intake.save(draft).reference
    lead_page = page(logged_in(app, MIDT).get(f"/dashboard/leads/{reference}"))
    [href] = [html.unescape(h) for h in re.findall(r'href="(mailto:[^"]*)"', lead_page)]
    assert href == "mailto:karen@eksempel.dk%3Fbcc%3Dond@example.org%26subject%3DHej%26body%3DKlik%20her"
    assert urlsplit(href).query == ""
    assert f">{html.escape(crafted, quote=False)}</a>" in lead_page  # the coordinator still reads what was given


# --------------------------------------------------------------------------- unanswered questions


def said(text: str, intent: str = "nlu_fallback") -> dict[str, Any]:
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent, "confidence": 0.2}}}


def slot(name: str, value: Any) -> dict[str, Any]:
    return {"event": "slot", "name": name, "value": value}


def form(name: str | None) -> dict[str, Any]:
    return {"event": "active_loop", "name": name}


def store_conversation(url: str, sender: str, *events: dict[str, Any]) -> None:
    """The events as Rasa's SQLTrackerStore writes them: the intent and an event's `name` get columns of their own."""
    with conversations.engine(url).begin() as connection:
        for event in events:
            timestamp = time.time()
            connection.execute(
                conversations.events.insert().values(
                    sender_id=sender,
                    type_name=event["event"],
                    timestamp=timestamp,
                    intent_name=event.get("parse_data", {}).get("intent", {}).get("name"),
                    action_name=event.get("name"),
                    data=json.dumps({**event, "timestamp": timestamp}),
                )
            )


def unanswered_section(browser: Dashboard) -> str:
    overview = page(browser.get("/dashboard/"))
    return overview.split('id="uforstaaet"', 1)[1].split("</section>", 1)[0]


@pytest.fixture
def conversations_of_three_regions(config: Settings) -> None:
    url = config.tracker_url
    store_conversation(
        url,
        "web-midt",
        said("Hvor parkerer man ved Skejby?"),  # before the region was known: still this conversation's region
        said("jeg vil melde mig", "signup"),
        form("signup_form"),
        said("Karen Jensen"),  # answers inside the form: never shown, whatever the NLU made of them
        said("karen punktum jensen snabela eksempel"),
        slot("region", "midtjylland"),
        form(None),
        said("Hvad med kaffe?"),
    )
    store_conversation(
        url,
        "telegram:4242",
        slot("region", "nordjylland"),
        form("handoff_form"),
        said("Ole Olsen"),
        {"event": "session_started"},  # the citizen came back days later: the old form is over
        said("Kan jeg tage min hund med?"),
    )
    store_conversation(url, "web-ingen-region", said("min mail er Karen@Eksempel.dk og mit nummer er 20 30 40 50, cpr 0101-90-1234"))


@pytest.mark.usefixtures("conversations_of_three_regions")
@pytest.mark.parametrize(
    ("email", "shown"),
    [
        (MIDT, ["hvor parkerer man ved skejby?", "hvad med kaffe?"]),
        (NORD, ["kan jeg tage min hund med?"]),
        (
            ADMIN,
            [
                "hvor parkerer man ved skejby?",
                "hvad med kaffe?",
                "kan jeg tage min hund med?",
                "min mail er xxx@xxx og mit nummer er xx xx xx xx, cpr xxxxxx-xxxx",
            ],
        ),
    ],
)
def test_unanswered_questions_leave_out_form_answers_mask_contact_data_and_keep_to_the_regions(app: Flask, email: str, shown: list[str]) -> None:
    section = unanswered_section(logged_in(app, email))
    listed = re.findall(r'<th scope="row">(.*?)</th>', section, re.S)
    assert sorted(html.unescape(q) for q in listed) == sorted(shown)
    for secret in ("jensen", "olsen", "eksempel", "20 30 40 50", "0101-90-1234"):
        assert secret not in section.lower()
