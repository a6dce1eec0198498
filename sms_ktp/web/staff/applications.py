"""Permohonan: one application's page (its facts and timeline, the audited reveal of the full
NIK and KK) and the decisions that close it: rejection and cancellation. The rules every
decision follows are in `application_actions`.
"""

from __future__ import annotations

from typing import Any

from flask import request
from werkzeug.wrappers import Response

from sms_ktp.applications import decisions, sms_budget
from sms_ktp.backoffice.search import ApplicationDetail, detail
from sms_ktp.backoffice.staff import Role
from sms_ktp.domain.masking import redact
from sms_ktp.web.staff.application_actions import (
    ACTORS,
    NOTE_LIMIT,
    Refused,
    audit_decision,
    decide,
    missing,
    page,
    stage_allows,
    target,
    visible,
)
from sms_ktp.web.staff.blueprint import connect, me, record, require, runtime, staff


@staff.get("/applications/<reference>")
@require(Role.ADMIN, Role.OPERATOR, Role.HELPER)
def application(reference: str) -> Any:
    with connect() as connection:
        found = visible(detail(connection, reference))
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
    def act(found: ApplicationDetail) -> str:
        reason = " ".join(request.form.get("reason", "").split())
        if not reason:
            raise Refused("Tulis alasan penolakan: warga membacanya di SMS.")
        budget, used = decisions.reason_budget(), sms_budget.length(redact(reason))
        if used > budget:
            raise Refused(f"Alasan terlalu panjang untuk satu SMS: {used} dari paling banyak "
                           f"{budget} karakter GSM-7 ({sms_budget.DOUBLED} dihitung dua).")
        stage_allows(found, "reject", "Permohonan yang sudah dicetak atau ditutup tidak bisa "
                                       "ditolak.")
        runtime_ = runtime()
        try:
            decisions.reject(runtime_.db, runtime_.clock, runtime_.quiet_hours, reference,
                             reason, me().actor)
        except decisions.DecisionRefused:
            raise Refused("Permohonan ini sudah ditutup; tidak bisa ditolak.") from None
        audit_decision("application.reject", reference, f"alasan: {reason}")
        return "Permohonan ditolak. Warga diberi tahu alasannya lewat SMS."

    return decide(reference, act)


@staff.post("/applications/<reference>/cancel")
@require(*ACTORS)
def application_cancel(reference: str) -> Response:
    def act(found: ApplicationDetail) -> str:
        note = " ".join(request.form.get("note", "").split())
        if not note:
            raise Refused("Tulis catatan pembatalan (untuk riwayat permohonan).")
        if len(note) > NOTE_LIMIT:
            raise Refused(f"Catatan paling banyak {NOTE_LIMIT} karakter.")
        stage_allows(found, "cancel", "Permohonan ini sudah ditutup.")
        runtime_ = runtime()
        try:
            decisions.cancel(runtime_.db, runtime_.clock, runtime_.quiet_hours, reference, note,
                             me().actor, runtime_.pickup_policy())
        except decisions.DecisionRefused:
            raise Refused("Permohonan ini sudah ditutup.") from None
        audit_decision("application.cancel", reference, f"catatan: {note}")
        return "Permohonan dibatalkan. Warga diberi tahu lewat SMS."

    return decide(reference, act)


