"""The verification queue over real HTTP: an operator sees the applications of their kecamatan
waiting for verification, oldest first and masked; verifies one, or those ticked, without an
SMS; rejects one from the queue after reading the SMS the family will get; and marks a double
record resolved, which sends the family one SMS. Every action is audited."""

from __future__ import annotations

import re

import pytest
from live_service import KK, KK_2, NIK, NIK_2, PHONE, PHONE_2, LiveService
from sqlalchemy import select
from staff_browser import signed_in

from sms_ktp.applications import penunggalan
from sms_ktp.models import Application, AuditEntry

# What staff see and do; the queries behind the page run on both engines in
# tests/sms_ktp/applications/test_verification.py.
pytestmark = pytest.mark.parametrize("database", ["sqlite"], indirect=True)

REF = re.compile(r"ref (\d{9})")
NIK_3 = "3271015507880003"  # a second member of the first family


def register(service: LiveService, nik: str, kk: str = KK, phone: str = PHONE) -> str:
    service.sms(phone, f"DAFTAR {nik}#{kk}#2")
    return REF.search(service.sms(phone, "YA")[0]).group(1)




def stages(service: LiveService) -> dict[str, str]:
    with service.runtime.db.connect() as connection:
        return dict(connection.execute(select(Application.reference, Application.stage)).all())


def audited(service: LiveService) -> list[tuple[str, str, str]]:
    table = AuditEntry.__table__
    with service.runtime.db.connect() as connection:
        return [tuple(row) for row in connection.execute(
            select(table.c.actor, table.c.action, table.c.target)
            .where(table.c.action.like("application.%")).order_by(table.c.id))]


def queued(page: str) -> list[str]:
    return re.findall(r'<article class="card case" data-reference="(\d{9})"', page)


def test_an_operator_works_the_queue_of_their_kecamatan(service):
    first, second, third = (register(service, nik) for nik in (NIK, NIK_3, "3271012808750007"))
    theirs = register(service, NIK_2, KK_2, PHONE_2)  # kecamatan 06
    service.received(PHONE)
    operator = signed_in(service, "op01", "operator", "01")
    page = operator.get("/staff/verification").text
    assert "Menunggu verifikasi: 3 permohonan" in page
    assert queued(page) == [first, second, third]  # oldest first; not 06's
    assert "***0001" in page and "***0003" in page and "warga lewat SMS" in page
    assert NIK not in page and KK not in page and theirs not in page

    one = operator.post(f"/staff/applications/{first}/verify", {"back": "verification"},
                        allow_redirects=False)
    assert one.status_code == 303 and one.headers["Location"].endswith("/staff/verification")
    ticked = operator.post("/staff/verification", {"references": [second, first, theirs]},
                           allow_redirects=False)
    assert ticked.status_code == 303
    after = operator.get("/staff/verification").text
    assert "1 permohonan diverifikasi" in after and "2 tidak lagi menunggu" in after
    assert queued(after) == [third]
    assert stages(service) == {first: "penunggalan", second: "penunggalan",
                               third: "submitted", theirs: "submitted"}
    assert audited(service) == [("staff:op01", "application.verify", f"application {ref}")
                                for ref in (first, second)]
    service.worker.run_once()
    assert service.received(PHONE) == []  # verification sends no SMS
    # another office's application: not found, and left alone
    assert operator.post(f"/staff/applications/{theirs}/verify").status_code == 404
    assert stages(service)[theirs] == "submitted"


def test_something_wrong_is_a_rejection_confirmed_from_the_queue(service):
    reference = register(service, NIK)
    service.received(PHONE)
    operator = signed_in(service, "op01", "operator", "01")
    operator.get("/staff/verification")
    question = operator.post(f"/staff/applications/{reference}/reject",
                             {"reason": "Suket tidak terbaca", "back": "verification"})
    assert question.status_code == 200 and stages(service)[reference] == "submitted"
    assert '<input type="hidden" name="back" value="verification">' in question.text
    assert "ditolak petugas: Suket tidak terbaca" in question.text
    done = operator.post(f"/staff/applications/{reference}/reject",
                         {"reason": "Suket tidak terbaca", "back": "verification",
                          "confirmed": "1"}, allow_redirects=False)
    assert done.headers["Location"].endswith("/staff/verification")
    assert "Permohonan ditolak" in operator.get("/staff/verification").text
    service.worker.run_once()
    assert service.received(PHONE) == [
        f"KTP-el ref {reference} (NIK ***0001) ditolak petugas: Suket tidak terbaca. Tanya "
        "kelurahan, lalu ketik DAFTAR lagi."]


def test_a_double_record_is_resolved_from_the_queue_or_the_application(service):
    reference = register(service, NIK)
    summary = penunggalan.Summary()
    rows = list(penunggalan.read_csv(f"nik,result,note\n{NIK},DUPLICATE,rekam ganda\n",
                                     summary))
    runtime = service.runtime
    penunggalan.apply(runtime.db, runtime.clock, runtime.quiet_hours, rows, summary, "op")
    service.worker.run_once()
    service.received(PHONE)
    operator = signed_in(service, "op01", "operator", "01")
    page = operator.get("/staff/verification").text
    assert "Data ganda menunggu warga datang: 1" in page and "rekam ganda" in page
    application_page = operator.get(f"/staff/applications/{reference}").text
    assert "Data ganda selesai: kembali antre cetak" in application_page
    done = operator.post(f"/staff/applications/{reference}/resolve",
                         {"note": "sudah rekam ulang", "back": "verification"},
                         allow_redirects=False)
    assert done.headers["Location"].endswith("/staff/verification")
    assert "Data ganda menunggu warga datang: 0" in operator.get("/staff/verification").text
    assert stages(service)[reference] == "print_queue"
    service.worker.run_once()
    assert service.received(PHONE) == [
        f"Data ganda KTP-el ref {reference} (NIK ***0001) sudah selesai. Kini antre cetak; "
        "jadwal ambil dikirim lewat SMS."]
    timeline = operator.get(f"/staff/applications/{reference}").text
    assert "sudah rekam ulang" in timeline
    assert audited(service) == [("staff:op01", "application.resolve_duplicate",
                                 f"application {reference}")]
    again = operator.post(f"/staff/applications/{reference}/resolve", {})
    assert "tidak (lagi) berstatus data ganda" in again.text


def test_helpers_and_viewers_do_not_verify(service):
    reference = register(service, NIK)
    for username, role in (("pendamping", "helper"), ("pemantau", "viewer")):
        browser = signed_in(service, username, role, None)
        assert browser.get("/staff/verification").status_code == 403
        browser.get("/staff/login")
        assert browser.post(f"/staff/applications/{reference}/verify").status_code == 403
    assert stages(service)[reference] == "submitted" and audited(service) == []
