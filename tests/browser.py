"""The system Chromium the browser tests drive through Playwright (no browser download): its
path, the skip marks when it or Playwright is missing, and the flags a headless Chromium with
no network of its own needs on this machine."""
from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM = os.environ.get("TPSIM_CHROMIUM") or next(
    (p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome"))
     if p), None)
#: ``pytestmark`` of a browser test module.
NEEDS_CHROMIUM = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium on this machine (apt-get install chromium; .ci/run does)")

#: The flags the machine needs for a headless Chromium with no network of its own.
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def playwright_sync_api():
    """``playwright.sync_api``, or skip the calling module when Playwright is not installed."""
    return pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not "
                               "installed (pip install '.[browser]')")
