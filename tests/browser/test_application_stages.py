"""A KK's stages on its application page in a real browser: the path with the stage it is at,
the next stage asked for, its confirmation page, then set; at an office PC's width and a
phone's, each page passing axe's WCAG 2.1 A/AA rules, screenshots kept."""

from __future__ import annotations

from browser_pages import clean, screenshot, sign_in
from document_steps import advance, apply_for_a_kk, stage_of
from staff_browser import make_staff

from sms_ktp.domain.stages import Stage


def test_an_operator_moves_a_kk_to_signed_from_its_page(live, chromium, axe):
    reference = apply_for_a_kk(live)
    # its papers checked at the office
    advance(live, reference, Stage.PAPERS_CHECKED, actor="staff:op01")
    make_staff(live.runtime.db, "op01", "operator", office="01")
    context = chromium.new_context(viewport={"width": 1366, "height": 860}, locale="id-ID",
                                   bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(30_000)  # a loaded CI machine
    try:
        sign_in(page, live.base_url, "op01")
        page.goto(f"{live.base_url}/staff/applications/{reference}")
        path = page.locator("#tahap ol.path li")
        assert path.all_inner_texts() == ["diterima", "berkas lengkap", "sudah TTE",
                                          "siap diunduh", "diambil"]
        assert page.locator("#tahap [aria-current=step]").inner_text() == "berkas lengkap"
        assert clean(axe, page) == []
        screenshot(page, "application-stages-kk-1366")
        page.set_viewport_size({"width": 375, "height": 812})
        page.reload()
        assert clean(axe, page) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        screenshot(page, "application-stages-kk-375")
        page.set_viewport_size({"width": 1366, "height": 860})

        page.fill("#advance-note", "TTE Kepala Dinas")
        with page.expect_navigation():
            page.click("#advance button")
        assert f"Lanjutkan permohonan {reference} ke tahap sudah TTE?" in page.content()
        assert stage_of(live, reference) == "papers_checked"  # asked, nothing changed yet
        assert clean(axe, page) == []
        screenshot(page, "application-stages-confirm")
        with page.expect_navigation():
            page.click("text=Ya, lanjut ke tahap sudah TTE")
        assert page.url.endswith(f"/staff/applications/{reference}")
        assert "Permohonan lanjut ke tahap sudah TTE." in page.locator(".flashes").inner_text()
        assert stage_of(live, reference) == "signed"
        assert page.locator("#tahap [aria-current=step]").inner_text() == "sudah TTE"
        assert page.locator("#advance input[name=to]").get_attribute("value") == "ready"
    finally:
        context.close()
