"""Staff fields whose text lands in a resident's SMS count GSM-7 septets while staff type, in a
real browser: the rejection's reason and an office's name and address. Over the budget the form
says so and is held back; the server checks again (tests over HTTP)."""

from __future__ import annotations

import re

from browser_pages import screenshot, sign_in
from live_service import KK, NIK, PHONE, LiveService
from sqlalchemy import select
from staff_browser import make_staff

from sms_ktp.applications import decisions, sms_budget
from sms_ktp.models import Application


def registered(live: LiveService) -> str:
    live.sms(PHONE, f"DAFTAR {NIK}#{KK}#2")
    return re.search(r"\b(\d{9})\b", live.sms(PHONE, "YA")[0]).group(1)


def stage_of(live: LiveService, reference: str) -> str:
    with live.runtime.db.connect() as connection:
        return connection.execute(select(Application.stage)
                                  .where(Application.reference == reference)).scalar_one()


def test_the_rejection_reason_counts_septets_as_it_is_typed(live, page):
    reference = registered(live)
    budget = decisions.reason_budget()
    make_staff(live.runtime.db, "op.selatan", "operator", office="01")
    sign_in(page, live.base_url, "op.selatan")
    page.goto(f"{live.base_url}/staff/applications/{reference}")
    meter = page.locator('[data-septets-of="reason"]')
    assert meter.is_visible() and meter.locator("[data-out=used]").inner_text() == "0"
    assert f"dari {budget} karakter GSM-7" in meter.inner_text()
    field = page.locator("input[name=reason]")
    field.fill("Suket  buram")  # two spaces: kept as one, as the server keeps it
    assert meter.locator("[data-out=used]").inner_text() == "11"
    field.fill(("Foto [buram] {ulang} ~ KTP^ €5 " * 3)[:50])  # 50 characters
    used = int(meter.locator("[data-out=used]").inner_text())
    assert used > budget and meter.locator("[data-out=over]").is_visible()
    assert page.evaluate("document.querySelector('input[name=reason]').validity.customError")
    screenshot(page, "reject-reason-too-long")
    page.click("button:has-text('Tolak')")  # the browser holds the form back
    assert stage_of(live, reference) == "submitted"
    field.fill("Suket {tidak} terbaca")
    assert meter.locator("[data-out=used]").inner_text() == "23"
    assert not meter.locator("[data-out=over]").is_visible()
    page.click("button:has-text('Tolak')")
    preview = page.locator("#sms-preview")  # the SMS the resident will read, before anything
    assert "Suket {tidak} terbaca" in preview.inner_text()
    assert stage_of(live, reference) == "submitted"
    page.click("form button.danger")
    page.wait_for_url(f"**/staff/applications/{reference}")
    assert stage_of(live, reference) == "rejected"


def test_an_offices_name_and_address_count_together(live, page):
    make_staff(live.runtime.db, "admin1", "admin")
    sign_in(page, live.base_url, "admin1")
    page.goto(f"{live.base_url}/staff/offices/01")
    name_meter = page.locator('[data-septets-of="name"]')
    both = page.locator('[data-septets-of="name address"]')
    name, address = "Kantor Kec. Bogor Selatan", "Kota Bogor"
    assert name_meter.locator("[data-out=used]").inner_text() == str(len(name))
    assert both.locator("[data-out=used]").inner_text() == str(len(name + address))
    assert f"dari {sms_budget.budget('office', 'address')} karakter" in both.inner_text()
    # [ and ] take two septets
    page.fill("input[name=address]", "Jl. [Batutulis] No. 1, Batutulis")
    assert both.locator("[data-out=used]").inner_text() == str(len(name) + 34)
    assert both.locator("[data-out=over]").is_visible()
    assert not name_meter.locator("[data-out=over]").is_visible()
    screenshot(page, "office-too-long")
    page.fill("input[name=name]", "Kec. Bogor Selatan")
    assert both.locator("[data-out=used]").inner_text() == str(18 + 34)
    assert not both.locator("[data-out=over]").is_visible()
