"""A resident's requests in a real browser: the admin downloads the copy with the first button
and erases with the second, through its confirmation; the NIK never shows in an address."""

from __future__ import annotations

import json
import re
from pathlib import Path

from browser_pages import screenshot, sign_in
from live_service import KK, NIK, PHONE
from staff_browser import make_staff


def test_an_admin_downloads_then_erases_a_residents_data(live, page):
    live.sms(PHONE, f"DAFTAR {NIK}#{KK}#2")
    reference = re.search(r"ref (\d{9})", live.sms(PHONE, "YA")[0]).group(1)
    make_staff(live.runtime.db, "admin1", "admin")
    sign_in(page, live.base_url, "admin1")
    page.click("nav.menu >> text=Privasi")
    page.wait_for_url("**/staff/privacy")

    page.fill("input[name=nik]", "3271 0145 0190 0001")
    with page.expect_download() as download:
        page.click("button.primary")
    assert download.value.suggested_filename == "data-warga-0001-20261130.json"
    document = json.loads(Path(download.value.path()).read_text("utf-8"))
    assert [a["reference"] for a in document["applications"]] == [reference]

    page.fill("input[name=nik]", NIK)
    page.click("text=Hapus data pribadi")
    confirm = page.locator("main").inner_text()
    assert "Hapus data pribadi NIK ***0001?" in confirm and reference in confirm
    screenshot(page, "privacy-erase")
    page.click("button.danger")
    page.wait_for_url("**/staff/privacy")
    assert "Data pribadi NIK ***0001 dihapus: 1 permohonan (1 dibatalkan lebih dulu)" in (
        page.locator("main").inner_text())
    assert NIK not in page.url and NIK not in page.content()
