"""The application page follows its document over real HTTP: the path with the current stage
marked, the next stage staff set by hand (asked first, with the SMS the family will get), the
machinery's steps named instead of offered, and a rejection naming the document."""

from __future__ import annotations

import re

from live_service import KK, NIK, PHONE, LiveService
from sqlalchemy import insert, select
from staff_browser import StaffBrowser

from flows.catalogue import messages, render
from sms_ktp.applications import document_files, document_stages
from sms_ktp.domain.stages import Stage
from sms_ktp.models import Application, AuditEntry, Family, OutboxMessage

REF = re.compile(r"ref (\d{9})")
PATH = re.compile(r'<ol class="path">(.*?)</ol>', re.DOTALL)


def apply_for_a_kk(service: LiveService) -> str:
    service.sms(PHONE, f"KK {NIK}#{KK}#hilang")
    done, _ = service.sms(PHONE, "YA")
    return REF.search(done).group(1)


def moved(service: LiveService, reference: str, to: Stage) -> None:
    """The application set to `to` as the command line would (not what is tested here)."""
    runtime = service.runtime
    with runtime.db.connect() as connection:
        document_stages.advance(connection, runtime.pickup_policy(), runtime.settings,
                                reference, to, actor="operator:root", now=runtime.clock.now())
    service.worker.run_once()
    service.received(PHONE)


def a_kia(service: LiveService, stage: str) -> str:
    """A child's KIA of the family, its papers checked (the KIA's dialogue is not what is
    tested here)."""
    now = service.runtime.clock.now()
    with service.runtime.db.connect() as connection:
        family = connection.execute(insert(Family.__table__).values(
            kk=KK, phone=PHONE, kecamatan_code="01", created_at=now)
            .returning(Family.__table__.c.id)).scalar_one()
        connection.execute(insert(Application.__table__).values(
            reference="120000004", document="kia", nik=NIK, family_id=family, reason="baru",
            details={"birth_date": "2019-03-12"}, stage=stage, language="id", channel="sms",
            created_at=now, updated_at=now))
    return "120000004"


def page(browser: StaffBrowser, reference: str) -> str:
    response = browser.get(f"/staff/applications/{reference}")
    assert response.status_code == 200, response.text
    return response.text


def path(text: str) -> list[tuple[str, str]]:
    """The path as the page shows it: (words, state) of each stage."""
    steps = re.findall(r'<li class="path-(\w+)"[^>]*>([^<]+)</li>', PATH.search(text).group(1))
    return [(words, state) for state, words in steps]


def ask(service: LiveService, browser: StaffBrowser, reference: str, **form: str) -> str:
    """The confirmation page of the next stage: nothing has changed yet."""
    before = (stage_of(service, reference), outbox_size(service))
    response = browser.post(f"/staff/applications/{reference}/advance", form,
                            allow_redirects=False)
    assert response.status_code == 200, response.text
    assert 'name="confirmed" value="1"' in response.text
    assert (stage_of(service, reference), outbox_size(service)) == before
    return response.text


def decide(browser: StaffBrowser, reference: str, action: str, **form: str) -> str:
    response = browser.post(f"/staff/applications/{reference}/{action}", form,
                            allow_redirects=False)
    assert response.status_code == 303, response.text
    return page(browser, reference)


def stage_of(service: LiveService, reference: str) -> str:
    with service.runtime.db.connect() as connection:
        return connection.execute(select(Application.stage)
                                  .where(Application.reference == reference)).scalar_one()


def outbox_size(service: LiveService) -> int:
    with service.runtime.db.connect() as connection:
        return len(connection.execute(select(OutboxMessage.id)).all())


def sms_preview(text: str) -> str | None:
    found = re.search(r'<blockquote class="sms" id="sms-preview">(.*?)</blockquote>', text)
    return found.group(1) if found else None


def test_a_kk_moved_on_from_its_page_to_the_familys_download(service, admin):
    reference = apply_for_a_kk(service)
    service.received(PHONE)
    submitted = page(admin, reference)
    assert "KK: tahap permohonan" in submitted
    assert path(submitted) == [("diterima", "current"), ("berkas lengkap", "todo"),
                               ("sudah TTE", "todo"), ("siap diunduh", "todo"),
                               ("diambil", "todo")]
    assert 'aria-current="step">diterima</li>' in submitted
    # Its papers are the next step (their own buttons), not the KTP-el's verification.
    assert 'id="advance"' not in submitted and 'id="verify"' not in submitted

    moved(service, reference, Stage.PAPERS_CHECKED)
    checked = page(admin, reference)
    assert path(checked)[:3] == [("diterima", "done"), ("berkas lengkap", "current"),
                                 ("sudah TTE", "todo")]
    assert '<input type="hidden" name="to" value="signed">' in checked
    assert "Lanjut ke tahap sudah TTE&hellip;" in checked
    assert 'id="reject"' in checked  # not signed yet: still rejectable

    question = ask(service, admin, reference, to="signed", note="TTE Kepala Dinas")
    assert "Lanjutkan permohonan " + reference + " ke tahap sudah TTE?" in question
    assert "Permohonan KK pindah dari tahap berkas lengkap ke tahap sudah TTE." in question
    assert "Catatan untuk riwayat: TTE Kepala Dinas" in question
    key = "kk.notify.signed"
    signed_sms = render("id", key, ref=reference, nik="***0001", document="KK") \
        if key in messages("id") else None
    assert sms_preview(question) == signed_sms
    if signed_sms is None:
        assert "Tidak ada SMS ke warga." in question
    text = decide(admin, reference, "advance", to="signed", note="TTE Kepala Dinas",
                  confirmed="1")
    assert "Permohonan lanjut ke tahap sudah TTE." in text
    assert stage_of(service, reference) == "signed"
    assert 'id="reject"' not in text and 'id="cancel"' in text
    service.worker.run_once()
    assert service.received(PHONE) == ([signed_sms] if signed_sms else [])

    no_pdf = decide(admin, reference, "advance", to="ready")
    assert "Unggah dulu PDF yang sudah ditandatangani elektronik" in no_pdf
    assert stage_of(service, reference) == "signed"
    runtime = service.runtime
    with runtime.db.connect() as connection:
        document_files.attach(connection, reference, "kk.pdf", b"%PDF-1.7 KK",
                              settings=runtime.settings, actor="staff:admin1",
                              now=runtime.clock.now())
    ready = ask(service, admin, reference, to="ready")
    preview = sms_preview(ready)
    assert preview.startswith(f"KK ref {reference} sudah jadi. Unduh ") and "/d/********" in (
        preview)
    assert "PIN ******" in preview and "kode ********" in preview
    assert "kode dan PIN tidak ditampilkan kepada petugas" in ready
    done = decide(admin, reference, "advance", to="ready", confirmed="1")
    assert "Permohonan lanjut ke tahap siap diunduh. Keluarga diberi tahu lewat SMS." in done
    service.worker.run_once()
    [sent] = service.received(PHONE)
    pin = re.search(r"PIN (\d{6})", sent).group(1)
    code = re.search(r"/d/(\w+)", sent).group(1)
    assert sent == preview.replace("PIN ******", f"PIN {pin}").replace("********", code)
    assert pin not in done and code not in done
    assert path(done)[3] == ("siap diunduh", "current")
    assert '<input type="hidden" name="to" value="collected">' in done

    with runtime.db.connect() as connection:
        audited = connection.execute(select(AuditEntry.actor, AuditEntry.detail)
                                     .where(AuditEntry.action == "application.advance")
                                     .order_by(AuditEntry.id)).all()
    assert [tuple(row) for row in audited] == [
        ("staff:admin1", "papers_checked -> signed: TTE Kepala Dinas"),
        ("staff:admin1", "signed -> ready")]


def test_a_kia_joins_the_print_queue_then_the_page_names_the_print_batches(service, admin):
    reference = a_kia(service, "papers_checked")
    text = page(admin, reference)
    assert "KIA: tahap permohonan" in text
    assert [words for words, _ in path(text)] == [
        "diterima", "berkas lengkap", "antre cetak", "dicetak", "siap ambil", "diambil"]
    question = ask(service, admin, reference, to="print_queue")
    assert "KIA masuk antrean cetak mulai sekarang; dicetak lewat batch cetak" in question
    queued = decide(admin, reference, "advance", to="print_queue", confirmed="1")
    assert stage_of(service, reference) == "print_queue"
    assert 'id="advance"' not in queued
    assert "Tahap berikutnya: kartu dicetak lewat batch cetak di halaman Cetak." in queued
    stale = decide(admin, reference, "advance", to="printed", confirmed="1")
    assert "Tahap permohonan sudah berubah" in stale
    assert stage_of(service, reference) == "print_queue"


def test_a_rejection_names_the_document_in_its_sms(service, admin):
    reference = apply_for_a_kk(service)
    moved(service, reference, Stage.PAPERS_CHECKED)
    question = admin.post(f"/staff/applications/{reference}/reject",
                          {"reason": "surat polisi tidak ada"}).text
    sms = (f"KK ref {reference} (NIK ***0001) ditolak petugas: surat polisi tidak ada. Tanya "
           "kelurahan, lalu ajukan lagi.")
    assert sms_preview(question) == sms
    decide(admin, reference, "reject", reason="surat polisi tidak ada", confirmed="1")
    assert stage_of(service, reference) == "rejected"
    service.worker.run_once()
    assert service.received(PHONE) == [sms]
    closed = page(admin, reference)
    assert path(closed)[:2] == [("diterima", "done"), ("berkas lengkap", "done")]
    assert "Permohonan ditutup:" in closed and 'id="advance"' not in closed


def test_a_ktp_keeps_its_verification_and_its_path(service, admin):
    service.sms(PHONE, f"DAFTAR {NIK}#{KK}#2")
    reference = REF.search(service.sms(PHONE, "YA")[0]).group(1)
    text = page(admin, reference)
    assert "KTP-el: tahap permohonan" in text and 'id="verify"' in text
    assert [words for words, _ in path(text)] == [
        "diterima", "penunggalan", "antre cetak", "dicetak", "siap ambil", "diambil"]
    moved(service, reference, Stage.PENUNGGALAN)
    waiting = page(admin, reference)
    assert 'id="advance"' not in waiting
    assert "Tahap berikutnya: hasil penunggalan dari Kemendagri diimpor di halaman " \
           "Penunggalan." in waiting
