"""A registration corrected or cancelled by whoever made it at the counter (a kelurahan helper,
usually), until staff verify it: the form to correct the NIK, KK, reason or Suket number
(`applications.corrections`), and the cancellation, confirmed like any other (the page shows the
SMS the family will get). After verification the actions are gone from the page and the server
refuses them. Audited; every step answered with a redirect (303) and a flash message.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from flows.catalogue import messages
from flows.registration import REASONS
from sms_ktp.applications import corrections, decisions
from sms_ktp.backoffice.search import ApplicationDetail
from sms_ktp.backoffice.staff import Role
from sms_ktp.web.staff.application_actions import (
    Refused,
    audit_decision,
    confirmed,
    decide,
    missing,
    visible_application,
)
from sms_ktp.web.staff.applications import cancellation_note, confirm_cancel
from sms_ktp.web.staff.blueprint import connect, me, require, runtime, staff

ROLES = (Role.ADMIN, Role.OPERATOR, Role.HELPER)  # whoever registers at the counter
NOT_YOURS = ("Permohonan ini sudah diverifikasi atau bukan pendaftaran Anda: tidak bisa "
             "diperbaiki atau dibatalkan di sini lagi.")


def _mine(found: ApplicationDetail) -> bool:
    with connect() as connection:
        made_by = corrections.registrant(connection, found.id)
    return corrections.may_change(found.stage, made_by, me().actor)


def _form(found: ApplicationDetail, typed: dict[str, str], problems: dict[str, str]) -> str:
    catalogue = messages("id")
    return render_template("staff/correct.html", app=found, typed=typed, problems=problems,
                           reasons=[(code, catalogue[f"reason.{code}"]) for code in REASONS])


@staff.get("/applications/<reference>/correct")
@require(*ROLES)
def application_correct(reference: str) -> Any:
    found = visible_application(reference)
    if found is None:
        return missing(reference)
    if not _mine(found):
        flash(NOT_YOURS, "error")
        return redirect(url_for("staff.application", reference=reference), code=303)
    return _form(found, {"reason": found.reason}, {})


@staff.post("/applications/<reference>/correct")
@require(*ROLES)
def application_correct_save(reference: str) -> Any:
    found = visible_application(reference)
    if found is None:
        return missing(reference)
    typed = {name: request.form.get(name, "")[:corrections.MAX_INPUT]
             for name in corrections.FIELDS}
    runtime_ = runtime()
    try:
        done = corrections.correct(runtime_.db, runtime_.clock, runtime_.quiet_hours, reference,
                                   typed, me().actor)
    except corrections.Refused as refused:
        if "" in refused.problems:
            flash(refused.problems[""], "error")
            return redirect(url_for("staff.application", reference=reference), code=303)
        # the numbers typed are not sent back into the page
        return _form(found, {"reason": typed["reason"], "suket": typed["suket"]},
                     refused.problems), 200
    if not done.changes:
        flash("Tidak ada yang berubah: isian yang kosong tetap seperti sebelumnya.", "ok")
    else:
        audit_decision("application.correct", reference, "; ".join(done.changes))
        told = (" Keluarga diberi tahu lewat SMS." if done.sms else
                " Tanpa SMS: yang dibaca keluarga tidak berubah.")
        flash("Data diperbaiki: " + "; ".join(done.changes) + "." + told, "ok")
    return redirect(url_for("staff.application", reference=reference), code=303)


@staff.post("/applications/<reference>/withdraw")
@require(*ROLES)
def application_withdraw(reference: str) -> Response:
    """The registrant cancels the registration they made (confirmed first)."""
    def act(found: ApplicationDetail) -> str | Response:
        if not _mine(found):
            raise Refused(NOT_YOURS)
        note = cancellation_note()
        if not confirmed():
            return confirm_cancel(found, "staff.application_withdraw", note)
        runtime_ = runtime()
        try:
            decisions.cancel(runtime_.db, runtime_.clock, runtime_.quiet_hours, reference,
                             f"dibatalkan oleh pendaftar: {note}", me().actor)
        except decisions.DecisionRefused:
            raise Refused("Permohonan ini sudah ditutup.") from None
        audit_decision("application.cancel", reference, f"oleh pendaftar; catatan: {note}")
        return "Pendaftaran dibatalkan. Warga diberi tahu lewat SMS."

    return decide(reference, act)
