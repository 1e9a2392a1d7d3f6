"""The action server can show, erase and store a citizen's data: only Rasa may call it (issue 13)."""

from __future__ import annotations

import socket

import pytest

from bot.conventions import ACTION_SERVER_PURPOSE
from stack import Stack, http

CALL = {
    "next_action": "action_show_stored_data",
    "sender_id": "test-stranger",
    "tracker": {"sender_id": "test-stranger", "slots": {}, "latest_message": {}, "events": [], "paused": False, "latest_action_name": "action_listen"},
    "domain": {},
    "version": "3.6.21",
}


def action_url(bot: Stack, token: str | None = None) -> str:
    query = f"?token={token}" if token is not None else ""
    return f"http://127.0.0.1:{bot.settings.action_port}/webhook{query}"


def test_a_call_without_rasas_secret_runs_nothing(bot: Stack) -> None:
    assert http("POST", action_url(bot), CALL)[0] == 401
    assert http("POST", action_url(bot, "forkert-token"), CALL)[0] == 401
    assert http("GET", f"http://127.0.0.1:{bot.settings.action_port}/actions")[0] == 401
    assert http("GET", f"http://127.0.0.1:{bot.settings.action_port}/health")[0] == 200


def test_rasa_still_reaches_it(bot: Stack) -> None:
    """The bot answers, so Rasa's calls carry the secret (endpoints.yml)."""
    status, replies = bot.post({"sender": "test-action-secret", "message": "hvad er en vejviser"})
    assert status == 200 and any("vej" in str(r.get("text", "")) for r in replies)


def test_an_error_echoes_nothing_of_the_request(bot: Stack) -> None:
    token = bot.settings.derived_secret(ACTION_SERVER_PURPOSE)
    broken = {**CALL, "next_action": "action_answer", "tracker": "Mette Hemmelig 20304050"}
    status, body = http("POST", action_url(bot, token), broken)
    assert status >= 400 and "Mette Hemmelig" not in str(body) and "20304050" not in str(body)
    assert "Mette Hemmelig" not in bot.logs["actions"].read_text(encoding="utf-8", errors="replace")


def outward_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent, the kernel only picks a route
        address = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") else address


def test_it_listens_on_loopback_only(bot: Stack) -> None:
    address = outward_address()
    if address is None:
        pytest.skip("this machine has no address besides loopback")
    with pytest.raises(OSError):
        socket.create_connection((address, bot.settings.action_port), timeout=2).close()
