"""The report in a real browser (a system chromium driven by Playwright): events with their
thumbnails, a clip that plays, a hostile file name shown as text and never run, working
sort and filter, and no request leaving DIR."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.outputs.conftest import HOSTILE

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium: the browser test needs a system chromium (Debian: apt-get "
                    "install chromium); scripts/setup.sh installs with pip only")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield b
        b.close()


def test_report_shows_events_plays_clip_and_escapes_names(browser, carry_scan):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto((carry_scan / "report.html").as_uri())
    page.wait_for_load_state("load")

    ev = json.loads((carry_scan / "events.json").read_text())["events"][0]
    cards = page.locator(".card.ev")
    assert cards.count() == 1
    card = cards.first
    assert ev["id"] in card.inner_text() and "CARRY" in card.inner_text()
    # the thumbnail is a decoded image, not a broken link
    img = card.locator("img.thumb")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle())
    assert img.evaluate("i => i.naturalWidth") >= 640

    # the clip plays inline: enough data for the current frame, and time advances
    video = card.locator("video")
    video.evaluate("v => { v.muted = true; return v.play(); }")
    page.wait_for_function("v => v.readyState >= 2 && v.currentTime > 0.3", arg=video.element_handle(),
                           timeout=20000)
    assert video.evaluate("v => v.videoWidth") >= 640 and video.evaluate("v => v.error") is None

    # the hostile name is text: present verbatim (its newline shown as a marked \n), nothing ran
    shown = HOSTILE.replace("\n", "\\n")
    body = page.locator("body").inner_text()
    assert shown in body
    assert page.locator("span.ctl").first.inner_text() == "\\n"
    assert page.evaluate("window.__pwned") is None
    assert page.locator("script").count() == 1  # only the page's own sort/filter script
    assert page.locator("img[src='x']").count() == 0
    assert errors == []

    # sort and filter in the page
    page.fill("#ev-min", "0.99")
    assert not card.is_visible() and "0 of 1 shown" in page.inner_text("#ev-count")
    page.fill("#ev-min", "0")
    page.fill("#ev-q", "cødé")
    assert card.is_visible()
    page.fill("#ev-q", "no such camera")
    assert not card.is_visible()

    # every request stayed inside DIR (no network, nothing outside the output folder)
    assert requests and all(u.startswith(carry_scan.as_uri()) for u in requests), requests
    page.close()


def test_report_with_a_moved_folder_still_finds_its_media(browser, carry_scan, tmp_path):
    """Paths in the page are relative: a copied case folder works on another machine."""
    d = tmp_path / "moved case"
    shutil.copytree(carry_scan, d)
    page = browser.new_page()
    page.goto((d / "report.html").as_uri())
    img = page.locator("img.thumb").first
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle())
    sheet = page.locator("img.sheet").first
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=sheet.element_handle())
    page.close()
