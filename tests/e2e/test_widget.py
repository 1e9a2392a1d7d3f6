"""The website chat widget in a real headless Chromium, against the real bot (Rasa's socket.io channel).

Every test opens the demo page that `python -m bot web` serves (or a page of its own that carries the one
script tag), uses the widget as a citizen would and asserts what the citizen sees. Bot answers are waited
for with Playwright's auto-waiting, never with sleeps.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

import pytest
from conftest import EMBEDDING_SITE
from playwright.sync_api import Browser, BrowserContext, Locator, Page, WebSocketRoute, expect

ANSWER_TIMEOUT = 20_000  # ms: one bot answer (NLU, policies and the action server)
RECONNECT_TIMEOUT = 30_000  # ms: socket.io's reconnection back-off is at most ~12 s here
GREETING = "Hej! Jeg er Frivilligbotten"
GREETING_BUTTONS = ["Hvad kan jeg lave som frivillig?", "Meld mig som frivillig", "Tavshedspligt", "Tal med en koordinator"]
OFFLINE_NOTICE = "Forbindelsen til chatten er afbrudt"
REFERENCE = re.compile(r"FRV-\d{4}-[A-Z0-9]{6}")


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile per test: no session id or transcript from another test."""
    ctx = browser.new_context(locale="da-DK", viewport={"width": 1280, "height": 900})
    yield ctx
    ctx.close()


class Widget:
    """The chat widget on a page, found the way a user (or a screen reader) finds it."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.launcher = page.get_by_role("button", name="Åbn chatten med Frivilligbotten")
        self.panel = page.get_by_role("dialog", name="Frivilligbotten")
        self.log = page.get_by_role("log")
        self.input = page.get_by_label("Skriv din besked")
        self.send_button = self.panel.get_by_role("button", name="Send", exact=True)
        self.close_button = page.get_by_role("button", name="Luk chatten")
        self.bot = self.log.locator(".fbw-msg--bot")
        self.user = self.log.locator(".fbw-msg--user")
        self.replies = self.log.get_by_role("group", name="Svarmuligheder").get_by_role("button")
        self.notice = self.panel.locator(".fbw-status")

    def open(self) -> None:
        self.launcher.click()
        expect(self.panel).to_be_visible()
        expect(self.input).to_be_focused()

    def bot_says(self, text: str) -> Locator:
        return self.bot.filter(has_text=text)

    def say(self, message: str, answer: str | None = None) -> Locator:
        """Send a message and wait for a *new* bot message (containing `answer` if given); returns it."""
        said = self.bot_says(answer) if answer else self.bot
        before, total = said.count(), self.bot.count()
        self.input.fill(message)
        self.input.press("Enter")
        expect(self.user.last).to_have_text(f"Du skrev: {message}")
        expect(self.bot.nth(total)).to_be_visible(timeout=ANSWER_TIMEOUT)
        if answer:
            expect(said).to_have_count(before + 1, timeout=ANSWER_TIMEOUT)
        return said.last

    def session_id(self) -> str | None:
        stored = self.page.evaluate("sessionStorage.getItem('frivilligbotten:session')")
        return json.loads(stored)["id"] if stored else None


class DroppableLinks:
    """The page's socket.io websockets through Playwright, so a test can drop them (the network is gone) and let them back."""

    def __init__(self, page: Page) -> None:
        self.blocked = False
        self.opened: list[tuple[WebSocketRoute, WebSocketRoute]] = []
        page.route_web_socket(re.compile(r"/socket\.io/"), self._through)

    def _through(self, ws: WebSocketRoute) -> None:
        if self.blocked:
            ws.close()
            return
        self.opened.append((ws, ws.connect_to_server()))

    def drop(self) -> None:
        self.blocked = True
        for ws, server in self.opened:
            server.close()
            ws.close()

    def restore(self) -> None:
        self.blocked = False


def demo(context: BrowserContext, web_url: str) -> Widget:
    page = context.new_page()
    page.goto(f"{web_url}/")
    widget = Widget(page)
    expect(widget.launcher).to_be_visible()
    return widget


def greet(widget: Widget) -> None:
    widget.say("hej", GREETING)
    for title in GREETING_BUTTONS:
        expect(widget.replies.filter(has_text=title)).to_be_visible()


def test_greeting_and_a_quick_reply(bot: Any, context: BrowserContext) -> None:
    widget = demo(context, bot.web_url)
    page = widget.page
    expect(page).to_have_title(re.compile("Bliv frivillig"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Bliv frivillig på hospitalet")
    expect(widget.panel).to_be_hidden()

    widget.open()
    greet(widget)
    expect(widget.replies).to_have_count(len(GREETING_BUTTONS))

    widget.replies.filter(has_text="Tavshedspligt").click()
    # The button's title is shown as the user's message, its payload goes to Rasa.
    expect(widget.user.last).to_have_text("Du skrev: Tavshedspligt")
    expect(widget.bot_says("De frivillige har tavshedspligt")).to_be_visible(timeout=ANSWER_TIMEOUT)
    expect(widget.log).not_to_contain_text("/ask_confidentiality")
    # Answered quick replies are gone; the typing indicator is too.
    expect(widget.replies.filter(has_text="Meld mig som frivillig")).to_have_count(0)
    expect(page.locator(".fbw-typing")).to_be_hidden()


def test_sign_up_through_the_widget(bot: Any, context: BrowserContext) -> None:
    email = f"widget-{uuid.uuid4().hex[:10]}@eksempel.dk"
    widget = demo(context, bot.web_url)
    widget.open()
    widget.say("jeg vil gerne melde mig som frivillig", "Hvad hedder du?")
    widget.say("Wilma Widgetsen", "e-mailadresse")
    widget.say(email, "telefonnummer")
    widget.say("20 30 40 50", "kommune")
    widget.say("Aarhus", "Hvilke opgaver er du interesseret i?")
    widget.say("vejviser", "Hvornår har du typisk tid?")
    widget.say("hverdage efter kl. 16", "fortælle koordinatoren")
    widget.say("nej tak", "Må vi gemme oplysningerne")

    # The summary is shown; the link to the privacy notice in the bot's text is a safe, real link.
    expect(widget.bot_says(f"E-mail: {email}")).to_be_visible()
    privacy = widget.log.get_by_role("link", name=re.compile("privatliv"))
    expect(privacy).to_have_attribute("href", f"{bot.web_url}/privatliv")
    expect(privacy).to_have_attribute("rel", "noopener noreferrer")
    expect(privacy).to_have_attribute("target", "_blank")
    expect(widget.replies.filter(has_text="Ja, det må I gerne")).to_be_visible()

    done = widget.say("ja", "referencenummer")
    match = REFERENCE.search(done.inner_text())
    assert match, done.inner_text()
    reference = match.group(0)

    leads = [lead for lead in bot.store().cases.all_leads() if lead["email"] == email]
    assert len(leads) == 1, leads
    lead = leads[0]
    assert lead["reference"] == reference
    assert lead["region"] == "midtjylland"
    assert lead["channel"] == "socketio"
    assert lead["name"] == "Wilma Widgetsen"
    assert lead["consent_at"]


def test_reload_keeps_the_conversation(bot: Any, context: BrowserContext) -> None:
    widget = demo(context, bot.web_url)
    widget.open()
    greet(widget)
    widget.say("jeg vil gerne melde mig som frivillig", "Hvad hedder du?")
    session = widget.session_id()
    assert session

    widget.page.reload()
    widget = Widget(widget.page)
    # The panel stays open and shows the earlier messages, in order.
    expect(widget.panel).to_be_visible()
    expect(widget.user).to_have_text(["Du skrev: hej", "Du skrev: jeg vil gerne melde mig som frivillig"])
    expect(widget.bot_says(GREETING)).to_have_count(1)
    expect(widget.bot_says("Hvad hedder du?")).to_have_count(1)
    assert widget.session_id() == session

    # The same conversation goes on: the sign-up form asked for a name before the reload and gets one now.
    widget.say("Rikke Hansen", "e-mailadresse")
    assert widget.session_id() == session

    # A new tab (the next person at a shared computer) starts a conversation of its own: nothing of this one shows.
    page = context.new_page()
    page.goto(f"{bot.web_url}/")
    again = Widget(page)
    again.open()
    again.say("hej", GREETING)
    assert again.session_id() not in (None, session)
    expect(again.log).not_to_contain_text("Rikke Hansen")


def test_a_reload_shows_the_newest_messages(bot: Any, context: BrowserContext) -> None:
    """A conversation longer than the panel, reloaded with the panel open: the citizen sees where they left off."""
    widget = demo(context, bot.web_url)
    widget.open()
    for question in ("hvad laver en vejviser", "hvad kan jeg lave som frivillig", "får man løn", "er jeg forsikret"):
        widget.say(question)
    widget.page.reload()
    widget = Widget(widget.page)
    expect(widget.panel).to_be_visible()
    expect(widget.user).to_have_count(4)
    body = widget.panel.locator(".fbw-body")
    assert body.evaluate("b => b.scrollHeight > b.clientHeight + 100"), "the conversation does not overflow the panel: the test shows nothing"
    expect(widget.user.last).to_be_in_viewport()
    assert body.evaluate("b => b.scrollTop + b.clientHeight >= b.scrollHeight - 2"), "after the reload the panel is not scrolled to the newest message"


def test_html_in_messages_is_shown_as_text(bot: Any, context: BrowserContext) -> None:
    widget = demo(context, bot.web_url)
    page = widget.page
    widget.open()
    img = '<img src=x onerror="window.__xss=1">'
    script = "<script>window.__xss=2</script>"
    for message in (img, script):
        widget.say(message)  # the bot answers (it does not understand), so the message went all the way
    expect(widget.user).to_have_count(2)
    expect(widget.log.get_by_text(img, exact=True)).to_be_visible()
    expect(widget.log.get_by_text(script, exact=True)).to_be_visible()
    expect(page.locator(".fbw img, .fbw script")).to_have_count(0)
    assert page.evaluate("window.__xss") is None

    # Bot text gets the same treatment; URLs become links only for http(s), mailto and tel. The renderer is
    # fed through the stored transcript, which a reload draws again.
    session = widget.session_id()
    hostile = (
        "Læs https://example.org/side. Skriv til mailto:info@example.org, ring tel:+4512345678 – "
        'men ikke javascript:window.__xss=3 eller data:text/html,<b>x</b> <img src=x onerror="window.__xss=4">'
    )
    transcript = {"session": session, "entries": [{"who": "bot", "text": hostile, "replies": [{"title": "<i>knap</i>", "payload": "/greet"}]}]}
    page.evaluate("t => sessionStorage.setItem('frivilligbotten:transcript', JSON.stringify(t))", transcript)
    page.reload()
    widget = Widget(page)
    expect(widget.bot).to_have_count(1)
    shown = widget.bot.first
    expect(shown).to_contain_text("javascript:window.__xss=3 eller data:text/html,<b>x</b> <img src=x onerror=")
    links = shown.get_by_role("link")
    expect(links).to_have_count(3)
    hrefs = [links.nth(i).get_attribute("href") for i in range(3)]
    assert hrefs == ["https://example.org/side", "mailto:info@example.org", "tel:+4512345678"]
    expect(links.first).to_have_attribute("target", "_blank")
    expect(links.first).to_have_attribute("rel", "noopener noreferrer")
    expect(links.nth(1)).to_have_attribute("rel", "noopener noreferrer")
    expect(widget.replies).to_have_text(["<i>knap</i>"])
    expect(page.locator(".fbw img, .fbw script, .fbw b, .fbw i")).to_have_count(0)
    assert page.evaluate("window.__xss") is None


def _focused(page: Page) -> dict[str, Any]:
    return page.evaluate(
        "() => { const e = document.activeElement; return {tag: e.tagName, label: e.getAttribute('aria-label'),"
        " text: e.textContent.trim(), reply: e.classList.contains('fbw-reply')}; }"
    )


def test_keyboard_only(bot: Any, context: BrowserContext) -> None:
    page = context.new_page()
    page.goto(f"{bot.web_url}/")
    widget = Widget(page)
    expect(widget.launcher).to_be_visible()

    # Tab through the page until the chat button is reached (it comes last, after the page's own links).
    for _ in range(40):
        page.keyboard.press("Tab")
        if _focused(page)["label"] == "Åbn chatten med Frivilligbotten":
            break
    expect(widget.launcher).to_be_focused()
    page.keyboard.press("Enter")
    expect(widget.panel).to_be_visible()
    expect(widget.input).to_be_focused()

    page.keyboard.type("hej")
    page.keyboard.press("Enter")
    expect(widget.bot_says(GREETING)).to_be_visible(timeout=ANSWER_TIMEOUT)
    expect(widget.input).to_be_focused()

    # The quick replies are real buttons in the tab order, just before the input.
    seen = []
    for _ in range(len(GREETING_BUTTONS) + 2):
        page.keyboard.press("Shift+Tab")
        focused = _focused(page)
        if focused["reply"]:
            assert focused["tag"] == "BUTTON"
            seen.append(focused["text"])
        if focused["text"] == "Tavshedspligt":
            break
    assert seen == list(reversed(GREETING_BUTTONS))[: len(seen)] and seen[-1] == "Tavshedspligt", seen
    page.keyboard.press("Enter")
    expect(widget.user.last).to_have_text("Du skrev: Tavshedspligt")
    expect(widget.bot_says("De frivillige har tavshedspligt")).to_be_visible(timeout=ANSWER_TIMEOUT)
    expect(widget.input).to_be_focused()

    # Tab moves on to Send; Escape closes the panel and gives focus back to the chat button.
    page.keyboard.press("Tab")
    expect(widget.send_button).to_be_focused()
    page.keyboard.press("Escape")
    expect(widget.panel).to_be_hidden()
    expect(widget.launcher).to_be_focused()
    expect(widget.launcher).to_have_attribute("aria-expanded", "false")

    # Space opens it again, with the conversation still there.
    page.keyboard.press("Space")
    expect(widget.input).to_be_focused()
    expect(widget.bot_says("De frivillige har tavshedspligt")).to_be_visible()

    # The close button is reachable too and works with Enter.
    for _ in range(10):
        page.keyboard.press("Shift+Tab")
        if _focused(page)["label"] == "Luk chatten":
            break
    expect(widget.close_button).to_be_focused()
    page.keyboard.press("Enter")
    expect(widget.panel).to_be_hidden()
    expect(widget.launcher).to_be_focused()


def _no_horizontal_scroll(page: Page) -> None:
    sizes = page.evaluate(
        "() => { const d = document.documentElement, b = document.querySelector('.fbw-body');"
        " return {doc: d.scrollWidth, view: d.clientWidth, body: b ? b.scrollWidth : 0, bodyView: b ? b.clientWidth : 0}; }"
    )
    assert sizes["doc"] <= sizes["view"], sizes
    assert sizes["body"] <= sizes["bodyView"], sizes


def test_320_px_wide(bot: Any, browser: Browser) -> None:
    context = browser.new_context(locale="da-DK", viewport={"width": 320, "height": 640}, has_touch=True)
    try:
        page = context.new_page()
        page.goto(f"{bot.web_url}/")
        widget = Widget(page)
        expect(widget.launcher).to_be_in_viewport()
        _no_horizontal_scroll(page)

        widget.open()
        box = widget.panel.bounding_box()
        assert box is not None and box["x"] == 0 and box["width"] == 320, box
        greet(widget)
        widget.say("https://eksempel.dk/" + "en-meget-lang-adresse-uden-mellemrum-" * 6)
        widget.say("jeg vil gerne melde mig som frivillig", "Hvad hedder du?")
        for title in ("Send", "Luk chatten"):
            expect(widget.panel.get_by_role("button", name=title, exact=True)).to_be_in_viewport()
        expect(widget.input).to_be_in_viewport()
        _no_horizontal_scroll(page)
    finally:
        context.close()


def test_screenshot_of_the_open_widget(bot: Any, context: BrowserContext, artifacts: Path) -> None:
    widget = demo(context, bot.web_url)
    widget.open()
    greet(widget)
    widget.page.screenshot(path=str(artifacts / "widget-open.png"))
    assert (artifacts / "widget-open.png").stat().st_size > 10_000


def test_reconnects_after_a_dropped_connection(bot: Any, context: BrowserContext) -> None:
    """The network drops: a Danish notice, a disabled input; back online: the same conversation goes on."""
    page = context.new_page()
    links = DroppableLinks(page)
    page.goto(f"{bot.web_url}/")
    widget = Widget(page)
    widget.open()
    widget.say("jeg vil gerne melde mig som frivillig", "Hvad hedder du?")
    session = widget.session_id()

    links.drop()
    expect(widget.notice).to_contain_text(OFFLINE_NOTICE)
    expect(widget.input).to_be_disabled()
    expect(widget.send_button).to_be_disabled()

    links.restore()
    expect(widget.notice).to_be_empty(timeout=RECONNECT_TIMEOUT)
    expect(widget.input).to_be_enabled()
    assert len(links.opened) >= 2
    assert widget.session_id() == session
    widget.say("Ronja Nielsen", "e-mailadresse")


@contextmanager
def host_site(html: str, csp: str) -> Iterator[str]:
    """Another website on loopback (a real server: Chromium lets only loopback pages reach loopback servers)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = html.encode() if self.path == "/frivillig" else b"ikke fundet"
            self.send_response(200 if self.path == "/frivillig" else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Security-Policy", csp)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", urlsplit(EMBEDDING_SITE).port or 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{EMBEDDING_SITE}/frivillig"
    finally:
        server.shutdown()
        server.server_close()


def test_one_script_tag_on_another_site_with_a_strict_csp(bot: Any, context: BrowserContext) -> None:
    """A region's site in WIDGET_ORIGINS embeds the widget with one script tag, from another origin and under a strict CSP."""
    web, rasa = bot.web_url, bot.rasa_url
    csp = f"default-src 'none'; script-src {web}; style-src {web}; connect-src ws://{urlsplit(rasa).netloc}; base-uri 'none'; form-action 'none'"
    html = (
        '<!doctype html><html lang="da"><head><meta charset="utf-8"><title>Kommunen</title></head>'
        f'<body><h1>Frivillig i kommunen</h1><script src="{web}/static/widget.js" data-rasa-url="{rasa}" async></script></body></html>'
    )
    page = context.new_page()
    page.add_init_script(
        "window.__violations = []; document.addEventListener('securitypolicyviolation',"
        " e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    with host_site(html, csp) as url:
        page.goto(url)
        widget = Widget(page)
        widget.open()
        expect(widget.panel).to_have_css("position", "fixed")  # the stylesheet came from the widget's own folder
        expect(widget.input).to_have_css("font-size", "16px")
        greet(widget)
        assert page.evaluate("window.__violations") == []
