"""Signing in and being refused, in a real browser."""

from __future__ import annotations

import pytest
from browser_pages import screenshot, sign_in
from staff_browser import PASSWORD, make_staff


def test_login_and_a_wrong_password(live, page):
    make_staff(live.runtime.db, "admin1", "admin")
    page.goto(f"{live.base_url}/staff/audit")
    assert page.url.endswith("/staff/login?next=/staff/audit")
    screenshot(page, "login")
    page.fill("input[name=username]", "admin1")
    page.fill("input[name=password]", "salah-salah-salah")
    page.click("button.primary")
    assert page.locator("[role=alert]").inner_text() == "Nama pengguna atau kata sandi salah."
    page.fill("input[name=password]", PASSWORD)
    page.click("button.primary")
    page.wait_for_url("**/staff/audit")
    assert page.locator("h1").inner_text() == "Log audit"
    assert "staff.login_failed" in page.locator("table").inner_text()
    screenshot(page, "audit")
    page.click("text=Keluar")
    page.wait_for_url("**/staff/login?out=1")


def test_a_form_without_its_csrf_token_is_refused(live, page):
    make_staff(live.runtime.db, "admin1", "admin")
    page.goto(f"{live.base_url}/staff/login")
    page.evaluate("document.querySelector('input[name=csrf_token]').remove()")
    page.fill("input[name=username]", "admin1")
    page.fill("input[name=password]", PASSWORD)
    with page.expect_response(lambda r: r.url.endswith("/staff/login")) as answer:
        page.click("button.primary")
    assert answer.value.status == 400
    assert "CSRF" in page.content()


@pytest.mark.parametrize(("role", "office"), [("viewer", None), ("helper", None),
                                              ("operator", "01")])
def test_a_role_is_refused_the_audit_log(live, page, role, office):
    make_staff(live.runtime.db, "someone", role, office=office)
    sign_in(page, live.base_url, "someone")
    response = page.goto(f"{live.base_url}/staff/audit")
    assert response.status == 403
    assert "bukan untuk peran Anda" in page.locator("h1").inner_text()
    assert "Audit" not in page.locator("nav.menu").inner_text()
