"""Live chat in real browsers: a citizen in the widget, coordinators in the dashboard, the real bot between them.

On the `live_bot` (tests/conftest.py): coordinators at work all day, so the tests do not depend on the
clock, and short LIVE_WAIT_SECONDS and LIVE_LEASE_SECONDS, so the fallbacks happen within a test.
Every assertion is on what a citizen or a coordinator sees, or on what was stored.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import sqlalchemy as sa
from conftest import LIVE_LEASE_SECONDS, LIVE_PASSWORD, LIVE_WAIT_SECONDS
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect
from test_widget import ANSWER_TIMEOUT, RECONNECT_TIMEOUT, DroppableLinks, Widget, demo

from bot.store.live import LIVE, WAITING
from bot.store.schema import AuditEntry
from stack import Stack

APPEARS = 5_000  # ms: a new waiting conversation shows on the live page within this (the figure)
ARRIVES = 2_000  # ms: a citizen's message reaches the coordinator's page within this
JOINED = "Du skriver nu med Mette, frivilligkoordinator i Region Midtjylland."
HANDED_BACK = "Mette har givet samtalen tilbage til mig"
FETCHING = "Jeg henter en frivilligkoordinator fra Region Midtjylland"


@pytest.fixture
def contexts(browser: Browser) -> Iterator[list[BrowserContext]]:
    """Fresh browser profiles (a citizen, coordinators), closed after the test."""
    made: list[BrowserContext] = []
    yield made
    for ctx in made:
        ctx.close()


def new_context(browser: Browser, contexts: list[BrowserContext]) -> BrowserContext:
    ctx = browser.new_context(locale="da-DK", viewport={"width": 1280, "height": 900})
    contexts.append(ctx)
    return ctx


def coordinator(browser: Browser, contexts: list[BrowserContext], base: str, email: str) -> Page:
    """A coordinator logged in, on the live chat page: on duty from now on."""
    page = new_context(browser, contexts).new_page()
    page.goto(f"{base}/dashboard/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Adgangskode").fill(LIVE_PASSWORD)
    page.get_by_role("button", name="Log ind").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Overblik")
    page.get_by_role("link", name="Live chat").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Live chat")
    return page


def ask_for_a_person(widget: Widget, name: str, question: str, municipality: str = "Viborg") -> str:
    """The handoff form in the widget, to the consent; returns the case's reference from the bot's answer."""
    widget.open()
    widget.say("kan jeg tale med et rigtigt menneske?", "Hvad hedder du?")
    widget.say(name, "e-mail")
    widget.say(f"{name.split()[0].lower()}@eksempel.dk", "telefon")
    widget.say("spring over", "kommune")
    widget.say(municipality, "tale med koordinatoren om")
    widget.say(question, "Må vi gemme")
    expect(widget.log).to_contain_text("en koordinator kan læse med og svare dig her i chatten")
    answer = widget.say("ja", "Tak")
    match = re.search(r"FRV-\d{4}-[A-Z0-9]{6}", answer.inner_text())
    assert match, answer.inner_text()
    return match.group(0)


SLOW_ANSWER_MS = 3_000  # three of the chat page's polls


def slow_answer(route: Route) -> None:
    """The server does its work at once; its answer reaches the page SLOW_ANSWER_MS later."""
    answer = route.fetch(max_redirects=0)
    time.sleep(SLOW_ANSWER_MS / 1000)
    route.fulfill(response=answer)


def take_over(page: Page, bot: Stack, reference: str, widget: Widget) -> None:
    """The coordinator opens the chat and takes it; the citizen is told who writes now."""
    page.goto(f"{bot.web_url}/dashboard/live/{reference}")
    page.get_by_role("button", name="Tag samtalen").click()
    expect(widget.bot_says(JOINED)).to_be_visible(timeout=ANSWER_TIMEOUT)


def audit_actions(bot: Stack, reference: str) -> list[tuple[str, str, dict[str, Any]]]:
    with bot.store().db.session() as session:
        rows = session.execute(sa.select(AuditEntry).where(AuditEntry.lead_reference == reference).order_by(AuditEntry.id)).scalars()
        return [(row.actor, row.action, dict(row.detail or {})) for row in rows]


def test_a_coordinator_takes_over_the_chat_and_hands_it_back(live_bot: Stack, browser: Browser, contexts: list[BrowserContext], artifacts: Path) -> None:
    mette = coordinator(browser, contexts, live_bot.web_url, "mette@rm.dk")
    expect(mette.get_by_text("Ingen borgere venter lige nu.")).to_be_visible()

    widget = demo(new_context(browser, contexts), live_bot.web_url)
    reference = ask_for_a_person(widget, "Lise Jensen", "Hvordan bliver jeg vejviser på Regionshospitalet Viborg?")
    fetching = widget.bot_says(FETCHING)
    expect(fetching).to_be_visible()
    expect(fetching).to_contain_text("Det plejer at tage under")

    # The waiting conversation appears on the coordinator's page without a reload.
    row = mette.get_by_role("row").filter(has_text=reference)
    expect(row).to_be_visible(timeout=APPEARS)
    expect(row).to_contain_text("Region Midtjylland")
    expect(row).to_contain_text("Hvordan bliver jeg vejviser")
    expect(row).to_contain_text("Venter")
    row.get_by_role("link", name=reference).click()
    log = mette.get_by_role("log", name="Samtalen med borgeren")
    expect(log).to_contain_text("Lise Jensen")  # the transcript so far
    mette.get_by_role("button", name="Tag samtalen").click()
    expect(mette.get_by_text("Du er i chatten.").first).to_be_visible()

    expect(widget.bot_says(JOINED)).to_be_visible(timeout=ANSWER_TIMEOUT)

    # Both ways: the coordinator's message marked as theirs, the citizen's on the coordinator's page within 2 s.
    mette.get_by_label("Din besked til borgeren").fill("Hej Lise! Jeg kan godt hjælpe dig med vejviserrollen.")
    mette.get_by_label("Din besked til borgeren").press("Enter")
    from_mette = widget.log.locator(".fbw-msg--coordinator").filter(has_text="Jeg kan godt hjælpe dig med vejviserrollen")
    expect(from_mette).to_be_visible(timeout=ANSWER_TIMEOUT)
    expect(from_mette).to_contain_text("Mette (frivilligkoordinator) skrev:")
    bot_messages = widget.bot.count()
    widget.input.fill("Tak! Kan jeg starte allerede i januar?")
    widget.input.press("Enter")
    expect(log.locator(".live-line--citizen").filter(has_text="Kan jeg starte allerede i januar?")).to_be_visible(timeout=ARRIVES)
    mette.wait_for_timeout(1500)
    expect(widget.bot).to_have_count(bot_messages)  # the bot stays silent while the coordinator is there
    expect(widget.page.locator(".fbw-typing")).to_be_hidden()

    widget.page.screenshot(path=str(artifacts / "live-chat-widget.png"))
    mette.screenshot(path=str(artifacts / "live-chat-coordinator.png"), full_page=True)

    # A reload keeps the conversation, the coordinator's messages included.
    widget.page.reload()
    expect(widget.panel).to_be_visible()
    expect(widget.log.locator(".fbw-msg--coordinator").filter(has_text="vejviserrollen")).to_contain_text("Mette (frivilligkoordinator) skrev:")

    # The hand-back answers slowly (a loaded server): the page's polls see the chat end first, and must not reload
    # the page over the answer, which carries the coordinator to the list with the message.
    mette.route("**/leave", slow_answer)
    mette.get_by_role("button", name="Giv samtalen tilbage til chatbotten").click()
    expect(mette.get_by_text("Samtalen er givet tilbage til chatbotten.")).to_be_visible(timeout=SLOW_ANSWER_MS + 5_000)
    expect(mette.get_by_role("heading", level=1)).to_have_text("Live chat")
    expect(widget.bot_says(HANDED_BACK)).to_be_visible(timeout=ANSWER_TIMEOUT)
    widget.say("har frivillige tavshedspligt?", "tavshedspligt")

    actions = [action for actor, action, _ in audit_actions(live_bot, reference) if actor == "mette@rm.dk"]
    assert {"live_joined", "live_message", "live_left"} <= set(actions), actions
    lead = live_bot.store().cases.get(_admin(), reference)
    assert lead is not None and lead.status == "ny" and lead.live_state == "ended"


def _admin() -> Any:
    from bot.store.casework import Viewer

    return Viewer("test", "admin", ())


def test_one_chat_one_coordinator_and_other_regions_see_nothing(live_bot: Stack, browser: Browser, contexts: list[BrowserContext]) -> None:
    mette = coordinator(browser, contexts, live_bot.web_url, "mette@rm.dk")
    karen = coordinator(browser, contexts, live_bot.web_url, "karen@rm.dk")
    ole = coordinator(browser, contexts, live_bot.web_url, "ole@rn.dk")
    widget = demo(new_context(browser, contexts), live_bot.web_url)
    reference = ask_for_a_person(widget, "Peter Hansen", "Hvad laver en frivillig ledsager?")
    chat_url = f"{live_bot.web_url}/dashboard/live/{reference}"

    expect(karen.get_by_role("row").filter(has_text=reference)).to_be_visible(timeout=APPEARS)
    widget.say("mens jeg venter: jeg vil gerne melde mig som frivillig", "Hvor dejligt, at du vil være frivillig")  # a form, open when Mette joins
    karen.goto(chat_url)  # Karen opens the chat too, before anyone took it
    expect(karen.get_by_role("button", name="Tag samtalen")).to_be_visible()
    mette.goto(chat_url)
    mette.get_by_role("button", name="Tag samtalen").click()
    expect(mette.get_by_text("Du er i chatten.").first).to_be_visible()

    # Karen's page shows the truth within a moment, and her own join is refused.
    expect(karen.get_by_text("Mette Midtjylland er i chatten med borgeren.")).to_be_visible(timeout=ARRIVES * 2)
    token = karen.locator("input[name=csrf_token]").first.get_attribute("value")
    refused = karen.request.post(f"{chat_url}/join", form={"csrf_token": token or ""}, headers={"Accept": "application/json"})
    assert refused.status == 409
    said = karen.request.post(f"{chat_url}/say", form={"csrf_token": token or "", "text": "Hej fra Karen"}, headers={"Accept": "application/json"})
    assert said.status == 409
    expect(widget.log).not_to_contain_text("Hej fra Karen")

    # Another region's coordinator: not in the list, and the chat is not found at all.
    ole.wait_for_timeout(2500)
    expect(ole.get_by_role("row").filter(has_text=reference)).to_have_count(0)
    assert ole.request.get(chat_url).status == 404
    ole_token = ole.locator("input[name=csrf_token]").first.get_attribute("value")
    assert ole.request.post(f"{chat_url}/join", form={"csrf_token": ole_token or ""}).status == 404
    assert ole.request.get(f"{chat_url}/events?after=0").status == 404
    mette.get_by_role("button", name="Giv samtalen tilbage til chatbotten").click()
    expect(widget.bot_says(HANDED_BACK)).to_be_visible(timeout=ANSWER_TIMEOUT)
    # The sign-up form does not resume by itself: the next question is answered, not taken as a name.
    widget.say("har frivillige tavshedspligt?", "tavshedspligt")
    expect(widget.bot.last).not_to_contain_text("e-mail")


def test_when_the_coordinators_page_goes_away_the_bot_takes_the_chat_back(live_bot: Stack, browser: Browser, contexts: list[BrowserContext]) -> None:
    mette = coordinator(browser, contexts, live_bot.web_url, "mette@rm.dk")
    widget = demo(new_context(browser, contexts), live_bot.web_url)
    reference = ask_for_a_person(widget, "Hanne Holm", "Må jeg tage min hund med?")
    take_over(mette, live_bot, reference, widget)

    mette.context.close()  # the tab, the browser, the network: gone
    expect(widget.bot_says(HANDED_BACK)).to_be_visible(timeout=(LIVE_LEASE_SECONDS + 10) * 1000)
    widget.say("har frivillige tavshedspligt?", "tavshedspligt")
    lead = live_bot.store().cases.get(_admin(), reference)
    assert lead is not None and lead.status == "ny" and lead.live_state == "ended"  # the case stays open
    assert ("system:live", "live_left", {"reason": "page_gone"}) in audit_actions(live_bot, reference)


def test_nobody_takes_the_chat_in_time_so_it_becomes_a_case_and_a_mail(live_bot: Stack, browser: Browser, contexts: list[BrowserContext], mailbox: Any) -> None:
    coordinator(browser, contexts, live_bot.web_url, "karen@rm.dk")  # on duty, but busy elsewhere
    widget = demo(new_context(browser, contexts), live_bot.web_url)
    reference = ask_for_a_person(widget, "Bo Berg", "Kan man være frivillig om aftenen?")
    assert live_bot.store().cases.get(_admin(), reference).live_state == WAITING  # type: ignore[union-attr]
    assert not mailbox.with_header("X-Lead-Reference", reference)  # no mail while a coordinator may still come
    missed = widget.bot_says("Der var desværre ingen koordinator ledig lige nu")
    expect(missed).to_be_visible(timeout=(LIVE_WAIT_SECONDS + 10) * 1000)
    expect(missed).to_contain_text(reference)
    assert mailbox.with_header("X-Lead-Reference", reference)
    widget.say("har frivillige tavshedspligt?", "tavshedspligt")  # and the bot answers as before


def test_an_erasure_request_during_a_live_chat_is_highlighted_and_answered_on_hand_back(
    live_bot: Stack, browser: Browser, contexts: list[BrowserContext]
) -> None:
    mette = coordinator(browser, contexts, live_bot.web_url, "mette@rm.dk")
    widget = demo(new_context(browser, contexts), live_bot.web_url)
    reference = ask_for_a_person(widget, "Ida Isaksen", "Hvor meget tid skal jeg bruge?")
    take_over(mette, live_bot, reference, widget)
    assert live_bot.store().cases.get(_admin(), reference).live_state == LIVE  # type: ignore[union-attr]

    # Deleting the case under a live chat is refused.
    mette.goto(f"{live_bot.web_url}/dashboard/leads/{reference}")
    mette.get_by_role("button", name="Slet").first.click()
    expect(mette.get_by_text("Giv samtalen tilbage til chatbotten, før du sletter henvendelsen.")).to_be_visible()
    mette.goto(f"{live_bot.web_url}/dashboard/live/{reference}")

    widget.input.fill("slet mine oplysninger")
    widget.input.press("Enter")
    alert = mette.locator(".live-line--alert").filter(has_text="slet mine oplysninger")
    expect(alert).to_be_visible(timeout=ARRIVES * 2)
    expect(alert).to_contain_text("Vigtigt")
    mette.get_by_role("button", name="Giv samtalen tilbage til chatbotten").click()
    expect(widget.bot_says(HANDED_BACK)).to_be_visible(timeout=ANSWER_TIMEOUT)
    # The bot answers what it could not while it was silent: it asks to confirm the erasure.
    expect(widget.bot_says("Skal jeg slette alt")).to_be_visible(timeout=ANSWER_TIMEOUT)
    widget.say("ja", "slettet")
    assert live_bot.store().cases.get(_admin(), reference) is None


def test_a_dropped_connection_misses_nothing_and_the_coordinator_closes_the_case_with_a_status(
    live_bot: Stack, browser: Browser, contexts: list[BrowserContext]
) -> None:
    mette = coordinator(browser, contexts, live_bot.web_url, "mette@rm.dk")
    page = new_context(browser, contexts).new_page()
    links = DroppableLinks(page)
    page.goto(f"{live_bot.web_url}/")
    widget = Widget(page)
    reference = ask_for_a_person(widget, "Karl Krogh", "Hvornår er der introduktion?")
    take_over(mette, live_bot, reference, widget)

    links.drop()  # the citizen's network drops
    expect(widget.notice).to_contain_text("Forbindelsen til chatten er afbrudt")
    mette.get_by_label("Din besked til borgeren").fill("Introduktionen er den første tirsdag i måneden.")
    mette.get_by_label("Din besked til borgeren").press("Enter")
    expect(mette.get_by_role("log").filter(has_text="Introduktionen er den første tirsdag")).to_be_visible(timeout=ARRIVES * 2)

    links.restore()  # back: the widget reconnects and gets what it missed, once
    message = widget.log.locator(".fbw-msg--coordinator").filter(has_text="Introduktionen er den første tirsdag i måneden.")
    expect(message).to_be_visible(timeout=RECONNECT_TIMEOUT)
    expect(widget.bot_says(JOINED)).to_have_count(1)
    page.reload()
    expect(message).to_have_count(1)

    # Closing the chat with a status: the bot takes over again, and the case has its new status.
    mette.get_by_label("Afslut chatten og sæt sagens status").select_option(label="Kontaktet")
    mette.get_by_role("button", name="Afslut", exact=True).click()
    expect(mette.get_by_text("Chatten er afsluttet, og sagen har fået sin nye status.")).to_be_visible()
    expect(widget.bot_says(HANDED_BACK)).to_be_visible(timeout=ANSWER_TIMEOUT)
    lead = live_bot.store().cases.get(_admin(), reference)
    assert lead is not None and lead.status == "kontaktet" and lead.live_state == "ended"


def test_a_restart_during_a_live_chat_ends_it_for_the_coordinator(live_bot: Stack, browser: Browser, contexts: list[BrowserContext]) -> None:
    """A restart (and a session expiry, which un-pauses Rasa the same way) never leaves the citizen with a silent bot."""
    mette = coordinator(browser, contexts, live_bot.web_url, "mette@rm.dk")
    widget = demo(new_context(browser, contexts), live_bot.web_url)
    reference = ask_for_a_person(widget, "Jens Juhl", "Hvad er en patientvenne?")
    take_over(mette, live_bot, reference, widget)

    widget.input.fill("/restart")
    widget.input.press("Enter")
    expect(mette.get_by_text("Chatbotten svarer borgeren.")).to_be_visible(timeout=ARRIVES * 3)
    widget.say("har frivillige tavshedspligt?", "tavshedspligt")  # the bot answers again
    assert live_bot.store().cases.get(_admin(), reference).live_state == "ended"  # type: ignore[union-attr]


def test_the_live_chat_pages_and_the_widget_in_a_live_chat_are_accessible_and_work_by_keyboard(
    live_bot: Stack, browser: Browser, contexts: list[BrowserContext]
) -> None:
    """axe-core's WCAG 2.1 A/AA check on every live chat page and on the widget during a live chat (with the CSP
    bypassed so axe can be injected; the other tests keep the CSP), and the coordinator's side by keyboard alone."""
    from test_accessibility import assert_accessible

    def axe_context() -> BrowserContext:
        ctx = browser.new_context(locale="da-DK", viewport={"width": 1280, "height": 900}, bypass_csp=True)
        contexts.append(ctx)
        return ctx

    mette = axe_context().new_page()
    mette.goto(f"{live_bot.web_url}/dashboard/login")
    mette.get_by_label("E-mail").fill("mette@rm.dk")
    mette.get_by_label("Adgangskode").fill(LIVE_PASSWORD)
    mette.get_by_label("Adgangskode").press("Enter")
    expect(mette.get_by_role("heading", level=1)).to_have_text("Overblik")
    mette.goto(f"{live_bot.web_url}/dashboard/live")
    assert_accessible(mette, "the live chat page without waiting citizens")

    widget = demo(axe_context(), live_bot.web_url)
    reference = ask_for_a_person(widget, "Asta Andersen", "Kan jeg læse højt for patienter?")
    row = mette.get_by_role("row").filter(has_text=reference)
    expect(row).to_be_visible(timeout=APPEARS)
    assert_accessible(mette, "the live chat page with a waiting citizen")

    # By keyboard: the link to the chat, the join button, the message field, the hand-back.
    row.get_by_role("link", name=reference).focus()
    mette.keyboard.press("Enter")
    expect(mette.get_by_role("heading", level=1)).to_contain_text("Chat med borgeren")
    assert_accessible(mette, "a waiting chat")
    mette.get_by_role("button", name="Tag samtalen").focus()
    mette.keyboard.press("Enter")
    expect(widget.bot_says(JOINED)).to_be_visible(timeout=ANSWER_TIMEOUT)
    log = mette.get_by_role("log", name="Samtalen med borgeren")
    expect(log).to_have_attribute("aria-live", "polite")
    field = mette.get_by_label("Din besked til borgeren")
    field.focus()
    mette.keyboard.type("Ja, det kan du sagtens.")
    mette.keyboard.press("Enter")
    expect(widget.log.locator(".fbw-msg--coordinator").filter(has_text="Ja, det kan du sagtens.")).to_be_visible(timeout=ANSWER_TIMEOUT)
    expect(field).to_be_focused()
    widget.input.fill("slet mine oplysninger")
    widget.input.press("Enter")
    expect(log.locator(".live-line--alert")).to_be_visible(timeout=ARRIVES * 2)
    assert_accessible(mette, "a chat the coordinator is in, with a highlighted message")
    assert_accessible(widget.page, "the chat widget during a live chat")
    expect(widget.log).to_have_attribute("aria-live", "polite")

    for _ in range(6):
        mette.keyboard.press("Tab")
        if mette.evaluate("document.activeElement.textContent.trim()") == "Giv samtalen tilbage til chatbotten":
            break
    mette.keyboard.press("Enter")
    expect(widget.bot_says(HANDED_BACK)).to_be_visible(timeout=ANSWER_TIMEOUT)
    expect(mette.get_by_text("Samtalen er givet tilbage til chatbotten.")).to_be_visible()
    assert_accessible(mette, "the live chat page after a hand-back")
