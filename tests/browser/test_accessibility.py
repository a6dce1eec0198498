"""The main pages of the back office as each role opens them, on an office PC (1366 px) and on the
phone a kelurahan clerk uses (375 px): no WCAG 2.1 A or AA violation found by axe-core, no
sideways scrolling of the page on the phone, and a screenshot of each page at each width in
artifacts/screenshots/<page>-<width>.png.

The pages are found by their endpoint in the app itself: a page the issue asks for that the app
does not have yet is reported by name (`test_every_main_page_exists`), and the pages a role may
open are those whose route lets it in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from browser_pages import SCREENSHOTS, sign_in
from live_service import DATA_KEY, KK, KK_2, LOOKUP_KEY, NIK, NIK_2, PHONE, PHONE_2, LiveService
from live_service import start_service as start
from sqlalchemy import func, select
from staff_browser import make_staff
from werkzeug.routing import BuildError, Map

from sms_ktp import crypto
from sms_ktp.applications import pickup
from sms_ktp.backoffice.staff import Role
from sms_ktp.models import Application, PickupVisit, PrintBatch
from sms_ktp.platform.clock import FixedClock
from sms_ktp.platform.db import Database
from sms_ktp.web import create_app

WIDTHS = {1366: 860, 375: 812}  # an office PC's screen, a phone's (width: height)
START = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # a Monday, 09:00 in Bogor


@dataclass(frozen=True)
class Page:
    """A main page: its name in the screenshots, its endpoint, the values of its URL, and the
    role whose view of it is kept as the screenshot."""

    name: str
    endpoint: str
    values: dict[str, str] = field(default_factory=dict)
    shot_as: Role = Role.ADMIN


MAIN_PAGES = (
    Page("dashboard", "staff.dashboard", shot_as=Role.OPERATOR),
    Page("helper-home", "staff.helper_home", shot_as=Role.HELPER),
    Page("applications", "staff.applications", shot_as=Role.OPERATOR),
    Page("application", "staff.application", {"reference": "<reference>"},
         shot_as=Role.OPERATOR),
    Page("counter-visit", "staff.counter_visit", {"visit_id": "<visit>"}, shot_as=Role.OPERATOR),
    Page("counter-family", "staff.counter_family", {"family_id": "<family>"},
         shot_as=Role.OPERATOR),
    Page("printing-batch", "staff.printing_batch", {"batch_id": "<batch>"},
         shot_as=Role.OPERATOR),
    Page("register", "staff.register", shot_as=Role.HELPER),
    Page("register-kia", "staff.register", {"document": "kia"}, shot_as=Role.HELPER),
    Page("phone-change", "staff.phone_change", shot_as=Role.HELPER),
    Page("verification", "staff.verification", shot_as=Role.OPERATOR),
    Page("counter", "staff.counter", shot_as=Role.OPERATOR),
    Page("counter-papers", "staff.counter", {"berkas": "<papers>"}, shot_as=Role.OPERATOR),
    Page("pickup-list", "staff.pickup_list", shot_as=Role.OPERATOR),
    Page("papers", "staff.papers", shot_as=Role.OPERATOR),
    Page("printing", "staff.printing", shot_as=Role.OPERATOR),
    Page("blangko", "staff.blangko", shot_as=Role.OPERATOR),
    Page("offices", "staff.offices", shot_as=Role.OPERATOR),
    Page("office", "staff.offices_edit", {"code": "01"}, shot_as=Role.OPERATOR),
    Page("post", "staff.post_parcels", shot_as=Role.OPERATOR),
    Page("penunggalan", "staff.penunggalan"),
    Page("broadcasts", "staff.broadcasts"),
    Page("broadcast-new", "staff.broadcasts_new"),
    Page("messages", "staff.messages"),
    Page("audit", "staff.audit_log"),
    Page("privacy", "staff.privacy"),
)
USERS = {Role.ADMIN: ("admin1", None), Role.OPERATOR: ("op.selatan", "01"),
         Role.HELPER: ("kel.empang", None)}


@dataclass
class Site:
    live: LiveService
    routes: Map
    views: dict[str, Any]
    seeded: dict[str, str]  # "<reference>", "<visit>"...: what the seed made

    def path(self, page: Page) -> str | None:
        """The page's URL, or None while the app has no such page."""
        values = {k: self.seeded.get(v, v) for k, v in page.values.items()}
        try:
            return self.routes.bind("localhost").build(page.endpoint, values)
        except BuildError:
            return None

    def opens(self, page: Page, role: Role) -> bool:
        view = self.views.get(page.endpoint)
        return view is not None and role in getattr(view, "allowed_roles", ())


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One service for the module, with two families registered by SMS (one in the operator's
    kecamatan, its card printed and a pickup slot sent, and a KK applied for whose papers are
    due at a papers visit) so that the lists are not empty and the pages of a visit, a family,
    a print batch and a papers visit have one to show."""
    crypto.configure(DATA_KEY, (), LOOKUP_KEY)
    folder = tmp_path_factory.mktemp("accessibility")
    database = Database(f"sqlite:///{folder / 'sms-ktp.db'}")
    database.create_schema()
    service = start(database, FixedClock(START), folder)
    live = next(service)
    try:
        reference = register(live, PHONE, NIK, KK)
        register(live, PHONE_2, NIK_2, KK_2)
        live.print_cards(NIK)
        runtime = live.runtime
        pickup.allocate(runtime.db, runtime.clock, runtime.pickup_policy())
        for answer in ("KK", f"KK {KK} NIK {NIK}", "5", "YA"):  # a KK lost: papers to bring
            live.sms(PHONE, answer)
        live.worker.run_once()
        for role, (username, office) in USERS.items():
            make_staff(database, username, role.value, office=office)
        with database.connect() as connection:
            batch = str(connection.execute(select(func.max(PrintBatch.__table__.c.id)))
                        .scalar_one())
            papers = str(connection.execute(select(func.max(PickupVisit.__table__.c.id)).where(
                PickupVisit.__table__.c.purpose == "papers")).scalar_one())
            family = connection.execute(select(Application.__table__.c.family_id).where(
                Application.__table__.c.reference == reference)).scalar_one()
        assert papers != "None", "the KK application booked no papers visit"
        seeded = {"<reference>": reference, "<visit>": pickup_visit(database),
                  "<papers>": papers,
                  "<family>": str(family), "<batch>": batch}
        app = create_app(live.runtime)
        yield Site(live, app.url_map, dict(app.view_functions), seeded)
    finally:
        service.close()
        database.dispose()


def pickup_visit(database: Database) -> str:
    """The newest visit to collect cards (not to hand in papers)."""
    table = PickupVisit.__table__
    with database.connect() as connection:
        return str(connection.execute(select(func.max(table.c.id))
                                      .where(table.c.purpose == "pickup")).scalar_one())


def register(live: LiveService, phone: str, nik: str, kk: str) -> str:
    live.sms(phone, f"DAFTAR {nik}#{kk}#2")
    return re.search(r"\b\d{9}\b", " ".join(live.sms(phone, "YA"))).group()


@pytest.fixture
def browser_page(chromium) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """A page whose context lets axe-core's injected script run under the pages' policy."""
    context = chromium.new_context(viewport={"width": 1366, "height": 860}, locale="id-ID",
                                   bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def problems_of(page: Any, axe: Any, width: int) -> list[str]:
    """What is wrong with the page as it is shown now, in words a report can list."""
    found = []
    for violation in axe(page):
        where = "; ".join(f"{n['target']} ({n['summary'].splitlines()[-1].strip()})"
                          for n in violation["nodes"][:4])
        more = len(violation["nodes"]) - 4
        found.append(f"{violation['id']} [{violation['impact']}] {violation['help']}: {where}"
                     + (f" and {more} more" if more > 0 else ""))
    if width < 1000:
        scroll = page.evaluate("document.documentElement.scrollWidth")
        if scroll > width:
            wide = page.evaluate(WIDEST, width)
            found.append(f"scrolls sideways: {scroll} px wide at {width} px (too wide: {wide})")
    return found


# The outermost elements sticking out of the viewport, to say what makes a page too wide.
WIDEST = """
(width) => {
  const out = [];
  for (const el of document.querySelectorAll("body *")) {
    const box = el.getBoundingClientRect();
    if (box.right <= width + 0.5) continue;
    let inside = false;
    for (let up = el.parentElement; up; up = up.parentElement) {
      if (up.getBoundingClientRect().right > width + 0.5) { inside = true; break; }
      if (getComputedStyle(up).overflowX !== "visible") { inside = true; break; }
    }
    if (!inside) out.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
                          + (el.className && typeof el.className === "string"
                             ? "." + el.className.trim().split(/\\s+/).join(".") : "")
                          + " " + Math.round(box.right) + "px");
  }
  return out.slice(0, 5).join(", ");
}
"""


def visit(page: Any, url: str, expected: int = 200) -> str | None:
    response = page.goto(url)
    status = response.status if response is not None else None
    return None if status == expected else f"answered {status}, not {expected}"


def shot(page: Any, name: str, width: int) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}-{width}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def report(problems: dict[str, list[str]]) -> str:
    return "\n".join(f"{where}:\n  " + "\n  ".join(found) for where, found in problems.items())


@pytest.mark.parametrize("role", [Role.ADMIN, Role.OPERATOR, Role.HELPER],
                         ids=lambda role: role.value)
def test_the_main_pages_of_a_role_are_accessible_at_both_widths(site, browser_page, axe, role):
    page = browser_page
    sign_in(page, site.live.base_url, USERS[role][0])
    # Each page is checked as the role that works on it (its screenshot's): the same page
    # opened by an admin differs only by the menu, which every admin page checks.
    pages = [p for p in MAIN_PAGES
             if p.shot_as is role and site.path(p) is not None and site.opens(p, role)]
    assert pages, f"no main page for {role.value}"
    problems: dict[str, list[str]] = {}
    for width, height in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        for main in pages:
            where = f"{main.name} ({site.path(main)}) as {role.value} at {width} px"
            failed = visit(page, site.live.base_url + site.path(main))
            found = [failed] if failed else problems_of(page, axe, width)
            if found:
                problems[where] = found
            shot(page, main.name, width)
    assert not problems, "\n" + report(problems)


def test_the_pages_before_signing_in_and_a_refusal_are_accessible(site, browser_page, axe):
    page = browser_page
    problems: dict[str, list[str]] = {}
    for width, height in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.context.clear_cookies()
        failed = visit(page, f"{site.live.base_url}/staff/login")
        found = [failed] if failed else problems_of(page, axe, width)
        page.fill("input[name=username]", "admin1")
        page.fill("input[name=password]", "salah-salah-salah")
        page.click("button.primary")
        found += [f"after a wrong password: {p}" for p in problems_of(page, axe, width)]
        shot(page, "login", width)
        if found:
            problems[f"login at {width} px"] = found
        sign_in(page, site.live.base_url, USERS[Role.HELPER][0])
        failed = visit(page, f"{site.live.base_url}/staff/audit", expected=403)
        found = [failed] if failed else problems_of(page, axe, width)
        shot(page, "refused", width)
        if found:
            problems[f"refused (/staff/audit as helper) at {width} px"] = found
    assert not problems, "\n" + report(problems)


def test_every_main_page_exists(site):
    missing = [f"{p.name} ({p.endpoint})" for p in MAIN_PAGES if site.path(p) is None]
    assert not missing, f"main pages the app does not have yet: {', '.join(missing)}"
