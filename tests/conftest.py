"""Shared fixtures: one trained model, one SMTP server and one running bot per test session."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Iterator

import pytest

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")

from stack import Mailbox, Stack, free_port

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
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


@pytest.fixture
def sender() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
