"""The demo report in a real browser: headless Chromium (Debian's ``chromium``, driven by
Playwright for Python through ``executable_path``, never a browser Playwright downloads)
renders it at 1280 x 800 and on A4 portrait paper.

* no element is wider than the page at 1280 px, nor at the A4 text width in print media;
* every image loads;
* above the fold at 1280 x 800: which option is best on NPSV, what it costs whom, how sure;
* every table header's words are in the printed PDF's text (``pdftotext``), in order, so no
  column is cut off at the page edge;
* the check itself fails when a table is made too wide.

The tests skip, saying why, only when no Chromium (or Playwright, or pdftotext) is installed
here; ``.ci/run`` installs Chromium and poppler-utils, so CI runs them.
"""
from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from browser import ARGS, CHROMIUM, NEEDS_CHROMIUM, playwright_sync_api
from tpsim.cli import main

pytestmark = [NEEDS_CHROMIUM]
sync_api = playwright_sync_api()

SCREEN = {"width": 1280, "height": 800}
#: A4 portrait (210 mm) less the report's 13 mm side margins, in CSS px (96 a inch).
A4_TEXT_PX = int((210 - 2 * 13) / 25.4 * 96)

#: Every element whose right edge is past the viewport (or whose own content overflows it).
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  for (const e of document.querySelectorAll('body *')) {
    const r = e.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.right > width + 0.5 || r.left < -0.5 || e.scrollWidth > e.clientWidth + 1 &&
        getComputedStyle(e).overflowX === 'visible' && e.tagName === 'TABLE') {
      out.push(`${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''} ${Math.round(r.left)}-` +
               `${Math.round(r.right)} of ${width}: ${(e.innerText || '').slice(0, 60)}`);
    }
  }
  return {width, scroll: document.documentElement.scrollWidth, out};
}"""

IMAGES = """() => Array.from(document.images).map(i => ({alt: i.alt, ok: i.complete &&
  i.naturalWidth > 0, w: i.naturalWidth}))"""


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(main, ["demo", "--runs", "64", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out / "report.html"


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _page(browser, path: Path, viewport=SCREEN, media: str = "screen"):
    page = browser.new_page(viewport=viewport)
    page.emulate_media(media=media)
    page.goto(path.resolve().as_uri())
    page.wait_for_load_state("load")
    return page


def _overflow(page) -> dict:
    return page.evaluate(OVERFLOW)


def test_nothing_is_wider_than_the_page_at_1280_px_and_every_image_loads(browser, demo_report):
    page = _page(browser, demo_report)
    found = _overflow(page)
    assert found["scroll"] <= found["width"] and not found["out"], found["out"][:10]
    images = page.evaluate(IMAGES)
    n_charts = len(list((demo_report.parent / "charts").glob("*.png")))
    assert len(images) == n_charts
    assert all(i["ok"] for i in images), [i["alt"][:60] for i in images if not i["ok"]]
    assert all(len(i["alt"]) > 20 for i in images)  # alt text that says something
    page.close()


def test_above_the_fold_the_reader_sees_the_best_option_its_costs_and_how_sure(browser,
                                                                               demo_report):
    page = _page(browser, demo_report)
    table = page.locator("table.summary")
    box = table.bounding_box()
    assert box is not None and box["y"] + box["height"] <= SCREEN["height"], box
    heads = [t.strip() for t in table.locator("thead th").all_inner_texts()]
    assert "NPSV" in heads and "Largest net cost" in heads and "Gains most" in heads
    assert any(h.startswith("Runs with a positive") for h in heads)
    first = table.locator("tbody tr").first.locator("td").all_inner_texts()
    assert first[0].startswith("1. ")
    page.close()


def test_the_printed_a4_report_keeps_every_column(browser, demo_report, tmp_path):
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext is not installed (apt-get install poppler-utils; .ci/run does)")
    page = _page(browser, demo_report, {"width": A4_TEXT_PX, "height": 1000}, media="print")
    found = _overflow(page)
    assert found["scroll"] <= found["width"] and not found["out"], found["out"][:10]
    pdf = tmp_path / "report.pdf"
    page.pdf(path=str(pdf), prefer_css_page_size=True, print_background=True)
    page.close()
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    words = _words(text)
    page_html = demo_report.read_text(encoding="utf-8")
    at = 0
    for head in re.findall(r"<th scope=\"col\"[^>]*>(.*?)</th>", page_html):
        wanted = _words(html.unescape(head))
        at = _find_in_order(words, wanted, at)
        assert at >= 0, f"table header {html.unescape(head)!r} is not in the printed PDF's text"
    pages = int(re.search(r"Pages:\s+(\d+)", subprocess.run(
        ["pdfinfo", str(pdf)], capture_output=True, text=True).stdout or "Pages: 0").group(1)) \
        if shutil.which("pdfinfo") else None
    assert pages is None or pages > 3


def test_the_width_check_fails_when_a_table_is_made_too_wide(browser, demo_report, tmp_path):
    wide = demo_report.read_text(encoding="utf-8").replace(
        '<section id="economic">',
        '<table id="too-wide"><tr><td style="white-space: nowrap">' + "wide " * 400
        + '</td></tr></table><section id="economic">', 1)
    path = tmp_path / "wide.html"
    path.write_text(wide, encoding="utf-8")
    page = _page(browser, path)
    found = _overflow(page)
    assert any(o.startswith("table#too-wide") for o in found["out"]), found
    page.close()


def _words(text: str) -> list[str]:
    """Words without punctuation at their ends, lower case; a word hyphenated across two
    lines by the browser joined again."""
    text = re.sub(r"(\w)[-\u2010\u00ad]\s*\n\s*(\w)", r"\1\2", text)
    return [w.strip(".,;:()[]'\"").lower() for w in text.split() if w.strip(".,;:()[]'\"")]


def _find_in_order(words: list[str], wanted: list[str], start: int) -> int:
    """Index after the first word of ``wanted`` at or after ``start`` from which every word of
    ``wanted`` follows in order within a short window (cells of one table row may interleave
    in the PDF's text); -1 if none."""
    window = 60 + 4 * len(wanted)
    i = start
    while True:
        try:
            i = words.index(wanted[0], i)
        except ValueError:
            return -1
        k, j = 1, i + 1
        while k < len(wanted) and j < min(len(words), i + window):
            if words[j] == wanted[k]:
                k += 1
            j += 1
        if k == len(wanted):
            return i
        i += 1
