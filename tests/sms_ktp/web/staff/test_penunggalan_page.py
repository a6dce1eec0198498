"""The penunggalan upload over real HTTP: the same import and summary as `sms-ktp penunggalan
import`, residents told by SMS, nothing changed by a second upload, no full NIK on the page."""

from __future__ import annotations

import re
from html import unescape

import pytest
from live_service import KK, NIK, NIK_2, PHONE, LiveService
from sqlalchemy import select
from staff_browser import StaffBrowser, make_staff

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


def invalid_rows(html: str) -> list[tuple[int, str]]:
    return [(int(line), unescape(reason)) for line, reason in re.findall(
        r'<tr class="invalid-row"><td class="num">(\d+)</td><td>([^<]*)</td>', html)]


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
    assert invalid_rows(response.text) == [
        (5, "NIK harus 16 angka (tertulis '***2345')"),
        (6, "result harus PRR atau DUPLICATE (tertulis 'MAYBE')"),
        (8, "result harus PRR atau DUPLICATE (tertulis '***0002')")]
    for number in (NIK, NIK_2, NIK_3, UNKNOWN):
        assert number not in response.text
    assert stages(service) == {NIK: "print_queue", NIK_2: "duplicate"}
    service.worker.run_once()
    notices = service.received(PHONE)
    assert len(notices) == 2
    assert notices[0].startswith("Kabar KTP-el ref ") and "siap cetak" in notices[0]
    assert "terekam ganda" in notices[1]
    assert audit(service) == [("staff:admin1", "penunggalan.import", "csv hasil.csv",
                               "rows=6 applied=2 unknown_nik=1 already_applied=0 invalid=3")]

    again = upload(admin, csv)
    assert figures(again.text) == {"applied": 0, "unknown": 1, "already": 2, "invalid": 3}
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
    assert invalid_rows(headless.text) == [
        (1, "baris pertama harus judul kolom nik,result,note")]
    assert "Semua baris ditolak" in headless.text
    assert stages(service) == {NIK: "submitted"}
    missing = admin.post("/staff/penunggalan", {})
    assert missing.status_code == 400 and "Pilih berkas CSV" in missing.text
    latin = upload(admin, "nik,result,note\n3271014501900001,PRR,caf\xe9\n".encode("latin-1"))
    assert latin.status_code == 400 and "bukan teks UTF-8" in latin.text
    assert stages(service) == {NIK: "submitted"}


@pytest.mark.parametrize("role", ["operator", "viewer", "helper"])
def test_only_admins_may_import(service, role):
    make_staff(service.runtime.db, "someone", role, office="01")
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
    assert response.status_code == 400 and "CSRF" in response.text
    assert stages(service) == {NIK: "submitted"}
