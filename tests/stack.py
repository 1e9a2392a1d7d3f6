"""The real servers for end-to-end tests: Rasa, the action server and the web server, on loopback.

Processes are started with the same commands as `make run` (bot.tooling.processes), on
free ports and a temporary VAR_DIR, so every test talks to the software that ships.
"""

from __future__ import annotations

import json
import time
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bot import conventions
from bot.store import LeadStore, conversations, open_store
from bot.tooling.processes import LocalBot, free_port, http, wait_until

__all__ = ["Conversation", "Stack", "buttons", "free_port", "http", "stored_transcript", "texts", "wait_until"]


class Stack(LocalBot):
    """One running bot, with helpers to talk to it and to look at what it stored."""

    def __init__(self, model: Path, var_dir: Path, extra_env: dict[str, str] | None = None) -> None:
        super().__init__(model, var_dir, {"COOKIE_SECURE": "false", **(extra_env or {})})

    def post(self, body: Any, timeout: float = 60, url: str | None = None) -> tuple[int, Any]:
        return http("POST", f"{url or self.rasa_url}/webhooks/rest/webhook", body, timeout=timeout)

    def say(self, sender: str, message: str, url: str | None = None) -> list[dict[str, Any]]:
        status, replies = self.post({"sender": sender, "message": message}, url=url)
        assert status == 200, f"{status}: {replies}"
        return replies if isinstance(replies, list) else []

    def store(self) -> LeadStore:
        return open_store(self.settings)


def stored_transcript(tracker_url: str, sender: str) -> list[dict[str, Any]]:
    """What Rasa's tracker store holds of a conversation, as a transcript."""
    with conversations.engine(tracker_url).connect() as connection:
        rows = connection.execute(sa.select(conversations.events.c.data).where(conversations.events.c.sender_id == sender).order_by(conversations.events.c.id))
        return conventions.transcript(json.loads(data) for (data,) in rows)


def texts(replies: list[dict[str, Any]]) -> str:
    """Everything the bot said, texts and button titles, as one string."""
    parts = []
    for reply in replies:
        if reply.get("text"):
            parts.append(str(reply["text"]))
        parts += [f"[{b.get('title')}]" for b in reply.get("buttons") or []]
    return "\n".join(parts)


def buttons(replies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [b for r in replies for b in r.get("buttons") or []]


class Mailbox:
    """A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

    def __init__(self, **options: Any) -> None:
        """`options` go to aiosmtpd's Controller, e.g. auth_require_tls=False for a server that offers no TLS."""
        from aiosmtpd.controller import Controller

        self.messages: list[Message] = []
        mailbox = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                mailbox.messages.append(message_from_bytes(envelope.content))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **options)
        self.controller.start()

    def with_header(self, name: str, value: str) -> list[Message]:
        return [m for m in self.messages if m.get(name) == value]

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> Mailbox:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


class Conversation:
    """Rasa tracker events for one conversation, written as Rasa's SQLTrackerStore writes them."""

    def __init__(self, url: str, sender: str) -> None:
        self.url, self.sender, self.at = url, sender, time.time() - 600

    def _add(self, type_name: str, data: dict[str, Any], intent: str | None = None, action: str | None = None) -> None:
        self.at += 1
        with conversations.engine(self.url).begin() as connection:
            connection.execute(
                conversations.events.insert().values(
                    sender_id=self.sender,
                    type_name=type_name,
                    timestamp=self.at,
                    intent_name=intent,
                    action_name=action,
                    data=json.dumps({"event": type_name, **data}),
                )
            )

    def user(self, text: str, intent: str, confidence: float = 0.95) -> Conversation:
        self._add("user", {"text": text, "parse_data": {"intent": {"name": intent, "confidence": confidence}}}, intent=intent)
        return self

    def bot(self, text: str, utter: str = "") -> Conversation:
        self._add("bot", {"text": text, "metadata": {"utter_action": utter} if utter else {}})
        return self

    def action(self, name: str) -> Conversation:
        self._add("action", {"name": name}, action=name)
        return self

    def slot(self, name: str, value: Any) -> Conversation:
        self._add("slot", {"name": name, "value": value}, action=name)
        return self

    def form(self, name: str | None) -> Conversation:
        self._add("active_loop", {"name": name})
        return self
