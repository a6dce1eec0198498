"""Serah berkas in a real browser: a KK applicant's papers on the operator's list, at an office
PC's width and a phone's, "Berkas kurang" typed with the count of the SMS's room, the
confirmation page showing the SMS, then sent; "Berkas lengkap" from the application's page. Each
page passes axe's WCAG 2.1 A/AA rules, and screenshots are kept."""

from __future__ import annotations

from browser_pages import clean, screenshot, sign_in
from document_steps import apply_for_a_kk, stage_of
from live_service import PHONE
from staff_browser import make_staff


def test_an_operator_records_papers_missing_then_complete(live, chromium, axe):
    reference = apply_for_a_kk(live)
    live.received(PHONE)
    make_staff(live.runtime.db, "op01", "operator", office="01")
    context = chromium.new_context(viewport={"width": 1366, "height": 860}, locale="id-ID",
                                   bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        sign_in(page, live.base_url, "op01")
        page.click("nav.menu >> text=Serah berkas")
        page.wait_for_url("**/staff/papers")
        row = page.locator("tbody tr", has_text=reference)
        assert "KK" in row.inner_text() and "***0001" in row.inner_text()
        assert clean(axe, page) == []
        screenshot(page, "papers-kk-1366")
        page.set_viewport_size({"width": 375, "height": 812})
        page.reload()
        assert clean(axe, page) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        screenshot(page, "papers-kk-375")
        page.set_viewport_size({"width": 1366, "height": 860})

        row = page.locator("tbody tr", has_text=reference)
        row.locator("input[name=what]").fill("surat kehilangan dari polisi")
        with page.expect_navigation():
            row.locator("button", has_text="Berkas kurang").click()
        sms = (f"Berkas KK ref {reference} belum lengkap: surat kehilangan dari polisi. Bawa ke "
               "kantor kecamatan pada jam kerja.")
        assert sms in page.content()
        assert clean(axe, page) == []
        screenshot(page, "papers-missing-confirm")
        with page.expect_navigation():
            page.click("text=Ya, kirim SMS berkas kurang")
        assert page.url.endswith("/staff/papers")
        assert "Berkas kurang dicatat" in page.locator(".flashes").inner_text()
        live.worker.run_once()
        assert live.received(PHONE) == [sms]
        assert stage_of(live, reference) == "submitted"

        page.goto(f"{live.base_url}/staff/applications/{reference}")
        meter = page.locator("#papers-missing .septets")
        page.fill("#papers-missing input[name=what]", "KTP-el")
        assert "6 dari" in meter.inner_text()
        with page.expect_navigation():
            page.click("#papers-complete button")
        assert f"Berkas KK ref {reference} lengkap?" in page.content()
        with page.expect_navigation():
            page.click("text=Ya, berkas lengkap")
        assert page.url.endswith(f"/staff/applications/{reference}")
        assert "Berkas lengkap dicatat" in page.locator(".flashes").inner_text()
        assert stage_of(live, reference) == "papers_checked"
        assert page.locator("#papers-complete").count() == 0
    finally:
        context.close()
