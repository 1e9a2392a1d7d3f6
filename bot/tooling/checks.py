"""Data validation and story tests, as `make test` runs them."""

from __future__ import annotations

import re
import subprocess

from bot.settings import ROOT
from bot.tooling.processes import child_env, rasa_command
from bot.tooling.training import ensure_model

# Rasa reports problems in our data through rasa/shared/utils/io.py; other warnings come from libraries.
WARNING = re.compile(r"rasa/shared/utils/io\.py:\d+: \w*Warning: (.*)")
UNUSED_UTTERANCE = re.compile(r"The utterance '(utter_[a-z0-9_]+)' is not used in any story or rule")
# The validator cannot see responses sent by custom actions; those must then appear in the actions' code.
CODE_SENDING_RESPONSES = ("actions", "bot/rasa_server/channels.py", "bot/rasa_server/live.py", "bot/telegram")


def used_by_code() -> tuple[set[str], set[str]]:
    """Response names the code sends, and prefixes of names it composes (f"utter_summary_{slot}")."""
    names: set[str] = set()
    prefixes: set[str] = set()
    for entry in CODE_SENDING_RESPONSES:
        path = ROOT / entry
        for file in [path] if path.is_file() else path.rglob("*.py"):
            source = file.read_text(encoding="utf-8")
            names.update(re.findall(r"[\"'](utter_[a-z0-9_]+)[\"']", source))
            prefixes.update(re.findall(r"f[\"'](utter_[a-z0-9_]+_)\{", source))
    return names, prefixes


def asked_by_forms() -> set[str]:
    import yaml

    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    return {f"utter_ask_{slot}" for form in domain.get("forms", {}).values() for slot in form.get("required_slots", [])}


# Rasa's own action_default_fallback (config.yml's core_fallback_action_name) sends this one.
SENT_BY_RASA = {"utter_default"}


def unexplained_warnings(output: str) -> list[str]:
    """Every warning rasa data validate printed, except unused responses that custom actions or Rasa's own actions send."""
    names, prefixes = used_by_code()
    names |= asked_by_forms() | SENT_BY_RASA
    problems = []
    for line in output.splitlines():
        match = WARNING.search(line)
        if not match:
            continue
        unused = UNUSED_UTTERANCE.search(line)
        if unused and (unused.group(1) in names or unused.group(1).startswith(tuple(prefixes))):
            continue
        problems.append(match.group(1).strip())
    return problems


def validate() -> int:
    """rasa data validate; fails on any warning it prints about our data."""
    proc = subprocess.run(
        rasa_command("data", "validate", "--max-history", "5", "--domain", "domain.yml", "--data", "nlu", "stories", "--config", "config.yml"),
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
    )
    output = proc.stdout + proc.stderr
    problems = unexplained_warnings(output)
    if proc.returncode != 0 or problems:
        print(output[-4000:])
        print("rasa data validate found problems:")
        for line in problems:
            print("  " + line)
        return 1
    print("rasa data validate: no warnings about our data")
    return 0


def test_stories() -> int:
    model = ensure_model()
    out = ROOT / "var" / "reports" / "stories"
    out.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        rasa_command(
            "test",
            "core",
            "--model",
            str(model),
            "--stories",
            "tests/stories",
            "--fail-on-prediction-errors",
            "--out",
            str(out),
            "--endpoints",
            "endpoints.yml",
        ),
        cwd=ROOT,
        env=child_env(),
    )
    return proc.returncode
