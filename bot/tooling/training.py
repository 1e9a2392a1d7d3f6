"""Train the Rasa model only when its inputs change, and keep models by the hash of those inputs.

The inputs are config.yml, domain.yml, nlu/, stories/, the source of every module of ours
that a pipeline component or policy in config.yml imports (found by reading their imports,
so a change in any of them retrains), the spaCy pipeline in use and the Rasa version.
`make run`, `make test` and the test fixtures share the cache.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import os
import re
import subprocess
import time
from pathlib import Path

import yaml

from bot.rasa_server import spacy_pipeline
from bot.settings import ROOT, settings
from bot.tooling.processes import child_env, rasa_command

DATA = ("config.yml", "domain.yml", "nlu", "stories")
OWN_PACKAGES = ("bot", "actions")
TRAINING_LOG = "training.log"
STEP = re.compile(r"Starting to train component '([^']+)'")
EPOCH = re.compile(r"Epochs:\s+\d+%\|[^|]*\|\s*(\d+)/(\d+)")


def module_file(name: str, root: Path = ROOT) -> Path | None:
    """The source file of one of our modules (a package's __init__.py), or None when it is not ours."""
    if name.split(".")[0] not in OWN_PACKAGES:
        return None
    path = root.joinpath(*name.split("."))
    for candidate in (path / "__init__.py", path.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _imported(path: Path) -> set[str]:
    """Every module name an import statement in the file could mean (`from a import b` may import a.b)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def component_modules(root: Path = ROOT) -> set[str]:
    """The modules of the pipeline components and policies config.yml names by dotted path."""
    config = yaml.safe_load((root / "config.yml").read_text(encoding="utf-8"))
    entries = [*(config.get("pipeline") or []), *(config.get("policies") or [])]
    return {str(entry["name"]).rpartition(".")[0] for entry in entries if "." in str(entry["name"])}


def code_inputs(root: Path = ROOT) -> list[Path]:
    """Our source files that training runs: the components' modules, what they import, and their packages."""
    pending, seen, files = list(component_modules(root)), set(), set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        pending += [".".join(parts[:i]) for i in range(1, len(parts))]  # importing a.b.c runs a and a.b
        path = module_file(name, root)
        if path is not None:
            files.add(path)
            pending += sorted(_imported(path))
    return sorted(files)


def input_files(root: Path = ROOT) -> list[Path]:
    files: list[Path] = []
    for name in DATA:
        path = root / name
        files += sorted(p for p in path.rglob("*.yml")) if path.is_dir() else [path]
    return files + code_inputs(root)


def _code(path: Path) -> bytes:
    """A module's code without its comments, docstrings and layout: changing only those does not retrain."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(first := body[0], ast.Expr):
            if isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                node.body = body[1:] or [ast.Pass()]  # type: ignore[attr-defined]
    return ast.dump(tree).encode()


def fingerprint(root: Path = ROOT) -> str:
    digest = hashlib.sha256()
    for path in input_files(root):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(_code(path) if path.suffix == ".py" else path.read_bytes())
    digest.update(spacy_pipeline.identity().encode())
    digest.update(importlib.metadata.version("rasa").encode())
    return digest.hexdigest()[:16]


def model_path(root: Path = ROOT) -> Path:
    return settings().model_dir / f"frivillig-{fingerprint(root)}.tar.gz"


def _train_with_progress(cmd: list[str], root: Path, log_path: Path) -> int:
    """Run `rasa train`, keeping its whole output in log_path and printing one line per step and per quarter of the epochs."""
    started = time.monotonic()
    shown: set[tuple[str, int]] = set()
    step = ""
    with open(log_path, "wb") as log, subprocess.Popen(cmd, cwd=root, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as proc:
        assert proc.stdout is not None
        pending = b""
        while chunk := proc.stdout.read1(4096):  # type: ignore[attr-defined]
            log.write(chunk)
            pending += chunk
            *lines, pending = re.split(rb"[\r\n]", pending)
            for raw in lines:
                line = raw.decode("utf-8", "replace")
                if found := STEP.search(line):
                    step = found.group(1)
                    print(f"  {time.monotonic() - started:4.0f} s  {step}", flush=True)
                elif (epoch := EPOCH.search(line)) and step:
                    done, total = int(epoch.group(1)), int(epoch.group(2))
                    quarter = 4 * done // total
                    if quarter and (step, quarter) not in shown:
                        shown.add((step, quarter))
                        print(f"  {time.monotonic() - started:4.0f} s  {step}: epoch {done}/{total}", flush=True)
        return proc.wait()


def ensure_model(root: Path = ROOT) -> Path:
    """The trained model for the current inputs, training it first if it is not cached."""
    target = model_path(root)
    if target.exists():
        print(f"Model up to date: {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target} (no training needed)", flush=True)
        return target
    print(spacy_pipeline.describe(), flush=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    log_path = target.parent / TRAINING_LOG
    print(f"Training the model for inputs {target.name} (about 5 minutes on two cores; Rasa's output goes to {log_path}) ...", flush=True)
    started = time.monotonic()
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
    code = _train_with_progress(cmd, root, log_path)
    if code != 0:
        print(log_path.read_text(encoding="utf-8", errors="replace")[-4000:], flush=True)
        raise subprocess.CalledProcessError(code, cmd)
    (target.parent / f"{tmp_name}.tar.gz").replace(target)
    print(f"Trained {target.name} in {time.monotonic() - started:.0f} s", flush=True)
    prune(target.parent)
    return target


def prune(folder: Path, keep: int = 3) -> None:
    """Keep the newest few models (switching branches back and forth stays cheap), delete the rest."""
    models = sorted(folder.glob("frivillig-*.tar.gz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in models[keep:]:
        old.unlink(missing_ok=True)
