"""Settings, the spaCy pipeline identity, the model cache key and generated NLU data."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.rasa_server import spacy_pipeline
from bot.settings import ROOT, Settings
from bot.tooling import nlu_data, training


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
    if spacy_pipeline.official_version():
        assert spacy_pipeline.identity().startswith("da_core_news_sm==")
    else:
        assert spacy_pipeline.identity().startswith("fallback:") and "da_core_news_sm" not in spacy_pipeline.identity()
        assert "WARNING" in spacy_pipeline.describe()


def test_model_fingerprint_depends_on_the_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    before = training.fingerprint()
    assert training.fingerprint() == before
    monkeypatch.setattr(spacy_pipeline, "identity", lambda: "da_core_news_sm==3.4.0")
    assert training.fingerprint() != before


def _copy_inputs(tmp_path: Path) -> None:
    for path in training.input_files():
        target = tmp_path / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())


def test_model_fingerprint_depends_on_the_data(tmp_path: Path) -> None:
    _copy_inputs(tmp_path)
    before = training.fingerprint(tmp_path)
    assert before == training.fingerprint()
    (tmp_path / "nlu" / "extra.yml").write_text('version: "3.1"\nnlu: []\n')
    assert training.fingerprint(tmp_path) != before


@pytest.mark.parametrize(
    "module",
    [
        "bot/rasa_server/nlu.py",  # a component named in config.yml
        "bot/rasa_server/policies.py",  # a policy named in config.yml
        "bot/language/text.py",  # a module a component imports
        "bot/rasa_server/spacy_pipeline.py",  # imported by a component, and importing the settings
        "bot/settings.py",
        "bot/__init__.py",  # a package a component's module lives in
    ],
)
def test_a_change_in_any_module_training_runs_retrains(tmp_path: Path, module: str) -> None:
    _copy_inputs(tmp_path)
    before = training.fingerprint(tmp_path)
    (tmp_path / module).write_text((ROOT / module).read_text(encoding="utf-8") + "\n_CHANGED = True\n", encoding="utf-8")
    assert training.fingerprint(tmp_path) != before


def test_comments_and_docstrings_do_not_retrain(tmp_path: Path) -> None:
    _copy_inputs(tmp_path)
    before = training.fingerprint(tmp_path)
    module = tmp_path / "bot" / "rasa_server" / "nlu.py"
    source = module.read_text(encoding="utf-8")
    module.write_text(source.replace('"""NLU components', '"""Reworded: NLU components', 1) + "\n# a comment\n", encoding="utf-8")
    assert training.fingerprint(tmp_path) == before


def test_modules_training_never_runs_do_not_retrain() -> None:
    inputs = {str(p.relative_to(ROOT)) for p in training.code_inputs()}
    assert "bot/web/app.py" not in inputs and "actions/forms.py" not in inputs and "bot/rasa_server/channels.py" not in inputs


def test_generated_place_nlu_is_current() -> None:
    assert nlu_data.TARGET.read_text(encoding="utf-8") == nlu_data.render(), "run: python -m bot nlu-lookups"
