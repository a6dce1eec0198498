"""Signed PDFs on a real database with an injected clock: attached sealed (only a PDF, within
the size limit, several per application), the ready SMS with its link and PIN (one GSM-7 SMS,
held in quiet hours, code and PIN hidden from staff), wrong PINs that lock the link, renewing
it, the first download closing the application, every step audited, and erasure."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from sqlalchemy import insert, select, update

from flows.catalogue import languages, messages, render
from gsm7.encoding import GSM7_SINGLE, septets
from sms_ktp import crypto
from sms_ktp.applications import document_files
from sms_ktp.applications.document_files import DocumentRefused
from sms_ktp.applications.hidden_codes import hide_codes
from sms_ktp.domain.documents import DOCUMENTS
from sms_ktp.domain.quiet_hours import QuietHours
from sms_ktp.messaging.whatsapp_templates import notice_parameters
from sms_ktp.models import (
    Application,
    ApplicationEvent,
    AuditEntry,
    DocumentFile,
    DocumentLink,
    Family,
    OutboxMessage,
)
from sms_ktp.platform.config import PUBLIC_URL_LIMIT, Settings
from sms_ktp.privacy import retention

PHONE = "+6281234567890"
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
_serials = count(1)
_APPLICATION = Application.__table__
_LINK = DocumentLink.__table__
_FILE = DocumentFile.__table__
NO_QUIET = QuietHours.parse("")


def settings(**documents: int) -> Settings:
    made = Settings()
    made.server.public_url = "https://ktp.kotabogor.go.id"
    for name, value in documents.items():
        setattr(made.documents, name, value)
    return made


def application(database, clock, document: str = "kk", stage: str = "signed",
                language: str = "id") -> str:
    serial = next(_serials)
    with database.connect() as connection:
        family_id = connection.execute(insert(Family.__table__).values(
            kk=f"32710101012{serial:05d}", phone=PHONE, kecamatan_code="01",
            created_at=clock.now()).returning(Family.__table__.c.id)).scalar_one()
        reference = f"{serial:09d}"
        connection.execute(insert(_APPLICATION).values(
            reference=reference, document=document, nik=f"3271014501{serial:06d}",
            family_id=family_id, reason="hilang", stage=stage, language=language,
            channel="sms", created_at=clock.now(), updated_at=clock.now()))
    return reference


def attach(database, clock, reference: str, content: bytes = PDF, name: str = "KK baru.pdf",
           **limits: int) -> document_files.FileInfo:
    with database.connect() as connection:
        return document_files.attach(connection, reference, name, content,
                                     settings=settings(**limits), actor="staff:op1",
                                     now=clock.now(), address="10.0.0.7")


def app_id(database, reference: str) -> int:
    with database.connect() as connection:
        return connection.execute(select(_APPLICATION.c.id)
                                  .where(_APPLICATION.c.reference == reference)).scalar_one()


def ready(database, clock, reference: str, quiet: QuietHours = NO_QUIET, **limits: int
          ) -> document_files.Sent:
    """The application moved to ready as the stage engine does it, and its SMS queued."""
    application_id = app_id(database, reference)
    with database.connect() as connection:
        connection.execute(update(_APPLICATION).where(_APPLICATION.c.reference == reference)
                           .values(stage="ready"))
        return document_files.notify_ready(connection, application_id, clock.now(),
                                           settings(**limits), quiet)


def outbox(database) -> list:
    with database.connect() as connection:
        return connection.execute(select(OutboxMessage.__table__)
                                  .order_by(OutboxMessage.__table__.c.id)).all()


def code_and_pin(text: str) -> tuple[str, str]:
    found = re.search(r"/d/([A-Z0-9]{8}) PIN (\d{6})", text)
    assert found, text
    return found.group(1), found.group(2)


def audit_actions(database) -> list[tuple[str, str, str]]:
    with database.connect() as connection:
        return [(row.actor, row.action, row.target) for row in connection.execute(
            select(AuditEntry.__table__).order_by(AuditEntry.__table__.c.id))]


def stage_of(database, reference: str) -> str:
    with database.connect() as connection:
        return connection.execute(select(_APPLICATION.c.stage)
                                  .where(_APPLICATION.c.reference == reference)).scalar_one()


# --- attaching --------------------------------------------------------------------------------

def test_a_pdf_is_attached_sealed_and_several_to_one_application(database, clock):
    reference = application(database, clock, "akta_lahir")
    first = attach(database, clock, reference, name="C:\\scan\\Akta <Budi>.pdf")
    second = attach(database, clock, reference, PDF + b"kk", name="kk")
    assert (first.name, second.name) == ("Akta Budi.pdf", "kk.pdf")
    application_id = app_id(database, reference)
    with database.connect() as connection:
        stored = connection.execute(select(_FILE).order_by(_FILE.c.id)).all()
        listed = document_files.files(connection, application_id)
        assert document_files.open_file(connection, application_id,
                                        first.id) == ("Akta Budi.pdf", PDF)
    assert [f.id for f in listed] == [first.id, second.id]
    assert all(PDF not in row.content and row.content.startswith(b"1:") for row in stored)
    assert stored[0].size == len(PDF) and stored[0].uploaded_by == "staff:op1"
    assert audit_actions(database) == [("staff:op1", "document.attach",
                                        f"application {reference}")] * 2


def test_the_file_opens_only_in_its_own_application(database, clock):
    mine, theirs = (application(database, clock) for _ in range(2))
    attach(database, clock, mine)
    attach(database, clock, theirs)
    with database.connect() as connection:
        sealed = connection.execute(select(_FILE.c.content).order_by(_FILE.c.id)).scalars().all()
        connection.execute(update(_FILE).where(_FILE.c.id == 2).values(content=sealed[0]))
    theirs_id = app_id(database, theirs)
    with database.connect() as connection, pytest.raises(crypto.DecryptionError):
        document_files.open_file(connection, theirs_id, 2)


@pytest.mark.parametrize(("content", "why"), [
    (b"", "empty"),
    (b"PK\x03\x04 a zip file", "not_pdf"),
    (b"<html>%PDF-</html>", "not_pdf"),
    (b"%PDF-" + b"x" * (1024 * 1024), "too_large"),
])
def test_only_a_pdf_within_the_limit_is_taken(database, clock, content, why):
    reference = application(database, clock)
    with pytest.raises(DocumentRefused) as refused:
        attach(database, clock, reference, content, max_upload_mb=1)
    assert refused.value.why == why
    with database.connect() as connection:
        assert connection.execute(select(_FILE)).all() == []


@pytest.mark.parametrize(("document", "stage", "why"), [
    ("ktp", "printed", "not_pdf_document"),
    ("kia", "papers_checked", "not_pdf_document"),
    ("kk", "submitted", "stage"),
    ("kk", "collected", "stage"),
    ("akta_mati", "rejected", "stage"),
])
def test_a_card_or_an_application_not_at_its_stage_takes_no_pdf(database, clock, document,
                                                                 stage, why):
    reference = application(database, clock, document, stage)
    with pytest.raises(DocumentRefused) as refused:
        attach(database, clock, reference)
    assert refused.value.why == why


def test_an_unknown_reference_is_refused(database, clock):
    with pytest.raises(DocumentRefused) as refused:
        attach(database, clock, "999999999")
    assert refused.value.why == "unknown"


# --- the ready SMS ---------------------------------------------------------------------------

def test_ready_sends_one_sms_with_the_link_the_pin_and_the_last_day(database, clock):
    reference = application(database, clock)
    attach(database, clock, reference)
    sent = ready(database, clock, reference, link_days=14)
    [sms] = outbox(database)
    code, pin = code_and_pin(sms.text)
    assert sms.phone == PHONE and sms.kind == "notification" and sms.segments == 1
    assert sms.application_id == app_id(database, reference)
    assert sms.notice == "notify.document_ready"  # its WhatsApp template, whose values it holds
    assert notice_parameters(sms.notice, "id", sms.text) == [
        "KK", reference, f"https://ktp.kotabogor.go.id/d/{code}", pin, "14/12", code]
    assert sms.text == (f"KK ref {reference} sudah jadi. Unduh https://ktp.kotabogor.go.id/d/"
                        f"{code} PIN {pin} s.d. 14/12 atau cetak di kantor kel/kec, kode {code}")
    assert set(code) <= set(document_files.CODE_ALPHABET)
    # the end of 14 December in Bogor (WIB)
    assert sent.expires_at == datetime(2026, 12, 14, 16, 59, 59, tzinfo=UTC)
    assert code not in sent.shown and pin not in sent.shown
    assert code not in hide_codes(sms.text) and pin not in hide_codes(sms.text)
    with database.connect() as connection:
        [link] = connection.execute(select(_LINK)).all()
    assert link.code == code and pin not in link.pin_hash and link.failures == 0


def test_ready_sms_waits_for_the_end_of_quiet_hours(database, clock):
    clock.set(datetime(2026, 11, 30, 15, 0, tzinfo=UTC))  # 22:00 in Bogor
    reference = application(database, clock)
    attach(database, clock, reference)
    ready(database, clock, reference, quiet=QuietHours.parse("21:00-07:00"))
    [sms] = outbox(database)
    assert sms.next_attempt_at == datetime(2026, 12, 1, 0, 0, tzinfo=UTC)  # 07:00 WIB


def test_ready_without_a_signed_pdf_is_refused(database, clock):
    reference = application(database, clock)
    with pytest.raises(DocumentRefused) as refused:
        ready(database, clock, reference)
    assert refused.value.why == "no_files" and outbox(database) == []


@pytest.mark.parametrize("lang", languages())
def test_the_ready_sms_is_one_sms_at_its_longest_in_every_language(lang):
    """The catalogue test measures `{code}` as a pickup code; a link's code is longer."""
    names = [render(lang, f"{code}.name") for code in DOCUMENTS
             if f"{code}.name" in messages(lang)] or ["Akta Kelahiran"]
    text = render(lang, document_files.READY_SMS, document=max(names, key=len),
                  ref="123456789", pin="123456", until="31/12", code="W" * 8,
                  link="https://" + "w" * (PUBLIC_URL_LIMIT - 8) + "/d/" + "W" * 8)
    assert septets(text) <= GSM7_SINGLE, text


# --- the PIN ---------------------------------------------------------------------------------

def test_wrong_pins_count_down_then_lock_the_link_until_renewed(database, clock):
    reference = application(database, clock)
    attach(database, clock, reference)
    ready(database, clock, reference, pin_attempts=3)
    code, pin = code_and_pin(outbox(database)[0].text)
    wrong = "000000" if pin != "000000" else "111111"
    with database.connect() as connection:
        first = document_files.try_pin(connection, code, wrong, clock.now(),
                                       settings(pin_attempts=3))
        second = document_files.try_pin(connection, code, wrong, clock.now(),
                                         settings(pin_attempts=3))
        third = document_files.try_pin(connection, code, wrong, clock.now(),
                                       settings(pin_attempts=3))
        after = document_files.try_pin(connection, code, pin, clock.now(),
                                       settings(pin_attempts=3))
    assert (first.right, first.state.status, first.state.remaining) == (False, "open", 2)
    assert (second.state.status, second.state.remaining) == ("open", 1)
    assert (third.state.status, after.state.status, after.right) == ("locked", "locked", False)
    actions = [action for _, action, _ in audit_actions(database)]
    assert actions[-3:] == ["document.wrong_pin", "document.wrong_pin", "document.link_locked"]
    with database.connect() as connection:
        connection.execute(update(OutboxMessage.__table__).values(status="sent"))
        sent = document_files.renew(connection, reference, clock.now(), settings(),
                                    NO_QUIET, actor="staff:op1")
    old, new = outbox(database)
    assert old.status == "sent"  # the first SMS had been sent: it stays as it was
    new_code, new_pin = code_and_pin(new.text)
    assert new_code != code and sent.link_id == 2
    with database.connect() as connection:
        dead = document_files.try_pin(connection, code, pin, clock.now(), settings())
        right = document_files.try_pin(connection, new_code, new_pin, clock.now(), settings())
    assert dead.state.status == "ended" and right.right and len(right.files) == 1
    assert ("staff:op1", "document.renew_link", f"application {reference}") in \
        audit_actions(database)


def test_a_renewed_link_replaces_its_sms_still_held_in_quiet_hours(database, clock):
    clock.set(datetime(2026, 11, 30, 15, 0, tzinfo=UTC))  # 22:00 in Bogor
    reference = application(database, clock)
    attach(database, clock, reference)
    quiet = QuietHours.parse("21:00-07:00")
    ready(database, clock, reference, quiet=quiet)
    with database.connect() as connection:
        document_files.renew(connection, reference, clock.now(), settings(), quiet,
                             actor="staff:op1")
    old, new = outbox(database)
    assert (old.status, new.status) == ("superseded", "queued")


def test_a_right_pin_starts_the_count_again(database, clock):
    reference = application(database, clock)
    attach(database, clock, reference)
    ready(database, clock, reference)
    code, pin = code_and_pin(outbox(database)[0].text)
    with database.connect() as connection:
        document_files.try_pin(connection, code, "99999x", clock.now(), settings())
        document_files.try_pin(connection, code, pin, clock.now(), settings())
        state = document_files.link_state(connection, code, clock.now(), settings())
    assert state.remaining == settings().documents.pin_attempts


def test_an_expired_link_says_so(database, clock):
    reference = application(database, clock)
    attach(database, clock, reference)
    ready(database, clock, reference, link_days=2)
    code, pin = code_and_pin(outbox(database)[0].text)
    clock.advance(timedelta(days=3))
    with database.connect() as connection:
        result = document_files.try_pin(connection, code, pin, clock.now(), settings())
    assert (result.right, result.state.status) == (False, "expired")


@pytest.mark.parametrize("code", ["", "ABC", "acdefhjk!", "ACDEFHJKL", "00000000"])
def test_a_code_that_is_no_link_is_unknown(database, clock, code):
    with database.connect() as connection:
        assert document_files.link_state(connection, code, clock.now(),
                                         settings()).status == "unknown"


# --- downloading -----------------------------------------------------------------------------

def test_the_first_download_closes_the_application_as_collected(database, clock):
    reference = application(database, clock)
    first = attach(database, clock, reference)
    second = attach(database, clock, reference, PDF + b"2", name="KIA.pdf")
    sent = ready(database, clock, reference)
    for file_id in (first.id, second.id):
        with database.connect() as connection:
            name, content = document_files.download(connection, sent.link_id, file_id,
                                                    clock.now(), settings(), NO_QUIET,
                                                    address="10.1.1.1")
    assert (name, content) == ("KIA.pdf", PDF + b"2")
    assert stage_of(database, reference) == "collected"
    with database.connect() as connection:
        events = connection.execute(select(ApplicationEvent.__table__.c.stage,
                                           ApplicationEvent.__table__.c.actor,
                                           ApplicationEvent.__table__.c.note)).all()
        row = connection.execute(select(_APPLICATION.c.collected_at, _APPLICATION.c.active_nik)
                                 .where(_APPLICATION.c.reference == reference)).one()
    assert events == [("collected", "resident:link", "downloaded by the family")]
    assert row.collected_at == clock.now()
    assert len(outbox(database)) == 1  # the ready SMS only: no notice of the download
    downloads = [entry for entry in audit_actions(database) if entry[1] == "document.download"]
    assert downloads == [("resident:link", "document.download", f"application {reference}")] * 2


def test_a_closed_application_ends_its_link(database, clock):
    reference = application(database, clock)
    attach(database, clock, reference)
    sent = ready(database, clock, reference)
    code, pin = code_and_pin(outbox(database)[0].text)
    with database.connect() as connection:
        connection.execute(update(_APPLICATION).values(stage="cancelled"))
        assert document_files.try_pin(connection, code, pin, clock.now(),
                                      settings()).state.status == "ended"
        with pytest.raises(DocumentRefused):
            document_files.download(connection, sent.link_id, 1, clock.now(), settings(),
                                    NO_QUIET)


def test_staff_download_is_audited(database, clock):
    reference = application(database, clock)
    attached = attach(database, clock, reference)
    with database.connect() as connection:
        assert document_files.staff_download(connection, reference, attached.id,
                                             actor="staff:op1", now=clock.now()) == (
            "KK baru.pdf", PDF)
    assert audit_actions(database)[-1] == ("staff:op1", "document.staff_download",
                                           f"application {reference}")


# --- erasure ---------------------------------------------------------------------------------

def test_the_retention_purge_erases_files_links_and_details(database, clock):
    reference = application(database, clock)
    attach(database, clock, reference)
    sent = ready(database, clock, reference)
    with database.connect() as connection:
        connection.execute(update(_APPLICATION).values(details={"death_date": "2026-01-02"}))
        document_files.download(connection, sent.link_id, 1, clock.now(), settings(), NO_QUIET)
    clock.advance(timedelta(days=400))
    summary = retention.purge(database, clock, 365)
    assert summary.applications == 1
    with database.connect() as connection:
        [file] = connection.execute(select(_FILE)).all()
        [link] = connection.execute(select(_LINK)).all()
        details = connection.execute(select(_APPLICATION.c.details)).scalar_one()
    assert (file.content, file.name, file.sha256, file.erased_at) == (None, None, None,
                                                                      clock.now())
    assert file.size == len(PDF)  # what stays: that it existed, and its size
    assert (link.code, link.pin_hash, link.ended_why) == (None, None, "erased")
    assert details is None


# --- configuration ---------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "taken"), [
    ("https://ktp.kotabogor.go.id", True),
    ("http://10.0.0.5:8080/", True),
    ("", True),  # http://<host>:<port>
    ("https://disdukcapil.kotabogor.go.id", False),  # 35 characters: the SMS would not fit
    ("ktp.kotabogor.go.id", False),
    ("https://ktp kota.go.id", False),
])
def test_the_public_url_must_fit_the_sms(tmp_path, url, taken):
    from sms_ktp.platform.config import ConfigError, load_settings

    config = tmp_path / "config.toml"
    config.write_text(f'[server]\npublic_url = "{url}"\n')
    if taken:
        assert load_settings(config).server.public_url == url
    else:
        with pytest.raises(ConfigError, match="public_url"):
            load_settings(config)


# --- a new data key --------------------------------------------------------------------------

NEW_KEY = "bmV3LWRhdGEta2V5LTAwMDAwMDAwMDAwMDAwMDAwMDA"


def test_a_new_data_key_seals_the_files_again_and_the_old_key_can_go(database, clock):
    from live_service import DATA_KEY, LOOKUP_KEY

    reference = application(database, clock)
    attached = attach(database, clock, reference)
    application_id = app_id(database, reference)
    ring = crypto.configure(NEW_KEY, (DATA_KEY,), LOOKUP_KEY)
    with database.connect() as connection:
        assert document_files.files_not_current(connection, ring) == 1
    assert document_files.reseal(database.connect, ring) == (1, 0)
    assert document_files.reseal(database.connect, ring) == (0, 0)  # nothing left to do
    crypto.configure(NEW_KEY, (), LOOKUP_KEY)  # the old key gone (the names are sealed again
    # by rotate-key with every other sealed column)
    with database.connect() as connection:
        assert document_files.files_not_current(connection, crypto.ring()) == 0
        sealed = connection.execute(select(_FILE.c.content)
                                    .where(_FILE.c.id == attached.id)).scalar_one()
    assert crypto.decrypt_bytes(sealed, f"document_file.content:{application_id}") == PDF


def test_a_file_under_a_key_no_longer_configured_is_left_and_counted(database, clock):
    from live_service import LOOKUP_KEY

    reference = application(database, clock)
    attach(database, clock, reference)
    ring = crypto.configure(NEW_KEY, (), LOOKUP_KEY)
    assert document_files.reseal(database.connect, ring) == (0, 1)
    with database.connect() as connection:
        assert document_files.files_not_current(connection, ring) == 1
