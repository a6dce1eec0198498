"""An application moved along its document's stages by hand (`sms-ktp application advance`,
the application page's "next stage"): one step forward on the document's path
(`sms_ktp.domain.documents`), or closed with a reason (rejected, cancelled) from an open stage.

The steps that other machinery takes are refused here with the way to take them, so that a card
is never marked printed without a batch that spent its blangko, nor collected without its
pickup code: a KTP-el's penunggalan result (the Kemendagri file), a card printed (print
batches), its pickup booked (the worker's pickup allocation), handed over (the counter).

Every step is a timeline entry and, where it matters to the family, ONE SMS: the document's
`<code>.notify.<stage>` when its catalogue has one, nothing otherwise; a PDF that becomes ready
sends the SMS with its download link and PIN (`document_files.notify_ready`). A card of the KIA
whose papers are checked joins the print queue as ready now (`ready_at`), as a KTP-el does when
Kemendagri clears it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, select

from flows.catalogue import messages
from sms_ktp.applications import decisions, document_files, verification
from sms_ktp.applications.hidden_codes import hide_codes
from sms_ktp.applications.pickup import PickupPolicy
from sms_ktp.applications.pipeline import change_stage
from sms_ktp.domain import documents
from sms_ktp.domain.documents import Document, Output
from sms_ktp.domain.masking import mask_phone, redact
from sms_ktp.domain.stages import CLOSED_STAGES, Stage
from sms_ktp.models import Application, OutboxMessage
from sms_ktp.platform.config import Settings

_APPLICATION = Application.__table__
_OUTBOX = OutboxMessage.__table__
NOTE_LIMIT = decisions.NOTE_LIMIT
CLOSING = (Stage.REJECTED, Stage.CANCELLED)
# The timeline note of a KIA that joins the print queue (the KTP-el's words for the same wait).
PRINT_QUEUE_NOTE = "waiting for blangko and its turn to print"


@dataclass(frozen=True)
class Way:
    """How a step that is not taken by hand is taken: for the command line and for staff."""

    command: str
    words: str


# (from, to) on a path -> the machinery that takes that step.
MACHINERY: Mapping[tuple[Stage, Stage], Way] = {
    (Stage.PENUNGGALAN, Stage.PRINT_QUEUE): Way(
        "penunggalan results come from Kemendagri: sms-ktp penunggalan import FILE",
        "hasil penunggalan dari Kemendagri diimpor di halaman Penunggalan"),
    (Stage.PRINT_QUEUE, Stage.PRINTED): Way(
        "cards are printed in print batches: sms-ktp print next, then print done",
        "kartu dicetak lewat batch cetak di halaman Cetak"),
    (Stage.PRINTED, Stage.PICKUP_SCHEDULED): Way(
        "printed cards are booked for pickup by the pickup allocation (sms-ktp worker)",
        "jadwal ambil kartu yang sudah dicetak dibuat otomatis oleh sistem"),
    (Stage.PICKUP_SCHEDULED, Stage.COLLECTED): Way(
        "a card is handed over with its pickup code: sms-ktp pickup verify CODE",
        "kartu diserahkan di Loket dengan kode ambil dari SMS warga"),
}
# Stages off every path, left by their own decision.
OFF_PATH: Mapping[Stage, Way] = {
    Stage.DUPLICATE: Way("a double record is resolved on the application's page of the back "
                         "office, after the resident's visit",
                         "data ganda diselesaikan dengan tombol Data ganda selesai"),
    Stage.MISSED_PICKUP: Way("a missed pickup is rebooked by the pickup allocation or handed "
                             "over at the counter: sms-ktp pickup verify CODE",
                             "kartu diserahkan di Loket dengan kode ambil"),
    Stage.POST_REQUESTED: Way("a parcel is handed to the courier: sms-ktp post sent REF TRACKING",
                              "kiriman dicatat di halaman Kirim pos"),
    Stage.POSTED: Way("a parcel's delivery is recorded: sms-ktp post delivered REF",
                      "kiriman sampai dicatat di halaman Kirim pos"),
}


class StageRefused(Exception):
    """A step not taken: the message for the command line, and `words` for staff (nothing has
    changed)."""

    def __init__(self, message: str, words: str) -> None:
        super().__init__(message)
        self.words = words


@dataclass(frozen=True)
class Sent:
    """The SMS a step queued, as the operator may read it: the phone masked, codes hidden."""

    phone: str
    text: str


@dataclass(frozen=True)
class Advanced:
    reference: str
    document: str
    was: Stage
    stage: Stage
    sms: tuple[Sent, ...]


def by_hand(document: Document, stage: Stage) -> Stage | None:
    """The next stage of the path that staff may set from `stage` (None: the path ends, the
    stage is off it, or the machinery takes the next step)."""
    following = document.next_stage(stage)
    if following is None or (stage, following) in MACHINERY:
        return None
    return following


def machinery(document: Document, stage: Stage) -> Way | None:
    """The way the step after `stage` is taken when it is not by hand."""
    following = document.next_stage(stage)
    if following is not None:
        return MACHINERY.get((stage, following))
    return OFF_PATH.get(stage)


def notice(document: str, stage: Stage) -> tuple[str, dict[str, Any]] | None:
    """The catalogue message (and placeholders besides the reference and the NIK) that tells the
    family its application of `document` reached `stage`; None when nothing is sent. A PDF's
    `ready` is worded by `document_files` (its link and PIN)."""
    if stage in CLOSING:
        return decisions.closing_notice(document, stage)
    key = f"{document}.notify.{stage.value}"
    if key in messages("id"):
        return key, {"document": decisions.document_name(document)}
    return None


def advance(connection: Connection, policy: PickupPolicy, settings: Settings, reference: str,
            to: Stage | None, *, note: str = "", actor: str, now: datetime) -> Advanced:
    """Move the application with `reference` to `to` (None: the next stage of its path), in the
    caller's transaction. `note`: the reason of a rejection or cancellation (required then; a
    rejection's is sent to the family), else a remark for the timeline."""
    note = redact(" ".join(note.split()))
    row = _locked(connection, reference)
    document = documents.document(row.document)
    was = Stage(row.stage)
    if was in CLOSED_STAGES:
        raise StageRefused(f"application {reference} is already {was.value}",
                           "Permohonan ini sudah ditutup.")
    if to is None:
        to = _next(document, reference, was)
    newest = connection.execute(select(func.max(_OUTBOX.c.id))).scalar() or 0
    if to in CLOSING:
        _close(connection, policy, reference, to, note, actor, now)
    else:
        shown = _forward(connection, policy, settings, row, document, was, to, note, actor, now)
        if shown is not None:  # the link's SMS: its code and PIN hidden
            return Advanced(reference, document.code, was, to, (shown,))
    return Advanced(reference, document.code, was, to, _queued(connection, row.id, newest))


def _locked(connection: Connection, reference: str) -> Row[Any]:
    row = connection.execute(select(_APPLICATION.c.id, _APPLICATION.c.reference,
                                    _APPLICATION.c.document, _APPLICATION.c.stage)
                             .where(_APPLICATION.c.reference == reference)
                             .with_for_update()).first()
    if row is None:
        raise StageRefused(f"unknown reference {reference}",
                           f"Tidak ada permohonan dengan nomor ref {reference}.")
    return row


def _next(document: Document, reference: str, was: Stage) -> Stage:
    following = document.next_stage(was)
    if following is None:
        way = OFF_PATH.get(was)
        raise StageRefused(
            f"application {reference} is {was.value}: no next stage on the {document.code} path"
            + (f"; {way.command}" if way else ""),
            "Tahap ini tidak punya tahap berikutnya." + (f" {_sentence(way.words)}" if way
                                                          else ""))
    return following


def _close(connection: Connection, policy: PickupPolicy, reference: str, to: Stage, note: str,
           actor: str, now: datetime) -> None:
    if not note:
        raise StageRefused(f"--to {to.value} needs --note with the reason",
                           "Tulis alasannya.")
    try:
        if to is Stage.REJECTED:
            decisions.reject_in(connection, policy.quiet, reference,
                                decisions.checked_reason(note), actor, now)
        else:
            if len(note) > NOTE_LIMIT:
                raise decisions.DecisionRefused(f"keep the note within {NOTE_LIMIT} characters")
            decisions.cancel_in(connection, policy.quiet, reference, note, actor, now, policy)
    except decisions.DecisionRefused as refused:
        raise StageRefused(str(refused), _refusal_words(str(refused))) from None


def _refusal_words(message: str) -> str:
    if "too late to reject" in message:
        return "Kartu yang sudah dicetak atau dokumen yang sudah ditandatangani tidak bisa " \
               "ditolak; batalkan bila perlu."
    if "GSM-7" in message:
        return f"Alasan terlalu panjang untuk satu SMS (paling banyak " \
               f"{decisions.reason_budget()} karakter GSM-7)."
    if "characters" in message:
        return f"Catatan paling banyak {NOTE_LIMIT} karakter."
    return "Permohonan ini sudah ditutup."


def _forward(connection: Connection, policy: PickupPolicy, settings: Settings, row: Row[Any],
             document: Document, was: Stage, to: Stage, note: str, actor: str,
             now: datetime) -> Sent | None:
    expected = document.next_stage(was)
    path = " > ".join(stage.value for stage in document.path)
    if to == was:
        raise StageRefused(f"application {row.reference} is {was.value} already",
                           "Permohonan sudah di tahap ini.")
    if to not in document.path:
        raise StageRefused(f"{to.value} is no stage of the {document.code} path ({path}; or "
                           f"rejected, cancelled)", "Tahap itu bukan tahap dokumen ini.")
    if to != expected:
        following = expected.value if expected else "none"
        raise StageRefused(f"application {row.reference} is {was.value}: its next stage "
                           f"is {following}, not {to.value} ({path})",
                           "Permohonan hanya bisa maju ke tahap berikutnya.")
    way = MACHINERY.get((was, to))
    if way is not None:
        raise StageRefused(f"{was.value} -> {to.value} is not set by hand: {way.command}",
                           f"Tahap ini tidak diubah dengan tangan: {way.words}.")
    values: dict[str, Any] = {"stage_note": None}
    if to is Stage.PRINT_QUEUE:  # a KIA's papers checked: its turn to print counts from now
        values["ready_at"] = now
        note = note or PRINT_QUEUE_NOTE
    if to is Stage.COLLECTED:
        values["collected_at"] = now
    if to is Stage.PENUNGGALAN:  # the KTP-el verified: as the verification queue does it
        note = note or verification.NOTE
    pdf_ready = to is Stage.READY and document.output is Output.PDF
    if pdf_ready and not document_files.files(connection, row.id):
        raise StageRefused(f"application {row.reference} has no signed PDF: attach it first "
                           "(sms-ktp application attach REF FILE)",
                           "Lampirkan dulu PDF yang sudah ditandatangani.")
    told = None if pdf_ready else notice(document.code, to)
    change_stage(connection, row.id, to, actor=actor, now=now, quiet=policy.quiet, note=note,
                 notice=told[0] if told else "", params=told[1] if told else None,
                 values=values)
    if not pdf_ready:
        return None
    # After the change, whose own supersede would otherwise take the link's SMS back.
    sent = document_files.notify_ready(connection, row.id, now, settings, policy.quiet,
                                       actor=actor)
    return Sent(mask_phone(sent.phone), sent.shown)


def _queued(connection: Connection, application_id: int, after: int) -> tuple[Sent, ...]:
    rows = connection.execute(select(_OUTBOX.c.phone, _OUTBOX.c.text)
                              .where(_OUTBOX.c.id > after,
                                     _OUTBOX.c.application_id == application_id)
                              .order_by(_OUTBOX.c.id)).all()
    return tuple(Sent(mask_phone(sms.phone), hide_codes(sms.text)) for sms in rows)


def _sentence(words: str) -> str:
    return words[:1].upper() + words[1:] + "."
