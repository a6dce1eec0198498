"""Serah berkas over real HTTP: an office's list of the papers it waits for (today and the next
working days, by slot and family visit, an operator's own office only), and the two records,
each confirmed on a page that shows the SMS first: papers complete (the application moves on,
the family told by its document's SMS) and papers missing (one SMS saying what to bring, the
application still waiting)."""

from __future__ import annotations

import re
from datetime import timedelta

from live_service import KK, KK_2, NIK, NIK_2, PHONE, PHONE_2, LiveService
from sqlalchemy import select
from staff_browser import signed_in

from sms_ktp.applications import sms_budget
from sms_ktp.models import Application, ApplicationEvent, AuditEntry

REF = re.compile(r"ref (\d{9})")
NIK_3 = "3271015507880003"  # a second member of the first family


def applied(service: LiveService, nik: str, kk: str = KK, phone: str = PHONE,
            reason: int = 5) -> str:
    """A KK application by SMS (its reference SMS and the papers to bring read)."""
    service.sms(phone, f"KK {nik}#{kk}#{reason}")
    reference = REF.search(service.sms(phone, "YA")[0]).group(1)
    return reference


def rows(page: str) -> list[list[str]]:
    """Every table's rows as their cells' text (the forms of the last cell left out)."""
    found = []
    for body in re.findall(r"<tbody>(.*?)</tbody>", page, re.S):
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
            cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
            found.append([re.sub(r"<[^>]+>", "", cell).strip() for cell in cells[:-1]])
    return found


def stage_of(service: LiveService, reference: str) -> str:
    with service.runtime.db.connect() as connection:
        return connection.execute(select(Application.stage).where(
            Application.reference == reference)).scalar_one()


def notes(service: LiveService, reference: str) -> list[str]:
    with service.runtime.db.connect() as connection:
        return list(connection.execute(
            select(ApplicationEvent.note).join(
                Application, Application.id == ApplicationEvent.application_id)
            .where(Application.reference == reference).order_by(ApplicationEvent.id)).scalars())


def audited(service: LiveService) -> list[tuple[str, str]]:
    with service.runtime.db.connect() as connection:
        return [(row.action, row.detail) for row in connection.execute(
            select(AuditEntry.action, AuditEntry.detail).order_by(AuditEntry.id))
            if row.action.startswith("application.papers")]


def test_the_offices_papers_by_day_slot_and_family(service, clock):
    first = applied(service, NIK)
    clock.advance(timedelta(minutes=1))
    other = applied(service, NIK_2, kk=KK_2, phone=PHONE_2)  # kecamatan 06
    operator = signed_in(service, "op.selatan", "operator", "01")
    page = operator.get("/staff/papers")
    assert page.status_code == 200
    text = page.text
    assert "Senin, 30 November 2026 (hari ini)" in text and "Selasa, 1 Desember 2026" in text
    assert "1 permohonan menunggu berkas" in text
    [row] = rows(text)
    assert row[0] == "08.00" and re.fullmatch(r"[A-Z0-9]{6}", row[1])
    assert row[2:] == [first, "KK", "***0001", "surat kehilangan dari polisi dan KTP-el "
                                              "pemohon. Bawa yang asli.", ""]
    assert other not in text and NIK not in text
    assert 'name="office"' not in text  # an operator's own office only
    assert operator.get("/staff/papers?office=06").status_code == 404
    bad = operator.get("/staff/papers?date=kemarin").text
    assert 'role="alert"' in bad and "Tanggal tidak terbaca" in bad and first in bad
    later = operator.get("/staff/papers?date=2026-12-02").text
    assert first not in later and "Tidak ada jadwal serah berkas" in later
    admin = signed_in(service, "admin1", "admin")
    sareal = admin.get("/staff/papers?office=06").text
    assert other in sareal and first not in sareal and 'name="office"' in sareal


def test_papers_complete_after_the_confirmation(service, clock):
    reference = applied(service, NIK)
    service.received(PHONE)
    operator = signed_in(service, "op.selatan", "operator", "01")
    page = operator.get(f"/staff/applications/{reference}").text
    assert 'id="papers-complete"' in page and "Serah berkas KK:" in page
    asked = operator.post(f"/staff/applications/{reference}/papers/complete", {"back": "papers"})
    assert asked.status_code == 200 and f"Berkas KK ref {reference} lengkap?" in asked.text
    assert (f"Berkas KK ref {reference} sudah lengkap. KK sedang diproses dan ditandatangani"
            in asked.text)  # the SMS the family will read, word for word
    assert stage_of(service, reference) == "submitted"  # nothing yet
    done = operator.post(f"/staff/applications/{reference}/papers/complete",
                         {"back": "papers", "confirmed": "1"})
    assert done.status_code == 200 and done.url.endswith("/staff/papers")
    assert "Berkas lengkap dicatat. Keluarga diberi tahu lewat SMS." in done.text
    assert reference not in rows(done.text).__repr__()
    assert stage_of(service, reference) == "papers_checked"
    assert notes(service, reference)[-1] == "papers complete at the office"
    assert audited(service) == [("application.papers_complete", "berkas KK lengkap")]
    service.worker.run_once()
    assert service.received(PHONE) == [
        f"Berkas KK ref {reference} sudah lengkap. KK sedang diproses dan ditandatangani; "
        "tautan unduh dikirim lewat SMS."]
    again = operator.post(f"/staff/applications/{reference}/papers/complete",
                          {"confirmed": "1"})
    assert "tidak sedang menunggu berkas" in again.text
    page = operator.get(f"/staff/applications/{reference}").text
    assert 'id="papers-complete"' not in page


def test_papers_missing_sends_one_sms_and_the_application_waits(service, clock):
    reference = applied(service, NIK)
    service.received(PHONE)
    operator = signed_in(service, "op.selatan", "operator", "01")
    operator.get(f"/staff/applications/{reference}")
    empty = operator.post(f"/staff/applications/{reference}/papers/missing", {"what": "  "})
    assert "Tulis berkas apa yang kurang" in empty.text
    budget = sms_budget.budget("what")
    long = operator.post(f"/staff/applications/{reference}/papers/missing",
                         {"what": "x" * (budget + 1)})
    assert f"{budget + 1} dari paling banyak {budget}" in long.text
    what = "surat kehilangan dari polisi"
    asked = operator.post(f"/staff/applications/{reference}/papers/missing", {"what": what})
    sms = (f"Berkas KK ref {reference} belum lengkap: {what}. Bawa ke kantor kecamatan pada "
           "jam kerja.")
    assert asked.status_code == 200 and sms in asked.text
    assert f"Berkas KK ref {reference} kurang?" in asked.text
    done = operator.post(f"/staff/applications/{reference}/papers/missing",
                         {"what": what, "confirmed": "1", "back": "papers"},
                         allow_redirects=False)
    assert (done.status_code, done.headers["Location"]) == (303, "/staff/papers")
    assert "Berkas kurang dicatat." in operator.get("/staff/papers").text
    assert stage_of(service, reference) == "submitted"
    assert notes(service, reference)[-1] == f"papers missing: {what}"
    assert audited(service) == [("application.papers_missing", f"berkas KK kurang: {what}")]
    service.worker.run_once()
    assert service.received(PHONE) == [sms]
    # Still waiting: on the list and on its page, for the papers brought later.
    assert reference in operator.get("/staff/papers").text
    assert 'id="papers-complete"' in operator.get(f"/staff/applications/{reference}").text


def test_another_offices_application_is_not_found(service, clock):
    reference = applied(service, NIK_2, kk=KK_2, phone=PHONE_2)
    operator = signed_in(service, "op.selatan", "operator", "01")
    operator.get("/staff/papers")
    for action in ("complete", "missing"):
        response = operator.post(f"/staff/applications/{reference}/papers/{action}",
                                 {"what": "KTP-el", "confirmed": "1"})
        assert response.status_code == 404
    assert stage_of(service, reference) == "submitted"


def test_a_ktp_application_has_no_papers_to_record(service, clock):
    service.sms(PHONE, f"DAFTAR {NIK_3}#{KK}#2")
    reference = REF.search(service.sms(PHONE, "YA")[0]).group(1)
    admin = signed_in(service, "admin1", "admin")
    assert 'id="papers-complete"' not in admin.get(f"/staff/applications/{reference}").text
    refused = admin.post(f"/staff/applications/{reference}/papers/complete", {"confirmed": "1"})
    assert "tidak sedang menunggu berkas" in refused.text
    assert stage_of(service, reference) == "submitted"
