"""The daily pickup list over real HTTP: the cards of an office's day by slot and family visit,
masked, without codes, the office's next working day by default, an operator's office only."""

from __future__ import annotations

import re

from live_service import KK, KK_2, NIK, NIK_2, PHONE, PHONE_2, LiveService
from staff_browser import signed_in

REF = re.compile(r"ref (\d{9})")
CODE = re.compile(r"Kode ([A-Z0-9]{6})")
NIK_3 = "3271015507880003"  # a second member of the first family


def scheduled(service: LiveService, *niks: str, kk: str = KK, phone: str = PHONE) -> list[str]:
    references = []
    for nik in niks:
        service.sms(phone, f"DAFTAR {nik}#{kk}#2")
        references.append(REF.search(service.sms(phone, "YA")[0]).group(1))
    service.print_cards(*niks)
    service.worker.run_once()
    return references




def rows(page: str) -> list[list[str]]:
    """The table's rows as their cells' text."""
    body = page[page.index("<tbody>"):page.index("</tbody>")]
    return [[re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>",
                                                                          row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


def test_the_next_working_days_cards_by_slot_and_family(service):
    first, second = scheduled(service, NIK, NIK_3)
    [other] = scheduled(service, NIK_2, kk=KK_2, phone=PHONE_2)  # kecamatan 06
    codes = set(CODE.findall(" ".join(sms["text"] for sms in service.sent())))
    operator = signed_in(service, "op.selatan", "operator", "01")
    page = operator.get("/staff/counter/day")
    assert page.status_code == 200
    text = page.text
    assert "Selasa, 1 Desember 2026" in text  # Monday's list is Tuesday's drawer
    assert "2 KTP-el untuk 1 kunjungan keluarga" in text
    assert rows(text) == [["08.00", "Keluarga 2 KTP-el", first, "***0001",
                           "surat kehilangan dari polisi", ""],
                          ["", "", second, "***0003", "surat kehilangan dari polisi", ""]]
    assert other not in text and NIK not in text and not [c for c in codes if c in text]
    assert 'name="office"' not in text  # an operator's own office only
    assert operator.get("/staff/counter/day?office=06").status_code == 404
    today = operator.get("/staff/counter/day?date=2026-11-30").text
    assert "Tidak ada jadwal ambil pada hari ini" in today
    bad = operator.get("/staff/counter/day?date=kemarin").text
    assert 'role="alert"' in bad and "Tanggal tidak terbaca" in bad and first in bad
    admin = signed_in(service, "admin1", "admin")
    sareal = admin.get("/staff/counter/day?office=06&date=2026-12-01").text
    assert other in sareal and first not in sareal and 'name="office"' in sareal


def test_a_closed_day_says_so(service):
    admin = signed_in(service, "admin1", "admin")
    christmas = admin.get("/staff/counter/day?office=01&date=2026-12-25").text
    assert "Kantor tutup pada hari itu" in christmas


def test_only_counter_staff_open_it(service):
    for role in ("helper", "viewer"):
        browser = signed_in(service, f"x.{role}", role, "3271011001" if role == "helper"
                            else None)
        assert browser.get("/staff/counter/day").status_code == 403
