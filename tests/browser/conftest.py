"""Browser tests: Debian's chromium driven by Playwright against the whole service on a real
HTTP server (SQLite; the pages do not depend on the database). Never a browser download: without
/usr/bin/chromium the tests skip with the reason, and fail instead when CI=true."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_service import LiveService, start_service

from sms_ktp.platform.clock import FixedClock
from sms_ktp.platform.db import Database

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    if not CHROMIUM.exists():
        message = f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def live(tmp_path: Path, clock: FixedClock) -> Iterator[LiveService]:
    database = Database(f"sqlite:///{tmp_path / 'sms-ktp.db'}")
    database.create_schema()
    yield from start_service(database, clock, tmp_path)
    database.dispose()


@pytest.fixture
def page(chromium) -> Iterator[object]:  # type: ignore[no-untyped-def]
    context = chromium.new_context(viewport={"width": 1280, "height": 860}, locale="id-ID")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()
