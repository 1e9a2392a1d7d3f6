"""Facts every process agrees on: who a sender is, who spoke, how long a message may be.

The Rasa server, the action server, the dashboard and the Telegram bridge read these
from here; domain.yml, the widget and the dashboard's labels hold the same names, and
tests/unit/test_conventions.py checks that they agree.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable, Mapping
from zoneinfo import ZoneInfo

# A conversation's sender id says which channel owns it: the Telegram bridge talks to Rasa
# as "telegram:<chat id>" on a route of its own, with a secret; the website widget (socket.io)
# as "web:<id>" with an id the server issued and signed; REST callers use any other id and can
# name neither of the others (bot/rasa_server/channels.py).
TELEGRAM_SENDER_PREFIX = "telegram:"
WEB_SENDER_PREFIX = "web:"
RESERVED_SENDER_PREFIXES = (TELEGRAM_SENDER_PREFIX, WEB_SENDER_PREFIX)
TELEGRAM = "telegram"
SOCKETIO = "socketio"
REST = "rest"
CHANNELS = (SOCKETIO, REST, TELEGRAM)
LIVE_CHANNELS = (SOCKETIO, TELEGRAM)  # where a coordinator's live chat message can be pushed to the citizen (REST has nobody listening)

# What each derived secret is for (bot.settings.Settings.derived_secret).
BRIDGE_PURPOSE = "telegram-bridge"
ACTION_SERVER_PURPOSE = "action-server"
WEB_SESSION_PURPOSE = "web-session"
LIVE_PURPOSE = "live-chat"
BRIDGE_TOKEN_HEADER = "X-Bridge-Token"
LIVE_TOKEN_HEADER = "X-Live-Token"  # the dashboard's calls to Rasa's live chat route (bot/rasa_server/live.py)

# What the citizen wrote while a coordinator had the chat and the bot was silent, that the bot would
# have acted on at once: the coordinator's page highlights these, and the bot answers them on hand-back.
LIVE_ALERT_INTENTS = ("emergency", "crisis", "delete_data", "share_cpr")

# The longest message a citizen may send, on every channel (the widget's input field too).
MAX_MESSAGE_CHARS = 1000

# The full privacy notice, served by the web server and linked from the consent questions.
PRIVACY_PATH = "/privatliv"

# The slot that marks a confirmed erasure request: the tracker store deletes the conversation.
ERASURE_SLOT = "erasure_requested"

# Citizens and coordinators live by Danish time, whatever the server's clock zone.
TIMEZONE = ZoneInfo("Europe/Copenhagen")

# Who said a line of a transcript, as stored with a lead and shown to coordinators.
CITIZEN = "borger"
BOT = "bot"


def today() -> dt.date:
    """The date in Denmark now: the dashboard's "this week", and answers that change on a date (Region Østdanmark)."""
    return dt.datetime.now(TIMEZONE).date()


def telegram_sender(chat_id: int) -> str:
    return f"{TELEGRAM_SENDER_PREFIX}{chat_id}"


def channel_of(sender_id: str, input_channel: str | None) -> str:
    """The channel a conversation came through, as stored with a lead."""
    if sender_id.startswith(TELEGRAM_SENDER_PREFIX):
        return TELEGRAM
    if sender_id.startswith(WEB_SENDER_PREFIX):
        return SOCKETIO
    return input_channel or REST


def citizen_actor(conversation_id: str) -> str:
    """The audit log's name for the citizen of a conversation."""
    return f"{CITIZEN}:{conversation_id}"


def transcript(events: Iterable[Mapping[str, Any]], limit: int | None = None) -> list[dict[str, Any]]:
    """A conversation as coordinators read it, from Rasa's event dicts: who said what, and when."""
    speakers = {"user": CITIZEN, "bot": BOT}
    lines = [
        {"who": speakers[event["event"]], "text": event["text"], "at": event.get("timestamp")}
        for event in events
        if event.get("event") in speakers and event.get("text")
    ]
    return lines if limit is None else lines[-limit:]
