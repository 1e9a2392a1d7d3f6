"""Storing what the forms collected, and the citizen's own access to it (see, erase)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
import time
from abc import ABC, abstractmethod
from functools import cache
from typing import Iterable, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions.common import channel, form_slots, text, transcript
from actions.forms import summary
from bot.conventions import ERASURE_SLOT, LIVE_CHANNELS
from bot.handoff import notify
from bot.handoff.routing import routing
from bot.knowledge import kb
from bot.settings import settings
from bot.store import LeadStore, open_store, retention
from bot.store.citizens import Erasure
from bot.store.intake import LeadDraft, SaveResult, StoreUnavailable
from bot.store.schema import HANDOFF, SIGNUP, fields_of

log = logging.getLogger(__name__)
SPOOL_FLUSH_SECONDS = 5.0
FILE_RETENTION_SECONDS = 3600.0  # how often this action server clears its own outbox and spool of files past their limits


@cache
def store() -> LeadStore:
    """The lead store of this action server, with a background flush of spooled leads."""
    lead_store = open_store()
    threading.Thread(target=_flush_forever, args=(lead_store,), name="lead-spool-flush", daemon=True).start()
    return lead_store


def _flush_forever(lead_store: LeadStore) -> None:
    next_retention = time.monotonic()
    while True:
        time.sleep(SPOOL_FLUSH_SECONDS)
        try:
            for draft, result in lead_store.intake.flush_spool():
                log.info("Spooled lead %s written to the lead store", result.reference)
                _notify(draft, result)
            if time.monotonic() >= next_retention:
                next_retention = time.monotonic() + FILE_RETENTION_SECONDS
                counts = retention.purge_files(settings(), lead_store.intake)
                if any(counts.values()):
                    lead_store.audit.record(retention.ACTOR, "retention_run", counts=counts)
        except Exception as exc:  # a broken flush must not stop the next one
            log.error("Flushing spooled leads failed: %s", type(exc).__name__)  # never the message: it may quote a lead


def _notify(draft: LeadDraft, result: SaveResult) -> None:
    if not result.created:
        return
    data = {**draft.as_json(), "reference": result.reference}
    try:
        notify.send(data)
    except Exception as exc:
        log.error("Notification for %s failed: %s", result.reference, type(exc).__name__)


def who_and_when(domain: DomainDict, region: str) -> tuple[str, str]:
    """Who will make contact, and when: now in working hours, or when they are back."""
    knowledge = kb()
    router = routing()
    coordinator = router.for_region(region)
    region_name = knowledge.region_name(region)
    if coordinator is None:
        return text(domain, "utter_coordinator_region", region=region_name), text(domain, "utter_contact_when_open")
    now = router.now()
    if coordinator.hours.is_open(now):
        return coordinator.name, text(domain, "utter_contact_when_open")
    back = coordinator.hours.next_opening(now)
    day = knowledge.weekdays[back.weekday()]
    return coordinator.name, text(domain, "utter_contact_when_closed", day=day, time=back.strftime("%H:%M"))


async def save(draft: LeadDraft, notify_now: bool = True) -> SaveResult | None:
    """Store the lead (or spool it) and send the coordinator's e-mail, unless a live chat is offered first."""
    try:
        result = await asyncio.get_running_loop().run_in_executor(None, store().intake.save, draft)
    except StoreUnavailable as exc:
        log.error("Lead could not be stored or spooled: %s", type(exc.__cause__ or exc).__name__)
        return None
    if result.stored and notify_now:
        await asyncio.get_running_loop().run_in_executor(None, _notify, draft, result)
    return result


def draft_from(tracker: Tracker, kind: str) -> LeadDraft:
    """The lead a form of this kind collected: its fields' slots (bot.store.schema.LEAD_FIELDS), the consent and the conversation."""
    values = {f.name: list(tracker.get_slot(f.name) or []) if f.many else (tracker.get_slot(f.name) or "") for f in fields_of(kind)}
    return LeadDraft(
        kind,
        tracker.sender_id,
        channel(tracker),
        consent_at=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0).isoformat(),
        consent_version=kb().consent_version,
        transcript=transcript(tracker),
        **values,
    )


def _forget(slots: Iterable[str]) -> List[EventType]:
    return [SlotSet(slot, None) for slot in slots]


class SubmitLead(Action, ABC):
    """Store what a form collected, after consent, and tell the citizen who will call and when.

    Without consent nothing is stored, and the conversation so far (which holds the answers)
    is deleted at once, as utter_consent_refused says.
    """

    kind: str
    consent_slot: str
    done: str
    queued: str
    updated: str

    @abstractmethod
    def name(self) -> str:
        """Abstract, so that the SDK does not register the base class as an action."""

    def after(self, dispatcher: CollectingDispatcher, draft: LeadDraft) -> None:
        """Anything more to say once the lead is saved."""

    def offers_live(self, draft: LeadDraft) -> bool:
        """Whether the citizen waits for a coordinator in the chat instead of a call (bot.store.live)."""
        return False

    def answered_slots(self) -> list[str]:
        """Forgotten after saving: what only this kind asks, its consent and the misses; name and contact stay for a later handoff."""
        shared = {f.name for f in fields_of(SIGNUP)} & {f.name for f in fields_of(HANDOFF)}
        return [*(f.name for f in fields_of(self.kind) if f.name not in shared), self.consent_slot, "misses"]

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        if tracker.get_slot(self.consent_slot) is not True:
            dispatcher.utter_message(response="utter_consent_refused")
            return [*_forget(form_slots(domain)), SlotSet(ERASURE_SLOT, True)]
        draft = draft_from(tracker, self.kind)
        live = await asyncio.get_running_loop().run_in_executor(None, self.offers_live, draft)
        result = await save(draft, notify_now=not live)
        if result is None:
            dispatcher.utter_message(response="utter_signup_failed")
            return []
        if live and result.created and await asyncio.get_running_loop().run_in_executor(None, store().live.request, result.reference):
            minutes = await asyncio.get_running_loop().run_in_executor(None, store().live.typical_wait_minutes, draft["region"], settings().live_wait_seconds)
            region = kb().region_name(draft["region"])
            dispatcher.utter_message(response="utter_handoff_live", name=draft["name"].split()[0], reference=result.reference, region=region, minutes=minutes)
            return [SlotSet("lead_reference", result.reference), *_forget(self.answered_slots())]
        if live and result.stored:  # not a new case after all: the e-mail goes now, as without a live chat
            await asyncio.get_running_loop().run_in_executor(None, _notify, draft, result)
        who, when = who_and_when(domain, draft["region"])
        response = self.updated if result.updated else self.done if result.stored else self.queued
        dispatcher.utter_message(response=response, name=draft["name"].split()[0], reference=result.reference, who=who, when=when)
        self.after(dispatcher, draft)
        return [SlotSet("lead_reference", result.reference), *_forget(self.answered_slots())]


class ActionSubmitSignup(SubmitLead):
    kind, consent_slot, done, queued, updated = SIGNUP, "consent", "utter_signup_done", "utter_signup_queued", "utter_signup_updated"

    def name(self) -> str:
        return "action_submit_signup"


class ActionSubmitHandoff(SubmitLead):
    kind, consent_slot, done, queued = HANDOFF, "handoff_consent", "utter_handoff_done", "utter_handoff_queued"
    updated = done  # handoffs are never merged (bot.store.intake.DEDUPLICATED_KINDS)

    def name(self) -> str:
        return "action_submit_handoff"

    def offers_live(self, draft: LeadDraft) -> bool:
        """On the widget and Telegram (where a coordinator's message can reach the citizen), within the region's
        coordinator's working hours, while a coordinator of the region has the dashboard's live page open."""
        config = settings()
        if not config.live_chat or draft.channel not in LIVE_CHANNELS:
            return False
        coordinator = routing().for_region(draft["region"])
        if coordinator is None or not coordinator.hours.is_open(routing().now()):
            return False
        try:
            return store().live.on_duty(draft["region"])
        except SQLAlchemyError:
            return False  # the lead store is down: the case is spooled, and the e-mail tells the coordinator

    def after(self, dispatcher: CollectingDispatcher, draft: LeadDraft) -> None:
        """The region's published direct contact, where the documents give one."""
        contact = kb().contacts.get(draft["region"])
        if contact is not None and (contact.phone or contact.email):
            dispatcher.utter_message(response="utter_kb_answer", answer=contact.answer, source=kb().cite(contact.source))


class ActionShowStoredData(Action):
    def name(self) -> str:
        return "action_show_stored_data"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        leads = await asyncio.get_running_loop().run_in_executor(None, store().citizens.for_conversation, tracker.sender_id)
        if not leads:
            dispatcher.utter_message(response="utter_stored_none")
            return []
        for lead in leads:
            dispatcher.utter_message(response="utter_stored_lead", reference=lead["reference"], summary=summary(domain, lead["kind"], lead.get))
        return []


# What the citizen is told an erasure deleted, by the kinds of leads it found; the conversation always goes.
ERASED = {
    (): "utter_erased_nothing",
    (SIGNUP,): "utter_erased_signup",
    (HANDOFF,): "utter_erased_handoff",
    (HANDOFF, SIGNUP): "utter_erased_signup_and_handoff",  # Erasure.kinds() is sorted
}


def erase(conversation_id: str) -> tuple[Erasure, int]:
    """Every copy this action server can reach: the leads, spooled ones, the audit log's name for the citizen, unsent notifications."""
    erasure = store().citizens.erase_conversation(conversation_id)
    return erasure, notify.withdraw(erasure.references())


class ActionEraseData(Action):
    """Delete this sender's data now; the tracker store deletes the conversation when it saves this turn."""

    def name(self) -> str:
        return "action_erase_data"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        try:
            erasure, mails = await asyncio.get_running_loop().run_in_executor(None, erase, tracker.sender_id)
        except SQLAlchemyError as exc:
            log.error("Erasure failed; the citizen is asked to try again: %s", type(exc).__name__)
            dispatcher.utter_message(response="utter_erasure_failed")
            return []
        dispatcher.utter_message(response=ERASED[erasure.kinds()], references=", ".join(erasure.references()))
        log.info("Erased on request: %d leads, %d unsent notifications, %d audit entries made anonymous", len(erasure.leads), mails, erasure.audit_entries)
        return [SlotSet(ERASURE_SLOT, True)]
