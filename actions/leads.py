"""Storing what the forms collected, and the citizen's own access to it (see, erase)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
import time
from abc import ABC, abstractmethod
from functools import cache
from typing import Any, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import channel, text, transcript
from actions.forms import FORM_SLOTS, summary
from bot import notify
from bot.knowledge_base import kb
from bot.leads import LeadDraft, LeadStore, SaveResult, StoreUnavailable, open_store
from bot.routing import routing

log = logging.getLogger(__name__)
SPOOL_FLUSH_SECONDS = 5.0


@cache
def store() -> LeadStore:
    """The lead store of this action server, with a background flush of spooled leads."""
    lead_store = open_store()
    threading.Thread(target=_flush_forever, args=(lead_store,), name="lead-spool-flush", daemon=True).start()
    return lead_store


def _flush_forever(lead_store: LeadStore) -> None:
    while True:
        time.sleep(SPOOL_FLUSH_SECONDS)
        try:
            for draft, result in lead_store.flush_spool():
                log.info("Spooled lead %s written to the lead store", result.reference)
                _notify(draft, result)
        except Exception:  # a broken flush must not stop the next one
            log.exception("Flushing spooled leads failed")


def _notify(draft: LeadDraft, result: SaveResult) -> None:
    if not result.created:
        return
    data = {**draft.__dict__, "reference": result.reference}
    try:
        notify.send(data)
    except Exception:
        log.exception("Notification for %s failed", result.reference)


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


async def save(draft: LeadDraft) -> SaveResult | None:
    try:
        result = await asyncio.get_running_loop().run_in_executor(None, store().save, draft)
    except StoreUnavailable:
        log.exception("Lead could not be stored or spooled")
        return None
    if result.stored:
        await asyncio.get_running_loop().run_in_executor(None, _notify, draft, result)
    return result


def draft_from(tracker: Tracker, kind: str) -> LeadDraft:
    get = tracker.get_slot
    return LeadDraft(
        kind=kind,
        conversation_id=tracker.sender_id,
        channel=channel(tracker),
        name=get("name") or "",
        email=get("email") or "",
        phone=get("phone") or "",
        region=get("region") or "",
        municipality=get("municipality") or "",
        interests=list(get("interests") or []) if kind == "signup" else [],
        availability=(get("availability") or "") if kind == "signup" else "",
        message=(get("message") or "") if kind == "signup" else "",
        question=(get("question") or "") if kind == "handoff" else "",
        consent_at=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0).isoformat(),
        consent_version=kb().consent_version,
        transcript=transcript(tracker),
    )


def _forget(slots: tuple[str, ...]) -> List[EventType]:
    return [SlotSet(slot, None) for slot in slots]


class SubmitLead(Action, ABC):
    """Store what a form collected, after consent, and tell the citizen who will call and when."""

    kind: str
    consent_slot: str
    done: str
    queued: str
    answered_slots: tuple[str, ...]  # forgotten after saving; name and contact stay for a later handoff

    @abstractmethod
    def name(self) -> str:
        """Abstract, so that the SDK does not register the base class as an action."""

    def after(self, dispatcher: CollectingDispatcher, draft: LeadDraft) -> None:
        """Anything more to say once the lead is saved."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        if tracker.get_slot(self.consent_slot) is not True:
            dispatcher.utter_message(response="utter_consent_refused")
            return _forget(FORM_SLOTS)
        draft = draft_from(tracker, self.kind)
        result = await save(draft)
        if result is None:
            dispatcher.utter_message(response="utter_signup_failed")
            return []
        who, when = who_and_when(domain, draft.region)
        dispatcher.utter_message(
            response=self.done if result.stored else self.queued, name=draft.name.split()[0], reference=result.reference, who=who, when=when
        )
        self.after(dispatcher, draft)
        return [SlotSet("lead_reference", result.reference), *_forget(self.answered_slots)]


class ActionSubmitSignup(SubmitLead):
    kind, consent_slot, done, queued = "signup", "consent", "utter_signup_done", "utter_signup_queued"
    answered_slots = ("interests", "availability", "message", "consent", "misses")

    def name(self) -> str:
        return "action_submit_signup"


class ActionSubmitHandoff(SubmitLead):
    kind, consent_slot, done, queued = "handoff", "handoff_consent", "utter_handoff_done", "utter_handoff_queued"
    answered_slots = ("question", "handoff_consent", "misses")

    def name(self) -> str:
        return "action_submit_handoff"

    def after(self, dispatcher: CollectingDispatcher, draft: LeadDraft) -> None:
        """The region's published direct contact, where the documents give one."""
        contact = kb().contacts.get(draft.region)
        if contact is not None and (contact.phone or contact.email):
            dispatcher.utter_message(response="utter_kb_answer", answer=contact.answer, source=kb().cite(contact.source))


class ActionShowStoredData(Action):
    def name(self) -> str:
        return "action_show_stored_data"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        leads = await asyncio.get_running_loop().run_in_executor(None, store().for_conversation, tracker.sender_id)
        if not leads:
            dispatcher.utter_message(response="utter_stored_none")
            return []
        for lead in leads:
            dispatcher.utter_message(response="utter_stored_lead", reference=lead["reference"], summary=stored_summary(domain, lead))
        return []


def stored_summary(domain: DomainDict, lead: dict[str, Any]) -> str:
    class _View:  # summary() reads slots; a stored lead answers the same questions
        def get_slot(self, key: str) -> Any:
            return lead.get(key)

    slots = ["name", "email", "phone", "municipality", "region"] + (["interests", "availability", "message"] if lead["kind"] == "signup" else ["question"])
    return summary(domain, _View(), slots)  # type: ignore[arg-type]


class ActionEraseData(Action):
    """Delete this sender's leads now; the tracker store deletes the conversation when it saves this turn."""

    def name(self) -> str:
        return "action_erase_data"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        count = await asyncio.get_running_loop().run_in_executor(None, store().erase_conversation, tracker.sender_id)
        dispatcher.utter_message(response="utter_erased")
        log.info("Erased %d leads of a conversation on request", count)
        return [SlotSet("erasure_requested", True)]
