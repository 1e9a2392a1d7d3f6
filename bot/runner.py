"""`make run`: start every process of the bot in the foreground and stop them all on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bot import spacy_setup
from bot.settings import ROOT, Settings, settings
from bot.training import ensure_model, rasa_command, rasa_env


@dataclass
class Service:
    name: str
    cmd: list[str]


def services(config: Settings, model: Path) -> list[Service]:
    found = [
        Service("actions", [sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(config.action_port)]),
        Service(
            "rasa",
            rasa_command(
                "run",
                "--model",
                str(model),
                "--port",
                str(config.rasa_port),
                "--cors",
                "*",
                "--credentials",
                "credentials.yml",
                "--endpoints",
                "endpoints.yml",
            ),
        ),
        Service("web", [sys.executable, "-m", "bot", "web"]),
    ]
    if config.telegram_token:
        found.append(Service("telegram", [sys.executable, "-m", "bot", "telegram"]))
    return found


def start(service: Service, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(service.cmd, cwd=ROOT, env=env, start_new_session=True)


def stop_all(procs: dict[str, subprocess.Popen[bytes]], timeout: float = 15) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + timeout
    for proc in procs.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()


def run() -> int:
    from bot.web.accounts import ensure_demo_admin

    config = settings()
    print(spacy_setup.describe(), flush=True)
    model = ensure_model()
    demo = ensure_demo_admin()
    env = rasa_env()
    procs: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    for service in services(config, model):
        procs[service.name] = start(service, env)
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
            for name, proc in procs.items():
                if proc.poll() is not None:
                    print(f"The {name} process stopped (exit code {proc.returncode}); stopping the rest.", flush=True)
                    stopping, code = True, 1
                    break
            time.sleep(0.5)
    finally:
        stop_all(procs)
        print("All processes stopped.", flush=True)
    return code
