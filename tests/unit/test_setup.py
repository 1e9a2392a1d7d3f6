"""Settings, the spaCy pipeline identity, the model cache key and generated NLU data."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import nlu_data, spacy_setup, training
from bot.settings import ROOT, Settings


def test_settings_defaults_are_embedded() -> None:
    config = Settings.from_env({})
    assert (config.rasa_port, config.action_port, config.web_port) == (5005, 5055, 8000)
    assert config.leads_url.startswith("sqlite:///") and config.tracker_url.startswith("sqlite:///")
    assert config.rasa_env()["LOCK_STORE_TYPE"] == "in_memory"


def test_settings_from_environment() -> None:
    config = Settings.from_env({"RASA_PORT": "6000", "REDIS_URL": "redis://cache:6380/2", "COOKIE_SECURE": "false", "LEADS_DB_URL": "postgresql://u@h/db"})
    assert config.rasa_port == 6000 and config.cookie_secure is False and config.leads_url == "postgresql://u@h/db"
    env = config.rasa_env()
    assert (env["LOCK_STORE_TYPE"], env["LOCK_REDIS_HOST"], env["LOCK_REDIS_PORT"], env["LOCK_REDIS_DB"]) == ("redis", "cache", "6380", "2")


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for env, _, _ in Settings.documented():
        assert env in readme, env


def test_the_pipeline_never_claims_to_be_da_core_news_sm_when_it_is_not() -> None:
    if spacy_setup.official_version():
        assert spacy_setup.identity().startswith("da_core_news_sm==")
    else:
        assert spacy_setup.identity().startswith("fallback:") and "da_core_news_sm" not in spacy_setup.identity()
        assert "WARNING" in spacy_setup.describe()


def test_model_fingerprint_depends_on_the_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    before = training.fingerprint()
    assert training.fingerprint() == before
    monkeypatch.setattr(spacy_setup, "identity", lambda: "da_core_news_sm==3.4.0")
    assert training.fingerprint() != before


def test_model_fingerprint_depends_on_the_data(tmp_path: Path) -> None:
    for name in training.INPUTS:
        source = ROOT / name
        if source.is_dir():
            (tmp_path / name).mkdir()
            for f in source.glob("*.yml"):
                (tmp_path / name / f.name).write_bytes(f.read_bytes())
        else:
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_bytes(source.read_bytes())
    before = training.fingerprint(tmp_path)
    (tmp_path / "nlu" / "extra.yml").write_text('version: "3.1"\nnlu: []\n')
    with_data = training.fingerprint(tmp_path)
    assert with_data != before
    (tmp_path / "bot" / "nlp.py").write_text((ROOT / "bot" / "nlp.py").read_text() + "\n# changed\n")
    assert training.fingerprint(tmp_path) != with_data  # a changed NLU component retrains too


def test_generated_municipality_nlu_is_current() -> None:
    assert nlu_data.TARGET.read_text(encoding="utf-8") == nlu_data.render(), "run: python -m bot nlu-lookups"
