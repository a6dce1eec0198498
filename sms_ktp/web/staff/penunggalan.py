"""Penunggalan results uploaded by an admin: the CSV file Kemendagri sends (`nik,result,note`),
put through exactly the import of `sms-ktp penunggalan import`, with the same summary."""

from __future__ import annotations

from typing import Any

from flask import render_template, request, session
from werkzeug.exceptions import RequestEntityTooLarge

from sms_ktp.applications import penunggalan
from sms_ktp.backoffice.staff import Role
from sms_ktp.domain.masking import redact
from sms_ktp.web import error_pages
from sms_ktp.web.staff.blueprint import (
    SESSION_TOKEN,
    connect,
    me,
    record,
    require,
    runtime,
    staff,
)

# The application refuses bodies over 64 KiB (webhooks); a day's results of a large city are a
# few MiB (about 40 bytes a row).
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
SHOWN_INVALID = 1000  # invalid rows listed on the page; the counts cover them all


@staff.before_app_request
def _allow_large_upload() -> None:
    """Raise the body limit for this upload only, and only for a signed-in session: the CSRF
    check reads the form before the view runs, so the view would be too late to do it."""
    if (request.endpoint == "staff.penunggalan" and request.method == "POST"
            and session.get(SESSION_TOKEN) is not None):
        request.max_content_length = MAX_UPLOAD_BYTES


@staff.errorhandler(RequestEntityTooLarge)
def _too_large(error: RequestEntityTooLarge) -> Any:
    if request.endpoint != "staff.penunggalan":
        return error_pages.error_page(error)
    return render_template("staff/penunggalan.html", max_mib=_max_mib(),
                           error=f"Berkas terlalu besar: paling besar {_max_mib()} MiB. "
                                 "Bagi menjadi beberapa berkas lalu unggah satu per satu."), 413


@staff.route("/penunggalan", methods=["GET", "POST"], endpoint="penunggalan")
@require(Role.ADMIN)
def import_results() -> Any:
    if request.method == "GET":
        return render_template("staff/penunggalan.html", max_mib=_max_mib())
    request.max_content_length = MAX_UPLOAD_BYTES  # (already raised before the CSRF check)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _refuse("Pilih berkas CSV hasil penunggalan terlebih dahulu.")
    try:
        text = upload.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        return _refuse("Berkas bukan teks UTF-8. Simpan sebagai \"CSV UTF-8\" lalu unggah lagi.")
    file_name = redact(upload.filename)[:60]
    summary = penunggalan.Summary()
    rows = list(penunggalan.read_csv(text, summary))
    read = len(rows) + len(summary.invalid)
    engine = runtime()
    penunggalan.apply(engine.db, engine.clock, engine.quiet_hours, rows, summary, me().actor)
    invalid = sorted(summary.invalid)
    with connect() as connection:
        record(connection, "penunggalan.import", f"csv {file_name}",
               f"rows={read} applied={summary.applied} "
               f"unknown_nik={summary.unknown} already_applied={summary.already} "
               f"invalid={len(invalid)}")
    # The reasons never carry a full NIK; `redact` makes sure of it even for a NIK typed into
    # the wrong column.
    shown = [(line, redact(reason)) for line, reason in invalid[:SHOWN_INVALID]]
    page = render_template("staff/penunggalan.html", max_mib=_max_mib(), summary=summary,
                           invalid=shown, more_invalid=len(invalid) - len(shown),
                           file_name=file_name,
                           error=penunggalan.ALL_REJECTED if summary.all_rejected else None)
    # Nothing taken from the whole file (a wrong file, most likely): said, and not a success.
    return page, 422 if summary.all_rejected else 200


def _refuse(message: str) -> tuple[str, int]:
    return render_template("staff/penunggalan.html", max_mib=_max_mib(), error=message), 400


def _max_mib() -> int:
    return MAX_UPLOAD_BYTES // (1024 * 1024)
