"""Which spaCy pipeline the NLU runs on: da_core_news_sm when installed, else a saved blank Danish one.

da_core_news_sm is published on spaCy's release page, not on PyPI. Where that page
cannot be reached the bot still trains and runs, on a blank Danish pipeline with the
lookup lemmatizer from spacy-lookups-data, and says so loudly. Nothing here ever
claims the fallback is da_core_news_sm.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

from bot.settings import settings

OFFICIAL = "da_core_news_sm"
OFFICIAL_VERSION = "3.4.0"
OFFICIAL_WHEEL = f"https://github.com/explosion/spacy-models/releases/download/{OFFICIAL}-{OFFICIAL_VERSION}/{OFFICIAL}-{OFFICIAL_VERSION}-py3-none-any.whl"


def official_version() -> str | None:
    try:
        return importlib.metadata.version(OFFICIAL)
    except importlib.metadata.PackageNotFoundError:
        return None


def fallback_dir() -> Path:
    return settings().spacy_fallback_dir


def identity() -> str:
    """A stable name for the pipeline in use; part of the model's fingerprint."""
    version = official_version()
    if version:
        return f"{OFFICIAL}=={version}"
    lookups = importlib.metadata.version("spacy-lookups-data")
    spacy_version = importlib.metadata.version("spacy")
    return f"fallback:blank-da+lookup-lemmatizer(spacy=={spacy_version},spacy-lookups-data=={lookups})"


def load_target() -> str:
    """What spacy.load() gets: the package name, or the saved fallback's path."""
    if official_version():
        return OFFICIAL
    path = fallback_dir()
    if not (path / "meta.json").exists():
        build_fallback(path)
    return str(path)


def describe() -> str:
    if official_version():
        return f"spaCy pipeline: {identity()}"
    return f"WARNING: {OFFICIAL} is not installed; the NLU uses a blank Danish pipeline with the lookup lemmatizer ({identity()}), saved in {fallback_dir()}"


def build_fallback(path: Path) -> None:
    import spacy

    nlp = spacy.blank("da")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()
    nlp.meta["name"] = "blank_lookup_fallback"
    nlp.meta["description"] = "Blank Danish pipeline with the lookup lemmatizer from spacy-lookups-data (not da_core_news_sm)."
    path.parent.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(path)


def try_install_official() -> bool:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--timeout", "20", "--retries", "0", OFFICIAL_WHEEL],
        capture_output=True,
        text=True,
    )
    return proc.returncode == 0


def ensure() -> str:
    """Setup step: install the official pipeline if reachable, else make sure the fallback exists."""
    if not official_version() and not try_install_official():
        build_fallback(fallback_dir())
    return describe()
