"""Train the Rasa model only when its inputs change, and keep models by the hash of those inputs.

The inputs are config.yml, domain.yml, nlu/, stories/, the spaCy pipeline in use and
the Rasa version; `make run`, `make test` and the test fixtures share the cache.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import subprocess
import sys
import time
from pathlib import Path

from bot import spacy_setup
from bot.settings import ROOT, Settings, settings

INPUTS = ("config.yml", "domain.yml", "nlu", "stories", "bot/nlp.py", "bot/policies.py", "bot/text.py")  # the custom components are inputs too


def input_files(root: Path = ROOT) -> list[Path]:
    files: list[Path] = []
    for name in INPUTS:
        path = root / name
        files += sorted(p for p in path.rglob("*.yml")) if path.is_dir() else [path]
    return files


def fingerprint(root: Path = ROOT) -> str:
    digest = hashlib.sha256()
    for path in input_files(root):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    digest.update(spacy_setup.identity().encode())
    digest.update(importlib.metadata.version("rasa").encode())
    return digest.hexdigest()[:16]


def model_path(root: Path = ROOT) -> Path:
    return settings().model_dir / f"frivillig-{fingerprint(root)}.tar.gz"


def rasa_env(config: Settings | None = None, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for our child processes: the settings, plus what Rasa's endpoints.yml expands."""
    env = dict(os.environ if base is None else base)
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env.update((config or settings()).rasa_env())
    return env


def rasa_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "rasa", *args]


def ensure_model(root: Path = ROOT) -> Path:
    """The trained model for the current inputs, training it first if it is not cached."""
    target = model_path(root)
    if target.exists():
        print(f"Model up to date: {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target} (no training needed)", flush=True)
        return target
    print(spacy_setup.describe(), flush=True)
    print(f"Training the model for inputs {target.name} (about a minute on two cores) ...", flush=True)
    started = time.monotonic()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_name = f"{target.name.removesuffix('.tar.gz')}-partial-{os.getpid()}"
    cmd = rasa_command(
        "train",
        "--config",
        "config.yml",
        "--domain",
        "domain.yml",
        "--data",
        "nlu",
        "stories",
        "--out",
        str(target.parent),
        "--fixed-model-name",
        tmp_name,
    )
    subprocess.run(cmd, cwd=root, env=rasa_env(), check=True)
    (target.parent / f"{tmp_name}.tar.gz").replace(target)
    print(f"Trained {target.name} in {time.monotonic() - started:.0f} s", flush=True)
    prune(target.parent)
    return target


def prune(folder: Path, keep: int = 3) -> None:
    """Keep the newest few models (switching branches back and forth stays cheap), delete the rest."""
    models = sorted(folder.glob("frivillig-*.tar.gz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in models[keep:]:
        old.unlink(missing_ok=True)
