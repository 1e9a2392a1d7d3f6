"""What every view needs from the app: its configuration, its one lead store and the proxies it trusts.

The app factory puts them on the app, so a test's app never touches the global settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app

from bot.proxies import Networks
from bot.settings import Settings
from bot.store import LeadStore, open_store

KEY = "frivillig"


@dataclass(frozen=True)
class WebState:
    config: Settings
    store: LeadStore
    proxies: Networks


def attach(app: Flask, config: Settings) -> WebState:
    """Parsing TRUSTED_PROXIES here means a wrong entry stops the web server at start, not at the first login."""
    state = WebState(config=config, store=open_store(config), proxies=config.trusted_proxies())
    app.extensions[KEY] = state
    return state


def state() -> WebState:
    return current_app.extensions[KEY]  # type: ignore[no-any-return]


def config() -> Settings:
    return state().config


def store() -> LeadStore:
    return state().store
