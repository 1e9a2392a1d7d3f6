"""The coordinators' live chat: the waiting conversations of their regions, and a chat with one citizen.

- /dashboard/live lists the handoff cases of the viewer's regions that wait for a coordinator or are in
  a chat, refreshed every few seconds by live.js (without scripts, by reloading). Having it open is
  what puts a coordinator on duty (bot.store.live.ON_DUTY).
- /dashboard/live/<reference> is one chat: the conversation so far, then the citizen's new messages
  as they arrive (live.js asks /events every second, which also renews the coordinator's lease).
  Joining is atomic (two coordinators cannot both get a chat); writing, handing back and closing the
  case go to Rasa's live route (bot/rasa_server/live.py) and into the audit log.
- A sweeper thread hands back the chats whose coordinator's page went away (LIVE_LEASE_SECONDS) and
  turns the requests nobody took in time (LIVE_WAIT_SECONDS) into the ordinary case and e-mail.

Another region's case is not found (404), whatever the request; a conversation is always named by
its lead's reference, never by a sender id from the browser.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from typing import Any

import requests
import sqlalchemy as sa
from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from bot.conventions import LIVE_ALERT_INTENTS, LIVE_CHANNELS, LIVE_PURPOSE, LIVE_TOKEN_HEADER
from bot.knowledge import kb
from bot.settings import Settings
from bot.store import LeadStore, conversations
from bot.store.export import lead_dict
from bot.store.live import LIVE, LiveChat
from bot.store.schema import TRANSITIONS, utcnow
from bot.web.auth import current, login_required, viewer
from bot.web.state import config, store

log = logging.getLogger(__name__)
bp = Blueprint("live", __name__, url_prefix="/dashboard/live")

RASA_TIMEOUT = 10.0
MAX_TEXT = 2000
SWEEP_SECONDS = 2.0
SHOWN_EVENTS = ("user", "bot", "session_started", "restart")
# Whether the bot was silent: only what a citizen wrote then is marked as something the bot would have acted on.
PAUSED_AFTER = {"pause": True, "resume": False, "session_started": False, "restart": False}
# The live pages run one script of their own (static/live.js) and ask only this server.
LIVE_CSP = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class RasaUnavailable(Exception):
    """Rasa's live route did not answer."""


def rasa(settings: Settings, operation: str, **body: Any) -> tuple[int, dict[str, Any]]:
    """Call Rasa's live route (through the load balancer when there is one): its status and JSON answer."""
    try:
        answer = requests.post(
            f"{settings.rasa_base_url}/webhooks/live/{operation}",
            json=body,
            headers={LIVE_TOKEN_HEADER: settings.derived_secret(LIVE_PURPOSE)},
            timeout=RASA_TIMEOUT,
        )
    except requests.RequestException as exc:
        raise RasaUnavailable(type(exc).__name__) from exc
    try:
        data = answer.json()
    except ValueError:
        data = {}
    if answer.status_code >= 500:
        raise RasaUnavailable(str(answer.status_code))
    return answer.status_code, data if isinstance(data, dict) else {}


def first_name(name: str) -> str:
    return (name.split() or [""])[0]


def _chat_or_404(reference: str) -> LiveChat:
    chat = store().live.get(viewer(), reference)
    if chat is None:
        abort(404)
    return chat


def _waited(chat: LiveChat) -> int:
    return max(0, int((utcnow() - chat.requested_at).total_seconds())) if chat.requested_at else 0


def _chat_json(chat: LiveChat) -> dict[str, Any]:
    return {
        "reference": chat.reference,
        "region": kb().region_name(chat.region) if chat.region else "",
        "state": chat.state,
        "by": chat.by_name,
        "waited": _waited(chat),
        "question": chat.question[:300],
        "url": url_for("live.chat", reference=chat.reference),
    }


def transcript(conversation_id: str, after: int = 0) -> list[dict[str, Any]]:
    """The conversation's messages after event `after`, as the live page shows them; what the bot would have acted on,
    had it not been silent, is marked."""
    if not conversation_id or not conversations.tracker_exists(config().tracker_url):
        return []
    table = conversations.events
    mine = table.c.sender_id == conversation_id
    query = (
        sa.select(table.c.id, table.c.type_name, table.c.intent_name, table.c.timestamp, table.c.data)
        .where(mine, table.c.id > after, table.c.type_name.in_((*SHOWN_EVENTS, *PAUSED_AFTER)))
        .order_by(table.c.id)
    )
    lines: list[dict[str, Any]] = []
    with conversations.engine(config().tracker_url).connect() as connection:
        paused = False
        if after:
            latest = sa.select(table.c.type_name).where(mine, table.c.id <= after, table.c.type_name.in_(PAUSED_AFTER))
            paused = PAUSED_AFTER.get(connection.execute(latest.order_by(table.c.id.desc()).limit(1)).scalar() or "", False)
        for row in connection.execute(query):
            paused = PAUSED_AFTER.get(row.type_name, paused)
            if row.type_name not in SHOWN_EVENTS:
                continue
            data = json.loads(row.data or "{}")
            line: dict[str, Any] = {"id": row.id, "at": row.timestamp}
            if row.type_name == "user":
                line.update(who="citizen", text=str(data.get("text") or ""), alert=paused and row.intent_name in LIVE_ALERT_INTENTS)
            elif row.type_name == "bot":
                marker = ((data.get("metadata") or {}).get("live")) or {}
                coordinator = marker.get("event") == "say"
                line.update(
                    who="coordinator" if coordinator else "bot", name=marker.get("coordinator", "") if coordinator else "", text=str(data.get("text") or "")
                )
            else:
                line.update(who="system", event=row.type_name)
            if line.get("text") or (line["who"] == "system" and (lines or after)):  # a conversation's first session is no restart
                lines.append(line)
    return lines


@bp.after_app_request
def _live_csp(response: Any) -> Any:
    if request.path.startswith("/dashboard/live"):
        response.headers["Content-Security-Policy"] = LIVE_CSP
    return response


@bp.get("")
@login_required
def index() -> ResponseReturnValue:
    me = current()
    store().live.present(me.id)
    chats = store().live.open_chats(viewer())
    return render_template("live.html", chats=[_chat_json(chat) for chat in chats], me_id=me.id)


@bp.get("/chats")
@login_required
def chats() -> ResponseReturnValue:
    """The list for live.js; asking for it keeps the coordinator on duty."""
    store().live.present(current().id)
    return jsonify(chats=[_chat_json(chat) for chat in store().live.open_chats(viewer())])


@bp.get("/<reference>")
@login_required
def chat(reference: str) -> ResponseReturnValue:
    found = _chat_or_404(reference)
    me = current()
    store().audit.record(me.email, "live_viewed", reference)
    holding = store().live.holds(me.id, reference)
    lines = transcript(found.conversation_id)
    return render_template(
        "live_chat.html",
        chat=_chat_json(found),
        lines=lines,
        last=lines[-1]["id"] if lines else 0,
        holding=holding,
        taken_by_other=found.state == LIVE and not holding,
        can_join=found.by is None and found.channel in LIVE_CHANNELS,
        transitions=TRANSITIONS.get(found.status, ()),
    )


@bp.get("/<reference>/events")
@login_required
def events(reference: str) -> ResponseReturnValue:
    """The messages after `after`, and whether the viewer still has the chat (asking renews the lease)."""
    found = _chat_or_404(reference)
    try:
        after = max(0, int(request.args.get("after", "0")))
    except ValueError:
        after = 0
    me = current()
    holding = store().live.holds(me.id, reference)
    lines = transcript(found.conversation_id, after)
    if holding and after and any(line["who"] == "system" for line in lines):
        # The conversation started over (its session expired, the citizen restarted it): Rasa un-paused it, so the chat is over.
        holding = not store().live.release(reference, me.email, "conversation_restarted", me.id)
    now = store().live.get(viewer(), reference)
    return jsonify(lines=lines, holding=holding, state=now.state if now else "")


def _reply(ok: bool, code: str, reference: str, status: int = 200) -> ResponseReturnValue:
    """JSON for live.js, a redirect with a message for a form without scripts."""
    if request.accept_mimetypes.best == "application/json":
        return jsonify(ok=ok, code=code), status
    flash(code, "ok" if ok else "fejl")
    return redirect(url_for("live.chat", reference=reference), code=303)


@bp.post("/<reference>/join")
@login_required
def join(reference: str) -> ResponseReturnValue:
    found = _chat_or_404(reference)
    me = current()
    if found.channel not in LIVE_CHANNELS or not store().live.claim(viewer(), me.id, reference):
        return _reply(False, "live_taken", reference, 409)
    try:
        status, _ = rasa(config(), "join", sender=found.conversation_id, coordinator=first_name(me.name), region=kb().region_name(found.region))
    except RasaUnavailable:
        status = 503
    if status != 200:
        store().live.release(reference, me.email, "join_failed", me.id)
        return _reply(False, "live_gone" if status == 404 else "live_unavailable", reference, 409 if status == 404 else 503)
    return _reply(True, "live_joined", reference)


@bp.post("/<reference>/say")
@login_required
def say(reference: str) -> ResponseReturnValue:
    found = _chat_or_404(reference)
    me = current()
    text = (request.form.get("text") or "").strip()[:MAX_TEXT]
    if not text:
        return _reply(False, "live_empty", reference, 400)
    if not store().live.holds(me.id, reference):
        return _reply(False, "live_not_yours", reference, 409)
    try:
        status, _ = rasa(config(), "say", sender=found.conversation_id, coordinator=first_name(me.name), text=text)
    except RasaUnavailable:
        return _reply(False, "live_unavailable", reference, 503)
    if status != 200:  # the conversation started over (session expiry, a restart) or was erased: the chat is over
        store().live.release(reference, me.email, "conversation_ended", me.id)
        return _reply(False, "live_ended", reference, 409)
    store().audit.record(me.email, "live_message", reference, chars=len(text))
    return _reply(True, "live_sent", reference)


def hand_back(
    reference: str, conversation_id: str, name: str, actor: str, reason: str, coordinator_id: int | None, settings: Settings, lead_store: LeadStore
) -> bool:
    """End the chat in the lead store (once), then let the bot answer again."""
    if not lead_store.live.release(reference, actor, reason, coordinator_id):
        return False
    try:
        rasa(settings, "leave", sender=conversation_id, coordinator=first_name(name))
    except RasaUnavailable as exc:  # the next message still reaches a paused bot: the sweeper's leave is not retried, so say so loudly
        log.error("Live chat %s handed back, but Rasa did not hear it (%s)", reference, exc)
    return True


@bp.post("/<reference>/leave")
@login_required
def leave(reference: str) -> ResponseReturnValue:
    found = _chat_or_404(reference)
    me = current()
    if not hand_back(reference, found.conversation_id, me.name, me.email, "handed_back", me.id, config(), store()):
        return _reply(False, "live_not_yours", reference, 409)
    flash("live_left", "ok")
    return redirect(url_for("live.index"), code=303)


@bp.post("/<reference>/close")
@login_required
def close(reference: str) -> ResponseReturnValue:
    """Hand back and give the case a status (the case's own transitions)."""
    found = _chat_or_404(reference)
    me = current()
    status = request.form.get("status", "")
    if status not in TRANSITIONS.get(found.status, ()):
        return _reply(False, "status_refused", reference, 400)
    hand_back(reference, found.conversation_id, me.name, me.email, "closed", me.id, config(), store())
    store().cases.set_status(viewer(), reference, status)
    flash("live_closed", "ok")
    return redirect(url_for("live.index"), code=303)


def sweep(settings: Settings, lead_store: LeadStore) -> None:
    """Once: hand back the chats whose coordinator's page went away; send on the requests nobody took."""
    from bot.handoff import notify

    for chat in lead_store.live.expired(dt.timedelta(seconds=settings.live_lease_seconds)):
        hand_back(chat.reference, chat.conversation_id, chat.by_name, "system:live", "page_gone", None, settings, lead_store)
    for lead in lead_store.live.miss(dt.timedelta(seconds=settings.live_wait_seconds)):
        try:
            notify.send(lead_dict(lead), settings)
        except Exception as exc:  # the outbox keeps what SMTP refuses; anything else is logged, never the lead
            log.error("Notification for %s failed: %s", lead.reference, type(exc).__name__)
        try:
            rasa(settings, "missed", sender=lead.conversation_id, reference=lead.reference)
        except RasaUnavailable as exc:
            log.error("Could not tell the citizen of %s that nobody took the chat (%s)", lead.reference, exc)


def start_sweeper(settings: Settings, lead_store: LeadStore, interval: float = SWEEP_SECONDS, stop: threading.Event | None = None) -> threading.Thread:
    stop = stop or threading.Event()

    def loop() -> None:
        while not stop.wait(interval):
            try:
                sweep(settings, lead_store)
            except Exception as exc:  # a failed sweep must not stop the next one
                log.error("Live chat sweep failed: %s", type(exc).__name__)

    thread = threading.Thread(target=loop, name="live-sweeper", daemon=True)
    thread.start()
    return thread
