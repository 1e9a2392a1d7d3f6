"""The dashboard in a real browser against the real web server (`python -m bot web`), as two coordinators use it."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from bot.knowledge import kb
from bot.settings import ROOT, Settings
from bot.store import LeadStore
from bot.store.casework import Viewer
from bot.store.intake import LeadDraft
from stack import free_port, wait_until

PASSWORD = "koordinator-kode-1"


def _draft(name: str, region: str, conversation_id: str, **fields: object) -> LeadDraft:
    return LeadDraft(
        kind="signup",
        conversation_id=conversation_id,
        channel="socketio",
        name=name,
        email=f"{conversation_id}@eksempel.dk",
        phone="+45 20 30 40 50",
        region=region,
        municipality="Viborg" if region == "midtjylland" else "Aalborg",
        interests=["vejviser"],
        availability="Tirsdage og torsdage",
        message="Jeg har god tid",
        consent_at="2026-11-20T10:00:00",
        consent_version=kb().consent_version,
        transcript=[{"who": "borger", "text": "Kan jeg blive vejviser i Viborg?", "at": 1795000000.0}],
        **fields,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """The web server on a temporary VAR_DIR with two coordinators and three leads."""
    var_dir = tmp_path_factory.mktemp("web")
    env = {"VAR_DIR": str(var_dir), "WEB_PORT": str(free_port()), "COOKIE_SECURE": "false"}
    config = Settings.from_env(env)
    store = LeadStore(config.leads_url, spool_dir=config.spool_dir)
    store.accounts.add("mette@rm.dk", "Mette Midt", "coordinator", ["midtjylland"], PASSWORD)
    store.accounts.add("ole@rn.dk", "Ole Nord", "coordinator", ["nordjylland"], PASSWORD)
    leads = {
        "viborg": store.intake.save(_draft("Vibeke Viborg", "midtjylland", "web-viborg")).reference,
        "kontaktet": store.intake.save(_draft("Kaj Kontaktet", "midtjylland", "web-kaj")).reference,
        "nord": store.intake.save(_draft("Nanna Nord", "nordjylland", "web-nanna")).reference,
    }
    store.cases.set_status(Viewer("test", "admin", ()), leads["kontaktet"], "kontaktet")
    log = open(var_dir / "web.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "web"],
        cwd=ROOT,
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://localhost:{config.web_port}"
    try:
        wait_until(lambda: urllib.request.urlopen(f"{base}/healthz", timeout=2).status == 200, 60, "web server", proc)
        yield base, leads
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        print((var_dir / "web.log").read_text(errors="replace")[-3000:])


def login(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/dashboard/")
    expect(page).to_have_url(f"{base}/dashboard/login?next=/dashboard/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Adgangskode").fill(PASSWORD)
    page.get_by_role("button", name="Log ind").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Overblik")


def test_a_coordinator_works_through_a_lead(server: tuple[str, dict[str, str]], browser: Browser, artifacts: Path) -> None:
    base, leads = server
    context = browser.new_context(accept_downloads=True, locale="da-DK", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    login(page, base, "mette@rm.dk")

    page.get_by_role("link", name="Henvendelser", exact=True).click()
    page.get_by_label("Status").select_option(label="Ny")
    page.get_by_role("button", name="Filtrér").click()
    assert "status=ny" in page.url
    table = page.locator("table.leads")
    expect(table).to_contain_text("Vibeke Viborg")
    expect(table).not_to_contain_text("Kaj Kontaktet")
    expect(table).not_to_contain_text("Nanna Nord")

    page.get_by_role("link", name=leads["viborg"]).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Vibeke Viborg")
    expect(page.locator("dl.facts")).to_contain_text("Tirsdage og torsdage")
    expect(page.locator(".transcript")).to_contain_text("Kan jeg blive vejviser i Viborg?")

    page.get_by_role("button", name="Kontaktet", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Status er ændret.")
    expect(page.locator("#status ~ p")).to_contain_text("Nu: Kontaktet")
    expect(page.get_by_role("button", name="Aftalt", exact=True)).to_be_visible()

    page.get_by_label("Ny note").fill("Ringet op – møder i Viborg på fredag.")
    page.get_by_role("button", name="Gem note").click()
    expect(page.get_by_role("status")).to_contain_text("Noten er gemt.")
    expect(page.locator(".notes")).to_contain_text("Ringet op – møder i Viborg på fredag.")
    expect(page.locator(".notes")).to_contain_text("mette@rm.dk")

    artifacts.mkdir(exist_ok=True)
    page.screenshot(path=str(artifacts / "dashboard-lead.png"), full_page=True)

    page.get_by_role("link", name="Tilbage til henvendelserne").click()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Eksportér").click()
    download = download_info.value
    assert download.suggested_filename.startswith("leads-") and download.suggested_filename.endswith(".csv")
    content = Path(download.path()).read_bytes().decode("utf-8")
    assert content.startswith("\ufeff")
    header, *rows = content[1:].strip().split("\r\n")
    assert header.startswith("reference;kind;created_at;name;")
    assert any(row.startswith(f"{leads['viborg']};signup;") and ";kontaktet;" in row for row in rows)
    assert leads["nord"] not in content
    context.close()


def test_a_coordinator_of_another_region_cannot_see_the_lead(server: tuple[str, dict[str, str]], browser: Browser) -> None:
    base, leads = server
    context = browser.new_context(locale="da-DK")
    page = context.new_page()
    login(page, base, "ole@rn.dk")
    response = page.goto(f"{base}/dashboard/leads/{leads['viborg']}")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Siden findes ikke")
    expect(page.locator("main")).not_to_contain_text("Vibeke")
    page.goto(f"{base}/dashboard/leads")
    expect(page.locator("table.leads")).to_contain_text("Nanna Nord")
    expect(page.locator("main")).not_to_contain_text(leads["viborg"])
    expect(page.locator("main")).not_to_contain_text("Vibeke Viborg")
    context.close()


def test_the_lead_list_is_usable_at_320_px(server: tuple[str, dict[str, str]], browser: Browser) -> None:
    base, leads = server
    context = browser.new_context(locale="da-DK", viewport={"width": 320, "height": 640})
    page = context.new_page()
    login(page, base, "mette@rm.dk")
    page.goto(f"{base}/dashboard/leads")
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Spring til indholdet")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.goto(f"{base}/dashboard/leads/{leads['kontaktet']}")
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    context.close()
