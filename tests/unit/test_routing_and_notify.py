"""Routing to the region's coordinator, working hours, and the notification e-mail."""

from __future__ import annotations

import datetime as dt
from email import message_from_bytes
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.handoff import notify
from bot.handoff.routing import Hours, load, routing
from bot.settings import Settings

CPH = ZoneInfo("Europe/Copenhagen")
LEAD = {
    "reference": "FRV-2026-ABCDEF",
    "kind": "signup",
    "name": "Mette Lund",
    "email": "mette@example.dk",
    "phone": "+4520304050",
    "region": "midtjylland",
    "municipality": "Aarhus",
    "interests": ["vejviser"],
    "question": "",
    "channel": "rest",
}


def test_hours_parse_and_open() -> None:
    hours = Hours.parse("man-fre 09:00-15:00")
    monday_10 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=CPH)
    assert hours.is_open(monday_10)
    assert not hours.is_open(dt.datetime(2026, 11, 22, 10, 0, tzinfo=CPH))  # Sunday
    assert hours.next_opening(dt.datetime(2026, 11, 21, 12, 0, tzinfo=CPH)) == dt.datetime(2026, 11, 23, 9, 0, tzinfo=CPH)
    assert hours.next_opening(dt.datetime(2026, 11, 24, 16, 0, tzinfo=CPH)) == dt.datetime(2026, 11, 25, 9, 0, tzinfo=CPH)


def test_hours_until_midnight_cover_the_last_minute() -> None:
    hours = Hours.parse("man-søn 00:00-24:00")
    assert hours.is_open(dt.datetime(2026, 11, 22, 23, 59, 59, tzinfo=CPH))
    assert hours.is_open(dt.datetime(2026, 11, 23, 0, 0, tzinfo=CPH))


@pytest.mark.parametrize("text", ["mon-fri 9-15", "man-fre", "hele tiden", "man-fre 09:00-25:00"])
def test_bad_hours_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        Hours.parse(text)


def test_every_region_has_a_coordinator() -> None:
    for region in ("hovedstaden", "sjaelland", "syddanmark", "midtjylland", "nordjylland"):
        assert routing().for_region(region) is not None


def test_routing_file_from_settings(tmp_path: Path) -> None:
    path = tmp_path / "coordinators.yml"
    path.write_text("coordinators:\n  - {name: Lise, email: lise@rm.dk, phone: '', regions: [midtjylland], hours: 'tir 08:00-12:00'}\n", encoding="utf-8")
    router = load(path)
    coordinator = router.for_region("midtjylland")
    assert coordinator is not None and coordinator.email == "lise@rm.dk" and router.for_region("sjaelland") is None


def test_without_smtp_the_mail_lands_in_the_outbox(tmp_path: Path) -> None:
    where = notify.send(LEAD, Settings.from_env({"VAR_DIR": str(tmp_path)}))
    mail = message_from_bytes(Path(where).read_bytes())
    assert "FRV-2026-ABCDEF" in mail["Subject"] and mail["To"] == "frivillig-midtjylland@example.invalid"
    body = mail.get_payload(decode=True).decode()
    assert "Region Midtjylland" in body and "/dashboard/leads/FRV-2026-ABCDEF" in body
    for personal in ("Mette Lund", "mette@example.dk", "20304050", "Kanal"):
        assert personal not in body  # the citizen's data stays in the dashboard


def test_smtp_delivery_to_a_real_server(tmp_path: Path) -> None:
    from aiosmtpd.controller import Controller

    received: list[bytes] = []

    class Handler:
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            received.append(envelope.content)  # type: ignore[attr-defined]
            return "250 OK"

    from stack import free_port

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        config = Settings.from_env({"VAR_DIR": str(tmp_path), "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "SMTP_STARTTLS": "false"})
        assert notify.send({**LEAD, "kind": "handoff", "question": "Kan man have hund med?"}, config).startswith("smtp:")
    finally:
        controller.stop()
    mail = message_from_bytes(received[0])
    assert "henvendelse" in mail["Subject"].lower() and "Kan man have hund med?" not in mail.get_payload(decode=True).decode()


def test_a_failing_smtp_server_keeps_the_mail_in_the_outbox(tmp_path: Path) -> None:
    from stack import free_port

    config = Settings.from_env({"VAR_DIR": str(tmp_path), "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(free_port())})
    where = notify.send(LEAD, config)
    assert Path(where).exists() and Path(where).parent == config.outbox_dir
