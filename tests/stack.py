"""The real servers for end-to-end tests: Rasa, the action server and the web server, on loopback.

Processes are started with the same commands as `make run` (bot.runner.services), on
free ports and a temporary VAR_DIR, so every test talks to the software that ships.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.leads import LeadStore
from bot.runner import Service, services
from bot.settings import ROOT, Settings
from bot.training import rasa_env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(method: str, url: str, body: Any = None, timeout: float = 30, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            raw = resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    try:
        return status, json.loads(raw or b"null")
    except ValueError:
        return status, raw.decode("utf-8", "replace")


def wait_until(check: Any, timeout: float, what: str, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with code {proc.returncode}")
        try:
            if check():
                return
        except (OSError, urllib.error.URLError, ValueError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{what} was not ready after {timeout:.0f} s")


@dataclass
class Stack:
    """One running bot: its settings, its processes and helpers to talk to it."""

    model: Path
    var_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        env = {
            "VAR_DIR": str(self.var_dir),
            "RASA_PORT": str(free_port()),
            "ACTION_PORT": str(free_port()),
            "WEB_PORT": str(free_port()),
            "COOKIE_SECURE": "false",
            **self.extra_env,
        }
        self.env = rasa_env(Settings.from_env(env), base={**os.environ, **env})
        self.settings = Settings.from_env(self.env)

    # --- processes ------------------------------------------------------------------
    def service(self, name: str) -> Service:
        """A service as `make run` defines it; "rasa-<port>" is one more Rasa instance on that port."""
        if name.startswith("rasa-"):
            base = self.service("rasa")
            cmd = list(base.cmd)
            cmd[cmd.index("--port") + 1] = name.removeprefix("rasa-")
            return Service(name, cmd)
        return next(s for s in services(self.settings, self.model) if s.name == name)

    def start(self, name: str) -> None:
        log = self.var_dir / f"{name}.log"
        self.logs[name] = log
        handle = open(log, "ab")
        self.procs[name] = subprocess.Popen(self.service(name).cmd, cwd=ROOT, env=self.env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
        self.wait_ready(name)

    def wait_ready(self, name: str) -> None:
        proc = self.procs[name]
        if name == "actions":
            wait_until(lambda: http("GET", f"http://localhost:{self.settings.action_port}/health", timeout=2)[0] == 200, 120, "action server", proc)
        elif name == "rasa" or name.startswith("rasa-"):
            url = self.rasa_url if name == "rasa" else f"http://localhost:{name.removeprefix('rasa-')}"
            wait_until(lambda: http("GET", f"{url}/webhooks/rest/", timeout=2)[0] == 200, 240, f"Rasa server {name}", proc)
            wait_until(lambda: bool(self.say("stack-probe", "hej", url=url)), 120, f"{name} answers", proc)
        elif name == "web":
            wait_until(lambda: http("GET", f"{self.web_url}/healthz", timeout=2)[0] == 200, 60, "web server", proc)

    def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)

    @contextmanager
    def running(self, *names: str) -> Iterator[Stack]:
        """Start the services, print their logs if anything fails, and stop them all afterwards."""
        try:
            for name in names:
                self.start(name)
            yield self
        except Exception:
            for name in self.logs:
                print(f"--- {name} log ---\n{self.log_tail(name)}")
            raise
        finally:
            self.stop_all()

    def log_tail(self, name: str, chars: int = 4000) -> str:
        path = self.logs.get(name)
        return path.read_text(errors="replace")[-chars:] if path and path.exists() else ""

    # --- talking to it ----------------------------------------------------------------
    @property
    def rasa_url(self) -> str:
        return f"http://localhost:{self.settings.rasa_port}"

    @property
    def web_url(self) -> str:
        return f"http://localhost:{self.settings.web_port}"

    def post(self, body: Any, timeout: float = 60, url: str | None = None) -> tuple[int, Any]:
        return http("POST", f"{url or self.rasa_url}/webhooks/rest/webhook", body, timeout=timeout)

    def say(self, sender: str, message: str, url: str | None = None) -> list[dict[str, Any]]:
        status, replies = self.post({"sender": sender, "message": message}, url=url)
        assert status == 200, f"{status}: {replies}"
        return replies if isinstance(replies, list) else []

    def store(self) -> LeadStore:
        return LeadStore(self.settings.leads_url, spool_dir=self.settings.spool_dir)


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
