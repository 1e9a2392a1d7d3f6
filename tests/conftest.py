"""Shared fixtures: one trained model, one SMTP server, one running bot per test session; one headless Chromium per browser test module."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import pytest

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")

from stack import Mailbox, Stack, free_port

if TYPE_CHECKING:
    from playwright.sync_api import Browser

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"]
# A region's own website that embeds the widget (tests/e2e/test_widget.py serves it here); the bot allows its origin.
EMBEDDING_SITE = f"http://127.0.0.1:{free_port()}"


@pytest.fixture(scope="session")
def model() -> Path:
    """The model for the current inputs; TEST_MODEL names another one while only code outside the model changed."""
    from bot.tooling.training import ensure_model

    if chosen := os.environ.get("TEST_MODEL"):
        return Path(chosen)
    return ensure_model()


@pytest.fixture(scope="session")
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    yield box
    box.stop()


@pytest.fixture(scope="session")
def bot(model: Path, mailbox: Mailbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The bot as `make run` starts it, on SQLite stores in a temporary folder."""
    stack = Stack(
        model=model,
        var_dir=tmp_path_factory.mktemp("var"),
        extra_env={
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(mailbox.port),
            "SMTP_STARTTLS": "false",
            "WIDGET_ORIGINS": EMBEDDING_SITE,
        },
    )
    with stack.running("actions", "rasa", "web"):
        yield stack


# The live chat's bot (tests/e2e/test_live_chat*.py): coordinators at work all day, so the tests do not depend on
# the clock; short waits, so its fallbacks happen within a test; Telegram's fake Bot API on a port fixed in advance,
# since the Rasa server pushes a coordinator's messages to Telegram itself.
LIVE_PASSWORD = "koordinator-kode-1"
LIVE_WAIT_SECONDS = 15
LIVE_LEASE_SECONDS = 15  # well above the page's one-second polls on a loaded two-core machine
LIVE_TELEGRAM_PORT = free_port()
LIVE_TELEGRAM_TOKEN = "654321:TEST-live-chat-token"
ALL_DAY = """timezone: Europe/Copenhagen
coordinators:
  - name: Frivilligkoordinatoren i Region Midtjylland
    email: frivillig-midtjylland@example.invalid
    regions: [midtjylland, nordjylland, sjaelland, hovedstaden, syddanmark]
    hours: "man-søn 00:00-24:00"
"""


@pytest.fixture(scope="session")
def live_bot(model: Path, mailbox: Mailbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A bot of its own for live chats, with three coordinators: two of Midtjylland, one of Nordjylland."""
    var_dir = tmp_path_factory.mktemp("live")
    routing = var_dir / "coordinators.yml"
    routing.write_text(ALL_DAY, encoding="utf-8")
    stack = Stack(
        model=model,
        var_dir=var_dir,
        extra_env={
            "COORDINATORS_FILE": str(routing),
            "LIVE_WAIT_SECONDS": str(LIVE_WAIT_SECONDS),
            "LIVE_LEASE_SECONDS": str(LIVE_LEASE_SECONDS),
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(mailbox.port),
            "SMTP_STARTTLS": "false",
            "RATE_LIMIT_CONVERSATION": "0",
            "TELEGRAM_BOT_TOKEN": LIVE_TELEGRAM_TOKEN,
            "TELEGRAM_API_URL": f"http://127.0.0.1:{LIVE_TELEGRAM_PORT}/bot",
        },
    )
    with stack.running("actions", "rasa", "web"):
        store = stack.store()
        store.accounts.add("mette@rm.dk", "Mette Midtjylland", "coordinator", ["midtjylland"], LIVE_PASSWORD)
        store.accounts.add("karen@rm.dk", "Karen Kollega", "coordinator", ["midtjylland"], LIVE_PASSWORD)
        store.accounts.add("ole@rn.dk", "Ole Nord", "coordinator", ["nordjylland"], LIVE_PASSWORD)
        yield stack


@pytest.fixture
def sender() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, through Playwright (never `playwright install`); each test opens its own context.

    One per module, not per session: Playwright's sync API keeps its event loop set on the main thread while it
    runs, and pytest-asyncio refuses to start a test's loop inside it, so it must stop before the async tests.
    """
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is missing: apt-get install -y chromium (make system-deps)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
