"""Penunggalan results uploaded by an admin: the CSV or XLSX file Kemendagri sends, put through
exactly the import of `sms-ktp penunggalan import`, with the same summary and an outcome for
every line.

The answer is the report itself, not a redirect: it is read once, against the file, and
sending the same file again (a reload that posts again) changes nothing."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import render_template, request, session
from werkzeug.exceptions import RequestEntityTooLarge

from sms_ktp.applications import penunggalan
from sms_ktp.backoffice.staff import Role
from sms_ktp.domain.masking import redact
from sms_ktp.web.staff.blueprint import (
    SESSION_TOKEN,
    connect,
    me,
    record,
    require,
    runtime,
    staff,
)
from sms_ktp.web.staff.error_pages import error_page

# The application refuses bodies over 64 KiB (webhooks); a day's results of a large city are a
# few MiB (about 40 bytes a row).
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
SHOWN_ROWS = 1000  # lines listed in each table of the page; the counts cover them all


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
        return error_page(error)
    return render_template("staff/penunggalan.html", max_mib=_max_mib(),
                           error=f"Berkas terlalu besar: paling besar {_max_mib()} MB. "
                                 "Bagi menjadi beberapa berkas lalu unggah satu per satu."), 413


@staff.route("/penunggalan", methods=["GET", "POST"], endpoint="penunggalan")
@require(Role.ADMIN)
def import_results() -> Any:
    if request.method == "GET":
        return render_template("staff/penunggalan.html", max_mib=_max_mib())
    request.max_content_length = MAX_UPLOAD_BYTES  # (already raised before the CSRF check)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _refuse("Pilih berkas hasil penunggalan (CSV atau XLSX) terlebih dahulu.")
    file_name = redact(upload.filename)[:60]
    summary = penunggalan.Summary()
    try:
        rows = list(penunggalan.read_file(upload.read(), summary))
    except penunggalan.UnreadableFile as error:
        return _refuse(str(error))
    engine = runtime()
    penunggalan.apply(engine.db, engine.clock, engine.quiet_hours, rows, summary, me().actor)
    with connect() as connection:
        record(connection, "penunggalan.import", f"file {file_name}", summary.in_words())
    # The outcomes never carry a full NIK; `redact` makes sure of it even for a NIK typed into
    # the wrong column.
    outcomes = [replace(outcome, words=redact(outcome.words)) for outcome in summary.by_line()]
    problems = [outcome for outcome in outcomes
                if outcome.kind in (penunggalan.INVALID, penunggalan.UNKNOWN)]
    page = render_template("staff/penunggalan.html", max_mib=_max_mib(), summary=summary,
                           problems=problems[:SHOWN_ROWS],
                           more_problems=len(problems) - SHOWN_ROWS,
                           outcomes=outcomes[:SHOWN_ROWS], more_rows=len(outcomes) - SHOWN_ROWS,
                           file_name=file_name,
                           error=penunggalan.ALL_REJECTED if summary.all_rejected else None)
    # Nothing taken from the whole file (a wrong file, most likely): said, and not a success.
    return page, 422 if summary.all_rejected else 200


def _refuse(message: str) -> tuple[str, int]:
    return render_template("staff/penunggalan.html", max_mib=_max_mib(), error=message), 400


def _max_mib() -> int:
    return MAX_UPLOAD_BYTES // (1024 * 1024)
