"""The staff's daily work in a real browser: assisted registration, a penunggalan upload, a
broadcast and its progress, a card handed over at the counter. Screenshots of their steps are
kept as artifacts (the main pages' own are taken by test_accessibility.py)."""

from __future__ import annotations

import re
from datetime import timedelta

from browser_pages import screenshot, sign_in
from live_service import KK, KK_2, NIK, NIK_2, PHONE, PHONE_2, LiveService
from sqlalchemy import select
from staff_browser import make_staff

from sms_ktp.applications import pickup
from sms_ktp.models import Application

REF = re.compile(r"\b(\d{9})\b")


def register_by_sms(live: LiveService, phone: str, nik: str, kk: str) -> str:
    live.sms(phone, f"DAFTAR {nik}#{kk}#2")
    return REF.search(live.sms(phone, "YA")[0]).group(1)


def stage_of(live: LiveService, reference: str) -> str:
    table = Application.__table__
    with live.runtime.db.connect() as connection:
        return connection.execute(select(table.c.stage)
                                  .where(table.c.reference == reference)).scalar_one()


def test_a_kelurahan_helper_registers_a_resident(live, page):
    make_staff(live.runtime.db, "kel.tegallega", "helper")
    sign_in(page, live.base_url, "kel.tegallega")
    page.wait_for_url("**/staff/home")  # the helper's own page
    page.click("nav.menu >> text=Daftarkan warga")
    page.wait_for_url("**/staff/register")
    page.fill("input[name=nik]", NIK)
    page.fill("input[name=kk]", "3171010101200003")  # a Jakarta KK: not a Bogor resident
    page.check("input[name=reason][value=baru]")
    page.fill("input[name=suket]", "SKT-123/2026")
    page.fill("input[name=phone]", "0812-3456-7890")
    page.click("button.primary")
    assert "Kota Bogor" in page.locator(".register-form").inner_text()
    assert page.input_value("input[name=nik]") == NIK  # nothing typed is lost
    page.fill("input[name=kk]", KK)
    screenshot(page, "register")
    page.click("button.primary")
    text = page.locator("main").inner_text()
    reference = REF.search(text).group(1)
    assert "***0001" in text and NIK not in text
    live.worker.run_once()
    confirmation = live.received(PHONE)
    assert len(confirmation) == 1 and reference in confirmation[0]
    assert stage_of(live, reference) == "submitted"


def test_an_admin_uploads_penunggalan_results(live, page, tmp_path):
    first = register_by_sms(live, PHONE, NIK, KK)
    second = register_by_sms(live, PHONE_2, NIK_2, KK_2)
    live.worker.run_once()
    live.received(PHONE)
    csv = tmp_path / "hasil.csv"
    csv.write_text(f"nik,result,note\n{NIK},PRR,\n{NIK_2},DUPLICATE,rekam ganda\n12345,PRR,\n")
    make_staff(live.runtime.db, "admin1", "admin")
    sign_in(page, live.base_url, "admin1")
    page.goto(f"{live.base_url}/staff/penunggalan")
    page.set_input_files("input[name=file]", str(csv))
    page.click("button.primary")
    summary = page.locator("main").inner_text()
    assert re.search(r"2\s+diterapkan|diterapkan\D+2", summary), summary
    assert "4" in summary and "***2345" in summary  # the bad line, NIK masked
    screenshot(page, "penunggalan")
    assert (stage_of(live, first), stage_of(live, second)) == ("print_queue", "duplicate")
    live.worker.run_once()
    assert any("siap cetak" in sms for sms in live.received(PHONE))


def test_an_admin_sends_a_broadcast_and_follows_it(live, page):
    register_by_sms(live, PHONE, NIK, KK)
    register_by_sms(live, PHONE_2, NIK_2, KK_2)
    live.worker.run_once()
    before = len(live.sent())
    make_staff(live.runtime.db, "admin1", "admin")
    sign_in(page, live.base_url, "admin1")
    page.goto(f"{live.base_url}/staff/broadcasts/new")
    page.fill("textarea[name=text]", "Kantor Disdukcapil tutup Jumat 4 Desember. Pengambilan "
              "KTP-el dibuka lagi Senin.")
    page.keyboard.type(" Terima kasih.")
    counter = page.locator("#broadcast-form").inner_text()
    assert "1 SMS" in counter or "1 segmen" in counter.lower(), counter
    page.select_option("select[name=audience]", "all")  # no audience until one is chosen
    screenshot(page, "broadcast-new")
    page.click("button[value=preview]")
    confirmation = page.locator("#confirmation").inner_text()
    assert "2 nomor HP" in confirmation or "Ya, kirim ke 2 keluarga" in confirmation, confirmation
    assert len(live.sent()) == before  # nothing sent before the confirmation
    screenshot(page, "broadcast-confirm")
    page.click("button[value=send]")
    page.wait_for_url(re.compile(r".*/staff/broadcasts/\d+$"))
    live.worker.run_once()  # queues the slice, each SMS 1/rate seconds after the one before
    live.runtime.clock.advance(timedelta(seconds=2))
    live.worker.run_once()
    text = ("Kantor Disdukcapil tutup Jumat 4 Desember. Pengambilan KTP-el dibuka lagi Senin. "
            "Terima kasih.")
    assert sorted((sms["to"], sms["text"]) for sms in live.sent()[before:]) == [
        (PHONE, text), (PHONE_2, text)]
    page.reload()
    progress = page.locator("main").inner_text()
    assert "2" in progress
    screenshot(page, "broadcast-progress")


def test_a_card_is_handed_over_with_its_pickup_code(live, page):
    reference = register_by_sms(live, PHONE, NIK, KK)
    runtime = live.runtime
    live.print_cards(NIK)
    assert pickup.allocate(runtime.db, runtime.clock, runtime.pickup_policy()) == 1
    live.worker.run_once()
    code = re.search(r"Kode ([A-Z0-9]{6})", " ".join(live.received(PHONE))).group(1)

    make_staff(live.runtime.db, "op.selatan", "operator", office="01")
    sign_in(page, live.base_url, "op.selatan")
    page.goto(f"{live.base_url}/staff/applications")
    page.fill("input[name=q]", f"{NIK[:8]} {NIK[8:]}")
    page.click("button:has-text('Cari')")
    page.wait_for_selector(f"text={reference}")
    assert NIK not in page.url and NIK[8:] not in page.url  # the search posted
    screenshot(page, "applications-search")
    page.click(f"text={reference}")
    page.wait_for_url(f"**/staff/applications/{reference}")
    assert code not in page.content()  # staff type the code the resident shows

    page.click("nav.menu >> text=Loket")
    page.fill("input[name=q]", "XXXXXX")
    page.click("button:has-text('Cari')")
    assert "/staff/counter/visits/" not in page.url
    page.fill("input[name=q]", code.lower())
    page.click("button:has-text('Cari')")
    page.wait_for_url("**/staff/counter/visits/*")
    assert code not in page.content()  # typed once, never shown back
    screenshot(page, "counter-visit")
    page.click("text=Lanjut: periksa penyerahan")
    assert stage_of(live, reference) == "pickup_scheduled"  # nothing handed over yet
    page.click("button:has-text('Ya, serahkan')")
    page.wait_for_load_state()
    assert stage_of(live, reference) == "collected"
    assert code not in page.content()  # not in the timeline either

