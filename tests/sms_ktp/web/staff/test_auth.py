"""Signing in to the back office over real HTTP: sessions, idle timeout, CSRF, roles, audit."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from staff_browser import PASSWORD, StaffBrowser, make_staff

from sms_ktp.backoffice.staff import disable, enable, set_password
from sms_ktp.models import AuditEntry, StaffSession

COOKIE = "sms_ktp_staff"


@pytest.fixture
def browser(service) -> StaffBrowser:
    make_staff(service.runtime.db, "admin1", "admin")
    return StaffBrowser(service.base_url)


def audit(service) -> list[tuple[str, str]]:
    with service.runtime.db.connect() as connection:
        rows = connection.execute(select(AuditEntry.__table__)
                                  .order_by(AuditEntry.__table__.c.id)).all()
    return [(row.actor, row.action) for row in rows]


def test_a_stranger_is_sent_to_the_login_page(service):
    browser = StaffBrowser(service.base_url)
    response = browser.get("/staff/audit", allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/staff/login?next=/staff/audit")
    page = browser.get("/staff/audit")
    assert page.url.endswith("/staff/login?next=/staff/audit")
    assert 'name="username"' in page.text and 'name="password"' in page.text


def test_sign_in_goes_where_the_stranger_wanted_and_out_again(service, browser):
    browser.get("/staff/audit")
    response = browser.post("/staff/login", {"username": "admin1", "password": PASSWORD,
                                             "next": "/staff/audit"})
    assert response.status_code == 200 and response.url.endswith("/staff/audit")
    assert "Log audit" in response.text and "admin1" in response.text
    response = browser.post("/staff/logout")
    assert response.url.endswith("/staff/login?out=1") and "Anda sudah keluar" in response.text
    assert browser.get("/staff/audit").url.endswith("/staff/login?next=/staff/audit")
    assert audit(service) == [("staff:admin1", "staff.login")]


def test_a_wrong_password_is_refused_and_recorded(service, browser):
    response = browser.login("admin1", "not the password")
    assert response.status_code == 401
    assert "Nama pengguna atau kata sandi salah" in response.text
    assert browser.get("/staff/audit").url.endswith("/staff/login?next=/staff/audit")
    assert audit(service) == [("staff:admin1", "staff.login_failed")]


# A raw NUL never reaches the page: every request with one gets 400 (`web.input_guard`).
HOSTILE_NEXT = [
    "/staff/\r\nX: 1", "/staff/\nSet-Cookie: a=b", "/staff/\rX", "/staff/\t",
    "/staff/\x7f", "https://evil.example/", "http:/staff/", "//evil.example/staff/",
    "///evil.example", "/\\evil.example", "\\\\evil.example", "/staff\\..\\..\\",
    "/staff/\\evil", "/staff//evil.example", "/staff/..//evil.example", "/staff/../login",
    "/staff/./audit", "/staff/%2e%2e/x", "/staff/%2F%2Fevil.example", "/staff/%5Cevil",
    "/staff/%0d%0aX:%201", "/staff/%00", "javascript:alert(1)", " /staff/audit", "/staffevil",
    "/staff/login?next=//evil.example", "/staff/é", "/staff/" + "a" * 5000, "/staff/<script>",
    "/staff/audit#x", "",
]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_a_bad_next_is_ignored(browser, target):
    response = browser.post("/staff/login", {"username": "admin1", "password": PASSWORD,
                                             "next": target}, allow_redirects=False)
    assert response.status_code == 303
    assert response.headers["Location"] == "/staff/"  # the home page, nothing of `target`
    again = browser.get("/staff/login", params={"next": target}, allow_redirects=False)
    assert again.status_code == 302 and again.headers["Location"] == "/staff/"


def test_a_bad_next_is_left_out_of_the_login_form(service):
    page = StaffBrowser(service.base_url).get("/staff/login", params={"next": "//evil.example"})
    assert page.status_code == 200 and "evil.example" not in page.text


@pytest.mark.parametrize("target", ["/staff/audit", "/staff/audit?q=staff.login&page=2",
                                    "/staff/applications/123456789"])
def test_a_plain_next_is_followed(browser, target):
    response = browser.post("/staff/login", {"username": "admin1", "password": PASSWORD,
                                             "next": target}, allow_redirects=False)
    assert response.status_code == 303 and response.headers["Location"] == target


def test_a_post_without_the_csrf_token_is_refused(service, browser):
    response = browser.post("/staff/login", {"username": "admin1", "password": PASSWORD},
                            csrf=False)
    assert response.status_code == 400 and "Formulir tidak dapat diproses" in response.text
    browser.login("admin1")
    wrong = browser.post("/staff/logout", {"csrf_token": "forged"})
    assert wrong.status_code == 400
    assert "Log audit" in browser.get("/staff/audit").text  # still signed in


def test_a_session_ends_after_the_idle_time(service, browser, clock):
    browser.login("admin1")
    clock.advance(timedelta(minutes=29))
    assert "Log audit" in browser.get("/staff/audit").text
    clock.advance(timedelta(minutes=29))  # idle time counts from the last request
    assert "Log audit" in browser.get("/staff/audit").text
    clock.advance(timedelta(minutes=31))
    page = browser.get("/staff/audit")
    assert page.url.endswith("/staff/login?next=/staff/audit&expired=1")
    assert "lama tidak aktif" in page.text


def test_a_disabled_account_or_a_new_password_ends_the_session(service, browser, clock):
    browser.login("admin1")
    clock.advance(timedelta(minutes=1))
    with service.runtime.db.connect() as connection:
        set_password(connection, "admin1", "a-brand-new-password", clock.now())
    assert browser.get("/staff/audit").url.endswith("/staff/login?next=/staff/audit")
    browser.login("admin1", "a-brand-new-password")
    assert "Log audit" in browser.get("/staff/audit").text
    with service.runtime.db.connect() as connection:
        disable(connection, "admin1", clock.now())
    assert browser.get("/staff/audit").url.endswith("/staff/login?next=/staff/audit")


def cookie_of(browser: StaffBrowser) -> str:
    return browser.http.cookies.get(COOKIE)


def replayed(service, cookie: str, path: str = "/staff/applications"):  # type: ignore[no-untyped-def]
    """`path` opened by another program with a copy of a saved cookie."""
    thief = StaffBrowser(service.base_url)
    thief.http.cookies.set(COOKIE, cookie)
    return thief.get(path)


def test_a_cookie_saved_before_signing_out_opens_nothing_after(service, browser):
    browser.login("admin1")
    saved = cookie_of(browser)
    assert "Cari permohonan" in replayed(service, saved).text  # the copy works while signed in
    browser.post("/staff/logout")
    page = replayed(service, saved)
    assert page.url.endswith("/staff/login?next=/staff/applications")
    assert 'name="password"' in page.text
    assert sessions(service) == [("logout",)]


def test_a_cookie_saved_before_the_account_was_disabled_stays_dead_once_enabled(service, browser,
                                                                                clock):
    browser.login("admin1")
    saved = cookie_of(browser)
    with service.runtime.db.connect() as connection:
        disable(connection, "admin1", clock.now())
    with service.runtime.db.connect() as connection:
        enable(connection, "admin1")
    assert replayed(service, saved).url.endswith("/staff/login?next=/staff/applications")
    assert browser.get("/staff/applications").url.endswith("/staff/login?next=/staff/applications")
    browser.login("admin1")  # signing in again gives a new session
    assert "Cari permohonan" in browser.get("/staff/applications").text


def test_a_cookie_saved_before_a_new_password_opens_nothing_after(service, browser, clock):
    browser.login("admin1")
    saved = cookie_of(browser)
    with service.runtime.db.connect() as connection:
        set_password(connection, "admin1", "a-brand-new-password", clock.now())
    assert replayed(service, saved).url.endswith("/staff/login?next=/staff/applications")


def test_a_cookie_saved_before_the_idle_time_opens_nothing_after(service, browser, clock):
    browser.login("admin1")
    saved = cookie_of(browser)
    clock.advance(timedelta(minutes=31))
    assert replayed(service, saved).url.endswith("/staff/login?next=/staff/applications&expired=1")
    clock.advance(timedelta(minutes=1))
    browser.login("admin1")
    assert replayed(service, saved).url.endswith("/staff/login?next=/staff/applications")


def test_signing_out_in_one_browser_leaves_the_others_signed_in(service, browser):
    other = StaffBrowser(service.base_url)
    other.login("admin1")
    browser.login("admin1")
    browser.post("/staff/logout")
    assert "Cari permohonan" in other.get("/staff/applications").text


def sessions(service) -> list[tuple[str | None]]:  # type: ignore[no-untyped-def]
    table = StaffSession.__table__
    with service.runtime.db.connect() as connection:
        return [tuple(row) for row in connection.execute(select(table.c.ended_why))]


@pytest.mark.parametrize("role", ["operator", "helper", "viewer"])
def test_only_admins_read_the_audit_log(service, role):
    make_staff(service.runtime.db, "someone", role, office="01" if role == "operator" else None)
    browser = StaffBrowser(service.base_url)
    browser.login("someone")
    response = browser.get("/staff/audit")
    assert response.status_code == 403 and "bukan untuk peran Anda" in response.text


def test_the_audit_log_is_searchable(service, browser):
    browser.login("admin1", "typo typo typo")
    browser.login("admin1")
    page = browser.get("/staff/audit?q=login_failed")
    rows = re.findall(r'<tr class="audit-entry">.*?</tr>', page.text)
    assert len(rows) == 1 and "Gagal masuk" in rows[0] and "admin1 (Admin)" in rows[0]
    # the words staff read find the same entry
    worded = browser.get("/staff/audit?q=gagal masuk")
    assert re.findall(r'<tr class="audit-entry">.*?</tr>', worded.text) == rows


def test_the_simulator_is_for_everybody_only_with_the_console_gateway(service, browser):
    assert service.runtime.gateway.name == "console"
    assert StaffBrowser(service.base_url).get("/simulator/").status_code == 200
    service.runtime.gateway.name = "africastalking"  # as if a real gateway were configured
    try:
        assert StaffBrowser(service.base_url).get("/simulator/").status_code == 404
        make_staff(service.runtime.db, "viewer1", "viewer")
        viewer = StaffBrowser(service.base_url)
        viewer.login("viewer1")
        assert viewer.get("/simulator/").status_code == 404
        browser.login("admin1")
        assert browser.get("/simulator/").status_code == 200
        forged = browser.post("/simulator/", {"phone": "081234567890", "text": "STATUS",
                                              "csrf_token": "forged"})
        assert forged.status_code == 400
    finally:
        service.runtime.gateway.name = "console"
