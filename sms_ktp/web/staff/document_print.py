"""Cetak dokumen: a KK's or akta's signed PDF printed at a kelurahan or kecamatan office for the
family who quotes the code of its SMS (`sms_ktp.applications.document_files`).

Staff type the code in the counter's search box (`counter`), which opens the application's
print page, named by its reference: the code is never shown, neither on a page nor in a URL.
Like the pickup code's, the session keeps only a proof of it: a keyed hash of the application
and the code, valid for `PROOF_MINUTES`, checked against the application's current link at every
print (a code renewed meanwhile prints nothing).

Who may print: admins any application; an operator those of their kecamatan; a kelurahan
helper those of a family of their kelurahan (registered there by one of its helpers, or with the
kelurahan as its contact) or whose code the family gave them. Every print is audited; the first
one of a ready application moves it to `collected` (no SMS).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from typing import Any

from flask import current_app, flash, redirect, render_template, session, url_for
from sqlalchemy import exists, select
from werkzeug.wrappers import Response

from sms_ktp.applications import document_files
from sms_ktp.applications.document_files import DocumentRefused
from sms_ktp.backoffice.search import ApplicationDetail, detail
from sms_ktp.backoffice.staff import Role
from sms_ktp.backoffice.wording import document_words
from sms_ktp.domain import documents
from sms_ktp.domain.contact_address import kelurahan_in
from sms_ktp.domain.stages import Stage
from sms_ktp.models import Application, ApplicationEvent, Family, StaffUser
from sms_ktp.web.addresses import request_address
from sms_ktp.web.pdf_response import pdf_attachment
from sms_ktp.web.staff.application_actions import missing, visible
from sms_ktp.web.staff.blueprint import connect, me, my_kelurahan, now, require, runtime, staff

ROLES = (Role.ADMIN, Role.OPERATOR, Role.HELPER)
PROOF_MINUTES = 30  # a family at the office: the code typed holds while it is served
# Where a signed PDF is printed for the family: once it is delivered to them.
PRINT_STAGES = frozenset({Stage.READY.value, Stage.COLLECTED.value})
_PROOF = "document_proof"
_APPLICATION = Application.__table__
_FAMILY = Family.__table__
_EVENT = ApplicationEvent.__table__
_STAFF = StaffUser.__table__


def open_by_code(code: str) -> Response:
    """The counter's search found a signed PDF's code: its print page, with the proof kept."""
    settings = runtime().settings
    with connect() as connection:
        state = document_files.link_state(connection, code, now(), settings)
        found = (visible(detail(connection, state.reference))
                 if state.status in document_files.PRINTABLE else None)
    if found is None:
        if state.status == "ended":
            flash("Kode dokumen ini sudah tidak berlaku: tautannya sudah diperbarui atau "
                  "permohonannya ditutup. Minta warga menunjukkan SMS dokumen terbaru.", "error")
        else:
            where = " di kecamatan Anda" if me().role is Role.OPERATOR else ""
            flash(f"Kode dokumen tidak ditemukan{where}. Periksa lagi 8 huruf/angka kode di "
                  "SMS warga.", "error")
        return redirect(url_for("staff.counter"), code=303)
    session[_PROOF] = {"application": found.id, "mac": _mac(found.id, code),
                       "until": (now() + timedelta(minutes=PROOF_MINUTES)).timestamp()}
    return redirect(url_for("staff.document_print", reference=found.reference), code=303)


@staff.app_template_global("may_print")
def may_print(found: ApplicationDetail) -> bool:
    """Whether the signed-in member of staff may print this (visible) application's PDFs."""
    person = me()
    if person.role in (Role.ADMIN, Role.OPERATOR):
        return True
    if person.role is not Role.HELPER:
        return False
    with connect() as connection:
        return _proven(connection, found.id) or _of_my_kelurahan(connection, found.id)


def _proven(connection: Any, application_id: int) -> bool:
    """The code typed at this office is the application's current one, while the proof holds."""
    held = session.get(_PROOF)
    if not isinstance(held, dict) or held.get("application") != application_id:
        return False
    until, mac = held.get("until"), held.get("mac")
    if not isinstance(until, (int, float)) or until < now().timestamp() \
            or not isinstance(mac, str):
        return False
    return any(hmac.compare_digest(mac, _mac(application_id, code))
               for code in document_files.printable_codes(connection, application_id, now(),
                                                          runtime().settings))


def _of_my_kelurahan(connection: Any, application_id: int) -> bool:
    """The family has the helper's kelurahan as its contact, or one of its applications was
    registered by a helper of that kelurahan."""
    kelurahan = my_kelurahan()
    if kelurahan is None:
        return False
    family = connection.execute(
        select(_FAMILY.c.id, _FAMILY.c.phone).join(_APPLICATION,
                                                   _APPLICATION.c.family_id == _FAMILY.c.id)
        .where(_APPLICATION.c.id == application_id)).first()
    if family is None:
        return False
    if kelurahan_in(family.phone) == kelurahan:
        return True
    helpers = [f"staff:{name}"[:60] for name in connection.execute(
        select(_STAFF.c.username).where(_STAFF.c.role == Role.HELPER.value,
                                        _STAFF.c.office == kelurahan)).scalars()]
    return bool(helpers) and bool(connection.execute(select(exists().where(
        _EVENT.c.application_id == _APPLICATION.c.id, _APPLICATION.c.family_id == family.id,
        _EVENT.c.stage == Stage.SUBMITTED.value, _EVENT.c.actor.in_(helpers)))).scalar())


def _mac(application_id: int, code: str) -> str:
    key = current_app.secret_key
    secret = key.encode() if isinstance(key, str) else bytes(key or b"")
    return hmac.new(secret, f"document-proof:{application_id}:{code}".encode(),
                    hashlib.sha256).hexdigest()


def _printable(reference: str) -> tuple[ApplicationDetail | None, str]:
    """The application (visible, of a PDF document) and its document's code."""
    with connect() as connection:
        found = visible(detail(connection, reference))
    if found is None:
        return None, ""
    code = found.document
    if documents.document(code).output is not documents.Output.PDF:
        return None, code
    return found, code


def _refused(found: ApplicationDetail, code: str) -> Response:
    html = render_template("staff/document_print.html", app=found, refused=True,
                           document=document_words(code), files=[])
    return Response(html, status=403, mimetype="text/html")


@staff.get("/applications/<reference>/print", endpoint="document_print")
@require(*ROLES)
def print_page(reference: str) -> Response:
    """The application's signed PDFs, each with its print button."""
    found, code = _printable(reference)
    if found is None:
        return missing(reference)
    if not may_print(found):
        return _refused(found, code)
    with connect() as connection:
        files = document_files.files(connection, found.id)
    html = render_template("staff/document_print.html", app=found, refused=False,
                           document=document_words(code), files=files,
                           ready=found.stage in PRINT_STAGES)
    response = Response(html, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


@staff.post("/applications/<reference>/print/<int:file_id>", endpoint="document_print_file")
@require(*ROLES)
def print_file(reference: str, file_id: int) -> Response:
    """One file for the office's printer: audited; the first print of a ready application
    records it collected."""
    found, code = _printable(reference)
    if found is None:
        return missing(reference)
    if not may_print(found):
        return _refused(found, code)
    if found.stage not in PRINT_STAGES:
        flash("Dokumen dicetak untuk warga setelah permohonan berstatus siap diunduh.", "error")
        return redirect(url_for("staff.document_print", reference=found.reference), code=303)
    run = runtime()
    try:
        with connect() as connection:
            name, content = document_files.print_file(
                connection, found.reference, file_id, now=now(), quiet=run.quiet_hours,
                actor=me().actor, address=request_address())
    except DocumentRefused:
        return missing(reference)
    return pdf_attachment(name, content)
