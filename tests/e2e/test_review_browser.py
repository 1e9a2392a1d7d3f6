"""»Lær af samtalerne« in a real browser against the real web server: a coordinator reviews what the bot handled badly
in her region, and the export turns her decisions into NLU training data."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import Browser, expect
from rasa.shared.nlu.training_data.loading import load_data
from test_accessibility import assert_accessible

from bot.settings import ROOT, Settings
from bot.store import LeadStore
from stack import Conversation, free_port, http, wait_until

PASSWORD = "koordinator-kode-1"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """The web server on a temporary VAR_DIR, with conversations of two regions in the tracker store."""
    var_dir = tmp_path_factory.mktemp("review")
    env = {"VAR_DIR": str(var_dir), "WEB_PORT": str(free_port()), "COOKIE_SECURE": "false"}
    config = Settings.from_env(env)
    LeadStore(config.leads_url).accounts.add("mette@rm.dk", "Mette Midtjylland", "coordinator", ["midtjylland"], PASSWORD)
    midt = Conversation(config.tracker_url, "web:midt-1").slot("name", "Signe Kragh").slot("region", "midtjylland")
    midt.user("får jeg kørepenge når jeg kører til hospitalet", "nlu_fallback", 0.1).bot("Jeg forstod ikke helt ...")
    midt.user("er jeg dækket hvis jeg snubler på gangen", "ask_requirements", 0.35).bot("Kravene er ...")
    midt.user("hvornår åbner kantinen, min mail er signe@eksempel.dk", "nlu_fallback", 0.1).bot("Jeg forstod ikke helt ...")
    Conversation(config.tracker_url, "web:midt-2").slot("region", "midtjylland").user("Får jeg kørepenge når jeg kører til hospitalet?", "nlu_fallback", 0.1)
    Conversation(config.tracker_url, "web:nord").slot("region", "nordjylland").user("hemmelig besked fra Nordjylland", "nlu_fallback", 0.1)
    log = open(var_dir / "web.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "web"], cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://localhost:{config.web_port}"
    try:
        wait_until(lambda: http("GET", f"{base}/healthz", timeout=2)[0] == 200, 60, "web server", proc)
        yield base, env
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def test_a_coordinator_teaches_the_bot_and_the_export_is_training_data(server: tuple[str, dict[str, str]], browser: Browser, tmp_path: Path) -> None:
    base, env = server
    context = browser.new_context(locale="da-DK", viewport={"width": 1280, "height": 900}, bypass_csp=True)  # axe is injected
    page = context.new_page()
    page.goto(f"{base}/dashboard/login")
    page.get_by_label("E-mail").fill("mette@rm.dk")
    page.get_by_label("Adgangskode").fill(PASSWORD)
    page.get_by_role("button", name="Log ind").click()
    page.get_by_role("link", name="Lær af samtalerne").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Lær af samtalerne")

    groups = page.locator(".review-group")
    expect(groups).to_have_count(3)  # her region's only; two wordings of the mileage question are one group
    expect(page.locator("main")).not_to_contain_text("Nordjylland")
    expect(page.locator("main")).not_to_contain_text("signe@eksempel.dk")
    expect(page.locator("main")).to_contain_text("xxx@xxx")
    mileage = groups.filter(has_text="får jeg kørepenge")
    expect(mileage).to_contain_text("2 gange")
    assert_accessible(page, "the review inbox")

    mileage.get_by_label("Betyder").select_option("ask_pay")
    mileage.get_by_role("button", name="Lær det").click()
    expect(page.get_by_text("Beslutningen er gemt.")).to_be_visible()
    insurance = page.locator(".review-group").filter(has_text="dækket hvis jeg snubler")
    insurance.get_by_label("Betyder").select_option("ask_insurance")
    insurance.get_by_role("button", name="Lær det").click()
    canteen = page.locator(".review-group").filter(has_text="kantinen")
    canteen.get_by_role("button", name="Uden for emnet").click()
    expect(page.get_by_text("Der er ingen beskeder at gennemgå.")).to_be_visible()
    expect(page.get_by_role("table")).to_contain_text("Uden for emnet")
    assert_accessible(page, "the review page with decisions")
    context.close()

    nlu = tmp_path / "nlu"
    shutil.copytree(ROOT / "nlu", nlu)
    (nlu / "reviewed.yml").unlink(missing_ok=True)
    out = subprocess.run(
        [sys.executable, "-m", "bot", "review", "export", "--output", str(nlu / "reviewed.yml")],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    # The two decisions' examples; the group's second wording differs only in case and punctuation, so it is not repeated.
    assert out.returncode == 0 and "wrote 2 reviewed examples" in out.stdout, out.stdout + out.stderr
    data = {m.get("text"): m.get("intent") for m in load_data(str(nlu)).intent_examples}
    mileage_examples = [text for text in data if "kørepenge når jeg kører til hospitalet" in text.lower()]
    assert len(mileage_examples) == 1 and data[mileage_examples[0]] == "ask_pay"
    assert data["er jeg dækket hvis jeg snubler på gangen"] == "ask_insurance"
    assert not any("kantinen" in text for text in data)  # out of scope is no training example
