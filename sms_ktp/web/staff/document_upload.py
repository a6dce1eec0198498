"""A KK's or akta's signed PDF on its application's page: staff upload it (only a PDF, at most
`[documents] max_upload_mb`; several to one application), download it to print it at the
office (audited), and renew the family's link and PIN (a new code and PIN, the old ones stop
working, the same SMS again), confirmed on a page that shows that SMS with the code and PIN
hidden. The link's state is shown (valid until, wrong PINs, locked, first downloaded), never its
code or PIN (`sms_ktp.applications.document_files`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import flash, redirect, request, session, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from sms_ktp.applications import document_files
from sms_ktp.applications.document_files import DocumentRefused
from sms_ktp.backoffice.search import ApplicationDetail
from sms_ktp.domain import documents
from sms_ktp.domain.stages import Stage
from sms_ktp.models import DocumentLink
from sms_ktp.web.addresses import request_address
from sms_ktp.web.pdf_response import pdf_attachment
from sms_ktp.web.staff.application_actions import (
    ACTORS,
    Refused,
    confirmation,
    confirmed,
    decide,
    missing,
    visible_application,
)
from sms_ktp.web.staff.blueprint import (
    SESSION_TOKEN,
    connect,
    me,
    now,
    require,
    runtime,
    staff,
)

_LINK = DocumentLink.__table__
# What staff read when a step is refused (`DocumentRefused.why`).
REFUSALS = {
    "unknown": "Permohonan atau berkas tidak ditemukan.",
    "not_pdf_document": "Permohonan ini untuk kartu, bukan dokumen PDF.",
    "stage": "Dokumen PDF diunggah setelah berkas lengkap dan sebelum diserahkan (tahap berkas "
             "lengkap, ditandatangani atau jadi).",
    "empty": "Berkas kosong. Pilih berkas PDF hasil TTE.",
    "not_pdf": "Berkas bukan PDF. Unggah dokumen PDF hasil tanda tangan elektronik (TTE).",
    "no_files": "Belum ada dokumen PDF: unggah dulu dokumen yang sudah ditandatangani.",
}
_UPLOAD_MARGIN = 64 * 1024  # the form's other fields and the multipart framing


def _limit_bytes() -> int:
    return document_files.max_bytes(runtime().settings)


def _too_large_words() -> str:
    return (f"Berkas terlalu besar: paling besar {runtime().settings.documents.max_upload_mb} "
            "MB. Perkecil PDF-nya (mis. pindai ulang dengan resolusi lebih rendah), lalu "
            "unggah lagi.")


@staff.before_app_request
def _allow_pdf_upload() -> Response | None:
    """Raise the body limit for this upload only, and only for a signed-in session, before the
    CSRF check reads the form; a file over the limit is refused here, with the reason, before
    anything reads it."""
    if request.endpoint != "staff.document_upload" or request.method != "POST" \
            or session.get(SESSION_TOKEN) is None:
        return None
    limit = _limit_bytes() + _UPLOAD_MARGIN
    if (request.content_length or 0) > limit:
        flash(_too_large_words(), "error")
        reference = (request.view_args or {}).get("reference", "")
        return redirect(url_for("staff.application", reference=reference) + "#dokumen",
                        code=303)
    request.max_content_length = limit
    return None


@dataclass(frozen=True)
class LinkView:
    """The family's current link as staff see it: never its code or PIN."""

    created_at: datetime
    expires_at: datetime
    failures: int
    locked_at: datetime | None
    downloaded_at: datetime | None
    expired: bool


@dataclass(frozen=True)
class Panel:
    files: list[document_files.FileInfo]
    link: LinkView | None
    can_upload: bool
    can_renew: bool
    can_download: bool
    max_mb: int
    pin_attempts: int


@staff.app_template_global("document_panel")
def document_panel(app: ApplicationDetail) -> Panel | None:
    """The signed PDFs of an application of a PDF document, for its page; None for a card."""
    if documents.document(app.document).output is not documents.Output.PDF:
        return None
    with connect() as connection:
        files = document_files.files(connection, app.id)
        link = connection.execute(
            select(_LINK).where(_LINK.c.application_id == app.id, _LINK.c.ended_at.is_(None))
            .order_by(_LINK.c.id.desc()).limit(1)).first()
    acting = me().role in ACTORS
    settings = runtime().settings
    shown = None if link is None else LinkView(
        link.created_at, link.expires_at, link.failures, link.locked_at, link.downloaded_at,
        link.expires_at <= now())
    return Panel(files, shown, acting and app.stage in document_files.ATTACHABLE,
                 acting and app.stage == Stage.READY.value, acting,
                 settings.documents.max_upload_mb, settings.documents.pin_attempts)


@staff.post("/applications/<reference>/documents", endpoint="document_upload")
@require(*ACTORS)
def upload(reference: str) -> Response:
    """A signed PDF attached to the application (audited)."""
    def act(found: ApplicationDetail) -> str:
        sent = request.files.get("file")
        if sent is None or not sent.filename:
            raise Refused("Pilih berkas PDF hasil TTE terlebih dahulu.")
        if sent.mimetype != "application/pdf":
            raise Refused(REFUSALS["not_pdf"])
        content = sent.read(_limit_bytes() + 1)
        if len(content) > _limit_bytes():
            raise Refused(_too_large_words())
        try:
            with connect() as connection:
                attached = document_files.attach(
                    connection, found.reference, sent.filename, content,
                    settings=runtime().settings, actor=me().actor, now=now(),
                    address=request_address())
        except DocumentRefused as refused:
            raise Refused(REFUSALS.get(refused.why, str(refused))) from None
        return f"Dokumen {attached.name} diunggah ({_size(attached.size)})."

    return _back_to_files(decide(reference, act))


@staff.get("/applications/<reference>/documents/<int:file_id>", endpoint="document_file")
@require(*ACTORS)
def download(reference: str, file_id: int) -> Response:
    """A file for staff to print at the office (audited)."""
    found = visible_application(reference)
    if found is None:
        return missing(reference)
    try:
        with connect() as connection:
            name, content = document_files.staff_download(
                connection, found.reference, file_id, actor=me().actor, now=now(),
                address=request_address())
    except DocumentRefused:
        return missing(reference)
    return pdf_attachment(name, content)


@staff.post("/applications/<reference>/documents/renew", endpoint="document_renew")
@require(*ACTORS)
def renew(reference: str) -> Response:
    """A new link and PIN for the family, after a confirmation showing the SMS."""
    def act(found: ApplicationDetail) -> str | Response:
        if found.stage != Stage.READY.value:
            raise Refused("Tautan hanya diperbarui untuk permohonan berstatus jadi.")
        settings = runtime().settings
        if not confirmed():
            return confirmation(
                found, title=f"Kirim tautan dan PIN baru untuk {found.reference}?",
                action="staff.document_renew", button="Ya, kirim tautan baru",
                effects=["Tautan dan PIN lama tidak berlaku lagi (juga bila terkunci).",
                         f"Tautan baru berlaku {settings.documents.link_days} hari; kode dan "
                         "PIN hanya dikirim ke HP keluarga, petugas tidak melihatnya.",
                         "Tercatat di log audit."],
                sms_key=document_files.READY_SMS,
                sms_params=document_files.hidden_params(settings, found.document, now()))
        try:
            with connect() as connection:
                document_files.renew(connection, found.reference, now(), settings,
                                     runtime().quiet_hours, actor=me().actor,
                                     address=request_address())
        except DocumentRefused as refused:
            raise Refused(REFUSALS.get(refused.why, str(refused))) from None
        return "Tautan dan PIN baru dikirim ke HP keluarga lewat SMS."

    return _back_to_files(decide(reference, act))


def _back_to_files(response: Response) -> Response:
    """Back to the application's page at its documents."""
    if response.status_code == 303 and "#" not in (response.location or ""):
        response.location = f"{response.location}#dokumen"
    return response


def _size(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB" if size >= 1024 * 1024 else f"{-(-size // 1024)} KB"
