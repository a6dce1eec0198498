"""A KK's signed PDF on its application's page over real HTTP: uploaded by an operator (only a
PDF, within the size limit), listed, downloaded to print (audited), the family's link shown
without its code or PIN, and renewed after a confirmation that shows the SMS with both hidden."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import insert, select, update
from staff_browser import StaffBrowser, make_staff

from sms_ktp.applications import document_files
from sms_ktp.models import Application, AuditEntry, DocumentFile, Family, OutboxMessage

PHONE = "+6281234567890"
PDF = b"%PDF-1.5\n% KK signed by TTE\n%%EOF\n"
REFERENCE = "100000001"
_APPLICATION = Application.__table__


@pytest.fixture
def kk(service) -> str:
    """A KK application of kecamatan 01, signed and waiting for its PDF."""
    runtime = service.runtime
    now = runtime.clock.now()
    runtime.settings.server.public_url = "https://ktp.kotabogor.go.id"
    with runtime.db.connect() as connection:
        family_id = connection.execute(insert(Family.__table__).values(
            kk="3271010101200003", phone=PHONE, kecamatan_code="01", created_at=now)
            .returning(Family.__table__.c.id)).scalar_one()
        connection.execute(insert(_APPLICATION).values(
            reference=REFERENCE, document="kk", nik="3271014501900001", family_id=family_id,
            reason="pisah", stage="signed", language="id", channel="sms", created_at=now,
            updated_at=now))
    return REFERENCE


def operator(service, office: str = "01") -> StaffBrowser:
    make_staff(service.runtime.db, f"op{office}", "operator", office=office)
    browser = StaffBrowser(service.base_url)
    browser.login(f"op{office}")
    return browser


def upload(browser: StaffBrowser, reference: str, content: bytes, name: str = "KK.pdf",
           mimetype: str = "application/pdf"):  # type: ignore[no-untyped-def]
    browser.get(f"/staff/applications/{reference}")
    response = browser.http.post(
        f"{browser.base_url}/staff/applications/{reference}/documents",
        data={"csrf_token": browser.token}, files={"file": (name, content, mimetype)},
        timeout=30)
    return response


def audit(service) -> list[tuple[str, str]]:
    with service.runtime.db.connect() as connection:
        return [(row.actor, row.action) for row in connection.execute(
            select(AuditEntry.__table__).order_by(AuditEntry.__table__.c.id))]


def test_an_operator_uploads_the_signed_pdf_and_downloads_it_to_print(service, kk):
    browser = operator(service)
    page = browser.get(f"/staff/applications/{kk}")
    assert "Dokumen PDF (TTE)" in page.text and "Belum ada dokumen PDF" in page.text
    done = upload(browser, kk, PDF, "scan/KK <Budi>.pdf")
    assert done.status_code == 200 and done.url.endswith(f"/staff/applications/{kk}#dokumen")
    assert "Dokumen KK Budi.pdf diunggah (1 KB)." in done.text
    link = re.search(r'href="(/staff/applications/\d+/documents/\d+)"', done.text).group(1)
    pdf = browser.get(link)
    assert pdf.content == PDF and pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.headers["Cache-Control"] == "no-store"
    assert audit(service)[-2:] == [("staff:op01", "document.attach"),
                                   ("staff:op01", "document.staff_download")]


@pytest.mark.parametrize(("content", "mimetype", "words"), [
    (b"PK\x03\x04zip", "application/pdf", "Berkas bukan PDF"),
    (PDF, "image/jpeg", "Berkas bukan PDF"),
    (b"%PDF-" + b"x" * (2 * 1024 * 1024), "application/pdf", "Berkas terlalu besar"),
])
def test_what_is_not_a_pdf_within_the_limit_is_refused(service, kk, content, mimetype, words):
    service.runtime.settings.documents.max_upload_mb = 1
    browser = operator(service)
    refused = upload(browser, kk, content, mimetype=mimetype)
    assert refused.status_code == 200 and words in refused.text
    with service.runtime.db.connect() as connection:
        assert connection.execute(select(DocumentFile.__table__)).all() == []


def test_an_operator_of_another_kecamatan_sees_nothing_of_it(service, kk):
    browser = operator(service, "06")
    assert upload(browser, kk, PDF).status_code == 404
    with service.runtime.db.connect() as connection:
        assert connection.execute(select(DocumentFile.__table__)).all() == []


def test_a_helper_sees_the_application_but_not_its_files(service, kk):
    with service.runtime.db.connect() as connection:
        document_files.attach(connection, kk, "KK.pdf", PDF, settings=service.runtime.settings,
                              actor="staff:op01", now=service.runtime.clock.now())
    make_staff(service.runtime.db, "kel1", "helper", office="3271011001")
    browser = StaffBrowser(service.base_url)
    browser.login("kel1")
    page = browser.get(f"/staff/applications/{kk}")
    assert page.status_code == 200 and "KK.pdf" in page.text
    assert "/documents/" not in page.text and 'type="file"' not in page.text


def test_the_link_is_shown_without_its_code_and_renewed_after_a_confirmation(service, kk):
    runtime = service.runtime
    with runtime.db.connect() as connection:
        document_files.attach(connection, kk, "KK.pdf", PDF, settings=runtime.settings,
                              actor="staff:op01", now=runtime.clock.now())
        connection.execute(update(_APPLICATION).values(stage="ready"))
        application_id = connection.execute(select(_APPLICATION.c.id)).scalar_one()
        document_files.notify_ready(connection, application_id, runtime.clock.now(),
                                    runtime.settings, runtime.quiet_hours)
        first = connection.execute(select(OutboxMessage.__table__.c.text)).scalar_one()
    code = re.search(r"/d/([A-Z0-9]{8})", first).group(1)
    browser = operator(service)
    page = browser.get(f"/staff/applications/{kk}")
    assert "Tautan unduh keluarga" in page.text and "0 dari 5" in page.text
    assert code not in page.text
    asked = browser.post(f"/staff/applications/{kk}/documents/renew")
    preview = re.search(r'<blockquote class="sms" id="sms-preview">([^<]+)<', asked.text).group(1)
    assert preview.startswith(f"KK ref {kk} sudah jadi. Unduh https://ktp.kotabogor.go.id/d/")
    assert "PIN ******" in preview and code not in asked.text
    with runtime.db.connect() as connection:
        assert len(connection.execute(select(OutboxMessage.__table__)).all()) == 1
    done = browser.post(f"/staff/applications/{kk}/documents/renew", {"confirmed": "1"})
    assert "Tautan dan PIN baru dikirim ke HP keluarga" in done.text
    with runtime.db.connect() as connection:
        texts = connection.execute(select(OutboxMessage.__table__.c.text)
                                   .order_by(OutboxMessage.__table__.c.id)).scalars().all()
    assert len(texts) == 2 and code not in texts[1] and "/d/" in texts[1]
    assert code not in done.text
    assert audit(service)[-1] == ("staff:op01", "document.renew_link")


def test_renewing_is_only_for_a_ready_application(service, kk):
    browser = operator(service)
    refused = browser.post(f"/staff/applications/{kk}/documents/renew", {"confirmed": "1"})
    assert "hanya diperbarui untuk permohonan berstatus jadi" in refused.text
