"""Privacy self-service in the chat, and the handoff to a coordinator end to end (chat → case → e-mail → dashboard)."""

from __future__ import annotations

import http.cookiejar
import re
import subprocess
import sys
import urllib.parse
import urllib.request
import uuid
from typing import Any

from bot.settings import ROOT
from stack import Stack, stored_transcript, texts
from test_signup import fill, leads_with


def test_what_is_stored_and_erasure(bot: Stack, sender: str) -> None:
    assert re.search("ikke gemt nogen", texts(bot.say(sender, "hvad har I gemt om mig?")), re.I)
    _, email = fill(bot, sender)
    bot.say(sender, "ja")
    shown = texts(bot.say(sender, "hvilke oplysninger har I om mig"))
    assert email in shown and "Mette Lund Jensen" in shown and "FRV-" in shown
    assert stored_transcript(bot.settings.tracker_url, sender)
    confirm = texts(bot.say(sender, "slet mine data"))
    assert re.search("slette", confirm, re.I)
    assert re.search("slettet", texts(bot.say(sender, "ja")), re.I)
    assert leads_with(bot, email) == []
    assert stored_transcript(bot.settings.tracker_url, sender) == []  # the conversation is gone from the tracker store
    assert re.search("ikke gemt nogen", texts(bot.say(sender, "hvad har I gemt om mig?")), re.I)


def test_erasure_can_be_declined(bot: Stack, sender: str) -> None:
    _, email = fill(bot, sender)
    bot.say(sender, "ja")
    bot.say(sender, "slet mine oplysninger")
    assert re.search("ikke slettet", texts(bot.say(sender, "nej")), re.I)
    assert len(leads_with(bot, email)) == 1


class Browser:
    """A cookie-keeping HTTP client for the dashboard's forms."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> tuple[int, str]:
        try:
            with self.opener.open(self.base + path, timeout=30) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def post(self, path: str, fields: dict[str, str]) -> tuple[int, str]:
        data = urllib.parse.urlencode(fields).encode()
        try:
            with self.opener.open(urllib.request.Request(self.base + path, data=data), timeout=30) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def login(self, email: str, password: str) -> str:
        _, page = self.get("/dashboard/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token
        status, page = self.post("/dashboard/login", {"csrf_token": token.group(1), "email": email, "password": password, "next": ""})
        assert status == 200
        return page


def add_account(bot: Stack, email: str, region: str, password: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "bot", "coordinators", "add", email, "--name", "Test Koordinator", "--region", region, "--password", password],
        cwd=ROOT,
        env=bot.env,
        check=True,
        capture_output=True,
    )


def test_handoff_creates_a_case_mails_the_coordinator_and_shows_in_the_dashboard(bot: Stack, sender: str, mailbox: Any) -> None:
    intro = texts(bot.say(sender, "kan jeg snakke med en rigtig person?"))
    assert re.search("koordinator", intro, re.I) and re.search("hvad hedder du", intro, re.I)
    email = f"handoff.{uuid.uuid4().hex[:8]}@example.dk"
    assert re.search("e-mail", texts(bot.say(sender, "Birgitte Holm")), re.I)
    assert re.search("telefon", texts(bot.say(sender, email)), re.I)
    assert re.search("kommune", texts(bot.say(sender, "spring over")), re.I)
    assert re.search("tale med koordinatoren om", texts(bot.say(sender, "Viborg")), re.I)
    consent = texts(bot.say(sender, "Jeg vil gerne vide, om man kan være frivillig sammen med sin hund"))
    assert re.search("må vi gemme", consent, re.I) and "sammen med sin hund" in consent
    done = texts(bot.say(sender, "ja"))
    reference = re.search(r"FRV-\d{4}-[A-Z0-9]{6}", done)
    assert reference and re.search("kontakter dig", done)
    assert re.search("Anders K\\. Kristensen|andkri@rm\\.dk", done)  # the published contact of Region Midtjylland

    [case] = [lead for lead in leads_with(bot, email)]
    assert case["kind"] == "handoff" and case["region"] == "midtjylland" and "hund" in case["question"]
    with bot.store().db.session() as session:
        from bot.store.schema import Lead

        lead = session.query(Lead).filter(Lead.reference == case["reference"]).one()
        assert any("rigtig person" in line["text"] for line in lead.transcript)

    [mail] = mailbox.with_header("X-Lead-Reference", case["reference"])
    assert case["reference"] in mail["Subject"] and mail["To"] == "frivillig-midtjylland@example.invalid"
    body = mail.get_payload(decode=True).decode()
    assert "/dashboard/leads/" + case["reference"] in body and "Birgitte Holm" not in body and email not in body

    password = "korrekt-hest-batteri"
    coordinator = f"koord.{uuid.uuid4().hex[:6]}@rm.dk"
    add_account(bot, coordinator, "midtjylland", password)
    browser = Browser(bot.web_url)
    browser.login(coordinator, password)
    status, page = browser.get(f"/dashboard/leads/{case['reference']}")
    assert status == 200 and "Birgitte Holm" in page and "sammen med sin hund" in page and email in page

    outsider = f"koord.{uuid.uuid4().hex[:6]}@rn.dk"
    add_account(bot, outsider, "nordjylland", password)
    other = Browser(bot.web_url)
    other.login(outsider, password)
    assert other.get(f"/dashboard/leads/{case['reference']}")[0] == 404


def test_repeated_misunderstanding_offers_a_coordinator_with_the_question(bot: Stack, sender: str) -> None:
    bot.say(sender, "blorp fnizz wuggle")
    offer = bot.say(sender, "plomk zzrrt")
    assert any(b["payload"] == "/request_human" for r in offer for b in r.get("buttons") or [])
    assert re.search("hvad hedder du", texts(bot.say(sender, "/request_human")), re.I)
