"""Starting, watching and stopping the bot's processes: `make run`, `make eval`, `make bench` and the tests share this.

`services()` is the one list of processes `make run` starts and how; `LocalBot` starts
them on free ports with a data folder of its own, as the evaluation, the benchmark and
the end-to-end tests need. `Postgres`, `Redis` and `HAProxy` are throwaway servers on loopback,
started from the Debian binaries, for the scale tests and the benchmarks: the production layout
in the README, on one machine.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bot.settings import ROOT, Settings, settings


@dataclass(frozen=True)
class Service:
    name: str
    cmd: list[str]


def bot_command(*args: str) -> list[str]:
    """`python -m bot ...`: every process we start goes through our command line (bot/cli.py)."""
    return [sys.executable, "-m", "bot", *args]


def rasa_command(*args: str) -> list[str]:
    """Rasa's command line, with the version check and the speed-ups (bot/rasa_server/main.py)."""
    return bot_command("rasa", *args)


def services(config: Settings, model: Path) -> list[Service]:
    """The processes of one bot, as `make run` starts them."""
    rasa = rasa_command(
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
    )
    found = [
        Service("actions", bot_command("actions", "--port", str(config.action_port))),
        Service("rasa", rasa),
        Service("web", bot_command("web")),
    ]
    if config.telegram_token:
        found.append(Service("telegram", bot_command("telegram")))
    return found


def child_env(config: Settings | None = None, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for our child processes: the settings, plus what Rasa's endpoints.yml expands."""
    env = dict(os.environ if base is None else base)
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env.update((config or settings()).rasa_env())
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(method: str, url: str, body: Any = None, timeout: float = 30, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """One JSON request; the status and the decoded body (text when it is not JSON), also for error statuses."""
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


def wait_until(check: Callable[[], Any], timeout: float, what: str, proc: subprocess.Popen[bytes] | None = None) -> None:
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


class ProcessGroup:
    """Child processes, each in a session of its own so that stopping one stops its children too."""

    def __init__(self) -> None:
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, cmd: list[str], env: dict[str, str], cwd: Path = ROOT, log: Path | None = None) -> subprocess.Popen[bytes]:
        output = open(log, "ab") if log is not None else None
        try:
            proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT if output else None, start_new_session=True)
        finally:
            if output is not None:
                output.close()  # the child has its own copy
        self.procs[name] = proc
        return proc

    def exited(self) -> tuple[str, int] | None:
        """The first process that has stopped, with its exit code."""
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                return name, proc.returncode
        return None

    def stop(self, name: str, timeout: float = 20, sig: int = signal.SIGTERM) -> None:
        proc = self.procs.pop(name, None)
        if proc is not None:
            self._signal(proc, sig)
            self._reap(proc, time.monotonic() + timeout)

    def stop_all(self, timeout: float = 15) -> None:
        """SIGTERM to all at once, then SIGKILL to whatever is still running when the time is up."""
        procs, self.procs = list(self.procs.values()), {}
        for proc in procs:
            self._signal(proc, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in procs:
            self._reap(proc, deadline)

    @staticmethod
    def _signal(proc: subprocess.Popen[bytes], sig: int) -> None:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass

    def _reap(self, proc: subprocess.Popen[bytes], deadline: float) -> None:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self._signal(proc, signal.SIGKILL)
            proc.wait()


def _as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root; CI runs as root, so drop to the postgres user there."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def postgres_bin(name: str) -> str:
    found = shutil.which(name) if name != "postgres" else None
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    path = candidates[0] if candidates else found
    if not path:
        raise RuntimeError(f"PostgreSQL's {name} was not found; install the Debian package postgresql")
    return path


class Postgres:
    """One PostgreSQL cluster in a temporary folder, listening on 127.0.0.1 only."""

    def __init__(self, name: str) -> None:
        self.port = free_port()
        # Its own folder directly under /tmp: the postgres user cannot enter pytest's private tmp folders.
        self.home = Path(tempfile.mkdtemp(prefix=f"frivillig-pg-{name}-"))
        self.datadir = self.home / "data"
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.home, user.pw_uid, user.pw_gid)
        subprocess.run(
            _as_postgres([postgres_bin("initdb"), "-D", str(self.datadir), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]),
            check=True,
            capture_output=True,
        )

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.datadir} -c fsync=off -c max_connections=200"
        subprocess.run(
            _as_postgres([postgres_bin("pg_ctl"), "-D", str(self.datadir), "-o", options, "-l", str(self.datadir / "server.log"), "-w", "start"]),
            check=True,
            capture_output=True,
        )

    def stop(self) -> None:
        subprocess.run(_as_postgres([postgres_bin("pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop"]), capture_output=True)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)

    def create_database(self, name: str) -> str:
        engine = sa.create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return self.url(name)


class LocalBot:
    """One bot on free loopback ports with a data folder of its own, started service by service."""

    def __init__(self, model: Path, var_dir: Path, extra_env: dict[str, str] | None = None) -> None:
        self.model, self.var_dir = model, var_dir
        self.var_dir.mkdir(parents=True, exist_ok=True)
        values = {
            "VAR_DIR": str(var_dir),
            "RASA_PORT": str(free_port()),
            "ACTION_PORT": str(free_port()),
            "WEB_PORT": str(free_port()),
            **(extra_env or {}),
        }
        self.env = child_env(Settings.from_env(values), base={**os.environ, **values})
        self.settings = Settings.from_env(self.env)
        self.group = ProcessGroup()
        self.logs: dict[str, Path] = {}

    @property
    def rasa_url(self) -> str:
        return f"http://localhost:{self.settings.rasa_port}"

    @property
    def web_url(self) -> str:
        return f"http://localhost:{self.settings.web_port}"

    def service(self, name: str) -> Service:
        """A service as `make run` defines it; "rasa-<port>" is one more Rasa instance on that port."""
        if name.startswith("rasa-"):
            cmd = list(self.service("rasa").cmd)
            cmd[cmd.index("--port") + 1] = name.removeprefix("rasa-")
            return Service(name, cmd)
        return next(s for s in services(self.settings, self.model) if s.name == name)

    def start(self, name: str) -> None:
        self.logs[name] = self.var_dir / f"{name}.log"
        self.group.start(name, self.service(name).cmd, self.env, log=self.logs[name])
        self.wait_ready(name)

    def wait_ready(self, name: str) -> None:
        proc = self.group.procs[name]
        if name == "actions":
            wait_until(lambda: http("GET", f"http://localhost:{self.settings.action_port}/health", timeout=2)[0] == 200, 120, "action server", proc)
        elif name == "rasa" or name.startswith("rasa-"):
            url = self.rasa_url if name == "rasa" else f"http://localhost:{name.removeprefix('rasa-')}"
            wait_until(lambda: http("GET", f"{url}/webhooks/rest/", timeout=2)[0] == 200, 240, f"Rasa server {name}", proc)
            probe = {"sender": "local-bot-probe", "message": "hej"}
            wait_until(lambda: bool(http("POST", f"{url}/webhooks/rest/webhook", probe, timeout=30)[1]), 120, f"{name} answers", proc)
        elif name == "web":
            wait_until(lambda: http("GET", f"{self.web_url}/healthz", timeout=2)[0] == 200, 60, "web server", proc)

    def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        self.group.stop(name, sig=sig)

    def stop_all(self) -> None:
        self.group.stop_all(timeout=20)

    def log_tail(self, name: str, chars: int = 4000) -> str:
        path = self.logs.get(name)
        return path.read_text(errors="replace")[-chars:] if path and path.exists() else ""

    @contextmanager
    def running(self, *names: str) -> Iterator[LocalBot]:
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


class Redis:
    """A Redis server on 127.0.0.1 that keeps nothing on disk."""

    def __init__(self, root: Path) -> None:
        binary = shutil.which("redis-server")
        if not binary:
            raise RuntimeError("redis-server was not found; `make test` installs the Debian package redis-server")
        self.port = free_port()
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(root)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        import redis

        def answers() -> bool:
            try:
                return bool(redis.Redis(port=self.port).ping())
            except redis.exceptions.ConnectionError:
                return False

        wait_until(answers, 20, "redis-server", self.proc)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/1"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


HAPROXY_CONFIG = """\
# Written by bot/tooling/processes.py: the README's production example, on loopback.
global
    maxconn 2000
defaults
    mode http
    option forwardfor
    option redispatch
    retries 3
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    timeout tunnel 1h
    default-server inter 1s fall 2 rise 2
frontend chat
    bind 127.0.0.1:{port}
    default_backend rasa
backend rasa
    balance roundrobin
    option httpchk GET /webhooks/rest/
{servers}
listen stats
    bind 127.0.0.1:{stats_port}
    stats enable
    stats uri /stats
"""


class HAProxy:
    """HAProxy in front of Rasa instances on loopback, with health checks, as the README's production example."""

    def __init__(self, root: Path, backends: list[int]) -> None:
        binary = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)
        if not binary:
            raise RuntimeError("haproxy was not found; `make test` installs the Debian package haproxy")
        self.port, self.stats_port = free_port(), free_port()
        servers = "\n".join(f"    server rasa{i} 127.0.0.1:{port} check" for i, port in enumerate(backends, 1))
        self.config = root / "haproxy.cfg"
        self.config.write_text(HAPROXY_CONFIG.format(port=self.port, stats_port=self.stats_port, servers=servers))
        subprocess.run([binary, "-c", "-q", "-f", str(self.config)], check=True)
        self.proc = subprocess.Popen([binary, "-db", "-f", str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(lambda: len(self.servers_up()) == len(backends), 60, "HAProxy with every Rasa instance up", self.proc)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stats(self) -> list[dict[str, str]]:
        """HAProxy's own counters, one row per frontend, server and backend."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.stats_port}/stats;csv", timeout=5) as response:
            lines = response.read().decode().lstrip("# ").splitlines()
        header = lines[0].split(",")
        return [dict(zip(header, line.split(","), strict=False)) for line in lines[1:] if line]

    def servers_up(self) -> list[str]:
        try:
            return [row["svname"] for row in self.stats() if row["svname"].startswith("rasa") and row["status"] == "UP"]
        except OSError:
            return []

    def sessions_per_server(self) -> dict[str, int]:
        return {row["svname"]: int(row["stot"] or 0) for row in self.stats() if row["svname"].startswith("rasa")}

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
