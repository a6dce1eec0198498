"""Permohonan: one application's page (its facts, its document's stages and timeline, the
audited reveal of the full NIK and KK), the next stage set by hand, and the decisions that
close it: rejection and cancellation; each confirmed on a page that shows the SMS the family
will get; and a double record resolved. The rules every decision follows are in
`application_actions`.
"""

from __future__ import annotations

from typing import Any

from flask import request
from werkzeug.wrappers import Response

from sms_ktp.applications import decisions, document_files, document_stages, sms_budget
from sms_ktp.backoffice.search import ApplicationDetail, detail
from sms_ktp.backoffice.staff import Role
from sms_ktp.backoffice.wording import document_words, stage_words
from sms_ktp.domain import documents
from sms_ktp.domain.masking import redact
from sms_ktp.domain.pickup_calendar import local
from sms_ktp.domain.stages import Stage
from sms_ktp.web.staff.application_actions import (
    ACTORS,
    NOTE_LIMIT,
    Refused,
    audit_decision,
    confirmation,
    confirmed,
    decide,
    missing,
    page,
    stage_allows,
    stages,
    target,
    visible,
    visible_application,
    when,
)
from sms_ktp.web.staff.blueprint import connect, me, now, record, require, runtime, staff


@staff.get("/applications/<reference>")
@require(Role.ADMIN, Role.OPERATOR, Role.HELPER)
def application(reference: str) -> Any:
    found = visible_application(reference)
    if found is None:
        return missing(reference)
    return page(found)


@staff.post("/applications/<reference>/reveal")
@require(*ACTORS)
def application_reveal(reference: str) -> Any:
    """The full NIK and KK, for this one page: recorded in the audit log first."""
    with connect() as connection:
        found = visible(detail(connection, reference, reveal=True))
        if found is not None:
            record(connection, "application.reveal_nik", target(reference),
                   "NIK dan KK lengkap ditampilkan")
    if found is None:
        return missing(reference)
    response = page(found)
    response.headers["Cache-Control"] = "no-store"
    return response


@staff.post("/applications/<reference>/reject")
@require(*ACTORS)
def application_reject(reference: str) -> Response:
    def act(found: ApplicationDetail) -> str | Response:
        reason = " ".join(request.form.get("reason", "").split())
        if not reason:
            raise Refused("Tulis alasan penolakan: warga membacanya di SMS.")
        budget, used = decisions.reason_budget(), sms_budget.length(redact(reason))
        if used > budget:
            raise Refused(f"Alasan terlalu panjang untuk satu SMS: {used} dari paling banyak "
                           f"{budget} karakter GSM-7 ({sms_budget.DOUBLED} dihitung dua).")
        stage_allows(found, "reject", "Permohonan yang sudah dicetak, ditandatangani atau "
                                       "ditutup tidak bisa ditolak.")
        if not confirmed():
            key, params = decisions.closing_notice(found.document, Stage.REJECTED)
            return confirmation(
                found, title=f"Tolak permohonan {reference}?", action="staff.application_reject",
                button="Ya, tolak permohonan", fields={"reason": reason},
                effects=[f"Permohonan NIK {found.nik} ditutup dengan tahap ditolak; warga "
                         "bisa mendaftar lagi setelah memperbaiki yang salah.",
                         "Alasan tercatat di riwayat permohonan dan di log audit."],
                sms_key=key, sms_params={**params, "why": redact(reason)})
        runtime_ = runtime()
        try:
            decisions.reject(runtime_.db, runtime_.clock, runtime_.quiet_hours, reference,
                             reason, me().actor)
        except decisions.DecisionRefused:
            raise Refused("Permohonan ini sudah ditutup; tidak bisa ditolak.") from None
        audit_decision("application.reject", reference, f"alasan: {redact(reason)}")
        return "Permohonan ditolak. Warga diberi tahu alasannya lewat SMS."

    return decide(reference, act)


@staff.post("/applications/<reference>/cancel")
@require(*ACTORS)
def application_cancel(reference: str) -> Response:
    def act(found: ApplicationDetail) -> str | Response:
        note = cancellation_note()
        stage_allows(found, "cancel", "Permohonan ini sudah ditutup.")
        if not confirmed():
            return confirm_cancel(found, "staff.application_cancel", note)
        runtime_ = runtime()
        try:
            decisions.cancel(runtime_.db, runtime_.clock, runtime_.quiet_hours, reference, note,
                             me().actor, runtime_.pickup_policy())
        except decisions.DecisionRefused:
            raise Refused("Permohonan ini sudah ditutup.") from None
        audit_decision("application.cancel", reference, f"catatan: {note}")
        return "Permohonan dibatalkan. Warga diberi tahu lewat SMS."

    return decide(reference, act)


def cancellation_note() -> str:
    note = redact(" ".join(request.form.get("note", "").split()))
    if not note:
        raise Refused("Tulis catatan pembatalan (untuk riwayat permohonan).")
    if len(note) > NOTE_LIMIT:
        raise Refused(f"Catatan paling banyak {NOTE_LIMIT} karakter.")
    return note


def confirm_cancel(found: ApplicationDetail, action: str, note: str) -> Response:
    """What a cancellation does, to confirm: the application closed, its pickup given up."""
    effects = [f"Permohonan NIK {found.nik} ditutup dengan tahap batal; warga bisa mendaftar "
               "lagi.", f"Catatan untuk riwayat: {note}"]
    if found.stage == Stage.PICKUP_SCHEDULED.value and found.pickup_at is not None:
        effects.append(f"Jadwal ambil {when(found.pickup_at)} dilepas untuk warga lain.")
    if len(found.visit_cards) > 1:
        effects.append("Kartu lain dalam kunjungan keluarga ini tetap dijadwalkan.")
    if found.stage in PRINTED_STAGES:
        effects.append("Kartu yang sudah dicetak tidak diserahkan; simpan sesuai aturan kantor.")
    key, params = decisions.closing_notice(found.document, Stage.CANCELLED)
    return confirmation(found, title=f"Batalkan permohonan {found.reference}?", action=action,
                        button="Ya, batalkan permohonan", fields={"note": note},
                        effects=effects, sms_key=key, sms_params=params)


# A card printed already: cancelling it leaves a card in the drawer.
PRINTED_STAGES = frozenset({Stage.PRINTED.value, Stage.PICKUP_SCHEDULED.value,
                            Stage.MISSED_PICKUP.value, Stage.POST_REQUESTED.value})


@staff.post("/applications/<reference>/resolve")
@require(*ACTORS)
def application_resolve(reference: str) -> Response:
    """Data ganda resolved after the resident's visit: back to the print queue, with an SMS."""
    def act(found: ApplicationDetail) -> str:
        note = " ".join(request.form.get("note", "").split())
        if len(note) > decisions.NOTE_LIMIT:
            raise Refused(f"Catatan paling banyak {decisions.NOTE_LIMIT} karakter.")
        if found.stage != Stage.DUPLICATE.value:
            raise Refused("Permohonan ini tidak (lagi) berstatus data ganda.")
        runtime_ = runtime()
        try:
            decisions.resolve_duplicate(runtime_.db, runtime_.clock, runtime_.quiet_hours,
                                        reference, note, me().actor)
        except decisions.DecisionRefused:
            raise Refused("Permohonan ini tidak (lagi) berstatus data ganda.") from None
        audit_decision("application.resolve_duplicate", reference,
                       f"data ganda selesai{': ' + redact(note) if note else ''}")
        return ("Data ganda selesai: permohonan kembali antre cetak. Keluarga diberi tahu lewat "
                "SMS.")

    return decide(reference, act)


@staff.post("/applications/<reference>/advance")
@require(*ACTORS)
def application_advance(reference: str) -> Response:
    """The next stage of the document's path, set by hand (`document_stages`), confirmed on a
    page that shows the SMS the family will get, then audited."""
    def act(found: ApplicationDetail) -> str | Response:
        shown = stages(found, found.document)
        wanted = request.form.get("to", "")
        if shown.next_stage is None or wanted != shown.next_stage:
            raise Refused("Tahap permohonan sudah berubah; lihat lagi tahap berikutnya di "
                          "halaman ini.")
        to = Stage(wanted)
        note = redact(" ".join(request.form.get("note", "").split()))
        if len(note) > NOTE_LIMIT:
            raise Refused(f"Catatan paling banyak {NOTE_LIMIT} karakter.")
        pdf = documents.document(shown.document).output is documents.Output.PDF
        if to is Stage.READY and pdf:
            with connect() as connection:
                if not document_files.files(connection, found.id):
                    raise Refused("Unggah dulu PDF yang sudah ditandatangani elektronik: "
                                  "tautan unduh keluarga membukanya.")
        if not confirmed():
            return confirm_advance(found, shown.document, to, note, pdf)
        runtime_ = runtime()
        with connect() as connection:
            try:
                done = document_stages.advance(connection, runtime_.pickup_policy(),
                                               runtime_.settings, reference, to, note=note,
                                               actor=me().actor, now=now())
            except document_stages.StageRefused as refused:
                raise Refused(refused.words) from None
            record(connection, "application.advance", target(reference),
                   f"{done.was.value} -> {done.stage.value}" + (f": {note}" if note else ""))
        told = " Keluarga diberi tahu lewat SMS." if done.sms else ""
        return f"Permohonan lanjut ke tahap {stage_words(to.value)}.{told}"

    return decide(reference, act)


def confirm_advance(found: ApplicationDetail, code: str, to: Stage, note: str,
                    pdf: bool) -> Response:
    """What the next stage does, to confirm: the stage, what follows from it, the SMS."""
    name = document_words(code)
    effects = [f"Permohonan {name} pindah dari tahap {stage_words(found.stage)} ke tahap "
               f"{stage_words(to.value)}."]
    sms_key, sms_params = None, None
    if to is Stage.READY and pdf:
        sms_key, sms_params = document_files.READY_SMS, ready_preview(code)
        effects.append("Keluarga menerima tautan unduh dan PIN lewat SMS; kode dan PIN tidak "
                       "ditampilkan kepada petugas.")
    else:
        told = document_stages.notice(code, to)
        if told is not None:
            sms_key, sms_params = told
    if to is Stage.PRINT_QUEUE:
        effects.append(f"{name} masuk antrean cetak mulai sekarang; dicetak lewat batch cetak "
                       "di halaman Cetak.")
    if to is Stage.COLLECTED:
        effects.append(f"Permohonan ditutup: {name} sudah diterima keluarga (dicetak di "
                       "kantor).")
    if note:
        effects.append(f"Catatan untuk riwayat: {note}")
    effects.append("Tercatat di riwayat permohonan dan di log audit.")
    return confirmation(found, title=f"Lanjutkan permohonan {found.reference} ke tahap "
                                     f"{stage_words(to.value)}?",
                        action="staff.application_advance",
                        button=f"Ya, lanjut ke tahap {stage_words(to.value)}",
                        fields={"to": to.value, "note": note}, effects=effects,
                        sms_key=sms_key, sms_params=sms_params)


def ready_preview(code: str) -> dict[str, Any]:
    """The link's SMS as staff may read it: its code and PIN hidden, its last day as it will
    be."""
    settings = runtime().settings
    hidden = "*" * document_files.LINK_CODE_LENGTH
    until = local(document_files.expiry(now(), settings.documents.link_days))
    return {"document": decisions.document_name(code),
            "link": document_files.link_url(settings, hidden),
            "pin": "*" * document_files.PIN_DIGITS,
            "until": f"{until.day:02d}/{until.month:02d}", "code": hidden}
