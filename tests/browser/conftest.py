"""Browser tests: Debian's chromium driven by Playwright against the whole service on a real
HTTP server (SQLite; the pages do not depend on the database). Never a browser download: without
/usr/bin/chromium the tests skip with the reason, and fail instead when CI=true.

The accessibility rules come from axe-core, an npm package pinned in tests/browser/package.json
and installed beside it (`npm ci`) the first time a test needs it; it is injected into the page
under test, never fetched by the browser."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from live_service import LiveService, start_service

from sms_ktp.platform.clock import FixedClock
from sms_ktp.platform.db import Database

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
HERE = Path(__file__).parent
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.0 and 2.1, levels A and AA: what the back office promises (axe's best practices and
# AAA rules are not asked for).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# The violations as the report of a failing test reads them: the rule, its impact, and where.
RUN_AXE = """
async (tags) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: tags},
                                          resultTypes: ["violations"]});
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({target: n.target.join(" "), html: n.html.slice(0, 160),
                                summary: n.failureSummary}))}));
}
"""


def _missing(message: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


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


@pytest.fixture(scope="session")
def axe_script() -> Path:
    """axe-core's script, installed from the lock file when it is not there yet."""
    if not AXE.exists():
        npm = shutil.which("npm")
        if npm is None:
            _missing("the accessibility tests need npm to install axe-core (apt-get install npm)")
        done = subprocess.run([str(npm), "ci", "--prefix", str(HERE), "--no-audit", "--no-fund"],
                              capture_output=True, text=True, timeout=300)
        if done.returncode != 0 or not AXE.exists():
            _missing(f"npm ci --prefix {HERE} did not install axe-core: {done.stderr[-2000:]}")
    return AXE


@pytest.fixture(scope="session")
def axe(axe_script: Path) -> Callable[[Any], list[dict[str, Any]]]:
    """`axe(page)`: the WCAG 2.1 A and AA violations of the page as it is now. The page's
    context must bypass the Content-Security-Policy (`bypass_csp=True`), which forbids the
    injected script like any other inline script."""

    def run(page: Any) -> list[dict[str, Any]]:
        page.add_script_tag(path=str(axe_script))
        if not page.evaluate("typeof axe !== 'undefined'"):
            raise AssertionError("axe-core did not load: open the page with bypass_csp=True")
        return list(page.evaluate(RUN_AXE, AXE_TAGS))

    return run


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
