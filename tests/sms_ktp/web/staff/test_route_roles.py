"""Every staff route against every role, on the server: a table written from the roles the back
office promises (admin: everything; operator: one office's applications, stock and pickups;
kelurahan helper: assisted registration and status lookups; viewer: the dashboard), not read
from the code. A route missing from the table fails the test, so a new page cannot slip in
without deciding who may open it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from live_service import KK, NIK, PHONE
from sqlalchemy import insert
from staff_browser import StaffBrowser, make_staff

from sms_ktp.models import Broadcast

ADMIN, OPERATOR, HELPER, VIEWER = "admin", "operator", "helper", "viewer"
A, OP, H, V = ADMIN, OPERATOR, HELPER, VIEWER  # short, for the table
# (method, rule) -> roles that may use it; the URL's placeholders are filled in below.
TABLE: dict[tuple[str, str], set[str]] = {
    ("GET", "/staff/"): {A, OP, V},
    ("GET", "/staff/applications"): {A, OP, H},
    ("GET", "/staff/applications/<reference>"): {A, OP, H},
    ("POST", "/staff/applications/<reference>/cancel"): {A, OP},
    ("POST", "/staff/applications/<reference>/collect"): {A, OP},
    ("POST", "/staff/applications/<reference>/reject"): {A, OP},
    ("POST", "/staff/applications/<reference>/reschedule"): {A, OP},
    ("POST", "/staff/applications/<reference>/reveal"): {A, OP},
    ("GET", "/staff/register"): {A, OP, H},
    ("POST", "/staff/register"): {A, OP, H},
    ("GET", "/staff/penunggalan"): {A},
    ("POST", "/staff/penunggalan"): {A},
    ("GET", "/staff/blangko"): {A, OP},
    ("POST", "/staff/blangko"): {A, OP},
    ("GET", "/staff/offices"): {A, OP},
    ("GET", "/staff/offices/<code>"): {A, OP},
    ("POST", "/staff/offices/<code>"): {A, OP},
    ("POST", "/staff/offices/<code>/reset"): {A, OP},
    ("GET", "/staff/broadcasts"): {A},
    ("GET", "/staff/broadcasts/new"): {A},
    ("POST", "/staff/broadcasts/new"): {A},
    ("GET", "/staff/broadcasts/recipients"): {A},
    ("GET", "/staff/broadcasts/<int:broadcast_id>"): {A},
    ("POST", "/staff/broadcasts/<int:broadcast_id>/cancel"): {A},
    ("GET", "/staff/messages"): {A},
    ("POST", "/staff/messages/retry"): {A},
    ("GET", "/staff/audit"): {A},
    ("POST", "/staff/logout"): {A, OP, H, V},
}
OPEN = {("GET", "/staff/login"), ("POST", "/staff/login")}  # the way in: everybody
OFFICE = "01"  # the operator's office: the kecamatan of KK


def staff_rules(app) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return {(method, rule.rule) for rule in app.url_map.iter_rules()
            if rule.rule.startswith("/staff")
            for method in rule.methods - {"HEAD", "OPTIONS"}}


@pytest.fixture
def world(service):  # type: ignore[no-untyped-def]
    """An application of the operator's office and a broadcast, for the URLs that need them."""
    service.sms(PHONE, f"DAFTAR {NIK}#{KK}#2")
    reference = re.search(r"\b\d{9}\b", " ".join(service.sms(PHONE, "YA"))).group()
    now = service.runtime.clock.now()
    with service.runtime.db.connect() as connection:
        broadcast_id = connection.execute(insert(Broadcast.__table__).values(
            text="Kantor tutup Jumat.", audience="all", status="scheduled", created_by="t",
            created_at=now, send_at=now + timedelta(days=1)).returning(
                Broadcast.__table__.c.id)).scalar_one()
    return {"<reference>": reference, "<code>": OFFICE,
            "<int:broadcast_id>": str(broadcast_id)}


def url(rule: str, values: dict[str, str]) -> str:
    for placeholder, value in values.items():
        rule = rule.replace(placeholder, value)
    return rule


def test_the_table_covers_every_staff_route(service):
    from sms_ktp.web import create_app

    routes = staff_rules(create_app(service.runtime))
    assert routes - OPEN == set(TABLE), (
        f"routes without a row: {sorted(routes - OPEN - set(TABLE))}; "
        f"rows without a route: {sorted(set(TABLE) - routes)}")


@pytest.mark.parametrize("role", [A, OP, H, V])
def test_each_role_is_refused_where_it_must_be(service, world, role):
    make_staff(service.runtime.db, f"{role}1", role, office=OFFICE if role == OP else None)
    browser = StaffBrowser(service.base_url)
    browser.login(f"{role}1")
    wrong = []
    for (method, rule), allowed in sorted(TABLE.items()):
        path = url(rule, world)
        if method == "GET":
            response = browser.get(path, allow_redirects=False)
            refused = response.status_code == 403
            if role in allowed and (refused or response.status_code in (301, 302)):
                wrong.append(f"{role} may GET {path}: got {response.status_code}")
            if role not in allowed and not refused:
                wrong.append(f"{role} must not GET {path}: got {response.status_code}")
        elif role not in allowed:  # an allowed POST would change data: only refusals are tried
            response = browser.post(path, {}, allow_redirects=False)
            if response.status_code != 403:
                wrong.append(f"{role} must not POST {path}: got {response.status_code}")
    assert wrong == []


def test_a_stranger_is_sent_to_sign_in_everywhere(service, world):
    browser = StaffBrowser(service.base_url)
    browser.get("/staff/login")  # a CSRF token, so that only the missing sign-in refuses
    wrong = []
    for method, rule in sorted(TABLE):
        path = url(rule, world)
        response = (browser.get(path, allow_redirects=False) if method == "GET"
                    else browser.post(path, {}, allow_redirects=False))
        if response.status_code != 302 or "/staff/login" not in response.headers["Location"]:
            wrong.append(f"{method} {path}: {response.status_code}")
    assert wrong == []


def test_an_operator_of_another_office_cannot_open_this_offices_pages(service, world):
    make_staff(service.runtime.db, "op6", OP, office="06")
    browser = StaffBrowser(service.base_url)
    browser.login("op6")
    detail = browser.get(url("/staff/applications/<reference>", world), allow_redirects=False)
    office = browser.get("/staff/offices/01", allow_redirects=False)
    assert detail.status_code in (403, 404) and office.status_code == 403
    assert browser.get("/staff/offices/06").status_code == 200
