"""The pages under their Content-Security-Policy, in a real browser: every page of the back office
and the phone simulator opens without one violation or console complaint, and what their scripts
do (the broadcast counter and its recipient count, the simulator's keypad) still works.

Violations are caught twice: the `securitypolicyviolation` events the page fires, recorded by a
script the browser runs before the page's own, and the console messages Chromium writes for
them."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

import pytest
from browser_pages import sign_in
from live_service import KK, NIK, PHONE, LiveService
from playwright.sync_api import expect
from sqlalchemy import func, insert, select
from staff_browser import make_staff

from sms_ktp.applications import pickup
from sms_ktp.models import Broadcast, Family, PickupVisit, PrintBatch
from sms_ktp.web import create_app
from sms_ktp.web.security_headers import CONTENT_SECURITY_POLICY

RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__violations.push(event.violatedDirective + " blocked " + (event.blockedURI || "inline")
                           + " at " + event.sourceFile + ":" + event.lineNumber);
});
"""

QUERIES = {"/staff/broadcasts/recipients": "?audience=all"}  # what a route needs to answer 200
# The receipt of a registration made in this browser only: without one, the not-found page (under
# the policy as well).
STATUS = {"/staff/register/receipt": 404}


def status_of(path: str) -> int | None:
    """The status a page answers with other than 200: the print page of a KTP-el's application
    (a card, no PDF to print) is not found."""
    return 404 if path.endswith("/print") else STATUS.get(path)
# Files saved, not pages a browser shows.
DOWNLOADS = {"/staff/applications/export.<fmt>",
             "/staff/applications/<reference>/documents/<int:file_id>"}


# A turn of the page's event loop after a rendering opportunity: what the browser queued while
# the page loaded (a violation's event) has been dispatched by then.
ONE_TURN = "() => new Promise(done => requestAnimationFrame(() => setTimeout(done, 0)))"


class Watched:
    """A page whose CSP violations, console messages and uncaught errors are kept."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.console: list[str] = []
        self.in_flight: set[Any] = set()
        page.add_init_script(RECORD_VIOLATIONS)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.console.append(f"pageerror: {error}"))
        page.on("request", lambda request: self.in_flight.add(request))
        page.on("requestfinished", lambda request: self.in_flight.discard(request))
        page.on("requestfailed", lambda request: self.in_flight.discard(request))

    def settle(self) -> None:
        """Once the page has loaded: every request it made answered (the broadcast form's fetch
        of its recipients), then one turn of its event loop. What `networkidle` waits for,
        without its half second of quiet on each page."""
        deadline = time.monotonic() + 10
        while self.in_flight:
            assert time.monotonic() < deadline, f"requests unanswered: {self.in_flight}"
            self.page.wait_for_timeout(10)
        self.page.evaluate(ONE_TURN)

    def _console(self, message: Any) -> None:
        # The browser asks for /favicon.ico by itself, and the service has none: not a page's.
        if not message.location.get("url", "").endswith("/favicon.ico"):
            self.console.append(f"{message.type}: {message.text} ({self.page.url})")

    def violations(self) -> list[str]:
        return list(self.page.evaluate("window.__violations || []"))

    def complaints(self) -> list[str]:
        """What went wrong so far: violations of this page, console messages of every page."""
        return [f"{self.page.url}: {v}" for v in self.violations()] + self.console


@pytest.fixture
def watched(page) -> Watched:  # type: ignore[no-untyped-def]
    return Watched(page)


def seed(live: LiveService) -> dict[str, str]:
    """An application printed and given a pickup slot, and a broadcast, so that every page has
    something to show; the values of the URLs' placeholders."""
    live.sms(PHONE, f"DAFTAR {NIK}#{KK}#2")
    reference = re.search(r"\b\d{9}\b", " ".join(live.sms(PHONE, "YA"))).group()
    live.print_cards(NIK)
    runtime = live.runtime
    pickup.allocate(runtime.db, runtime.clock, runtime.pickup_policy())
    now = runtime.clock.now()
    with runtime.db.connect() as connection:
        broadcast_id = connection.execute(insert(Broadcast.__table__).values(
            text="Kantor tutup Jumat.", audience="all", status="scheduled", created_by="t",
            created_at=now, send_at=now + timedelta(days=1)).returning(
                Broadcast.__table__.c.id)).scalar_one()
        ids = {table.__tablename__: connection.execute(
            select(func.max(table.__table__.c.id))).scalar_one()
            for table in (Family, PickupVisit, PrintBatch)}
    return {"<reference>": reference, "<code>": "01", "<int:broadcast_id>": str(broadcast_id),
            "<int:family_id>": str(ids["family"]), "<int:visit_id>": str(ids["pickup_visit"]),
            "<int:batch_id>": str(ids["print_batch"])}


def pages(live: LiveService, values: dict[str, str]) -> list[str]:
    """Every page a browser opens: each GET route of the back office and of the simulator, from
    the app itself, so that a page added later is visited too."""
    paths = []
    for rule in create_app(live.runtime).url_map.iter_rules():
        if "GET" not in rule.methods or not rule.rule.startswith(("/staff", "/simulator")):
            continue
        if rule.rule in DOWNLOADS:
            continue
        path = rule.rule
        for placeholder, value in values.items():
            path = path.replace(placeholder, value)
        assert "<" not in path, f"no value for the placeholder of {rule.rule}: add it to seed()"
        paths.append(path + QUERIES.get(path, ""))
    paths.append(f"/staff/applications?q={NIK}")  # a search with a result
    return sorted(paths)


def test_every_page_passes_the_policy(live, page, watched):
    values = seed(live)
    make_staff(live.runtime.db, "admin1", "admin")
    sign_in(page, live.base_url, "admin1")  # the login form posts under the policy too
    assert page.url.endswith("/staff/")
    visited = []
    for path in pages(live, values):
        response = page.goto(live.base_url + path)
        watched.settle()  # the broadcast form's fetch included
        assert response is not None and response.status == (status_of(path) or 200), path
        if not response.headers["content-type"].startswith("text/html"):
            continue  # the recipients count (JSON) is read by a script, not shown
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
        if status_of(path):  # the browser reports the status it was told to expect
            watched.console = [line for line in watched.console
                               if not line.startswith("error: Failed to load resource")]
        assert watched.complaints() == [], path
        visited.append(path)
    expected = {"/staff/", "/staff/applications", f"/staff/applications/{values['<reference>']}",
                "/staff/register", "/staff/penunggalan", "/staff/blangko", "/staff/offices",
                "/staff/offices/01", "/staff/messages", "/staff/broadcasts",
                "/staff/broadcasts/new", f"/staff/broadcasts/{values['<int:broadcast_id>']}",
                "/staff/audit", "/simulator/", "/simulator/ussd"}
    assert expected <= set(visited), sorted(expected - set(visited))
    page.goto(f"{live.base_url}/staff/")
    assert page.locator("main svg").count() >= 1
    assert page.locator("main svg").first.bounding_box()["height"] > 50  # drawn, not blocked


def test_the_broadcast_counter_works_under_the_policy(live, page, watched):
    seed(live)
    make_staff(live.runtime.db, "admin1", "admin")
    sign_in(page, live.base_url, "admin1")
    page.goto(f"{live.base_url}/staff/broadcasts/new")
    page.fill("#broadcast-text", "Kantor Disdukcapil tutup Jumat.")
    meter = page.locator("#broadcast-meter")
    assert meter.is_visible() and meter.locator("[data-out=characters]").inner_text() == "31"
    page.keyboard.type(" Terima kasih € ")  # the euro sign takes two GSM-7 septets
    assert meter.locator("[data-out=characters]").inner_text() == "46"
    assert meter.locator("[data-out=units]").inner_text() == "47"
    page.select_option("#broadcast-audience", "all")  # the audience starts empty
    recipients = page.locator("#broadcast-estimate [data-out=recipients]")
    expect(recipients).to_have_text("1")  # fetched from the server: connect-src allows it
    assert watched.complaints() == []


def test_the_simulator_keypad_types_under_the_policy(live, page, watched):
    page.goto(f"{live.base_url}/simulator/?phone=081234567890")
    for key in ("*", "1", "2", "3", "#"):
        page.click(f".key[data-key='{key}']")
    assert page.input_value(".compose input[name=text]") == "*123#"
    page.goto(f"{live.base_url}/simulator/ussd?phone=081234567890")
    page.click(".key[data-key='1']")
    assert page.input_value("input[name=input]") == "1"
    assert watched.complaints() == []


def test_the_policy_is_enforced_and_a_violation_would_be_caught(live, page, watched):
    """The check above is not vacuous: inline code is blocked, and reported."""
    page.goto(f"{live.base_url}/staff/login")
    page.evaluate("""() => {
        const script = document.createElement("script");
        script.textContent = "window.__ran = true";
        document.body.appendChild(script);
        const styled = document.createElement("p");
        styled.setAttribute("style", "color: red");
        document.body.appendChild(styled);
    }""")
    page.wait_for_function("window.__violations.length >= 2")
    assert page.evaluate("window.__ran === undefined")
    assert {v.split()[0] for v in watched.violations()} == {"script-src-elem", "style-src-attr"}
    assert any("Content Security Policy" in message for message in watched.console)
