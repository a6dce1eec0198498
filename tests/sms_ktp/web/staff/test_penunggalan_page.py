"""The penunggalan upload over real HTTP: the same import and summary as `sms-ktp penunggalan
import`, an outcome for every line, the files offices have (CSV with `;` or `,`, XLSX), residents
told by SMS, nothing changed by a second upload, no full NIK on the page."""

from __future__ import annotations

import io
import re
from html import unescape

import pytest
from live_service import KK, NIK, NIK_2, PHONE, LiveService
from openpyxl import Workbook
from sqlalchemy import select
from staff_browser import StaffBrowser, make_staff

from sms_ktp.applications.penunggalan import NO_HEADER
from sms_ktp.models import Application, AuditEntry
from sms_ktp.web.staff import penunggalan as page

REF = re.compile(r"ref (\d{9})")
NIK_3 = "3271015507880003"
UNKNOWN = "3271014501909999"


def register(service: LiveService, phone: str, nik: str, kk: str) -> str:
    service.sms(phone, f"DAFTAR {nik}#{kk}#2")
    return REF.search(service.sms(phone, "YA")[0]).group(1)


def stages(service: LiveService) -> dict[str, str]:
    with service.runtime.db.connect() as connection:
        rows = connection.execute(select(Application.__table__)).all()
    return {row.nik: row.stage for row in rows}


def audit(service: LiveService) -> list[tuple[str, str, str, str]]:
    with service.runtime.db.connect() as connection:
        rows = connection.execute(select(AuditEntry.__table__).where(
            AuditEntry.__table__.c.action != "staff.login")).all()
    return [(row.actor, row.action, row.target, row.detail) for row in rows]


def figures(html: str) -> dict[str, int]:
    return {key: int(value) for key, value in
            re.findall(r'id="(applied|unknown|already|invalid)">(\d+)<', html)}


EVERY = '<details class="every-line"'
_OUTCOME = re.compile(r'<tr class="outcome outcome-([a-z]+)"><td class="num">(\d+)</td>'
                      r'<td class="nowrap">([^<]*)</td><td>([^<]*)</td></tr>')


def outcomes(html: str) -> list[tuple[int, str, str, str]]:
    """Every line's (line, masked NIK, kind, words), from the table of every line."""
    every = html[html.index(EVERY):] if EVERY in html else ""
    return [(int(line), unescape(nik), kind, unescape(words))
            for kind, line, nik, words in _OUTCOME.findall(every)]


def problems(html: str) -> list[tuple[int, str, str, str]]:
    """The lines listed first, as needing a look: invalid ones and unknown NIKs."""
    listed = html[html.index("perlu-diperiksa"):html.index(EVERY)] if (
        "perlu-diperiksa" in html) else ""
    return [(int(line), unescape(nik), kind, unescape(words))
            for kind, line, nik, words in _OUTCOME.findall(listed)]


def invalid_rows(html: str) -> list[tuple[int, str]]:
    return [(line, words) for line, _, kind, words in problems(html) if kind == "invalid"]


def upload(browser: StaffBrowser, text: str | bytes, name: str = "hasil.csv", **kwargs):
    return browser.post("/staff/penunggalan", files={"file": (name, text, "text/csv")}, **kwargs)


def test_an_upload_is_applied_summarised_and_told_to_the_families(service, admin):
    register(service, PHONE, NIK, KK)
    register(service, PHONE, NIK_2, KK)
    csv = (f"nik,result,note\n{NIK},PRR,\n{NIK_2},duplicate,rekam ganda 2019\n"
           f"{UNKNOWN},PRR,\n12345,PRR,\n{NIK},MAYBE,\n\n{NIK_3},{NIK_2},kolom tertukar\n")
    form = admin.get("/staff/penunggalan")
    assert form.status_code == 200 and 'enctype="multipart/form-data"' in form.text
    response = upload(admin, csv)
    assert response.status_code == 200
    assert figures(response.text) == {"applied": 2, "unknown": 1, "already": 0, "invalid": 3}
    applied = "diterapkan: siap cetak, masuk antrean cetak; warga diberi tahu lewat SMS"
    unknown = "NIK tidak dikenal: tidak ada permohonan dengan NIK ini"
    assert outcomes(response.text) == [
        (2, "***0001", "applied", applied),
        (3, "***0002", "applied",
         "diterapkan: terekam ganda; warga diminta datang ke kecamatan lewat SMS"),
        (4, "***9999", "unknown", unknown),
        (5, "***2345", "invalid", "NIK harus 16 angka (tertulis '***2345')"),
        (6, "***0001", "invalid", "hasil harus PRR atau DUPLICATE (tertulis 'MAYBE')"),
        (8, "***0003", "invalid", "hasil harus PRR atau DUPLICATE (tertulis '***0002')")]
    assert [line for line, *_ in problems(response.text)] == [4, 5, 6, 8]
    for number in (NIK, NIK_2, NIK_3, UNKNOWN):
        assert number not in response.text
    assert stages(service) == {NIK: "print_queue", NIK_2: "duplicate"}
    service.worker.run_once()
    notices = service.received(PHONE)
    assert len(notices) == 2
    assert notices[0].startswith("Kabar KTP-el ref ") and "siap cetak" in notices[0]
    assert "terekam ganda" in notices[1]
    assert audit(service) == [("staff:admin1", "penunggalan.import", "file hasil.csv",
                               "6 baris: 2 diterapkan, 1 NIK tidak dikenal, 0 sudah diterapkan, "
                               "3 tidak valid")]

    again = upload(admin, csv)
    assert figures(again.text) == {"applied": 0, "unknown": 1, "already": 2, "invalid": 3}
    assert outcomes(again.text)[0] == (
        2, "***0001", "already", "sudah diterapkan sebelumnya: tidak ada yang berubah")
    service.worker.run_once()
    assert service.received(PHONE) == []  # nothing changed, nothing sent
    assert stages(service) == {NIK: "print_queue", NIK_2: "duplicate"}


def test_the_summary_is_the_one_of_the_command_line(service, admin, tmp_path):
    """The same file, after the same first import, gives the page and `sms-ktp penunggalan
    import` the same summary."""
    from click.testing import CliRunner

    from sms_ktp.cli.common import Service
    from sms_ktp.cli.main import cli

    register(service, PHONE, NIK, KK)
    csv = f"nik,result,note\n{NIK},PRR,\n{UNKNOWN},DUPLICATE,\nx,PRR,\n"
    first = upload(admin, csv).text
    assert figures(first) == {"applied": 1, "unknown": 1, "already": 0, "invalid": 1}
    path = tmp_path / "hasil.csv"
    path.write_text(csv, "utf-8")
    imported = CliRunner().invoke(cli, ["penunggalan", "import", str(path)],
                                  catch_exceptions=False, obj=Service(runtime=service.runtime))
    assert imported.exit_code == 0
    assert imported.stdout.splitlines() == [
        "diterapkan: 0", "NIK tidak dikenal: 1", "sudah diterapkan sebelumnya: 1",
        "baris tidak valid: 1", "  baris 4: NIK harus 16 angka (tertulis '***')"]
    second = upload(admin, csv).text
    assert figures(second) == {"applied": 0, "unknown": 1, "already": 1, "invalid": 1}
    assert invalid_rows(second) == [(4, "NIK harus 16 angka (tertulis '***')")]


def test_a_file_larger_than_a_webhook_body_is_accepted(service, admin):
    rows = "".join(f"32710145019{serial:05d},PRR,\n" for serial in range(1, 4001))
    text = "nik,result,note\n" + rows
    assert len(text) > 64 * 1024
    response = upload(admin, text)
    assert response.status_code == 200
    assert figures(response.text) == {"applied": 0, "unknown": 4000, "already": 0,
                                      "invalid": 0}


def test_a_file_over_the_upload_limit_is_refused_with_a_message(service, admin, monkeypatch):
    monkeypatch.setattr(page, "MAX_UPLOAD_BYTES", 100 * 1024)
    text = "nik,result,note\n" + f"{UNKNOWN},PRR,\n" * 8000
    response = upload(admin, text)
    assert response.status_code == 413
    assert "Berkas terlalu besar" in response.text
    assert audit(service) == []


def test_a_missing_header_an_empty_form_and_a_wrong_encoding(service, admin):
    register(service, PHONE, NIK, KK)
    headless = upload(admin, f"{NIK},PRR,\n")
    assert headless.status_code == 422  # nothing taken: said so
    assert figures(headless.text)["invalid"] == 1
    assert invalid_rows(headless.text) == [(1, NO_HEADER)]
    assert "Semua baris ditolak" in headless.text
    assert stages(service) == {NIK: "submitted"}
    missing = admin.post("/staff/penunggalan", {})
    assert missing.status_code == 400 and "Pilih berkas hasil penunggalan" in missing.text
    old = upload(admin, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512), "hasil.xls")
    assert old.status_code == 400 and "Berkas Excel lama (.xls) tidak bisa dibaca" in old.text
    assert 'role="alert"' in old.text
    assert stages(service) == {NIK: "submitted"}
    assert len(audit(service)) == 1  # the file without a header; the unreadable ones: none


def test_the_files_offices_have_semicolons_windows_text_and_workbooks(service, admin):
    register(service, PHONE, NIK, KK)
    register(service, PHONE, NIK_2, KK)
    excel_csv = f"NIK;Hasil;Keterangan\r\n{NIK};PRR;café\r\n".encode("cp1252")
    response = upload(admin, excel_csv)
    assert response.status_code == 200
    assert figures(response.text) == {"applied": 1, "unknown": 0, "already": 0, "invalid": 0}
    assert problems(response.text) == []  # nothing to look at: the full list is open
    assert f"{EVERY} open>" in response.text

    book = Workbook()
    for values in (["Hasil penunggalan"], ["No", "NIK", "Hasil", "Keterangan"],
                   [1, NIK_2, "ganda", "rekam 2019"], [2, UNKNOWN, "PRR", None]):
        book.active.append(values)
    out = io.BytesIO()
    book.save(out)
    workbook = upload(admin, out.getvalue(), "hasil.xlsx")
    assert workbook.status_code == 200
    assert figures(workbook.text) == {"applied": 1, "unknown": 1, "already": 0, "invalid": 0}
    assert [(line, kind) for line, _, kind, _ in outcomes(workbook.text)] == [
        (3, "applied"), (4, "unknown")]
    assert stages(service) == {NIK: "print_queue", NIK_2: "duplicate"}
    for number in (NIK, NIK_2, UNKNOWN):
        assert number not in workbook.text


@pytest.mark.parametrize("role", ["operator", "viewer", "helper"])
def test_only_admins_may_import(service, role):
    make_staff(service.runtime.db, "someone", role, office="01" if role == "operator" else None)
    browser = StaffBrowser(service.base_url)
    browser.login("someone")
    assert browser.get("/staff/penunggalan").status_code == 403
    register(service, PHONE, NIK, KK)
    assert upload(browser, f"nik,result,note\n{NIK},PRR,\n").status_code == 403
    assert stages(service) == {NIK: "submitted"}


def test_an_upload_without_the_csrf_token_is_refused(service, admin):
    register(service, PHONE, NIK, KK)
    response = admin.post("/staff/penunggalan", csrf=False,
                          files={"file": ("hasil.csv", f"nik,result,note\n{NIK},PRR,\n")})
    assert response.status_code == 400 and "Formulir tidak dapat diproses" in response.text
    assert stages(service) == {NIK: "submitted"}
