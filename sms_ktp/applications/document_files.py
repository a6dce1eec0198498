"""Signed PDFs (a KK, an akta) delivered without a visit: staff attach the PDF(s) to the
application, and when it is ready the family phone gets one SMS with a link under `[server]
public_url` (`/d/<code>`), a 6-digit PIN and the last day they work, or the same code to quote
at a kelurahan or kecamatan office that prints it.

- A file is sealed with the data key like a NIK (AES-GCM, `crypto.encrypt_bytes`), bound to its
  application: a file copied into another application's row does not open. Only a PDF is taken
  (its `%PDF-` signature), up to `[documents] max_upload_mb`; an application may carry several
  (an akta kelahiran with the updated KK and the KIA).
- The link's code is 8 letters of the pickup codes' alphabet (78 thousand million codes, drawn
  at random, never twice); the PIN is kept only as a salted keyed hash. `[documents]
  pin_attempts` wrong PINs in a row lock the link until staff renew it; renewing draws a new
  code and PIN (the old ones stop working) and sends the same SMS again.
- The code and the PIN are the family's proof, like a pickup code: staff never read them
  (`hidden_codes` hides them in every SMS staff see).
- Every upload and every download is audited; the first download moves the application from
  `ready` to `collected`.
- At a kelurahan or kecamatan office the family quotes the code and staff print the PDF
  (`print_file`, audited): the code proves the family asked (no PIN: the family is there in
  person), while its link is not ended (renewed, or the application closed or erased), also
  once locked by wrong PINs or past the download's last day. The first print of a ready
  application moves it to `collected` as the first download does (no SMS).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, LargeBinary, exists, func, insert, literal, select, update

from flows.catalogue import Msg, messages, render
from sms_ktp import crypto
from sms_ktp.applications.pickup import CODE_ALPHABET
from sms_ktp.applications.pipeline import change_stage, notice_rows
from sms_ktp.domain import documents
from sms_ktp.domain.pickup_calendar import local
from sms_ktp.domain.quiet_hours import QuietHours
from sms_ktp.domain.stages import Stage
from sms_ktp.messaging.outbox import enqueue_many, supersede
from sms_ktp.models import Application, DocumentFile, DocumentLink, UtcDateTime
from sms_ktp.platform import audit
from sms_ktp.platform.config import Settings, public_url

LINK_CODE_LENGTH = 8
PIN_DIGITS = 6
PDF_SIGNATURE = b"%PDF-"
NAME_LIMIT = 80  # characters of a file's name kept (and shown in the list of files)
READY_SMS = "notify.document_ready"
ACTOR = "system:documents"
DOWNLOADER = "resident:link"  # who downloads: the family, with the link and its PIN
DOWNLOAD_NOTE = "downloaded by the family"
# The audit log's actions.
ATTACH_ACTION = "document.attach"
DOWNLOAD_ACTION = "document.download"
STAFF_DOWNLOAD_ACTION = "document.staff_download"
PRINT_ACTION = "document.print"
PRINT_NOTE = "printed at the office for the family"
# The link's states (`LinkState.status`) in which its code, quoted at an office, prints.
PRINTABLE = frozenset({"open", "locked", "expired"})
RENEW_ACTION = "document.renew_link"
WRONG_PIN_ACTION = "document.wrong_pin"
LOCK_ACTION = "document.link_locked"
# Where an application may take a signed PDF: once its papers were checked, until the family
# has it.
ATTACHABLE = frozenset({Stage.PAPERS_CHECKED.value, Stage.SIGNED.value, Stage.READY.value})

_APPLICATION = Application.__table__
_FILE = DocumentFile.__table__
_LINK = DocumentLink.__table__
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ ()-]+")


class DocumentRefused(Exception):
    """A step not taken (nothing changed). `why`: "unknown" (no such application or file),
    "not_pdf_document" (its document is a card), "stage" (not at a stage that takes it),
    "empty", "too_large", "not_pdf", "no_files" (ready without a signed PDF), "no_link"."""

    def __init__(self, why: str, message: str) -> None:
        super().__init__(message)
        self.why = why


# --- files --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FileInfo:
    """A file as staff and the family see it: never its bytes."""

    id: int
    name: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: datetime


def _purpose(application_id: int) -> str:
    return f"document_file.content:{application_id}"


def clean_name(name: str, fallback: str) -> str:
    """A file name safe in a header and a page: its last part, letters, digits and a few
    signs, at most `NAME_LIMIT` characters, ending in .pdf."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = " ".join(_SAFE_NAME.sub(" ", base).split()).strip(" .")
    stem = re.sub(r"(?i)\.pdf$", "", base).strip(" .")[:NAME_LIMIT - 4] or fallback
    return f"{stem}.pdf"


def check_pdf(content: bytes, max_bytes: int) -> None:
    """Refuses what is not a PDF of at most `max_bytes`."""
    if not content:
        raise DocumentRefused("empty", "the file is empty")
    if len(content) > max_bytes:
        raise DocumentRefused("too_large", f"the file is {len(content)} bytes: at most "
                                           f"{max_bytes} bytes")
    if not content.startswith(PDF_SIGNATURE):
        raise DocumentRefused("not_pdf", "not a PDF (it does not begin with %PDF-)")


def max_bytes(settings: Settings) -> int:
    return settings.documents.max_upload_mb * 1024 * 1024


def _application(connection: Connection, reference: str, *, lock: bool = False) -> Any:
    query = select(_APPLICATION.c.id, _APPLICATION.c.reference, _APPLICATION.c.document,
                   _APPLICATION.c.stage, _APPLICATION.c.erased_at).where(
        _APPLICATION.c.reference == reference.strip())
    row = connection.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise DocumentRefused("unknown", f"no application with ref {reference.strip()[:20]}")
    if documents.document(row.document).output is not documents.Output.PDF:
        raise DocumentRefused("not_pdf_document", f"ref {row.reference} is for a "
                                                  f"{row.document}, which is a card, not a PDF")
    return row


def attach(connection: Connection, reference: str, name: str, content: bytes, *,
           settings: Settings, actor: str, now: datetime, address: str = "") -> FileInfo:
    """Attach a signed PDF to the application with this reference (audited)."""
    row = _application(connection, reference, lock=True)
    if row.erased_at is not None or row.stage not in ATTACHABLE:
        raise DocumentRefused("stage", f"ref {row.reference} is {row.stage}: a signed PDF is "
                                       "attached once its papers are checked, until it is "
                                       "collected")
    check_pdf(content, max_bytes(settings))
    shown = clean_name(name, f"{row.document}-{row.reference}")
    digest = hashlib.sha256(content).hexdigest()
    file_id = connection.execute(insert(_FILE).values(
        application_id=row.id, name=shown, size=len(content), sha256=digest,
        content=crypto.encrypt_bytes(content, _purpose(row.id)), uploaded_by=actor[:60],
        uploaded_at=now).returning(_FILE.c.id)).scalar_one()
    audit.record(connection, now, actor, ATTACH_ACTION, f"application {row.reference}",
                 f"file {file_id}: {len(content)} bytes, sha256 {digest[:16]}", address)
    return FileInfo(file_id, shown, len(content), digest, actor[:60], now)


def files(connection: Connection, application_id: int) -> list[FileInfo]:
    """The application's files still held, in the order they were attached."""
    rows = connection.execute(
        select(_FILE.c.id, _FILE.c.name, _FILE.c.size, _FILE.c.sha256, _FILE.c.uploaded_by,
               _FILE.c.uploaded_at)
        .where(_FILE.c.application_id == application_id, _FILE.c.erased_at.is_(None))
        .order_by(_FILE.c.id)).all()
    return [FileInfo(row.id, row.name or "", row.size, row.sha256 or "", row.uploaded_by,
                     row.uploaded_at) for row in rows]


def open_file(connection: Connection, application_id: int, file_id: int) -> tuple[str, bytes]:
    """A file's name and bytes, opened."""
    row = connection.execute(
        select(_FILE.c.name, _FILE.c.content)
        .where(_FILE.c.id == file_id, _FILE.c.application_id == application_id,
               _FILE.c.erased_at.is_(None))).first()
    if row is None or row.content is None:
        raise DocumentRefused("unknown", f"no file {file_id} for this application")
    return row.name or f"{file_id}.pdf", crypto.decrypt_bytes(row.content,
                                                               _purpose(application_id))


def staff_download(connection: Connection, reference: str, file_id: int, *, actor: str,
                   now: datetime, address: str = "") -> tuple[str, bytes]:
    """A file for staff (to print it at the office): audited."""
    row = _application(connection, reference)
    name, content = open_file(connection, row.id, file_id)
    audit.record(connection, now, actor, STAFF_DOWNLOAD_ACTION, f"application {row.reference}",
                 f"file {file_id}", address)
    return name, content


def print_file(connection: Connection, reference: str, file_id: int, *, now: datetime,
               quiet: QuietHours, actor: str, address: str = "") -> tuple[str, bytes]:
    """A file printed at the office for the family (who may print is the caller's business):
    audited; the first print of a ready application moves it to `collected`, with no SMS."""
    row = _application(connection, reference, lock=True)
    name, content = open_file(connection, row.id, file_id)
    audit.record(connection, now, actor, PRINT_ACTION, f"application {row.reference}",
                 f"file {file_id}", address)
    if row.stage == Stage.READY.value and row.erased_at is None:
        change_stage(connection, row.id, Stage.COLLECTED, actor=actor, now=now, quiet=quiet,
                     note=PRINT_NOTE, notice="", values={"collected_at": now})
    return name, content


def printable_codes(connection: Connection, application_id: int, now: datetime,
                    settings: Settings) -> list[str]:
    """The codes of the application's links that print at an office (`PRINTABLE`): the one
    the family was last sent, while it holds."""
    codes = connection.execute(select(_LINK.c.code).where(
        _LINK.c.application_id == application_id, _LINK.c.ended_at.is_(None),
        _LINK.c.code.is_not(None))).scalars().all()
    return [code for code in codes
            if link_state(connection, code, now, settings).status in PRINTABLE]


# --- the link and its PIN -----------------------------------------------------------------------

def _new_code(connection: Connection) -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(LINK_CODE_LENGTH))
        if not connection.execute(select(exists().where(_LINK.c.code == code))).scalar():
            return code


def _seal_pin(pin: str) -> str:
    salt = secrets.token_hex(8)
    return f"{salt}:{crypto.keyed_hash(f'{salt}:{pin}', 'document_pin')}"


def _pin_matches(sealed: str | None, pin: str) -> bool:
    if not sealed:
        return False
    salt, _, expected = sealed.partition(":")
    return hmac.compare_digest(crypto.keyed_hash(f"{salt}:{pin}", "document_pin"), expected)


def expiry(now: datetime, days: int) -> datetime:
    """The end of the regency's day `days` days from now: the day the SMS names works whole."""
    last = local(now).date() + timedelta(days=days)
    return datetime.combine(last, time(23, 59, 59), local(now).tzinfo).astimezone(now.tzinfo)


def link_url(settings: Settings, code: str) -> str:
    return f"{public_url(settings)}/d/{code}"


def _document_name(language: str, code: str) -> Any:
    """The document's short name in the reader's language (`<code>.name`)."""
    key = f"{code}.name"
    return Msg(key) if key in messages(language) else code.upper()


def _last_day(expires: datetime) -> str:
    """The link's last day as its SMS says it: "31/12"."""
    until = local(expires)
    return f"{until.day:02d}/{until.month:02d}"


def hidden_params(settings: Settings, document: str, now: datetime) -> dict[str, Any]:
    """The ready SMS's placeholders as staff may read them (a confirmation's preview): the
    code and the PIN as asterisks."""
    hidden = "*" * LINK_CODE_LENGTH
    return {"document": _document_name("id", document), "link": link_url(settings, hidden),
            "pin": "*" * PIN_DIGITS, "code": hidden,
            "until": _last_day(expiry(now, settings.documents.link_days))}


@dataclass(frozen=True)
class Sent:
    """A link made and its SMS queued: the SMS as staff may read it (code and PIN hidden)."""

    link_id: int
    expires_at: datetime
    shown: str
    phone: str  # where it goes


def notify_ready(connection: Connection, application_id: int, now: datetime,
                 settings: Settings, quiet: QuietHours, *, actor: str = ACTOR) -> Sent:
    """The application (of a PDF document, with its signed PDF attached) has reached `ready`:
    a new link and PIN, and one SMS to the family phone (held back in quiet hours). The stage
    engine calls it in the transaction of the change, and sends no notice of its own."""
    rows = connection.execute(
        notice_rows(_APPLICATION.c.document).where(_APPLICATION.c.id == application_id)).first()
    if rows is None:
        raise DocumentRefused("unknown", f"no application {application_id}")
    if documents.document(rows.document).output is not documents.Output.PDF:
        raise DocumentRefused("not_pdf_document", f"ref {rows.reference} is for a card")
    if not files(connection, application_id):
        raise DocumentRefused("no_files", f"ref {rows.reference} has no signed PDF: attach it "
                                          "first (sms-ktp application attach REF FILE)")
    _end_links(connection, application_id, now, "renewed")
    code = _new_code(connection)
    pin = "".join(secrets.choice("0123456789") for _ in range(PIN_DIGITS))
    expires = expiry(now, settings.documents.link_days)
    link_id = connection.execute(insert(_LINK).values(
        application_id=application_id, code=code, pin_hash=_seal_pin(pin),
        created_by=actor[:60], created_at=now, expires_at=expires, failures=0)
        .returning(_LINK.c.id)).scalar_one()
    text = render(rows.language, READY_SMS, document=_document_name(rows.language, rows.document),
                  ref=rows.reference, link=link_url(settings, code), pin=pin,
                  until=_last_day(expires), code=code)
    enqueue_many(connection, [(rows.phone, text)], now, kind="notification",
                 not_before=quiet.next_allowed(now), applications=[application_id],
                 notice=READY_SMS)
    hidden = "*" * LINK_CODE_LENGTH
    return Sent(link_id, expires, text.replace(code, hidden).replace(pin, "*" * PIN_DIGITS),
                rows.phone)


def _end_links(connection: Connection, application_id: int, now: datetime, why: str) -> None:
    connection.execute(update(_LINK).where(_LINK.c.application_id == application_id,
                                           _LINK.c.ended_at.is_(None))
                       .values(ended_at=now, ended_why=why))


def renew(connection: Connection, reference: str, now: datetime, settings: Settings,
          quiet: QuietHours, *, actor: str, address: str = "") -> Sent:
    """Staff renew the link of a ready application (locked, expired or lost): the old code and
    PIN stop working, a new SMS goes (its queued predecessor is not sent). Audited."""
    row = _application(connection, reference, lock=True)
    if row.stage != Stage.READY.value or row.erased_at is not None:
        raise DocumentRefused("stage", f"ref {row.reference} is {row.stage}: only a ready "
                                       "application's link is renewed")
    supersede(connection, [row.id])
    sent = notify_ready(connection, row.id, now, settings, quiet, actor=actor)
    audit.record(connection, now, actor, RENEW_ACTION, f"application {row.reference}",
                 f"link {sent.link_id}", address)
    return sent


@dataclass(frozen=True)
class LinkState:
    """What the code's page may say: "open" (asks the PIN), "expired", "locked", "ended"
    (renewed since, or the application closed), or "unknown"."""

    status: str
    link_id: int = 0
    application_id: int = 0
    reference: str = ""
    document: str = ""
    remaining: int = 0  # PINs left before it locks
    expires_at: datetime | None = None


def link_state(connection: Connection, code: str, now: datetime, settings: Settings, *,
               lock: bool = False) -> LinkState:
    code = code.strip().upper()
    if not re.fullmatch(rf"[{CODE_ALPHABET}]{{{LINK_CODE_LENGTH}}}", code):
        return LinkState("unknown")
    query = (select(_LINK.c.id, _LINK.c.application_id, _LINK.c.expires_at, _LINK.c.failures,
                    _LINK.c.locked_at, _LINK.c.ended_at, _APPLICATION.c.reference,
                    _APPLICATION.c.document, _APPLICATION.c.stage, _APPLICATION.c.erased_at)
             .join(_APPLICATION, _APPLICATION.c.id == _LINK.c.application_id)
             .where(_LINK.c.code == code))
    row = connection.execute(query.with_for_update(of=_LINK) if lock else query).first()
    if row is None:
        return LinkState("unknown")
    remaining = max(0, settings.documents.pin_attempts - row.failures)
    if (row.ended_at is not None or row.erased_at is not None
            or row.stage not in (Stage.READY.value, Stage.COLLECTED.value)):
        status = "ended"
    elif row.locked_at is not None or remaining <= 0:
        status = "locked"
    elif row.expires_at <= now:
        status = "expired"
    else:
        status = "open"
    return LinkState(status, row.id, row.application_id, row.reference, row.document,
                     remaining, row.expires_at)


@dataclass(frozen=True)
class PinResult:
    """A PIN typed: `state` after it (its status "open" with the files when right; "locked"
    when this was the last wrong try), and whether it was right."""

    state: LinkState
    right: bool
    files: Sequence[FileInfo] = ()


def try_pin(connection: Connection, code: str, pin: str, now: datetime, settings: Settings,
            *, address: str = "") -> PinResult:
    """Check the PIN of an open link: a wrong one counts (audited; the last one locks the
    link), a right one starts the count again."""
    state = link_state(connection, code, now, settings, lock=True)
    if state.status != "open":
        return PinResult(state, False)
    sealed = connection.execute(select(_LINK.c.pin_hash)
                                .where(_LINK.c.id == state.link_id)).scalar_one()
    target = f"application {state.reference}"
    if not _pin_matches(sealed, re.sub(r"\D", "", pin)[:PIN_DIGITS * 2]):
        failures = settings.documents.pin_attempts - state.remaining + 1
        locked = failures >= settings.documents.pin_attempts
        connection.execute(update(_LINK).where(_LINK.c.id == state.link_id).values(
            failures=failures, locked_at=now if locked else None))
        audit.record(connection, now, DOWNLOADER, LOCK_ACTION if locked else WRONG_PIN_ACTION,
                     target, f"link {state.link_id}: wrong PIN {failures} of "
                             f"{settings.documents.pin_attempts}", address)
        return PinResult(link_state(connection, code, now, settings), False)
    if state.remaining < settings.documents.pin_attempts:
        connection.execute(update(_LINK).where(_LINK.c.id == state.link_id).values(failures=0))
    return PinResult(state, True, files(connection, state.application_id))


def download(connection: Connection, link_id: int, file_id: int, now: datetime,
             settings: Settings, quiet: QuietHours, *, address: str = "") -> tuple[str, bytes]:
    """A file of an open link, for the family (its PIN was right): audited; the first
    download moves the application from `ready` to `collected`."""
    row = connection.execute(
        select(_LINK.c.code, _LINK.c.application_id, _LINK.c.downloaded_at)
        .where(_LINK.c.id == link_id).with_for_update()).first()
    if row is None or row.code is None:
        raise DocumentRefused("no_link", "the link is no longer valid")
    state = link_state(connection, row.code, now, settings)
    if state.status != "open":
        raise DocumentRefused("no_link", f"the link is {state.status}")
    name, content = open_file(connection, row.application_id, file_id)
    audit.record(connection, now, DOWNLOADER, DOWNLOAD_ACTION, f"application {state.reference}",
                 f"file {file_id} with link {link_id}", address)
    if row.downloaded_at is None:
        connection.execute(update(_LINK).where(_LINK.c.id == link_id).values(downloaded_at=now))
    stage = connection.execute(select(_APPLICATION.c.stage)
                               .where(_APPLICATION.c.id == row.application_id)
                               .with_for_update()).scalar_one()
    if stage == Stage.READY.value:
        change_stage(connection, row.application_id, Stage.COLLECTED, actor=DOWNLOADER,
                     now=now, quiet=quiet, note=DOWNLOAD_NOTE, notice="",
                     values={"collected_at": now})
    return name, content


# --- erasure ------------------------------------------------------------------------------------

def erase(connection: Connection, application_ids: Sequence[int], now: datetime) -> None:
    """The files and links of these applications erased (their bytes, names, codes and PINs),
    in the caller's transaction: what stays is that they existed, and their sizes."""
    if not application_ids:
        return
    connection.execute(update(_FILE).where(_FILE.c.application_id.in_(application_ids),
                                           _FILE.c.erased_at.is_(None))
                       .values(content=None, name=None, sha256=None, erased_at=now))
    ended = func.coalesce(_LINK.c.ended_at, literal(now, UtcDateTime()))
    connection.execute(update(_LINK).where(_LINK.c.application_id.in_(application_ids))
                       .values(code=None, pin_hash=None, ended_at=ended,
                               ended_why=func.coalesce(_LINK.c.ended_why, "erased")))


# --- a new data key -----------------------------------------------------------------------------

def _not_current(ring: crypto.KeyRing) -> Any:
    prefix = f"{crypto.VERSION}:{ring.current}:".encode()
    return (_FILE.c.content.is_not(None)
            & (func.substr(_FILE.c.content, 1, len(prefix)) != literal(prefix, LargeBinary)))


def files_not_current(connection: Connection, ring: crypto.KeyRing) -> int:
    """Files still sealed under another data key than the current one."""
    return connection.execute(select(func.count()).select_from(_FILE)
                              .where(_not_current(ring))).scalar_one()


def reseal(connect: Any, ring: crypto.KeyRing) -> tuple[int, int]:
    """Every file sealed under another data key sealed again under the current one, a file a
    transaction (they are megabytes each), written only if it still holds what was read:
    (files sealed again, files no configured key opens). `sms-ktp privacy rotate-key`."""
    done = unreadable = 0
    after = 0
    while True:
        with connect() as connection:
            row = connection.execute(
                select(_FILE.c.id, _FILE.c.application_id, _FILE.c.content)
                .where(_FILE.c.id > after, _not_current(ring))
                .order_by(_FILE.c.id).limit(1)).first()
            if row is None:
                return done, unreadable
            after = row.id
            purpose = _purpose(row.application_id)
            try:
                plain = ring.decrypt_bytes(row.content, purpose)
            except crypto.DecryptionError:
                unreadable += 1
                continue
            done += connection.execute(
                update(_FILE).where(_FILE.c.id == row.id, _FILE.c.content == row.content)
                .values(content=ring.encrypt_bytes(plain, purpose))).rowcount
