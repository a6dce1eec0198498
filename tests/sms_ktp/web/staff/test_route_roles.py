"""Every route of the app against every role, on the server: a table written from the roles the
back office promises (admin: everything; operator: one office's applications, stock and pickups;
kelurahan helper: assisted registration and status lookups; viewer: the dashboard), not read
from the code, and for the routes outside the back office what guards them instead. A route of
the app missing from the tables fails the test, so a new page or endpoint cannot slip in without
deciding who may use it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import requests
from live_service import KK, NIK, PHONE
from sqlalchemy import insert, select
from staff_browser import StaffBrowser, make_staff

from sms_ktp.models import Application, Broadcast

ADMIN, OPERATOR, HELPER, VIEWER = "admin", "operator", "helper", "viewer"
A, OP, H, V = ADMIN, OPERATOR, HELPER, VIEWER  # short, for the table
# (method, rule) -> roles that may use it; the URL's placeholders are filled in below.
TABLE: dict[tuple[str, str], set[str]] = {
    ("GET", "/staff/"): {A, OP, V},
    ("GET", "/staff/applications"): {A, OP, H},
    ("POST", "/staff/applications"): {A, OP, H},
    ("GET", "/staff/applications/<reference>"): {A, OP, H},
    ("POST", "/staff/applications/<reference>/cancel"): {A, OP},
    ("POST", "/staff/applications/<reference>/reject"): {A, OP},
    ("POST", "/staff/applications/<reference>/reveal"): {A, OP},
    ("POST", "/staff/applications/<reference>/verify"): {A, OP},
    ("POST", "/staff/applications/<reference>/resolve"): {A, OP},
    ("POST", "/staff/applications/<reference>/advance"): {A, OP},
    # A KK's or akta's signed PDFs: uploaded, downloaded to print, the family's link renewed.
    ("POST", "/staff/applications/<reference>/documents"): {A, OP},
    ("GET", "/staff/applications/<reference>/documents/<int:file_id>"): {A, OP},
    ("POST", "/staff/applications/<reference>/documents/renew"): {A, OP},
    # Printed at a kelurahan or kecamatan office for the family who quotes the code (a helper:
    # their kelurahan's families, or the code typed at the counter; the server checks).
    ("GET", "/staff/applications/<reference>/print"): {A, OP, H},
    ("POST", "/staff/applications/<reference>/print/<int:file_id>"): {A, OP, H},
    # The registrant's own corrections (the server also checks that they made it).
    ("GET", "/staff/applications/<reference>/correct"): {A, OP, H},
    ("POST", "/staff/applications/<reference>/correct"): {A, OP, H},
    ("POST", "/staff/applications/<reference>/withdraw"): {A, OP, H},
    ("GET", "/staff/applications/export.<fmt>"): {A, OP},
    ("POST", "/staff/applications/export"): {A},  # full NIKs, for Kemendagri
    ("GET", "/staff/verification"): {A, OP},
    ("POST", "/staff/verification"): {A, OP},
    # A helper's counter takes only a signed PDF's code (to print it).
    ("GET", "/staff/counter"): {A, OP, H},
    ("POST", "/staff/counter"): {A, OP, H},
    ("GET", "/staff/counter/day"): {A, OP},
    # Serah berkas: the papers of other documents handed in at the kecamatan office.
    ("GET", "/staff/papers"): {A, OP},
    ("POST", "/staff/applications/<reference>/papers/complete"): {A, OP},
    ("POST", "/staff/applications/<reference>/papers/missing"): {A, OP},
    ("GET", "/staff/counter/families/<int:family_id>"): {A, OP},
    ("GET", "/staff/counter/visits/<int:visit_id>"): {A, OP},
    ("GET", "/staff/counter/visits/<int:visit_id>/handover"): {A, OP},
    ("POST", "/staff/counter/visits/<int:visit_id>/handover"): {A, OP},
    ("POST", "/staff/counter/visits/<int:visit_id>/handover/confirm"): {A, OP},
    ("GET", "/staff/counter/visits/<int:visit_id>/move"): {A, OP},
    ("GET", "/staff/counter/visits/<int:visit_id>/move/confirm"): {A, OP},
    ("POST", "/staff/counter/visits/<int:visit_id>/move"): {A, OP},
    ("GET", "/staff/printing"): {A, OP},
    ("POST", "/staff/printing/batches"): {A, OP},
    ("GET", "/staff/printing/batches/<int:batch_id>"): {A, OP},
    ("POST", "/staff/printing/batches/<int:batch_id>/done"): {A, OP},
    ("GET", "/staff/phone"): {A, OP, H},
    ("POST", "/staff/phone"): {A, OP, H},
    ("GET", "/staff/families/<int:family_id>/phone"): {A, OP, H},
    ("POST", "/staff/families/<int:family_id>/phone"): {A, OP, H},
    ("POST", "/staff/families/<int:family_id>/phone/confirm"): {A, OP, H},
    ("POST", "/staff/families/<int:family_id>/phone/cancel"): {A, OP, H},
    ("GET", "/staff/home"): {A, H},
    ("POST", "/staff/home/notices/<int:notice_id>/passed"): {H},
    ("GET", "/staff/register/receipt"): {A, OP, H},
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
    ("POST", "/staff/offices/<code>/move-closed"): {A, OP},
    ("GET", "/staff/post"): {A, OP},
    ("POST", "/staff/post/<reference>/sent"): {A, OP},
    ("POST", "/staff/post/<reference>/delivered"): {A, OP},
    ("GET", "/staff/broadcasts"): {A},
    ("GET", "/staff/broadcasts/new"): {A},
    ("POST", "/staff/broadcasts/new"): {A},
    ("GET", "/staff/broadcasts/recipients"): {A},
    ("GET", "/staff/broadcasts/<int:broadcast_id>"): {A},
    ("POST", "/staff/broadcasts/<int:broadcast_id>/cancel"): {A},
    ("GET", "/staff/messages"): {A},
    ("POST", "/staff/messages/retry"): {A},
    ("GET", "/staff/audit"): {A},
    ("GET", "/staff/privacy"): {A},
    ("POST", "/staff/privacy/export"): {A},
    ("POST", "/staff/privacy/erase"): {A},
    ("POST", "/staff/logout"): {A, OP, H, V},
}
OPEN = {("GET", "/staff/login"), ("POST", "/staff/login")}  # the way in: everybody
WEBHOOK = "/gateway/africastalking/<token>"
HTTP_WEBHOOK = "/gateway/http/<token>"
# Routes outside the back office and what guards them instead of a role: "open" to anybody on
# purpose (nothing personal in them), "token" (a secret in the URL or a bearer token from the
# configuration), "console" (anybody with the console gateway, where no SMS can leave; with a
# real gateway signed-in admins only), "link" (a code sent by SMS and its PIN).
OUTSIDE: dict[tuple[str, str], str] = {
    ("GET", "/"): "open",
    ("GET", "/static/<path:filename>"): "open",
    ("GET", "/healthz"): "open",
    ("GET", "/healthz/web"): "open",
    ("GET", "/metrics"): "token",
    ("POST", f"{WEBHOOK}/sms"): "token",
    ("POST", f"{WEBHOOK}/delivery"): "token",
    ("POST", f"{WEBHOOK}/ussd"): "token",
    ("POST", f"{WEBHOOK}/ussd/end"): "token",
    ("POST", f"{HTTP_WEBHOOK}/sms"): "token",
    ("POST", f"{HTTP_WEBHOOK}/delivery"): "token",
    ("GET", "/gateway/whatsapp/<token>"): "token",
    ("POST", "/gateway/whatsapp/<token>"): "token",
    ("POST", "/integration/penunggalan"): "token",
    ("GET", "/simulator/"): "console",
    ("POST", "/simulator/"): "console",
    ("GET", "/simulator/ussd"): "console",
    ("POST", "/simulator/ussd"): "console",
    # A family's signed PDF: the code of its SMS, then its PIN (a link nobody was sent: 404).
    ("GET", "/d/<code>"): "link",
    ("POST", "/d/<code>"): "link",
    ("GET", "/d/<code>/f/<token>"): "link",
}
OFFICE = "01"  # the operator's office: the kecamatan of KK


def app_rules(app) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return {(method, rule.rule) for rule in app.url_map.iter_rules()
            for method in rule.methods - {"HEAD", "OPTIONS"}}


@pytest.fixture
def world(service):  # type: ignore[no-untyped-def]
    """An application of the operator's office with its card printed and its family's visit
    booked (the worker's allocation), and a broadcast, for the URLs that need them."""
    service.sms(PHONE, f"DAFTAR {NIK}#{KK}#2")
    reference = re.search(r"\b\d{9}\b", " ".join(service.sms(PHONE, "YA"))).group()
    service.print_cards(NIK)
    service.worker.run_once()
    now = service.runtime.clock.now()
    with service.runtime.db.connect() as connection:
        broadcast_id = connection.execute(insert(Broadcast.__table__).values(
            text="Kantor tutup Jumat.", audience="all", status="scheduled", created_by="t",
            created_at=now, send_at=now + timedelta(days=1)).returning(
                Broadcast.__table__.c.id)).scalar_one()
        card = connection.execute(select(Application.visit_id, Application.family_id,
                                         Application.print_batch_id)
                                  .where(Application.reference == reference)).one()
    assert card.visit_id is not None and card.print_batch_id is not None
    return {"<reference>": reference, "<code>": OFFICE,
            "<int:broadcast_id>": str(broadcast_id), "<int:visit_id>": str(card.visit_id),
            "<int:family_id>": str(card.family_id), "<int:batch_id>": str(card.print_batch_id),
            "<int:notice_id>": "1", "<fmt>": "csv", "<int:file_id>": "1"}


def url(rule: str, values: dict[str, str]) -> str:
    for placeholder, value in values.items():
        rule = rule.replace(placeholder, value)
    return rule


def test_the_tables_cover_every_route_of_the_app(service):
    from sms_ktp.web import create_app

    routes = app_rules(create_app(service.runtime))
    listed = set(TABLE) | OPEN | set(OUTSIDE)
    assert routes == listed, (
        f"routes without a row: {sorted(routes - listed)}; "
        f"rows without a route: {sorted(listed - routes)}")


def test_the_routes_outside_the_back_office_are_guarded_otherwise(service):
    """A stranger without the token, or with a real gateway configured, is refused."""
    settings, gateway = service.runtime.settings, service.runtime.gateway
    settings.health.metrics_token, settings.integration.token = "metrics-secret", "int-secret"
    gateway.name = "africastalking"  # as if a real gateway were configured
    stranger = requests.Session()
    wrong = []
    try:
        for (method, rule), guard in sorted(OUTSIDE.items()):
            path = url(rule, {"<token>": "not-the-token", "<path:filename>": "staff.css"})
            response = stranger.request(method, service.base_url + path, timeout=10,
                                        allow_redirects=False)
            expected = {"open": {200, 503}, "token": {401, 403, 404}, "console": {404},
                        "link": {404}}[guard]
            if response.status_code not in expected:
                wrong.append(f"{method} {path} ({guard}): {response.status_code}")
    finally:
        gateway.name = "console"
    assert wrong == []


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
