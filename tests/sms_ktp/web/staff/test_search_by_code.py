"""A visit found by the code the family's SMS names, over real HTTP on both databases: at the
counter (loket) and in the applications search, a papers visit's code (KK, akta) and a pickup
code, typed in any case, with spaces or the SMS's own "Kode"; a code used told as used, with
when; a code of nothing said in one line; another kecamatan's visit out of an operator's
reach; never a full NIK or KK on the page."""

from __future__ import annotations

import re
from datetime import timedelta

from live_service import KK, KK_2, NIK, NIK_2, PHONE, PHONE_2, LiveService
from staff_browser import StaffBrowser, signed_in

REF = re.compile(r"ref (\d{9})")
CODE = re.compile(r"Kode ([A-Z0-9]{6})")
PAPERS = re.compile(r"/staff/counter\?berkas=(\d+)$")
VISIT = re.compile(r"/staff/counter/visits/(\d+)$")
FAMILY = re.compile(r"/staff/counter/families/(\d+)$")
NIK_3 = "3271015507880003"  # a second member of the first family


def applied(service: LiveService, command: str, phone: str = PHONE) -> str:
    """A document applied for by SMS: its reference."""
    service.sms(phone, command)
    return REF.search(service.sms(phone, "YA")[0]).group(1)


def papers_code(service: LiveService, phone: str = PHONE) -> str:
    """The papers visit's code as the family reads it (JADWAL: its papers visits)."""
    [sms] = service.sms(phone, "JADWAL")
    assert sms.startswith("Serahkan berkas"), sms
    return CODE.search(sms).group(1)


def pickup_code(service: LiveService, nik: str, kk: str = KK,
                phone: str = PHONE) -> tuple[str, str]:
    """A KTP-el printed and in a pickup visit: its reference and the code of the pickup SMS."""
    reference = applied(service, f"DAFTAR {nik}#{kk}#2", phone)
    service.print_cards(nik)
    service.worker.run_once()
    [sms] = service.received(phone)
    return reference, CODE.search(sms).group(1)


def counter(browser: StaffBrowser, text: str) -> str:
    """The counter's search: a POST answered 303 to a page named by a number, never by what was
    typed; that page's path."""
    response = browser.post("/staff/counter", {"q": text}, allow_redirects=False)
    assert response.status_code == 303, response.text
    location = response.headers["Location"].removeprefix(browser.base_url)
    assert text.strip().upper() not in location.upper()
    return location


def flash(page: str) -> list[str]:
    """The lines the page tells staff: its notices, and what a search refused (at the top)."""
    found = re.findall(r'<p class="flash[^"]*"(?: role="status")?>(.*?)</p>'
                       r'|<div class="flash error error-summary"[^>]*>\s*<p>(.*?)</p>', page, re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", notice or refused)).strip()
            for notice, refused in found]


def no_full_numbers(page: str) -> None:
    for number in (NIK, NIK_3, KK, NIK_2, KK_2):
        assert number not in page


def test_a_papers_code_typed_anyhow_opens_the_visit_and_its_applications(service):
    kk = applied(service, f"KK {NIK}#{KK}#5")
    akta = applied(service, f"AKTA LAHIR {NIK_3}#{KK}#15/11/2026#L")
    code = papers_code(service)
    operator = signed_in(service, "op.selatan", "operator", "01")
    typed = (code, code.lower(), f"{code[:3].lower()} {code[3:]}", f"Kode {code}",
             f"kode: {code[:2]}-{code[2:].lower()}", f"KODE{code}.")
    [path] = {counter(operator, text) for text in typed}
    assert PAPERS.fullmatch(path)
    page = operator.get(path).text
    assert "Serah berkas: 2 permohonan" in page and "Permohonan yang menunggu berkas" in page
    assert "Selasa, 1 Desember 2026, 08.00 WIB" in page  # the visit's day, as the SMS says it
    assert "Kantor Kec. Bogor Selatan" in page
    for reference, document, nik in ((kk, "KK", "***0001"), (akta, "Akta Kelahiran", "***0003")):
        row = re.search(rf'<tr data-reference="{reference}">(.*?)</tr>', page, re.S).group(1)
        assert f'href="/staff/applications/{reference}#papers"' in row
        assert f"<td>{document}</td>" in row and nik in row and "Berkas lengkap" in row
    no_full_numbers(page)
    assert code not in page
    # The applications search reads the same code and lists the same applications.
    found = operator.post("/staff/applications", {"q": f"kode {code.lower()}"}).text
    assert "Hasil untuk kode kunjungan: 2 permohonan" in found
    assert f"/staff/applications/{kk}" in found and f"/staff/applications/{akta}" in found
    assert ("Serah berkas di Kantor Kec. Bogor Selatan, 1 Des 2026 08.00 WIB: menunggu berkas."
            in flash(found))
    no_full_numbers(found)
    assert code not in found and code.lower() not in found  # not even in the search box


def test_a_papers_code_used_is_told_as_used_with_when(service, clock):
    reference = applied(service, f"KK {NIK}#{KK}#5")
    code = papers_code(service)
    clock.advance(timedelta(days=1, hours=1, minutes=15))  # Tuesday 10.15 WIB, at the office
    operator = signed_in(service, "op.selatan", "operator", "01")
    done = operator.post(f"/staff/applications/{reference}/papers/complete",
                         {"confirmed": "1"})
    assert "Berkas lengkap dicatat." in done.text
    path = counter(operator, code)
    assert PAPERS.fullmatch(path)
    page = operator.get(path).text
    assert flash(page) == ["Kode ini sudah dipakai: berkasnya sudah diterima Selasa, 1 Desember "
                           "2026, 10.15 WIB. Tidak ada berkas yang ditunggu dengan kode ini."]
    assert "Permohonan dengan kode ini" in page and f"/staff/applications/{reference}" in page
    assert "Berkas lengkap&hellip;" not in page  # nothing left to record
    found = operator.post("/staff/applications", {"q": code}).text
    assert ("Serah berkas di Kantor Kec. Bogor Selatan, 1 Des 2026 08.00 WIB: kode sudah "
            "dipakai (berkas diterima) 1 Des 2026 10.15 WIB.") in flash(found)


def test_a_pickup_code_opens_its_visit_and_once_used_says_when(service, clock):
    reference, code = pickup_code(service, NIK)
    clock.advance(timedelta(days=1, hours=1))  # Tuesday 10.00 WIB, the visit's day
    admin = signed_in(service, "admin1", "admin")
    path = counter(admin, f"Kode {code.lower()}.")
    assert VISIT.fullmatch(path)
    page = admin.get(path).text
    assert "Kode ambil sudah cocok" in page and f"/staff/applications/{reference}" in page
    assert "***0001" in page and code not in page
    found = admin.post("/staff/applications", {"q": code}).text
    assert f"/staff/applications/{reference}" in found
    assert ("Ambil KTP-el di Kantor Kec. Bogor Selatan, 1 Des 2026 08.00 WIB: menunggu diambil "
            "di loket." in flash(found))
    admin.post(f"{path}/handover/confirm", {"cards": [reference]})
    used = admin.post("/staff/counter", {"q": code}, allow_redirects=False)
    assert FAMILY.search(used.headers["Location"])
    family = admin.get(used.headers["Location"].removeprefix(admin.base_url)).text
    assert ("Kode ambil ini sudah dipakai: KTP-el kunjungan itu diserahkan Selasa, 1 Desember "
            "2026, 10.00 WIB. Berikut data keluarganya.") in flash(family)
    no_full_numbers(family)
    assert code not in family


def test_a_code_of_nothing_says_so_in_one_line(service):
    operator = signed_in(service, "op.selatan", "operator", "01")
    page = operator.post("/staff/counter", {"q": "kode AKD 34F"}).text
    assert [line for line in flash(page) if "Tidak ditemukan" in line] == [
        "Tidak ditemukan di kecamatan Anda: tidak ada kunjungan dengan kode ini. Periksa lagi "
        "huruf dan angkanya di SMS warga, atau cari dengan nomor ref, NIK atau nomor HP."]
    found = operator.post("/staff/applications", {"q": "akd34f"}).text
    assert flash(found) == ["Tidak ada kunjungan dengan kode ini di kecamatan Anda. Periksa lagi "
                            "huruf dan angkanya di SMS warga."]


def test_another_kecamatans_papers_visit_is_out_of_an_operators_reach(service):
    reference = applied(service, f"KK {NIK_2}#{KK_2}#5", PHONE_2)  # kecamatan 06
    code = papers_code(service, PHONE_2)
    selatan = signed_in(service, "op.selatan", "operator", "01")
    assert any("Tidak ditemukan" in line
               for line in flash(selatan.post("/staff/counter", {"q": code}).text))
    assert reference not in selatan.post("/staff/applications", {"q": code}).text
    sareal = signed_in(service, "op.sareal", "operator", "06")
    path = counter(sareal, code)
    assert PAPERS.fullmatch(path) and reference in sareal.get(path).text
    assert selatan.get(path).status_code == 404
    # A kelurahan helper's counter takes only a signed document's code.
    helper = signed_in(service, "pendamping", "helper", "3271011001")
    told = helper.post("/staff/counter", {"q": code}).text
    assert any("Ketik kode dokumen" in line for line in flash(told))
    assert reference not in helper.get(path).text
