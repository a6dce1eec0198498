"""The back office through a real working day, in a real browser, as staff click and type: the
residents' morning SMS, the operator's verification queue and applications list, penunggalan
results with a double record resolved at the office, a print batch made, printed with one card
failed and confirmed, the pickup SMS, the counter finding the family by the code read from the
resident's phone, a family's phone changed with its code, a kelurahan helper registering a
family of three and a family without any phone, and an admin's broadcast confirmed.

The tests share one service and follow each other: each is a part of the day. Every main page is
kept as a screenshot at 1366 and 375 px (artifacts/screenshots/day-<step>-<width>.png) and
checked by axe-core (WCAG 2.1 A and AA); the operator's and the helper's pages must not scroll
sideways on a phone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from browser_pages import SCREENSHOTS, sign_in
from live_service import DATA_KEY, LOOKUP_KEY, LiveService, start_service
from sqlalchemy import select
from staff_browser import make_staff

from sms_ktp import crypto
from sms_ktp.models import Application, Family
from sms_ktp.platform.clock import FixedClock
from sms_ktp.platform.db import Database
from sms_ktp.web.staff.broadcasts import rupiah

MONDAY = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # 09:00 in Bogor, the working day
LAST_WEEK = MONDAY - timedelta(days=6)  # a resident who registered the Tuesday before
WIDTHS = {1366: 860, 375: 812}  # an office PC's screen, a kelurahan clerk's phone
REF = re.compile(r"\b(\d{9})\b")
CODE = re.compile(r"\bKode ([A-Z0-9]{6})\b")

# Families of Kota Bogor, kecamatan 01 (Bogor Selatan): the operator's office "01".
KK_A, PHONE_A = "3271010101200003", "+6281234567890"  # two members register by SMS
NIK_A1, NIK_A2 = "3271014501900001", "3271011203850002"
KK_B, PHONE_B, NIK_B = "3271010505180007", "+6285711112222", "3271016208920003"  # data ganda
KK_C, PHONE_C, NIK_C = "3271011506210002", "+6281311113333", "3271010307880004"  # print fails
KK_D, PHONE_D, NIK_D = "3271012007190005", "+6281911114444", "3271015010950005"  # last week
NEW_PHONE_D = "+6287755556666"
# Registered by the kelurahan helper: a family of three, and a family without any phone.
KK_E, PHONE_E = "3271011108170006", "+6282122227777"
NIKS_E = ("3271011506800006", "3271015904830007", "3271010102050008")
KK_F, NIK_F = "3271010902220011", "3271012511700009"
KELURAHAN = "3271011001"  # Batu Tulis, kecamatan 01

OPERATOR, HELPER, ADMIN = "op.selatan", "kel.batutulis", "admin1"


@dataclass
class Day:
    live: LiveService
    desks: dict[str, Any]  # username -> its browser page, signed in
    refs: dict[str, str] = field(default_factory=dict)  # NIK -> reference

    def stage(self, nik: str) -> str:
        return self.row(nik).stage

    def row(self, nik: str) -> Any:
        table = Application.__table__
        with self.live.runtime.db.connect() as connection:
            return connection.execute(select(table).where(
                table.c.reference == self.refs[nik])).one()

    def family_phone(self, kk_last4: str) -> list[str]:
        table = Family.__table__
        with self.live.runtime.db.connect() as connection:
            return [row.phone for row in connection.execute(select(table)).all()
                    if row.kk.endswith(kk_last4)]


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory, chromium: Any) -> Iterator[Day]:
    crypto.configure(DATA_KEY, (), LOOKUP_KEY)
    folder = tmp_path_factory.mktemp("working-day")
    database = Database(f"sqlite:///{folder / 'sms-ktp.db'}")
    database.create_schema()
    service = start_service(database, FixedClock(LAST_WEEK), folder)
    live = next(service)
    make_staff(database, OPERATOR, "operator", office="01")
    make_staff(database, HELPER, "helper", office=KELURAHAN)
    make_staff(database, ADMIN, "admin")
    contexts = []
    desks = {}
    try:
        for username in (OPERATOR, HELPER, ADMIN):
            # bypass_csp: axe-core is injected into the pages, which forbid inline scripts.
            context = chromium.new_context(viewport={"width": 1366, "height": 860},
                                           locale="id-ID", bypass_csp=True)
            contexts.append(context)
            page = context.new_page()
            page.set_default_timeout(10_000)
            desks[username] = page
        yield Day(live, desks)
    finally:
        for context in contexts:
            context.close()
        service.close()
        database.dispose()


# --- what every step does -----------------------------------------------------------------------

def look(page: Any, axe: Any, step: str, *, phone_width: bool = True) -> None:
    """The page as it is now at both widths: a screenshot each, no WCAG 2.1 A/AA violation,
    and (`phone_width`) no sideways scrolling at 375 px."""
    problems = problems_of(page, axe, step, phone_width=phone_width)
    assert not problems, f"day-{step} ({page.url}):\n" + "\n".join(problems)


def problems_of(page: Any, axe: Any, step: str, *, phone_width: bool = True) -> list[str]:
    """What `look` finds wrong with the page, its screenshots taken."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems = []
    for width, height in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(SCREENSHOTS / f"day-{step}-{width}.png"), full_page=True)
        for violation in axe(page):
            where = "; ".join(node["target"] for node in violation["nodes"][:4])
            problems.append(f"{width} px: {violation['id']} [{violation['impact']}] "
                            f"{violation['help']}: {where}")
        if phone_width and width < 1000:
            scroll = page.evaluate("document.documentElement.scrollWidth")
            if scroll > width:
                problems.append(f"{width} px: the page scrolls sideways ({scroll} px wide)")
    page.set_viewport_size({"width": 1366, "height": 860})
    if page.locator("nav.menu").count():
        page.locator("nav.menu").wait_for(state="visible")  # unfolded again on the PC's width
    return problems


def menu(page: Any, label: str) -> None:
    """Click an entry of the main menu (unfolded first when a phone's width folded it)."""
    link = page.locator("nav.menu").get_by_role("link", name=label, exact=True)
    fold = page.locator("details.menu-fold > summary")
    if not link.is_visible() and fold.is_visible():
        fold.click()
    link.click()
    page.wait_for_load_state()


def open_filters(page: Any) -> None:
    """Unfold the applications list's filters unless they are open already."""
    if not page.get_by_label("Tahap").is_visible():
        page.locator("details.worklist-filters > summary").click()


def main_text(page: Any) -> str:
    return page.locator("main").inner_text()


def desk(day: Day, username: str) -> Any:
    """The member of staff's browser, signed in on first use."""
    page = day.desks[username]
    if "/staff/login" in page.url or page.url in ("", "about:blank"):
        sign_in(page, day.live.base_url, username)
    return page


def register_by_sms(live: LiveService, phone: str, nik: str, kk: str) -> str:
    live.sms(phone, f"DAFTAR {nik}#{kk}#2")
    replies = live.sms(phone, "YA")
    found = REF.search(" ".join(replies))
    assert found, f"no reference in the reply to YA from {phone}: {replies}"
    return found.group(1)


# --- the day ------------------------------------------------------------------------------------

def test_1_residents_register_by_sms_in_the_morning(day):
    live, clock = day.live, day.live.runtime.clock
    day.refs[NIK_D] = register_by_sms(live, PHONE_D, NIK_D, KK_D)  # last Tuesday
    clock.set(MONDAY)
    day.refs[NIK_A1] = register_by_sms(live, PHONE_A, NIK_A1, KK_A)
    day.refs[NIK_A2] = register_by_sms(live, PHONE_A, NIK_A2, KK_A)  # same family, same phone
    day.refs[NIK_B] = register_by_sms(live, PHONE_B, NIK_B, KK_B)
    day.refs[NIK_C] = register_by_sms(live, PHONE_C, NIK_C, KK_C)
    assert len(set(day.refs.values())) == 5
    assert {day.stage(nik) for nik in day.refs} == {"submitted"}


def test_2_the_operator_verifies_the_morning_queue(day, axe):
    page = desk(day, OPERATOR)
    menu(page, "Verifikasi")
    page.wait_for_url("**/staff/verification")
    assert "Menunggu verifikasi: 5 permohonan" in main_text(page)
    cases = page.locator("article.case[data-reference]")
    # The oldest first: last Tuesday's application heads the queue.
    assert cases.first.get_attribute("data-reference") == day.refs[NIK_D]
    look(page, axe, "verification")

    # One checked on its own card...
    page.locator(f"article[data-reference='{day.refs[NIK_D]}']").get_by_role(
        "button", name="Data sesuai").click()
    page.wait_for_load_state()
    assert "Menunggu verifikasi: 4 permohonan" in main_text(page)
    assert day.stage(NIK_D) == "penunggalan"
    # ... the others ticked and verified together.
    for nik in (NIK_A1, NIK_A2, NIK_B, NIK_C):
        page.get_by_role("checkbox", name=f"Ref {day.refs[nik]}").check()
    page.get_by_role("button", name="Verifikasi yang dicentang").click()
    page.wait_for_load_state()
    text = main_text(page)
    assert "4 permohonan diverifikasi" in text, text
    assert "Tidak ada permohonan yang menunggu verifikasi." in text
    assert {day.stage(nik) for nik in day.refs} == {"penunggalan"}


def test_3_the_operator_filters_and_sorts_the_applications(day, axe):
    page = desk(day, OPERATOR)
    menu(page, "Permohonan")
    page.wait_for_url("**/staff/applications")
    open_filters(page)
    page.get_by_label("Tahap").select_option(label="penunggalan")
    page.get_by_label("Urutan").select_option(label="Paling lama menunggu dulu")
    page.get_by_role("button", name="Tampilkan").click()
    page.wait_for_load_state()
    assert page.locator("#worklist-total").inner_text() == "5 permohonan sesuai filter"
    rows = page.locator("table.worklist tbody tr")
    assert rows.count() == 5
    assert day.refs[NIK_D] in rows.first.inner_text()
    assert "6 hari" in rows.first.inner_text()  # waiting since last Tuesday
    look(page, axe, "applications")

    open_filters(page)
    page.get_by_label("Urutan").select_option(label="Paling baru dulu")
    page.get_by_role("button", name="Tampilkan").click()
    page.wait_for_load_state()
    rows = page.locator("table.worklist tbody tr")
    assert day.refs[NIK_D] in rows.last.inner_text()
    assert day.refs[NIK_C] in rows.first.inner_text()
    assert page.locator("#worklist-total").inner_text() == "5 permohonan sesuai filter"


def test_4_penunggalan_results_and_a_double_record_resolved(day, axe, tmp_path):
    live = day.live
    page = desk(day, ADMIN)
    menu(page, "Penunggalan")
    csv = tmp_path / "hasil-penunggalan.csv"
    csv.write_text("nik,result,note\n" + "".join(
        f"{nik},PRR,\n" for nik in (NIK_A1, NIK_A2, NIK_C, NIK_D))
        + f"{NIK_B},DUPLICATE,rekam ganda\n")
    page.get_by_label("Berkas CSV atau Excel").set_input_files(str(csv))
    page.get_by_role("button", name="Impor").click()
    page.wait_for_load_state()
    assert page.locator("#applied").inner_text() == "5"
    look(page, axe, "penunggalan", phone_width=False)
    live.worker.run_once()
    to_b = live.received(PHONE_B)
    assert len(to_b) == 1 and "terekam ganda" in to_b[0], to_b
    assert day.stage(NIK_B) == "duplicate"

    # The resident came to the office with the Suket and the KK: the operator closes it.
    page = desk(day, OPERATOR)
    menu(page, "Verifikasi")
    assert "Data ganda menunggu warga datang: 1" in main_text(page)
    page.locator(f"article[data-reference='{day.refs[NIK_B]}']").get_by_role(
        "link", name=day.refs[NIK_B]).click()
    page.wait_for_url(f"**/staff/applications/{day.refs[NIK_B]}")
    look(page, axe, "application-duplicate")
    page.get_by_label("Data ganda sudah diselesaikan warga").fill("sudah rekam ulang")
    page.get_by_role("button", name="Data ganda selesai: kembali antre cetak").click()
    page.wait_for_load_state()
    assert "Data ganda selesai" in main_text(page)
    assert day.stage(NIK_B) == "print_queue"
    live.worker.run_once()
    told = live.received(PHONE_B)
    assert told == [f"Data ganda KTP-el ref {day.refs[NIK_B]} (NIK ***0003) sudah selesai. "
                    "Kini antre cetak; jadwal ambil dikirim lewat SMS."], told


def test_5_a_batch_printed_from_the_page_with_one_card_failed(day, axe):
    live = day.live
    page = desk(day, OPERATOR)
    menu(page, "Blangko")
    page.get_by_label("Jumlah kartu").fill("10")
    page.get_by_role("button", name="Tambah").click()
    page.wait_for_load_state()
    assert "10 blangko KTP-el ditambahkan" in main_text(page)
    look(page, axe, "blangko")

    menu(page, "Cetak")
    assert page.locator("#queue .figure").inner_text() == "5"
    look(page, axe, "printing")
    page.get_by_role("button", name="Buat batch").click()
    page.wait_for_url(re.compile(r".*/staff/printing/batches/\d+$"))
    assert "5 kartu" in main_text(page), main_text(page)
    # The printable list, opened again from the Cetak page as the printer's operator would.
    menu(page, "Cetak")
    page.get_by_role("link", name="Cetak daftar, lalu tandai tercetak").click()
    page.wait_for_url(re.compile(r".*/staff/printing/batches/\d+$"))
    cards = page.locator("#batch-cards tbody tr")
    assert cards.count() == 5
    assert all(day.refs[nik] in " ".join(cards.all_inner_texts()) for nik in day.refs)
    look(page, axe, "printing-batch")
    page.emulate_media(media="print")  # on paper: the list only, without the form's controls
    assert cards.first.is_visible() and not page.get_by_label("gagal").first.is_visible()
    assert not page.get_by_role("button", name="Tandai tercetak").is_visible()
    page.emulate_media(media="screen")
    cards.filter(has_text=day.refs[NIK_C]).get_by_label("gagal").check()
    page.get_by_role("button", name="Tandai tercetak").click()
    page.wait_for_load_state()
    text = main_text(page)
    assert "4 KTP-el ditandai tercetak" in text and "1 kartu gagal" in text, text
    assert "3 keluarga akan menerima SMS jadwal ambil" in text, text
    assert day.stage(NIK_A1) == "print_queue"  # nothing changed before the confirmation
    look(page, axe, "printing-confirm")
    page.get_by_role("group", name=re.compile(day.refs[NIK_C])).get_by_label(
        "blangko masih utuh").check()
    page.get_by_role("button", name="Ya, tandai 4 KTP-el tercetak").click()
    page.wait_for_url("**/staff/printing*")
    text = main_text(page)
    assert "1 kartu kembali ke depan antrean cetak" in text, text
    assert page.locator("#queue .figure").inner_text() == "1"
    assert page.locator("#free .figure").inner_text() == "6"  # its blangko kept, unspoiled
    failed = day.row(NIK_C)
    assert (failed.stage, failed.print_batch_id) == ("print_queue", None)

    mark = len(live.sent())
    live.worker.run_once()  # allocates the pickups and sends their SMS
    pickups = {}
    for sms in live.sent()[mark:]:
        if CODE.search(sms["text"]):
            pickups.setdefault(sms["to"], []).append(sms["text"])
    # One SMS per family visit; the card that failed waits for the next batch.
    assert sorted(pickups) == sorted([PHONE_A, PHONE_B, PHONE_D]), pickups
    assert all(len(texts) == 1 for texts in pickups.values()), pickups
    assert "***0001" in pickups[PHONE_A][0] and "***0002" in pickups[PHONE_A][0], pickups
    assert {day.stage(nik) for nik in (NIK_A1, NIK_A2, NIK_B, NIK_D)} == {"pickup_scheduled"}


def test_6_the_counter_hands_the_family_its_cards(day, axe):
    live = day.live
    # The code as the resident's phone shows it: the family's one new SMS.
    on_the_phone = live.received(PHONE_A)
    assert len(on_the_phone) == 1 and CODE.search(on_the_phone[0]), on_the_phone
    code = CODE.search(on_the_phone[0]).group(1)
    page = desk(day, OPERATOR)
    menu(page, "Loket")
    page.wait_for_url("**/staff/counter")
    look(page, axe, "counter")
    page.get_by_label("Kode ambil, nomor ref, NIK, nomor KK, atau nomor HP keluarga").fill(code)
    page.get_by_role("button", name="Cari").click()
    page.wait_for_url(re.compile(r".*/staff/counter/visits/\d+$"))
    visit_url = page.url
    text = main_text(page)
    assert "Kunjungan keluarga: 2 KTP-el" in text, text
    assert day.refs[NIK_A1] in text and day.refs[NIK_A2] in text
    assert code not in page.content()  # typed once, never shown back
    look(page, axe, "counter-visit")

    # Back after the search: the search page itself, no "confirm form resubmission".
    response = page.go_back()
    assert response is not None and response.request.method == "GET"
    assert page.url.endswith("/staff/counter"), page.url
    assert "ERR_CACHE_MISS" not in page.content()
    assert page.get_by_role("heading", name="Loket pengambilan KTP-el").is_visible()
    page.go_forward()
    assert page.url == visit_url
    assert "ERR_CACHE_MISS" not in page.content()

    page.get_by_role("button", name="Lanjut: periksa penyerahan").click()
    page.wait_for_url(re.compile(r".*/handover\?.*"))
    assert "Diserahkan sekarang: 2 KTP-el" in main_text(page)
    assert day.stage(NIK_A1) == "pickup_scheduled"  # nothing handed over yet
    look(page, axe, "counter-handover")
    page.get_by_role("button", name="Ya, serahkan 2 KTP-el").click()
    page.wait_for_url(re.compile(r".*/staff/counter/families/\d+$"))
    assert "2 KTP-el tercatat sudah diambil." in main_text(page)
    assert (day.stage(NIK_A1), day.stage(NIK_A2)) == ("collected", "collected")
    page.get_by_role("link", name=day.refs[NIK_A1]).first.click()
    page.wait_for_url(f"**/staff/applications/{day.refs[NIK_A1]}")
    assert page.locator(".badge").first.inner_text() == "diambil"
    look(page, axe, "application-collected")


def test_7_a_helper_changes_a_familys_phone_with_its_code(day, axe):
    live = day.live
    page = desk(day, HELPER)
    page.wait_for_url("**/staff/home")
    menu(page, "Ganti nomor HP")
    look(page, axe, "phone-change")
    page.get_by_label("Nomor KK atau nomor HP lama").fill("3271 0120 0719 0005")
    page.get_by_role("button", name="Cari keluarga").click()
    page.wait_for_load_state()
    assert "Hasil: 1 keluarga" in main_text(page)
    page.get_by_role("link", name="Ganti nomor HP keluarga ini").click()
    page.wait_for_url(re.compile(r".*/staff/families/\d+/phone$"))
    look(page, axe, "phone-change-family")
    page.get_by_label("Nomor KK, diketik dari Kartu Keluarga asli").fill(KK_D)
    page.get_by_label("Nomor HP baru").fill("0877-5555-6666")
    page.get_by_role("button", name="Kirim kode ke HP baru").click()
    page.wait_for_load_state()
    live.worker.run_once()
    to_new = live.received(NEW_PHONE_D)
    assert len(to_new) == 1, to_new
    code = re.search(r"Kode ganti nomor HP KTP-el: (\d{6})\.", to_new[0])
    assert code, to_new
    look(page, axe, "phone-change-code")
    page.get_by_label("Kode dari SMS di HP baru").fill(code.group(1))
    page.get_by_role("button", name="Ganti nomor HP", exact=True).click()
    page.wait_for_load_state()
    assert "Nomor HP keluarga diganti" in main_text(page)
    assert day.family_phone(KK_D[-4:]) == [NEW_PHONE_D]
    live.worker.run_once()
    told = live.received(PHONE_D)  # the old phone
    assert len(told) == 1, told
    assert told[0].startswith("SMS KTP-el keluarga KK ***0005 kini dikirim ke "), told
    assert NEW_PHONE_D not in told[0] and "5555" not in told[0], told  # masked


def test_8_a_helper_registers_a_family_of_three_and_a_family_without_phone(day, axe):
    live = day.live
    page = desk(day, HELPER)
    menu(page, "Daftarkan warga")
    page.wait_for_url("**/staff/register")
    look(page, axe, "register")
    page.get_by_label("NIK").fill(NIKS_E[0])
    page.get_by_label("Nomor KK").fill(KK_E)
    page.get_by_label("2 hilang").check()
    page.get_by_label("Nomor HP keluarga").fill("0821-2222-7777")
    page.get_by_role("button", name="Daftarkan").click()
    page.wait_for_load_state()
    references = [page.locator(".registered .reference").inner_text()]
    look(page, axe, "register-done")
    for nik in NIKS_E[1:]:
        page.get_by_role("link", name="Daftarkan anggota keluarga berikutnya").click()
        page.wait_for_load_state()
        kept = page.locator(".kept-family").inner_text()
        assert "***0006" in kept and KK_E not in page.content(), kept  # not typed again
        assert page.get_by_label("Nomor HP keluarga").count() == 0
        page.get_by_label("NIK").fill(nik)
        page.get_by_label("3 rusak").check()
        page.get_by_role("button", name="Daftarkan").click()
        page.wait_for_load_state()
        references.append(page.locator(".registered .reference").inner_text())
    assert len(set(references)) == 3
    live.worker.run_once()
    assert sorted(REF.search(text).group(1) for text in live.received(PHONE_E)) == sorted(
        references)

    page.get_by_role("link", name="Cetak tanda terima").click()
    page.wait_for_url("**/staff/register/receipt*")
    receipt = page.locator("article.receipt").inner_text()
    assert all(reference in receipt for reference in references), receipt
    # The KK and the family's phone, masked.
    assert "Nomor KK\n***0006" in receipt and "HP keluarga +62***777" in receipt, receipt
    assert KK_E not in page.content() and "2222" not in page.content()
    look(page, axe, "receipt")

    # A family without any phone: the kelurahan is its contact.
    menu(page, "Daftarkan warga")
    page.get_by_label("NIK").fill(NIK_F)
    page.get_by_label("Nomor KK").fill(KK_F)
    page.get_by_label("2 hilang").check()
    page.get_by_label("Keluarga tidak punya HP").check()
    page.get_by_role("button", name="Daftarkan").click()
    page.wait_for_load_state()
    done = page.locator(".registered").inner_text()
    assert "Batu Tulis (keluarga tanpa HP)" in done, done
    phoneless_ref = page.locator(".registered .reference").inner_text()
    page.get_by_role("link", name="Cetak tanda terima").click()
    page.wait_for_url("**/staff/register/receipt*")
    receipt = page.locator("article.receipt").inner_text()
    assert phoneless_ref in receipt and "Keluarga tanpa HP" in receipt, receipt
    assert "disampaikan oleh Kelurahan Batu Tulis" in receipt, receipt
    look(page, axe, "receipt-without-phone")

    menu(page, "Beranda")
    live.worker.run_once()
    page.reload()
    # No SMS for the family without a phone: the printed receipt is in its hand instead.
    kabar = page.locator("#kabar").inner_text()
    assert "Tidak ada kabar yang menunggu disampaikan." in kabar, kabar
    mine = page.locator("section[aria-labelledby=mine-title]").inner_text()
    assert all(reference in mine for reference in [*references, phoneless_ref]), mine
    look(page, axe, "helper-home")


def test_9_an_admin_sends_a_broadcast_after_confirming_it(day, axe):
    live = day.live
    page = desk(day, ADMIN)
    menu(page, "Siaran SMS")
    page.get_by_role("link", name="Tulis siaran baru").click()
    page.wait_for_url("**/staff/broadcasts/new")
    audience = page.get_by_label("Penerima")
    assert audience.input_value() == ""  # nobody chosen for the admin
    page.get_by_label("Isi pesan").fill(
        "Disdukcapil Kota Bogor: loket KTP-el Kec. Bogor Selatan buka Sabtu 5 Desember "
        "08.00-12.00. Balas BERHENTI untuk berhenti menerima siaran.")
    audience.select_option(label="01 Bogor Selatan")
    # The live preview, once the page has counted the families: every one by SMS here.
    estimate = page.locator("#broadcast-estimate")
    estimate.locator("[data-out=recipients]").filter(has_text=re.compile(r"^\d+$")).wait_for()
    previewed = int(estimate.locator("[data-out=recipients]").inner_text())
    preview_price = live.runtime.settings.gateway.price_per_segment
    assert estimate.locator("[data-out=cost]").inner_text() == rupiah(
        previewed * preview_price), estimate.inner_text()
    look(page, axe, "broadcast-new", phone_width=False)
    page.get_by_role("button", name="Periksa sebelum kirim").click()
    page.wait_for_load_state()
    confirmation = page.locator("#confirmation").inner_text()
    look(page, axe, "broadcast-confirm", phone_width=False)
    families = int(page.locator("[data-confirm-out=recipients]").inner_text())
    parts = page.locator("[data-confirm-out=segments]").inner_text()
    cost = page.locator("[data-confirm-out=cost]").inner_text()
    assert parts == "1 SMS", confirmation
    # The cost, and how it is reckoned: parts x families x the price of one SMS.
    price = live.runtime.settings.gateway.price_per_segment
    assert cost == rupiah(families * price), confirmation
    assert f"(1 SMS × {families} keluarga × {rupiah(price)})" in confirmation, confirmation
    before = len(live.sent())
    page.get_by_role("button", name=f"Ya, kirim ke {families} keluarga").click()
    page.wait_for_url(re.compile(r".*/staff/broadcasts/\d+$"))
    sending = problems_of(page, axe, "broadcast-sending", phone_width=False)
    for _ in range(3):
        live.worker.run_once()
        live.runtime.clock.advance(timedelta(seconds=5))
    reached = sorted(sms["to"] for sms in live.sent()[before:] if "BERHENTI" in sms["text"])
    # Every family of Bogor Selatan with a phone: the family without one is no recipient of an
    # announcement (its kelurahan passes those on in its own ways), and is not billed.
    assert reached == sorted([PHONE_A, PHONE_B, PHONE_C, NEW_PHONE_D, PHONE_E]), reached
    assert families == previewed == 5, confirmation
    # While it was being sent, the progress page offered fresh figures and never reloaded
    # itself (WCAG 2.2.1).
    assert not sending, "\n".join(sending)
    page.get_by_role("link", name="Perbarui angka").click()
    page.wait_for_load_state()
    assert "5 dari 5" in main_text(page), main_text(page)
    look(page, axe, "broadcast-done", phone_width=False)

    helper = desk(day, HELPER)
    menu(helper, "Beranda")
    notices = helper.locator("#kabar")
    assert "loket KTP-el" not in notices.inner_text(), notices.inner_text()
    look(helper, axe, "helper-notices")
