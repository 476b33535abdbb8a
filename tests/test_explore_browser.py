"""The explorer in a real browser: headless Chromium (Debian's ``chromium``, driven by
Playwright for Python through ``executable_path``, never a browser Playwright downloads) loads
the page, moves a slider, and the NPSV it shows is ``tpsim compare``'s on the scenario files the
page saves; a refused value shows its message in the page; two pages keep their own settings.

Skips, saying why, only when no Chromium (or Playwright) is installed; ``.ci/run`` installs
Chromium, so CI runs it.
"""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

import tpsim
from browser import ARGS, CHROMIUM, NEEDS_CHROMIUM, playwright_sync_api
from tpsim.config.scenario import load_scenario
from tpsim.explore.engine import Explorer
from tpsim.explore.server import make_server
from tpsim.present import wording

pytestmark = [NEEDS_CHROMIUM]
sync_api = playwright_sync_api()
SC = Path(__file__).resolve().parents[1] / "scenarios"
OPTION = "pooled_prevention_uncertain"


@pytest.fixture(scope="module")
def url():
    ex = Explorer([load_scenario(SC / f"{OPTION}.yaml"), load_scenario(SC / "pilots_plus.yaml")],
                  load_scenario(SC / "siloed_squeeze.yaml"))
    srv = make_server(ex, "127.0.0.1", 0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv.url
    srv.shutdown()
    srv.server_close()
    ex.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _open(browser, url):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    failed = []
    page.on("pageerror", lambda e: failed.append(str(e)))
    page.on("requestfailed", lambda r: failed.append(f"{r.url}: {r.failure}"))
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)
    return context, page, failed


def _move(page, control: str, value: float, version: int) -> None:
    """Move a slider as a person would (its group opened first) and wait for the answer."""
    page.evaluate("id => { document.getElementById(id).closest('details').open = true; }",
                  f"slider-{control}")
    page.locator(f"#slider-{control.replace('.', chr(92) + '.')}").fill(str(value))
    page.wait_for_function(f"document.body.dataset.version === '{version}'", timeout=30_000)


def _download(page, selector: str, folder: Path) -> Path:
    with page.expect_download() as info:
        page.click(selector)
    target = folder / info.value.suggested_filename
    info.value.save_as(target)
    return target


def test_slider_move_shows_compare_npsv_of_the_saved_files(browser, url, tmp_path):
    context, page, failed = _open(browser, url)
    before = float(page.get_attribute("#npsv", "data-value"))
    _move(page, "places.falls_prevention", 1500, 1)
    shown = float(page.get_attribute("#npsv", "data-value"))
    assert shown != before
    assert page.inner_text("#value-places\\.falls_prevention").startswith("1,500")
    option_file = _download(page, "#save-option", tmp_path)
    cf_file = _download(page, "#save-counterfactual", tmp_path)
    assert option_file.name == f"{OPTION}_explored.yaml"
    option = tpsim.compare(option_file, against=cf_file)[f"{OPTION}_explored"]
    assert shown == option.npsv                       # exact: the same runs and appraisal
    assert page.inner_text("#npsv") == wording.money(option.npsv)
    assert load_scenario(option_file).data["services"]["falls_prevention"]["places"] == 1500.0
    assert page.locator("#agencies-chart svg rect").count() == len(option.fiscal_npv_by_agency)
    assert page.locator("#jcurve-chart .marker").count() == 1  # the Parliament is marked
    assert not failed, failed
    context.close()


def test_refused_value_shows_a_message_in_the_page(browser, url):
    context, page, failed = _open(browser, url)
    _move(page, "pool_share.falls_prevention", 0.95, 0)  # the version does not move
    page.wait_for_selector("#message:not([hidden])", timeout=30_000)
    text = page.inner_text("#message")
    assert "shares must sum to at most 1" in text and "Traceback" not in text
    assert page.get_attribute("body", "data-version") == "0"
    assert not failed, failed
    context.close()


def test_two_pages_keep_their_own_settings(browser, url):
    c1, one, _ = _open(browser, url)
    c2, two, _ = _open(browser, url)
    _move(one, "places.early_help", 2000, 1)
    _move(two, "capture_share", 0.1, 1)
    v1 = one.get_attribute("#npsv", "data-value")
    v2 = two.get_attribute("#npsv", "data-value")
    assert v1 != v2
    assert one.inner_text("#value-capture_share").startswith("50")
    assert two.inner_text("#value-places\\.early_help").startswith("600")
    c1.close()
    c2.close()


def test_uncertainty_band_on_demand(browser, url):
    context, page, failed = _open(browser, url)
    _move(page, "places.reablement", 300, 1)
    page.click("#uncertainty")
    page.wait_for_function("document.getElementById('band-note').textContent.length > 0",
                           timeout=120_000)
    assert "2,000 Monte Carlo runs" in page.inner_text("#band-note")
    assert page.locator("#states-chart .band").count() == 15  # every need state
    assert page.inner_text("#fiscal-range").startswith("90% range")
    assert not failed, failed
    context.close()
