"""Signing in and being refused, in a real browser."""

from __future__ import annotations

import pytest
from browser_pages import screenshot, sign_in
from staff_browser import PASSWORD, make_staff

from sms_ktp.backoffice.staff import disable, enable, set_password


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
    assert "Gagal masuk" in page.locator("table").inner_text()  # the audit action in words
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
    assert "Formulir tidak dapat diproses" in page.content()


@pytest.mark.parametrize(("role", "office"), [("viewer", None), ("helper", None),
                                              ("operator", "01")])
def test_a_role_is_refused_the_audit_log(live, page, role, office):
    make_staff(live.runtime.db, "someone", role, office=office)
    sign_in(page, live.base_url, "someone")
    response = page.goto(f"{live.base_url}/staff/audit")
    assert response.status == 403
    assert "bukan untuk peran Anda" in page.locator("h1").inner_text()
    assert "Audit" not in page.locator("nav.menu").inner_text()


def saved_session(page) -> list[dict]:  # type: ignore[no-untyped-def]
    """The browser's cookies as a copy would keep them (another profile, a stolen file)."""
    return page.context.cookies()


def replay(chromium, live, cookies: list[dict], path: str = "/staff/applications"):  # type: ignore[no-untyped-def]
    """Open `path` in a fresh browser holding only the saved cookies; returns its page."""
    context = chromium.new_context(locale="id-ID")
    context.add_cookies(cookies)
    replayed = context.new_page()
    replayed.goto(f"{live.base_url}{path}")
    return replayed


def test_a_cookie_saved_before_signing_out_gives_the_login_page(live, page, chromium):
    make_staff(live.runtime.db, "op.selatan", "operator", office="01")
    sign_in(page, live.base_url, "op.selatan")
    saved = saved_session(page)
    copy = replay(chromium, live, saved)
    assert copy.locator("h1").inner_text() == "Permohonan"  # a copy works while signed in
    copy.context.close()
    page.click("text=Keluar")
    page.wait_for_url("**/staff/login?out=1")
    copy = replay(chromium, live, saved)
    assert copy.url.endswith("/staff/login?next=/staff/applications")
    assert copy.locator("input[name=password]").is_visible()
    copy.context.close()


@pytest.mark.parametrize("change", ["disable_enable", "password"])
def test_a_cookie_saved_before_an_account_change_gives_the_login_page(live, page, chromium,
                                                                     change):
    make_staff(live.runtime.db, "op.selatan", "operator", office="01")
    sign_in(page, live.base_url, "op.selatan")
    saved = saved_session(page)
    now = live.runtime.clock.now()
    with live.runtime.db.connect() as connection:
        if change == "password":
            set_password(connection, "op.selatan", "kata-sandi-baru-sekali", now)
        else:
            disable(connection, "op.selatan", now)
            enable(connection, "op.selatan")
    copy = replay(chromium, live, saved)
    assert copy.url.endswith("/staff/login?next=/staff/applications")
    assert copy.locator("input[name=password]").is_visible()
    copy.context.close()
    page.goto(f"{live.base_url}/staff/applications")  # the browser that signed in, too
    assert page.url.endswith("/staff/login?next=/staff/applications")
