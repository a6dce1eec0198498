"""Signing in to the back office over real HTTP: sessions, idle timeout, CSRF, roles, audit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from staff_browser import PASSWORD, StaffBrowser, make_staff

from sms_ktp.models import AuditEntry
from sms_ktp.staff import disable, set_password


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


def test_next_never_leads_off_the_back_office(browser):
    response = browser.post("/staff/login", {"username": "admin1", "password": PASSWORD,
                                             "next": "https://evil.example/"},
                            allow_redirects=False)
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/staff/")


def test_a_post_without_the_csrf_token_is_refused(service, browser):
    response = browser.post("/staff/login", {"username": "admin1", "password": PASSWORD},
                            csrf=False)
    assert response.status_code == 400 and "CSRF" in response.text
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
    assert "staff.login_failed" in page.text and "2 catatan" not in page.text
    assert page.text.count("<code>staff.login") == 1


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
