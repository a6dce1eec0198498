"""Every document's stages moved by hand on both databases: one step of its path at a time, each
a timeline entry and at most one SMS (its catalogue's); the steps the print, pickup and
penunggalan machinery take refused with the way to take them; rejected and cancelled with a
reason, their SMS naming the document."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select

from flows.catalogue import messages, render
from sms_ktp.applications import document_files, document_stages, papers_visit
from sms_ktp.applications.document_stages import StageRefused, advance
from sms_ktp.applications.pickup import PickupPolicy
from sms_ktp.domain.documents import document
from sms_ktp.domain.masking import mask_id
from sms_ktp.domain.pickup_calendar import WorkingCalendar, default_offices
from sms_ktp.domain.quiet_hours import QuietHours
from sms_ktp.domain.stages import Stage
from sms_ktp.models import (
    Application,
    ApplicationEvent,
    Family,
    OutboxMessage,
    PickupSlot,
)
from sms_ktp.platform.config import Settings

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # Monday 09.00 WIB
POLICY = PickupPolicy(default_offices(), WorkingCalendar(), QuietHours.parse(""), search_days=30)
SETTINGS = Settings()
_APPLICATION = Application.__table__
_serials = itertools.count(1)


def application(database, document: str, stage: str = "submitted", *,
                papers: bool = False, language: str = "id") -> tuple[str, str]:
    """An application of `document` at `stage` (its reference, its applicant's NIK)."""
    serial = next(_serials)
    reference, nik = f"{serial:09d}", f"3271014501{serial:06d}"
    with database.connect() as connection:
        family = connection.execute(insert(Family.__table__).values(
            kk=f"327101010120{serial:04d}", phone=f"+62812{serial:07d}", kecamatan_code="01",
            created_at=NOW).returning(Family.__table__.c.id)).scalar_one()
        visit = (papers_visit.book(connection, POLICY, family, "01", NOW)
                 if papers else None)
        connection.execute(insert(_APPLICATION).values(
            reference=reference, document=document, nik=nik, family_id=family,
            details={"birth_date": "2019-03-12"} if document == "kia" else None,
            reason="hilang", stage=stage, language=language, channel="sms", created_at=NOW,
            updated_at=NOW, papers_visit_id=visit.id if visit else None))
    return reference, nik


def step(database, reference: str, to: Stage | None = None, note: str = "",
         actor: str = "operator:root") -> document_stages.Advanced:
    with database.connect() as connection:
        return advance(connection, POLICY, SETTINGS, reference, to, note=note, actor=actor,
                       now=NOW)


def row(database, reference: str):
    with database.connect() as connection:
        return connection.execute(select(_APPLICATION)
                                  .where(_APPLICATION.c.reference == reference)).one()


def sms(database) -> list[str]:
    with database.connect() as connection:
        return list(connection.execute(select(OutboxMessage.__table__.c.text)
                                       .order_by(OutboxMessage.__table__.c.id)).scalars())


def timeline(database, reference: str) -> list[tuple[str, str, str]]:
    event = ApplicationEvent.__table__
    with database.connect() as connection:
        return [tuple(found) for found in connection.execute(
            select(event.c.stage, event.c.actor, event.c.note)
            .join(_APPLICATION, _APPLICATION.c.id == event.c.application_id)
            .where(_APPLICATION.c.reference == reference).order_by(event.c.id))]


def expected_sms(document: str, stage: str, reference: str, nik: str) -> list[str]:
    """The SMS a step sends: the document's own notice of that stage, when its catalogue has
    one (the documents' catalogues name the stages that matter to the family)."""
    key = f"{document}.notify.{stage}"
    if key not in messages("id"):
        return []
    name = render("id", f"{document}.name") if f"{document}.name" in messages("id") else document
    return [render("id", key, ref=reference, nik=mask_id(nik), document=name)]


@pytest.mark.parametrize("document", ["kk", "akta_lahir", "akta_mati"])
def test_a_pdf_document_is_checked_and_signed_by_hand_one_step_at_a_time(database, document):
    reference, nik = application(database, document)
    checked = step(database, reference)
    assert (checked.was, checked.stage, checked.document) == (
        Stage.SUBMITTED, Stage.PAPERS_CHECKED, document)
    told = expected_sms(document, "papers_checked", reference, nik)
    assert sms(database) == told
    assert [sent.text for sent in checked.sms] == told
    assert all(sent.phone.startswith("+62") and "*" in sent.phone for sent in checked.sms)
    signed = step(database, reference, Stage.SIGNED, note="TTE Kepala Dinas")
    assert signed.stage == Stage.SIGNED
    assert sms(database) == told + expected_sms(document, "signed", reference, nik)
    assert row(database, reference).stage == "signed"
    assert timeline(database, reference) == [("papers_checked", "operator:root", ""),
                                             ("signed", "operator:root", "TTE Kepala Dinas")]


def test_a_step_is_only_the_next_one_of_the_documents_own_path(database):
    reference, _ = application(database, "kk")
    with pytest.raises(StageRefused, match="its next stage is papers_checked, not signed"):
        step(database, reference, Stage.SIGNED)
    with pytest.raises(StageRefused, match="print_queue is no stage of the kk path"):
        step(database, reference, Stage.PRINT_QUEUE)
    with pytest.raises(StageRefused, match="is submitted already"):
        step(database, reference, Stage.SUBMITTED)
    assert row(database, reference).stage == "submitted"
    assert sms(database) == [] and timeline(database, reference) == []


def test_a_pdf_printed_at_the_office_is_collected_by_hand(database):
    reference, _ = application(database, "kk", "ready")
    done = step(database, reference, note="dicetak di kelurahan")
    assert done.stage == Stage.COLLECTED
    found = row(database, reference)
    assert (found.stage, found.collected_at, found.active_nik) == ("collected", NOW, None)
    with pytest.raises(StageRefused, match="already collected") as refused:
        step(database, reference)
    assert refused.value.words == "Permohonan ini sudah ditutup."


def test_a_pdf_ready_sends_its_download_link_and_pin_in_one_sms(database):
    reference, _ = application(database, "akta_lahir", "signed")
    with pytest.raises(StageRefused, match="no signed PDF: attach it first") as refused:
        step(database, reference)
    assert refused.value.words == "Lampirkan dulu PDF yang sudah ditandatangani."
    assert row(database, reference).stage == "signed" and sms(database) == []
    with database.connect() as connection:
        document_files.attach(connection, reference, "akta.pdf", b"%PDF-1.7 signed",
                              settings=SETTINGS, actor="staff:ani", now=NOW)
    ready = step(database, reference)
    assert ready.stage == Stage.READY
    [text] = sms(database)  # one SMS: the link's, not a notice of the stage besides
    pin = re.search(r"PIN (\d{6})", text)[1]
    code = re.search(r"/d/(\w+)", text)[1]
    [shown] = ready.sms
    assert shown.text == text.replace(pin, "******").replace(code, "*" * len(code))
    assert timeline(database, reference) == [("ready", "operator:root", "")]


def test_a_kia_joins_the_print_queue_by_hand_then_the_machinery_takes_over(database):
    reference, nik = application(database, "kia", "papers_checked")
    queued = step(database, reference)
    assert queued.stage == Stage.PRINT_QUEUE
    found = row(database, reference)
    assert (found.stage, found.ready_at) == ("print_queue", NOW)
    assert timeline(database, reference) == [
        ("print_queue", "operator:root", "waiting for blangko and its turn to print")]
    assert sms(database) == expected_sms("kia", "print_queue", reference, nik)
    with pytest.raises(StageRefused, match="print batches: sms-ktp print next") as refused:
        step(database, reference)
    assert "batch cetak" in refused.value.words


@pytest.mark.parametrize(("document", "stage", "way"), [
    ("kia", "printed", "pickup allocation"),
    ("kia", "pickup_scheduled", "sms-ktp pickup verify CODE"),
    ("ktp", "penunggalan", "sms-ktp penunggalan import FILE"),
    ("ktp", "print_queue", "print batches"),
    ("ktp", "duplicate", "double record is resolved"),
])
def test_the_machinerys_steps_are_refused_with_the_way_to_take_them(database, document, stage,
                                                                   way):
    reference, _ = application(database, document, stage)
    with pytest.raises(StageRefused, match=way):
        step(database, reference)
    assert row(database, reference).stage == stage


def test_a_ktp_verified_by_hand_goes_to_penunggalan_without_an_sms(database):
    reference, _ = application(database, "ktp")
    assert step(database, reference).stage == Stage.PENUNGGALAN
    assert sms(database) == []
    assert timeline(database, reference) == [
        ("penunggalan", "operator:root", "diverifikasi petugas; menunggu penunggalan di "
                                         "Kemendagri")]


def test_a_rejection_names_the_document_and_needs_its_reason(database):
    reference, nik = application(database, "akta_mati", "papers_checked")
    with pytest.raises(StageRefused, match="needs --note"):
        step(database, reference, Stage.REJECTED)
    done = step(database, reference, Stage.REJECTED, note="  surat kematian  tidak terbaca ")
    assert done.stage == Stage.REJECTED
    found = row(database, reference)
    assert (found.stage, found.stage_note) == ("rejected", "surat kematian tidak terbaca")
    name = render("id", "akta_mati.name") if "akta_mati.name" in messages("id") else "akta_mati"
    [text] = sms(database)
    assert text == (f"{name} ref {reference} (NIK {mask_id(nik)}) ditolak petugas: surat "
                    "kematian tidak terbaca. Tanya kelurahan, lalu ajukan lagi.")
    assert [sent.text for sent in done.sms] == [text]


def test_a_signed_document_is_cancelled_not_rejected(database):
    reference, nik = application(database, "kk", "signed", language="en")
    with pytest.raises(StageRefused, match="too late to reject") as refused:
        step(database, reference, Stage.REJECTED, note="salah")
    assert "batalkan" in refused.value.words
    step(database, reference, Stage.CANCELLED, note="warga pindah")
    name = render("en", "kk.name") if "kk.name" in messages("en") else "kk"
    assert sms(database) == [f"{name} application ref {reference} (NIK {mask_id(nik)}) was "
                             "cancelled by staff. Ask your kelurahan to apply again."]
    assert timeline(database, reference) == [("cancelled", "operator:root", "warga pindah")]


def test_a_closed_application_gives_its_place_in_the_papers_visit_back(database):
    reference, _ = application(database, "kk", papers=True)
    assert places_taken(database) == 1
    step(database, reference, Stage.CANCELLED, note="diajukan dua kali")
    assert places_taken(database) == 0


def places_taken(database) -> int:
    with database.connect() as connection:
        return connection.execute(select(func.sum(PickupSlot.__table__.c.booked))).scalar_one()


def test_unknown_references_and_closed_applications_are_refused(database):
    with pytest.raises(StageRefused, match="unknown reference 999999999"):
        step(database, "999999999")
    reference, _ = application(database, "kk", "rejected")
    with pytest.raises(StageRefused, match=f"application {reference} is already rejected"):
        step(database, reference, Stage.CANCELLED, note="x")


def test_only_a_reason_of_one_sms_is_taken(database):
    reference, _ = application(database, "kk")
    with pytest.raises(StageRefused, match="GSM-7 septets"):
        step(database, reference, Stage.REJECTED, note="x" * 200)
    assert row(database, reference).stage == "submitted"


def test_the_steps_staff_take_by_hand():
    kia, kk, ktp = document("kia"), document("kk"), document("ktp")
    assert [document_stages.by_hand(kia, stage) for stage in kia.path] == [
        Stage.PAPERS_CHECKED, Stage.PRINT_QUEUE, None, None, None, None]
    assert [document_stages.by_hand(kk, stage) for stage in kk.path] == [
        Stage.PAPERS_CHECKED, Stage.SIGNED, Stage.READY, Stage.COLLECTED, None]
    assert [document_stages.by_hand(ktp, stage) for stage in ktp.path] == [
        Stage.PENUNGGALAN, None, None, None, None, None]
    assert document_stages.machinery(kk, Stage.SIGNED) is None
    assert document_stages.machinery(ktp, Stage.DUPLICATE) is document_stages.OFF_PATH[
        Stage.DUPLICATE]
