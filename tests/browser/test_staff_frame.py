"""What every staff page shares (staff/base.html, staff.js, staff.css), used the way staff without
a mouse, with a screen reader or on a phone use it: the skip link, the current page in the menu,
the menu folded on a phone (and open without a script), the focus on what stopped a form, and
the flash of an action in the status region."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browser_pages import sign_in
from live_service import LiveService
from staff_browser import make_staff

PHONE_SCREEN = {"width": 375, "height": 812}
FOCUSED = "document.activeElement"


def focused(page: Any, expression: str) -> Any:
    return page.evaluate(f"(() => {{ const el = {FOCUSED}; return {expression}; }})()")


@pytest.fixture
def phone(chromium) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    context = chromium.new_context(viewport=PHONE_SCREEN, locale="id-ID")
    yield context.new_page()
    context.close()


def current_items(page: Any, which: str = "[aria-current=page]") -> list[str]:
    """The menu's items marked so (their text even while the menu is folded)."""
    return [text.strip() for text in page.locator(f"nav.menu a{which}").all_text_contents()]


def test_the_skip_link_and_the_current_page_by_keyboard(live: LiveService, page):
    make_staff(live.runtime.db, "op.selatan", "operator", office="01")
    sign_in(page, live.base_url, "op.selatan")
    assert page.url.endswith("/staff/")
    page.keyboard.press("Tab")
    assert focused(page, "el.textContent") == "Langsung ke isi"
    box = page.locator("a.skip").bounding_box()
    assert box is not None and box["y"] >= 0  # shown once it has the focus
    assert focused(page, "getComputedStyle(el).outlineStyle") == "solid"
    page.keyboard.press("Enter")
    assert focused(page, "el.id") == "isi"
    page.keyboard.press("Tab")  # the first control of the page itself, past the menu
    assert focused(page, "el.closest('main') !== null") is True
    assert focused(page, "getComputedStyle(el).outlineStyle") == "solid"

    assert current_items(page) == ["Ringkasan"]
    page.goto(f"{live.base_url}/staff/offices")
    assert current_items(page) == ["Kantor & kuota"]
    page.goto(f"{live.base_url}/staff/offices/01")  # a page within it: shown, not "current"
    assert current_items(page) == []
    assert current_items(page, ".active") == ["Kantor & kuota"]


def test_on_a_phone_the_menu_folds_and_the_page_never_scrolls_sideways(live: LiveService,
                                                                        phone, chromium):
    make_staff(live.runtime.db, "op.selatan", "operator", office="01")
    sign_in(phone, live.base_url, "op.selatan")
    phone.goto(f"{live.base_url}/staff/offices")
    blangko = phone.get_by_role("link", name="Blangko")
    assert not blangko.is_visible()
    menu = phone.locator("summary", has_text="Menu")
    menu.focus()
    phone.keyboard.press("Enter")
    assert blangko.is_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE_SCREEN["width"]
    blangko.click()
    phone.wait_for_url("**/staff/blangko")
    assert current_items(phone) == ["Blangko"]
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE_SCREEN["width"]
    # the tables scroll inside their frame, which the keyboard can reach
    frame = phone.locator(".table-scroll").last
    assert frame.get_attribute("tabindex") == "0"
    assert frame.get_attribute("aria-label") == "Riwayat blangko"

    without_script = chromium.new_context(viewport=PHONE_SCREEN, locale="id-ID",
                                          java_script_enabled=False)
    bare = without_script.new_page()
    sign_in(bare, live.base_url, "op.selatan")
    bare.goto(f"{live.base_url}/staff/offices")
    assert bare.get_by_role("link", name="Blangko").is_visible()  # open without staff.js
    assert bare.evaluate("document.documentElement.scrollWidth") <= PHONE_SCREEN["width"]
    without_script.close()


def test_a_refused_form_gives_the_focus_to_its_error_summary(live: LiveService, page):
    make_staff(live.runtime.db, "admin1", "admin")
    page.goto(f"{live.base_url}/staff/login")
    assert focused(page, "el.name") == "username"
    page.fill("input[name=username]", "admin1")
    page.fill("input[name=password]", "salah-salah-salah")
    page.click("button.primary")
    page.wait_for_load_state()
    assert focused(page, "el.getAttribute('role')") == "alert"
    assert focused(page, "el.innerText") == "Nama pengguna atau kata sandi salah."

    sign_in(page, live.base_url, "admin1")
    page.goto(f"{live.base_url}/staff/offices/01")
    page.fill("#hours_monday", "jam delapan")
    page.click("#office-form button.primary")
    page.wait_for_load_state()
    assert focused(page, "el.id") == "errors"
    assert "Pengaturan belum disimpan" in focused(page, "el.innerText")
    field = page.locator("#hours_monday")
    assert field.get_attribute("aria-invalid") == "true"
    described = page.locator(f"#{field.get_attribute('aria-describedby')}").inner_text()
    page.keyboard.press("Tab")  # from the summary to its link to the field
    assert focused(page, "el.getAttribute('href')") == "#f-hours_monday"
    assert described and described in page.locator("#errors").inner_text()


def test_the_outcome_of_an_action_is_in_the_status_region(live: LiveService, page):
    make_staff(live.runtime.db, "admin1", "admin")
    sign_in(page, live.base_url, "admin1")
    page.goto(f"{live.base_url}/staff/blangko")
    assert page.locator(".flashes[role=status]").inner_text() == ""
    page.fill("input[name=count]", "25")
    with page.expect_navigation():
        page.click("form button.primary:has-text('Tambah')")
    status = page.locator(".flashes[role=status]").inner_text()
    assert "25" in status, status
    assert page.locator("[role=alert]").count() == 0
