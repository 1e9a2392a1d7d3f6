"""WCAG 2.1 A and AA, checked by axe-core in a real headless Chromium against the real bot.

axe-core comes from the widget's npm packages (bot/web/node_modules, a dev dependency that is never served)
and is injected into each page as it stands: the chat widget closed, open and in a conversation, the privacy
notice, and every dashboard page a coordinator or an administrator uses. A violation fails the test with the
rule, its impact, the elements and axe's advice. Axe cannot judge everything a keyboard or screen reader user
meets, so the widget's keyboard use and its live region are checked here by hand as well.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from bot.conventions import PRIVACY_PATH
from bot.knowledge import kb
from bot.settings import ROOT
from bot.store.intake import LeadDraft

AXE = ROOT / "bot" / "web" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
ANSWER_TIMEOUT = 20_000  # ms: one bot answer (NLU, policies and the action server)
PASSWORD = "tilgaengelig-kode-1"
QUESTION = "hvad laver en vejviser"
NOT_UNDERSTOOD = "asdfgh qwerty"
OPEN_LABEL = "Åbn chatten med Frivilligbotten"


@pytest.fixture(scope="module", autouse=True)
def axe_installed() -> None:
    if not AXE.is_file():
        pytest.fail(f"{AXE.relative_to(ROOT)} is missing: cd bot/web && npm ci (make setup)")


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(locale="da-DK", viewport={"width": 1280, "height": 900}, bypass_csp=True)  # the dashboard's CSP forbids the injected axe
    yield ctx
    ctx.close()


def violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A/AA violations on the page as it is now."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE))
    return page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}}).then(r => r.violations)", WCAG_21_AA)


def report(found: list[dict[str, Any]]) -> str:
    lines = []
    for rule in found:
        lines.append(f"{rule['id']} ({rule['impact']}): {rule['help']} – {rule['helpUrl']}")
        for node in rule["nodes"][:5]:
            lines.append(f"    {' '.join(map(str, node['target']))}: {node.get('failureSummary', '').splitlines()[-1].strip()}")
        if len(rule["nodes"]) > 5:
            lines.append(f"    … and {len(rule['nodes']) - 5} more")
    return "\n".join(lines)


def assert_accessible(page: Page, what: str) -> None:
    found = violations(page)
    assert not found, f"WCAG 2.1 A/AA violations on {what} ({page.url}):\n{report(found)}"


def test_axe_finds_what_it_should(context: BrowserContext) -> None:
    """The check itself: a page with known faults fails it, with every fault named."""
    page = context.new_page()
    page.set_content(
        "<!doctype html><html><head><title>Fejl</title></head><body><main><h1>Fejl</h1>"
        '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="><input type="text"><button></button>'
        '<p style="color:#aaa;background:#fff">Lys grå tekst</p></main></body></html>'
    )
    found = {rule["id"] for rule in violations(page)}
    assert {"html-has-lang", "image-alt", "label", "button-name", "color-contrast"} <= found, found
    with pytest.raises(AssertionError, match="image-alt"):
        assert_accessible(page, "a faulty page")


# --------------------------------------------------------------------------- the chat widget


class Widget:
    def __init__(self, page: Page) -> None:
        self.page = page
        self.launcher = page.get_by_role("button", name=OPEN_LABEL)
        self.panel = page.get_by_role("dialog", name="Frivilligbotten")
        self.log = page.get_by_role("log")
        self.input = page.get_by_label("Skriv din besked")
        self.send_button = self.panel.get_by_role("button", name="Send", exact=True)
        self.bot = self.log.locator(".fbw-msg--bot")


def demo(context: BrowserContext, web_url: str) -> Widget:
    page = context.new_page()
    page.goto(f"{web_url}/")
    widget = Widget(page)
    expect(widget.launcher).to_be_visible()
    return widget


def test_the_demo_page_with_the_widget_closed(bot: Any, context: BrowserContext) -> None:
    widget = demo(context, bot.web_url)
    expect(widget.panel).to_be_hidden()
    assert_accessible(widget.page, "the demo page with the chat widget closed")


def test_the_widget_open(bot: Any, context: BrowserContext) -> None:
    widget = demo(context, bot.web_url)
    widget.launcher.click()
    expect(widget.input).to_be_focused()
    expect(widget.panel.locator(".fbw-status")).to_be_empty()  # connected: the panel as a citizen first sees it
    assert_accessible(widget.page, "the open chat widget")


def test_the_widget_in_a_conversation(bot: Any, context: BrowserContext) -> None:
    widget = demo(context, bot.web_url)
    widget.launcher.click()
    widget.input.fill("hej")
    widget.input.press("Enter")
    expect(widget.log.get_by_role("group", name="Svarmuligheder").get_by_role("button").first).to_be_visible(timeout=ANSWER_TIMEOUT)
    assert_accessible(widget.page, "the chat widget with the greeting and its quick replies")

    widget.input.fill(QUESTION)
    widget.input.press("Enter")
    expect(widget.bot.filter(has_text="vejviser")).to_be_visible(timeout=ANSWER_TIMEOUT)
    assert_accessible(widget.page, "the chat widget with an answer")


@pytest.mark.parametrize("width", [1280, 320])
def test_a_long_conversation_without_links(bot: Any, browser: Browser, width: int) -> None:
    """Earlier messages can be scrolled back to by keyboard, also when none of them holds a link or a button."""
    context = browser.new_context(locale="da-DK", viewport={"width": width, "height": 640}, bypass_csp=True)
    try:
        widget = demo(context, bot.web_url)
        page = widget.page
        widget.launcher.click()
        widget.input.fill("hej")
        widget.input.press("Enter")
        expect(widget.bot.first).to_be_visible(timeout=ANSWER_TIMEOUT)
        # A long transcript as the widget keeps it; a reload draws it again.
        session = json.loads(page.evaluate("sessionStorage.getItem('frivilligbotten:session')"))["id"]
        entries = [{"who": ("user", "bot")[i % 2], "text": f"Besked nummer {i}, en almindelig sætning uden links.", "replies": []} for i in range(30)]
        page.evaluate("t => sessionStorage.setItem('frivilligbotten:transcript', JSON.stringify(t))", {"session": session, "entries": entries})
        page.reload()
        widget = Widget(page)
        expect(widget.bot).to_have_count(15)
        assert_accessible(page, f"the chat widget with a long conversation, {width} px wide")

        messages = widget.panel.get_by_role("region", name="Beskeder")
        widget.input.focus()  # after a reload the panel is open, but focus stays on the page
        for _ in range(5):
            page.keyboard.press("Shift+Tab")
            if messages.evaluate("m => m === document.activeElement"):
                break
        expect(messages).to_be_focused()
        first, last = widget.log.get_by_text("Besked nummer 0,"), widget.log.get_by_text("Besked nummer 29,")
        page.keyboard.press("End")
        expect(last).to_be_in_viewport()
        expect(first).not_to_be_in_viewport()
        page.keyboard.press("Home")
        expect(first).to_be_in_viewport()
        expect(last).not_to_be_in_viewport()
    finally:
        context.close()


def _focused_label(page: Page) -> str | None:
    return page.evaluate("document.activeElement && document.activeElement.getAttribute('aria-label')")


def test_the_widget_by_keyboard_alone(bot: Any, context: BrowserContext) -> None:
    """Tab to the chat button, Enter opens it, type and Enter sends, the answer arrives, Escape closes."""
    widget = demo(context, bot.web_url)
    page = widget.page
    for _ in range(40):
        page.keyboard.press("Tab")
        if _focused_label(page) == OPEN_LABEL:
            break
    expect(widget.launcher).to_be_focused()
    # The focused button is visibly marked (WCAG 2.4.7): an outline of its own, not the browser's default.
    assert widget.launcher.evaluate("b => getComputedStyle(b).outlineStyle") == "solid"

    page.keyboard.press("Enter")
    expect(widget.panel).to_be_visible()
    expect(widget.input).to_be_focused()
    page.keyboard.type(QUESTION)
    page.keyboard.press("Enter")
    expect(widget.log.locator(".fbw-msg--user").last).to_have_text(f"Du skrev: {QUESTION}")
    expect(widget.bot.filter(has_text="vejviser")).to_be_visible(timeout=ANSWER_TIMEOUT)
    expect(widget.input).to_be_focused()

    page.keyboard.press("Tab")
    expect(widget.send_button).to_be_focused()
    page.keyboard.press("Escape")
    expect(widget.panel).to_be_hidden()
    expect(widget.launcher).to_be_focused()
    expect(widget.launcher).to_have_attribute("aria-expanded", "false")


def test_new_messages_are_announced(bot: Any, context: BrowserContext) -> None:
    """The messages go into a polite live region that is on the page before they arrive, so screen readers read each new one."""
    widget = demo(context, bot.web_url)
    page = widget.page
    live = page.get_by_role("log", include_hidden=True)  # already there while the panel is closed
    expect(live).to_have_count(1)
    expect(live).to_have_attribute("aria-live", "polite")
    # Record what is added to the live region from now on: that is what a screen reader announces.
    page.evaluate(
        "() => { window.__announced = []; new MutationObserver(records => { for (const r of records)"
        " for (const n of r.addedNodes) window.__announced.push(n.textContent); })"
        ".observe(document.querySelector('[role=log][aria-live=polite]'), {childList: true, subtree: true}); }"
    )
    widget.launcher.click()
    expect(widget.log).to_have_accessible_name("Samtalen med Frivilligbotten")
    widget.input.fill(QUESTION)
    widget.input.press("Enter")
    expect(widget.bot.filter(has_text="vejviser")).to_be_visible(timeout=ANSWER_TIMEOUT)
    answer = widget.bot.filter(has_text="vejviser").first.evaluate("m => m.textContent")
    announced = page.evaluate("window.__announced")
    assert f"Du skrev: {QUESTION}" in announced, announced
    assert answer.startswith("Frivilligbotten skrev:") and "vejviser" in answer, answer
    assert answer in announced, announced


# --------------------------------------------------------------------------- public pages


def test_the_privacy_notice(bot: Any, context: BrowserContext) -> None:
    page = context.new_page()
    page.goto(f"{bot.web_url}{PRIVACY_PATH}")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert_accessible(page, "the privacy notice")


# --------------------------------------------------------------------------- the dashboard


@pytest.fixture(scope="module")
def dashboard(bot: Any) -> dict[str, str]:
    """An administrator, a coordinator for Midtjylland, a lead of theirs with a note and a question the bot did not understand."""
    suffix = uuid.uuid4().hex[:8]
    store = bot.store()
    admin, coordinator = f"admin-{suffix}@regionh.dk", f"koordinator-{suffix}@rm.dk"
    store.accounts.add(admin, "Asta Admin", "admin", [], PASSWORD)
    store.accounts.add(coordinator, "Karla Koordinator", "coordinator", ["midtjylland"], PASSWORD)
    draft = LeadDraft(
        "signup",
        f"a11y-{suffix}",
        "socketio",
        name="Tilde Tilgængelig",
        email=f"tilde-{suffix}@eksempel.dk",
        phone="+45 20 30 40 50",
        region="midtjylland",
        municipality="Viborg",
        interests=["vejviser"],
        availability="Hverdage efter kl. 16",
        message="Jeg har god tid",
        consent_at="2026-11-20T10:00:00",
        consent_version=kb().consent_version,
        transcript=[{"who": "borger", "text": "Kan jeg blive vejviser i Viborg?", "at": 1795000000.0}],
    )
    reference = store.intake.save(draft).reference
    bot.say(f"a11y-{suffix}", NOT_UNDERSTOOD)
    return {"admin": admin, "coordinator": coordinator, "reference": reference}


def login(context: BrowserContext, web_url: str, email: str) -> Page:
    page = context.new_page()
    page.goto(f"{web_url}/dashboard/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Adgangskode").fill(PASSWORD)
    page.get_by_role("button", name="Log ind").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Overblik")
    return page


def test_the_login_page(bot: Any, dashboard: dict[str, str], context: BrowserContext) -> None:
    page = context.new_page()
    page.goto(f"{bot.web_url}/dashboard/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Log ind")
    assert_accessible(page, "the login page")

    page.get_by_label("E-mail").fill(dashboard["coordinator"])
    page.get_by_label("Adgangskode").fill("forkert-kode-123")
    page.get_by_role("button", name="Log ind").click()
    expect(page.get_by_role("alert")).to_contain_text("Forkert e-mail eller adgangskode")
    assert_accessible(page, "the login page with an error")


@pytest.mark.parametrize("role", ["admin", "coordinator"])
def test_the_overview(bot: Any, dashboard: dict[str, str], context: BrowserContext, role: str) -> None:
    page = login(context, bot.web_url, dashboard[role])
    if role == "admin":  # the list of questions the bot did not understand has a row
        expect(page.locator("#uforstaaet").locator("xpath=..")).to_contain_text(NOT_UNDERSTOOD)
    assert_accessible(page, f"the overview ({role})")


@pytest.mark.parametrize("role", ["admin", "coordinator"])
def test_the_lead_list_with_a_filter(bot: Any, dashboard: dict[str, str], context: BrowserContext, role: str) -> None:
    page = login(context, bot.web_url, dashboard[role])
    page.get_by_role("link", name="Henvendelser", exact=True).click()
    page.get_by_label("Søg").fill("Tilde")
    page.get_by_label("Status").select_option(label="Ny")
    page.get_by_role("button", name="Filtrér").click()
    expect(page.locator("table.leads")).to_contain_text(dashboard["reference"])
    assert_accessible(page, f"the filtered lead list ({role})")

    page.get_by_label("Fra dato").fill("2000-01-02")
    page.get_by_label("Til dato").fill("2000-01-01")
    page.get_by_role("button", name="Filtrér").click()
    expect(page.get_by_role("status")).to_contain_text("Ingen henvendelser")
    assert_accessible(page, f"the lead list with no matches ({role})")


@pytest.mark.parametrize("role", ["admin", "coordinator"])
def test_a_lead(bot: Any, dashboard: dict[str, str], context: BrowserContext, role: str) -> None:
    page = login(context, bot.web_url, dashboard[role])
    page.goto(f"{bot.web_url}/dashboard/leads/{dashboard['reference']}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Tilde Tilgængelig")
    expect(page.locator(".transcript")).to_contain_text("Kan jeg blive vejviser i Viborg?")
    assert_accessible(page, f"a lead ({role})")

    page.get_by_label("Ny note").fill("Ringet op, møder på fredag.")
    page.get_by_role("button", name="Gem note").click()
    expect(page.get_by_role("status")).to_contain_text("Noten er gemt.")
    assert_accessible(page, f"a lead with a note and a message ({role})")

    page.get_by_role("button", name="Slet henvendelsen …").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Vil du slette henvendelsen?")
    assert_accessible(page, f"the confirmation before deleting a lead ({role})")


def test_the_password_page(bot: Any, dashboard: dict[str, str], context: BrowserContext) -> None:
    page = login(context, bot.web_url, dashboard["coordinator"])
    page.get_by_role("link", name="Skift adgangskode").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Skift adgangskode")
    assert_accessible(page, "the password page")

    page.get_by_label("Nuværende adgangskode").fill(PASSWORD)
    page.get_by_label("Ny adgangskode").fill("en helt ny adgangskode")
    page.get_by_label("Gentag den nye adgangskode").fill("en anden ny adgangskode")
    page.get_by_role("button", name="Skift adgangskode").click()
    expect(page.get_by_role("alert")).to_be_visible()
    assert_accessible(page, "the password page with an error")


def test_the_audit_log(bot: Any, dashboard: dict[str, str], context: BrowserContext) -> None:
    page = login(context, bot.web_url, dashboard["admin"])
    page.get_by_role("link", name="Revisionslog").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Revisionslog")
    expect(page.locator("table.audit tbody tr").first).to_be_visible()
    assert_accessible(page, "the audit log")


@pytest.mark.parametrize("path", ["/dashboard/findes-ikke", "/dashboard/audit"], ids=["404", "403"])
def test_the_error_pages(bot: Any, dashboard: dict[str, str], context: BrowserContext, path: str) -> None:
    page = login(context, bot.web_url, dashboard["coordinator"])
    response = page.goto(f"{bot.web_url}{path}")
    assert response is not None and response.status in (403, 404)
    assert_accessible(page, f"the error page {response.status}")
