"""Verifikasi: the office's queue of applications waiting for staff to check them, oldest first,
and the double records waiting for the resident's visit. From the queue, staff verify one
application or all those ticked (on to penunggalan, no SMS: `applications.verification`), or
reject one with the reason the family reads (confirmed first, like on the application's page);
a double record resolved goes back to the print queue with one SMS.

An operator sees and acts on their own kecamatan only; every action is a POST with the CSRF
token, audited per application, and answered with a redirect back to the queue.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from sms_ktp.applications import decisions, verification
from sms_ktp.backoffice.search import ApplicationDetail, kecamatan_name
from sms_ktp.backoffice.staff import Role
from sms_ktp.domain.reference import normalise_reference
from sms_ktp.web.staff.application_actions import (
    ACTORS,
    Refused,
    audit_decision,
    decide,
    labels,
)
from sms_ktp.web.staff.blueprint import connect, me, record, require, runtime, staff
from sms_ktp.web.staff.paging import requested_page

MAX_TICKED = verification.PAGE_SIZE  # one page of the queue at a time


def _office() -> str | None:
    person = me()
    return person.office if person.role is Role.OPERATOR else None


@staff.get("/verification", endpoint="verification")  # the menu's name (`blueprint.NAV`)
@require(*ACTORS)
def verification_queue() -> str:
    with connect() as connection:
        queue = verification.waiting(connection, office=_office(), page=requested_page())
        doubles = verification.double_records(connection, office=_office())
    return render_template("staff/verification.html", queue=queue, doubles=doubles,
                           doubles_limit=verification.DOUBLE_RECORD_LIMIT,
                           kecamatan=kecamatan_name, registrant=registrant,
                           reason_limit=decisions.reason_budget(),
                           note_limit=decisions.NOTE_LIMIT, **labels())


@staff.post("/verification")
@require(*ACTORS)
def verification_verify_ticked() -> Response:
    """Verify every application ticked in the queue."""
    references = [ref for ref in request.form.getlist("references")[:MAX_TICKED]
                  if normalise_reference(ref[:9]) == ref]
    if not references:
        flash("Centang permohonan yang datanya sudah diperiksa, lalu tekan Verifikasi.", "error")
        return redirect(url_for("staff.verification"), code=303)
    runtime_ = runtime()
    result = verification.verify(runtime_.db, runtime_.clock, runtime_.quiet_hours, references,
                                 me().actor, office=_office())
    with connect() as connection:
        for reference in result.done:
            record(connection, "application.verify", f"application {reference}",
                   "diverifikasi, lanjut penunggalan")
    flash(_outcome(result), "ok" if result.done else "error")
    return redirect(url_for("staff.verification"), code=303)


@staff.post("/applications/<reference>/verify")
@require(*ACTORS)
def application_verify(reference: str) -> Response:
    def act(found: ApplicationDetail) -> str:
        runtime_ = runtime()
        result = verification.verify(runtime_.db, runtime_.clock, runtime_.quiet_hours,
                                     [reference], me().actor, office=_office())
        if not result.done:
            raise Refused("Permohonan ini tidak (lagi) menunggu verifikasi.")
        audit_decision("application.verify", reference, "diverifikasi, lanjut penunggalan")
        return ("Permohonan diverifikasi dan menunggu penunggalan di Kemendagri. Warga tidak "
                "dikirimi SMS; kabar berikutnya datang setelah penunggalan.")

    return decide(reference, act)


def _outcome(result: verification.Verified) -> str:
    said = []
    if result.done:
        said.append(f"{len(result.done)} permohonan diverifikasi dan menunggu penunggalan "
                    "(tanpa SMS ke warga).")
    if result.skipped:
        said.append(f"{len(result.skipped)} tidak lagi menunggu verifikasi (sudah diverifikasi, "
                    "ditolak atau dibatalkan): " + ", ".join(result.skipped[:10]) + ".")
    return " ".join(said)


def registrant(actor: str) -> str:
    """Who registered an application, as the office says it."""
    if actor.startswith("staff:"):
        return f"petugas {actor.removeprefix('staff:')}"
    if actor.startswith("resident:"):
        return f"warga lewat {actor.removeprefix('resident:').upper()}"
    return actor or "-"
