"""`make run`: start every process of the bot in the foreground and stop them all on Ctrl-C."""

from __future__ import annotations

import signal
import time

from bot.rasa_server import spacy_pipeline
from bot.settings import settings
from bot.store import open_store
from bot.tooling.processes import ProcessGroup, child_env, services
from bot.tooling.training import ensure_model


def run() -> int:
    config = settings()
    print(spacy_pipeline.describe(), flush=True)
    model = ensure_model()
    demo = open_store(config).accounts.ensure_demo_admin()
    env = child_env(config)
    group = ProcessGroup()
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print("Starting the Rasa server, the action server and the web server (the Rasa server needs about 30 s to load the model) ...", flush=True)
    for service in services(config, model):
        group.start(service.name, service.cmd, env)
    print("", flush=True)
    print(f"Rasa (REST, socket.io):  {config.rasa_base_url}/webhooks/rest/webhook", flush=True)
    print(f"Action server:           {config.action_webhook_url}", flush=True)
    print(f"Demo page and widget:    {config.web_base_url}/", flush=True)
    print(f"Coordinator dashboard:   {config.web_base_url}/dashboard", flush=True)
    if demo:
        print(f"Demo admin created (shown once): {demo[0]} / {demo[1]}", flush=True)
    if config.smtp_host:
        print(f"Notifications: SMTP {config.smtp_host}:{config.smtp_port}", flush=True)
    else:
        print(f"Notifications: no SMTP_HOST set, e-mails are written to {config.outbox_dir}", flush=True)
    if not config.telegram_token:
        print("Telegram: TELEGRAM_BOT_TOKEN is not set, so the Telegram bridge is not started.", flush=True)
    print(
        f"Stores: leads {config.leads_url.split('@')[-1]}, tracker {config.tracker_url.split('@')[-1]}, "
        f"locks {'Redis' if config.redis_url else 'in-memory'}. Ctrl-C stops everything.",
        flush=True,
    )
    code = 0
    try:
        while not stopping:
            stopped = group.exited()
            if stopped is not None:
                print(f"The {stopped[0]} process stopped (exit code {stopped[1]}); stopping the rest.", flush=True)
                stopping, code = True, 1
            time.sleep(0.5)
    finally:
        group.stop_all()
        print("All processes stopped.", flush=True)
    return code
