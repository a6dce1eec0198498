"""A KK's stages on its application page in a real browser: the path with the stage it is at,
the next stage asked for, its confirmation page, then set; at an office PC's width and a
phone's, each page passing axe's WCAG 2.1 A/AA rules, screenshots kept."""

from __future__ import annotations

import re

from browser_pages import screenshot, sign_in
from live_service import KK, NIK, PHONE, LiveService
from sqlalchemy import select
from staff_browser import make_staff

from sms_ktp.applications import document_stages
from sms_ktp.domain.stages import Stage
from sms_ktp.models import Application

REF = re.compile(r"ref (\d{9})")


def stage_of(live: LiveService, reference: str) -> str:
    table = Application.__table__
    with live.runtime.db.connect() as connection:
        return connection.execute(select(table.c.stage)
                                  .where(table.c.reference == reference)).scalar_one()


def clean(axe, page) -> list[str]:  # type: ignore[no-untyped-def]
    return [f"{v['id']}: {v['help']}" for v in axe(page)]


def test_an_operator_moves_a_kk_to_signed_from_its_page(live, chromium, axe):
    live.sms(PHONE, f"KK {NIK}#{KK}#hilang")
    reference = REF.search(live.sms(PHONE, "YA")[0]).group(1)
    runtime = live.runtime
    with runtime.db.connect() as connection:  # its papers checked at the office
        document_stages.advance(connection, runtime.pickup_policy(), runtime.settings,
                                reference, Stage.PAPERS_CHECKED, actor="staff:op01",
                                now=runtime.clock.now())
    make_staff(runtime.db, "op01", "operator", office="01")
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
