"""Who did what, in words, over real HTTP: the audit log and an application's timeline name
actors ("admin1 (Admin)", "Operator baris perintah (root)", "Warga lewat SMS"), actions and notes
in Indonesian; the search box takes the words as well as the codes."""

from __future__ import annotations

import re
from html import unescape

from live_service import KK, NIK, PHONE, LiveService
from staff_browser import StaffBrowser

from sms_ktp.platform import audit

REF = re.compile(r"ref (\d{9})")


def register(service: LiveService) -> str:
    service.sms(PHONE, f"DAFTAR {NIK}#{KK}#2")
    return REF.search(service.sms(PHONE, "YA")[0]).group(1)


def entries(page: str) -> list[list[str]]:
    """The audit table's rows, as text cells."""
    rows = re.findall(r'<tr class="audit-entry">(.*?)</tr>', page, re.DOTALL)
    return [[unescape(re.sub(r"<[^>]+>", "", cell)).strip()
             for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL)] for row in rows]


def test_the_audit_log_reads_in_words(service, admin: StaffBrowser):
    reference = register(service)
    admin.get("/staff/penunggalan")
    admin.post("/staff/penunggalan",
               files={"file": ("hasil.csv", f"nik,result,note\n{NIK},PRR,\n", "text/csv")})
    with service.runtime.db.connect() as connection:
        audit.record(connection, service.runtime.clock.now(), "operator:root", "blangko.add",
                     "site disdukcapil", "+50")
        audit.record(connection, service.runtime.clock.now(), "operator:root", "staff.add",
                     "staff rina", "role operator, office 03")  # as `sms-ktp staff add` writes
    page = admin.get("/staff/audit")
    assert page.status_code == 200
    rows = entries(page.text)
    assert rows[0][4] == "peran Operator kantor, kantor 03" and "role operator" not in page.text
    rows = rows[1:]
    assert [row[1:4] for row in rows] == [
        ["Operator baris perintah (root)", "Menambah stok blangko", "Tempat cetak disdukcapil"],
        ["admin1 (Admin)", "Mengimpor hasil penunggalan", "Berkas hasil.csv"],
        ["admin1 (Admin)", "Masuk", ""]]
    assert "penunggalan.import" not in page.text and "staff:admin1" not in page.text
    assert '<div class="table-scroll">' in page.text

    by_words = entries(admin.get("/staff/audit", params={"q": "impor"}).text)
    assert [row[2] for row in by_words] == ["Mengimpor hasil penunggalan"]
    by_code = entries(admin.get("/staff/audit", params={"q": "blangko.add"}).text)
    assert [row[2] for row in by_code] == ["Menambah stok blangko"]
    by_name = entries(admin.get("/staff/audit", params={"q": "root"}).text)
    assert len(by_name) == 2

    timeline = admin.get(f"/staff/applications/{reference}").text
    timeline = unescape(timeline[timeline.index("Riwayat"):])
    for words in ("Warga lewat SMS", "Didaftarkan dari HP keluarga", "admin1 (Admin)",
                  "Hasil penunggalan: siap cetak (PRR)", "Menunggu blangko dan giliran cetak"):
        assert words in timeline, words
    for code in ("resident:sms", "staff:admin1", "registered by", "waiting for"):
        assert code not in timeline, code


def test_an_application_target_links_to_its_page(service, admin: StaffBrowser):
    reference = register(service)
    admin.post(f"/staff/applications/{reference}/reveal")
    page = admin.get("/staff/audit").text
    assert f'<a href="/staff/applications/{reference}">Permohonan {reference}</a>' in page
    assert "Melihat NIK lengkap" in page
