"""Finding and reading applications for the back office.

Every lookup is one indexed query: a reference (unique), a NIK (its keyed hash, indexed), a
family phone (indexed, then the family's applications by `family_id`), the code of a visit as
the family's SMS gives it (`pickup_visit.code`, indexed, then the visit's applications), or the
newest applications by primary key. Full NIK and KK numbers leave this module only when the
caller asks to reveal them, which the page audits (UU Adminduk Art. 95A): everything else
carries them masked.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Select, func, or_, select, true

from sms_ktp.applications.decisions import REJECTABLE
from sms_ktp.applications.hidden_codes import hide_codes
from sms_ktp.applications.pickup import CODE_ALPHABET, CODE_LENGTH
from sms_ktp.backoffice.particulars import particulars, reason_label, reason_words
from sms_ktp.domain import region
from sms_ktp.domain.identity import digits_only
from sms_ktp.domain.masking import mask_id, mask_phone, redact
from sms_ktp.domain.phones import normalise_msisdn
from sms_ktp.domain.reference import normalise_reference
from sms_ktp.domain.stages import CLOSED_STAGES, Stage
from sms_ktp.models import Application, ApplicationEvent, Family, PickupVisit

_APPLICATION = Application.__table__
_FAMILY = Family.__table__
_VISIT = PickupVisit.__table__
_EVENT = ApplicationEvent.__table__
PAGE_SIZE = 50
MATCH_LIMIT = 200  # a NIK or a family has a handful of applications; this only bounds a page
_REFERENCE = re.compile(r"\d{9}")
_NIK = re.compile(r"\d{16}")
# The words the SMS puts before a code ("Kode AKD34F", "Kode tetap: ...", "Code ..."), which a
# clerk may type along with it. A code has no O, so "KODE" or "CODE" is never a code's start.
_CODE_WORDS = re.compile(
    r"^\W*(?:kode|code)(?:\W*(?:ambil|berkas|dokumen|tetap|tetep|sama|sami)(?![^\W_]))?",
    re.IGNORECASE)
PAPERS = "papers"  # `pickup_visit.purpose` of a visit to hand in papers (`papers_visit`)

# What staff may still decide at each stage: a rejection while nothing is printed or signed
# (`decisions.REJECTABLE`); a pickup can be moved or collected while a card waits at the office.
PICKUP_OPEN = frozenset({Stage.PICKUP_SCHEDULED, Stage.MISSED_PICKUP})


class Key(StrEnum):
    """What a search looks for, decided from what was typed."""

    RECENT = "recent"  # nothing typed: the newest applications
    REFERENCE = "reference"
    NIK = "nik"
    PHONE = "phone"
    CODE = "code"  # a visit's code from the family's SMS: the visit's applications
    UNKNOWN = "unknown"  # neither: the page says what it accepts


@dataclass(frozen=True)
class Query:
    key: Key
    value: str = ""  # normalised: 9 digits, 16 digits, E.164 or a code in capitals
    shown: str = ""  # what the page may show back: a NIK only masked

    @property
    def reference_mistyped(self) -> bool:
        """A 9-digit number whose check digit fails: probably a typo of a real reference."""
        return self.key is Key.REFERENCE and normalise_reference(self.value) is None


def read_code(text: str, length: int = CODE_LENGTH) -> str | None:
    """The code in what was typed as residents read it out or copy it from their SMS, in
    capitals: any case, any spaces or dashes inside, the SMS's own "Kode" (or "Kode tetap:")
    before it ("kode akd 3-4f" is AKD34F); None when it is not `length` letters of the codes'
    alphabet."""
    text = _CODE_WORDS.sub("", text[:100], count=1)
    squeezed = "".join(char for char in text if char.isalnum()).upper()
    if len(squeezed) == length and all(char in CODE_ALPHABET for char in squeezed):
        return squeezed
    return None


def parse_query(text: str) -> Query:
    """Spaces, dots and dashes between digits are ignored ("3271 0145.0190-0001"); a visit's
    code is read by `read_code`, and never shown back (a pickup code is the family's proof)."""
    text = text.strip()
    if not text:
        return Query(Key.RECENT)
    code = read_code(text)
    if code is not None:
        return Query(Key.CODE, code, "kode kunjungan")
    digits = digits_only(text)
    if _REFERENCE.fullmatch(digits):
        return Query(Key.REFERENCE, digits, digits)
    if _NIK.fullmatch(digits):
        return Query(Key.NIK, digits, mask_id(digits))
    phone = normalise_msisdn(digits) or normalise_msisdn(text)
    if phone is not None:
        return Query(Key.PHONE, phone, phone)
    return Query(Key.UNKNOWN, "", redact(text))


@dataclass(frozen=True)
class ApplicationRow:
    """One line of the results table; the NIK is masked."""

    reference: str
    nik: str
    stage: str
    kecamatan_code: str
    channel: str
    created_at: datetime
    pickup_office: str | None
    pickup_at: datetime | None
    document: str = "ktp"

    @property
    def kecamatan(self) -> str:
        return kecamatan_name(self.kecamatan_code)


@dataclass(frozen=True)
class VisitApplication:
    """An application of a visit found by its code: the NIK masked; `waiting`: its card is
    still to be handed over, or its papers still to be handed in."""

    reference: str
    document: str
    nik: str
    stage: str
    waiting: bool


@dataclass(frozen=True)
class CodeVisit:
    """The visit a code names: a pickup (`purpose` "pickup", the family's printed cards) or a
    papers visit ("papers", the applications whose papers are to be handed in), its office,
    kecamatan and slot, and its applications. `closed`: "" while open; "used" (the cards
    handed over, the papers received), "post" (the cards to be posted instead: KIRIM) or
    "closed" (its applications closed otherwise); `closed_at`: when, where the data says."""

    id: int
    family_id: int
    purpose: str
    office: str
    kecamatan_code: str
    starts_at: datetime | None
    applications: tuple[VisitApplication, ...]
    closed: str = ""
    closed_at: datetime | None = None

    @property
    def papers(self) -> bool:
        return self.purpose == PAPERS

    @property
    def open(self) -> bool:
        return not self.closed

    @property
    def waiting(self) -> tuple[VisitApplication, ...]:
        return tuple(row for row in self.applications if row.waiting)

    @property
    def kecamatan(self) -> str:
        return kecamatan_name(self.kecamatan_code)


@dataclass(frozen=True)
class SearchResult:
    query: Query
    rows: list[ApplicationRow]
    more: bool = False  # another page of the newest applications exists
    visit: CodeVisit | None = None  # the visit a code names (`Key.CODE`)


def kecamatan_name(code: str) -> str:
    return region.current().kecamatan.get(code, code)


_ROW = (select(_APPLICATION.c.reference, _APPLICATION.c.nik, _APPLICATION.c.stage,
               _FAMILY.c.kecamatan_code, _APPLICATION.c.channel, _APPLICATION.c.created_at,
               _APPLICATION.c.pickup_office, _APPLICATION.c.pickup_at,
               _APPLICATION.c.document)
        .join(_FAMILY, _FAMILY.c.id == _APPLICATION.c.family_id))


def search(connection: Connection, text: str, *, office: str | None = None,
           page: int = 1) -> SearchResult:
    """Applications matching `text` (reference, NIK or the family's phone), or the newest ones
    when it is empty. `office`: only applications whose family's KK is of that kecamatan (an
    operator's view)."""
    query = parse_query(text)
    statement: Select[Any] = _ROW
    if office is not None:
        statement = statement.where(_FAMILY.c.kecamatan_code == office)
    # Newest first by primary key: ids grow with time and the key is indexed, while sorting
    # on created_at would read the whole table.
    statement = statement.order_by(_APPLICATION.c.id.desc())
    if query.key is Key.RECENT:
        page = max(1, page)
        rows = connection.execute(statement.offset((page - 1) * PAGE_SIZE)
                                  .limit(PAGE_SIZE + 1)).all()
        return SearchResult(query, [_row(row) for row in rows[:PAGE_SIZE]],
                            more=len(rows) > PAGE_SIZE)
    if query.key is Key.REFERENCE:
        statement = statement.where(_APPLICATION.c.reference == query.value)
    elif query.key is Key.NIK:
        statement = statement.where(_APPLICATION.c.nik_hash == query.value)
    elif query.key is Key.PHONE:
        statement = statement.where(_FAMILY.c.phone == query.value)
    elif query.key is Key.CODE:
        visit = visit_by_code(connection, query.value, office=office)
        if visit is None:
            return SearchResult(query, [])
        statement = statement.where(or_(_APPLICATION.c.visit_id == visit.id,
                                        _APPLICATION.c.papers_visit_id == visit.id))
        rows = connection.execute(statement.limit(MATCH_LIMIT)).all()
        return SearchResult(query, [_row(row) for row in rows], visit=visit)
    else:
        return SearchResult(query, [])
    rows = connection.execute(statement.limit(MATCH_LIMIT)).all()
    return SearchResult(query, [_row(row) for row in rows])


# --- a visit by its code ------------------------------------------------------------------------
CARD_WAITING = frozenset({Stage.PICKUP_SCHEDULED.value, Stage.MISSED_PICKUP.value})
_GIVEN_UP = frozenset({Stage.CANCELLED.value, Stage.REJECTED.value})
_CODE_VISITS = 20  # a code is drawn again once its visit is closed: a few old visits at most
_CANDIDATES = (select(_VISIT.c.id, _VISIT.c.family_id, _VISIT.c.purpose, _VISIT.c.office,
                      _VISIT.c.starts_at, _VISIT.c.open_code, _VISIT.c.post_requested_at,
                      _FAMILY.c.kecamatan_code)
               .join(_FAMILY, _FAMILY.c.id == _VISIT.c.family_id)
               .order_by(_VISIT.c.id.desc()).limit(_CODE_VISITS))
_VISIT_APPLICATIONS = (select(_APPLICATION.c.id, _APPLICATION.c.reference,
                              _APPLICATION.c.document, _APPLICATION.c.nik,
                              _APPLICATION.c.stage, _APPLICATION.c.visit_id,
                              _APPLICATION.c.papers_visit_id, _APPLICATION.c.collected_at)
                       .order_by(_APPLICATION.c.id))


def visit_by_code(connection: Connection, code: str, *,
                  office: str | None = None) -> CodeVisit | None:
    """The visit `code` (as `read_code` reads it) names, if the member of staff may see it
    (`office`: an operator's kecamatan, as `search`). A code is unique among open pickups and
    recent papers visits, but drawn again once its visit is over: an open pickup comes first,
    then a papers visit still waiting for papers, else the newest visit that had the code,
    closed (so that a code used is told as used, not as unknown). Three indexed queries."""
    candidates = connection.execute(_visible_visits(_CANDIDATES.where(_VISIT.c.code == code),
                                                    office)).all()
    if not candidates:
        return None
    of = _applications_of(connection, candidates)
    chosen = next((visit for visit in candidates if visit.purpose != PAPERS
                   and _is_open(visit, of[visit.id])
                   and hmac.compare_digest(visit.open_code.encode(), code.encode())),
                  next((visit for visit in candidates if _is_open(visit, of[visit.id])),
                       candidates[0]))
    return _code_visit(connection, chosen, of[chosen.id])


def visit_by_id(connection: Connection, visit_id: int, *,
                office: str | None = None) -> CodeVisit | None:
    """A visit as `visit_by_code` tells it, for the page a code led to (named by the id)."""
    row = connection.execute(_visible_visits(_CANDIDATES.where(_VISIT.c.id == visit_id),
                                             office)).first()
    if row is None:
        return None
    return _code_visit(connection, row, _applications_of(connection, [row])[row.id])


def _visible_visits(statement: Select[Any], office: str | None) -> Select[Any]:
    return statement if office is None else statement.where(_FAMILY.c.kecamatan_code == office)


def _applications_of(connection: Connection, visits: list[Any]) -> dict[int, list[Any]]:
    """The applications of these visits (cards collected in a pickup, or applications whose
    papers a papers visit is for), by visit, in one query."""
    of: dict[int, list[Any]] = {visit.id: [] for visit in visits}
    ids = list(of)
    for row in connection.execute(_VISIT_APPLICATIONS.where(
            or_(_APPLICATION.c.visit_id.in_(ids), _APPLICATION.c.papers_visit_id.in_(ids))
    ).limit(MATCH_LIMIT)):
        of[row.papers_visit_id if row.papers_visit_id in of else row.visit_id].append(row)
    return of


def _waits(visit: Any, row: Any) -> bool:
    """Whether the application still waits on this visit: its papers (still `submitted`), or
    its card to be handed over while the pickup is open."""
    if visit.purpose == PAPERS:
        return bool(row.stage == Stage.SUBMITTED.value)
    return visit.open_code is not None and row.stage in CARD_WAITING


def _is_open(visit: Any, rows: list[Any]) -> bool:
    return any(_waits(visit, row) for row in rows)


def _code_visit(connection: Connection, visit: Any, rows: list[Any]) -> CodeVisit:
    closed, closed_at = ("", None) if _is_open(visit, rows) \
        else _how_closed(connection, visit, rows)
    return CodeVisit(
        visit.id, visit.family_id, visit.purpose, visit.office, visit.kecamatan_code,
        visit.starts_at, tuple(VisitApplication(row.reference, row.document, mask_id(row.nik),
                                                row.stage, _waits(visit, row))
                               for row in rows), closed, closed_at)


def _how_closed(connection: Connection, visit: Any,
                rows: list[Any]) -> tuple[str, datetime | None]:
    """How and when a visit with nothing left to do was closed: its cards handed over (the
    last hand-over), given up for the post (when the family asked), its papers received (when
    the last application left `submitted`), or its applications closed otherwise (their last
    change)."""
    if visit.purpose != PAPERS:
        collected = [row.collected_at for row in rows if row.collected_at is not None]
        if collected:
            return "used", max(collected)
        if visit.post_requested_at is not None:
            return "post", visit.post_requested_at
    ids = [row.id for row in rows]
    if not ids:
        return "closed", None
    # Per application, when it left the visit: its first change of stage after the papers
    # were awaited; for a card, its last change.
    moved = _EVENT.c.stage != Stage.SUBMITTED.value if visit.purpose == PAPERS else true()
    at = func.min(_EVENT.c.at) if visit.purpose == PAPERS else func.max(_EVENT.c.at)
    left = connection.execute(select(_EVENT.c.application_id, at.label("at"))
                              .where(_EVENT.c.application_id.in_(ids), moved)
                              .group_by(_EVENT.c.application_id)).all()
    when = max((row.at for row in left if row.at is not None), default=None)
    received = visit.purpose == PAPERS and any(row.stage not in _GIVEN_UP for row in rows)
    return ("used" if received else "closed"), when


def _row(row: Any) -> ApplicationRow:
    return ApplicationRow(row.reference, mask_id(row.nik), row.stage, row.kecamatan_code,
                          row.channel, row.created_at, row.pickup_office, row.pickup_at,
                          row.document)


@dataclass(frozen=True)
class Event:
    at: datetime
    stage: str
    actor: str
    note: str  # redacted: a note typed by staff could hold a number


@dataclass(frozen=True)
class ApplicationDetail:
    """One application as the detail page shows it. `nik` and `kk` are masked unless
    `revealed`; the family phone is always masked. The pickup code is not in it: staff type
    the code the resident shows, and `accepts` says whether it is this card's (a code staff
    could read would let a card go to anybody)."""

    id: int
    reference: str
    nik: str
    kk: str
    revealed: bool
    phone: str
    kecamatan_code: str
    reason: str
    suket_number: str | None
    stage: str
    stage_note: str | None
    language: str
    channel: str
    created_at: datetime
    updated_at: datetime
    ready_at: datetime | None
    printed_at: datetime | None
    pickup_office: str | None
    pickup_at: datetime | None
    collectable: bool  # a pickup code is open: the card can be handed over with it
    collected_at: datetime | None
    events: list[Event]
    _open_code: str | None = field(default=None, repr=False)
    # The cards of the family visit this card is collected in, this one included: (reference,
    # masked NIK), handed over together at the counter.
    visit_cards: tuple[tuple[str, str], ...] = ()
    visit_id: int | None = None  # the open family visit, which the counter's pages show
    document: str = "ktp"  # a code of `sms_ktp.domain.documents`
    # The reason and the dialogue's other answers in words (`particulars`): (label, value).
    particulars: tuple[tuple[str, str], ...] = ()

    def accepts(self, code: str) -> bool:
        """Whether `code`, typed from the resident's SMS, collects this card."""
        return self._open_code is not None and hmac.compare_digest(
            code.encode("utf-8"), self._open_code.encode("utf-8"))

    @property
    def kecamatan(self) -> str:
        return kecamatan_name(self.kecamatan_code)

    @property
    def closed(self) -> bool:
        return Stage(self.stage) in CLOSED_STAGES

    @property
    def actions(self) -> frozenset[str]:
        """The decisions this stage still allows (who may take them is the page's business)."""
        stage = Stage(self.stage)
        allowed = set()
        if stage in REJECTABLE:
            allowed.add("reject")
        if stage not in CLOSED_STAGES:
            allowed.add("cancel")
        if stage in PICKUP_OPEN:
            allowed.add("reschedule")
            if self.collectable:
                allowed.add("collect")
        return frozenset(allowed)


_DETAIL = (select(_APPLICATION, _FAMILY.c.kk, _FAMILY.c.phone, _FAMILY.c.kecamatan_code,
                  _VISIT.c.open_code)
           .join(_FAMILY, _FAMILY.c.id == _APPLICATION.c.family_id)
           .outerjoin(_VISIT, _VISIT.c.id == _APPLICATION.c.visit_id))
_VISIT_CARDS = (select(_APPLICATION.c.reference, _APPLICATION.c.nik)
                .where(_APPLICATION.c.stage.in_([Stage.PICKUP_SCHEDULED.value,
                                                 Stage.MISSED_PICKUP.value]))
                .order_by(_APPLICATION.c.id))
_TIMELINE = select(_EVENT.c.at, _EVENT.c.stage, _EVENT.c.actor, _EVENT.c.note)


def detail(connection: Connection, reference: str, *,
           reveal: bool = False) -> ApplicationDetail | None:
    """The application with this reference and its timeline, oldest entry first; None when
    unknown. `reveal`: the full NIK and KK (the caller audits it)."""
    if not _REFERENCE.fullmatch(reference):
        return None
    row = connection.execute(_DETAIL.where(_APPLICATION.c.reference == reference)).first()
    if row is None:
        return None
    # A note may name the code (the card collected with it): hidden like every code.
    events = [Event(event.at, event.stage, event.actor,
                    hide_codes(redact(event.note), [row.pickup_code]))
              for event in connection.execute(
                  _TIMELINE.where(_EVENT.c.application_id == row.id)
                  .order_by(_EVENT.c.at, _EVENT.c.id))]
    return ApplicationDetail(
        id=row.id, reference=row.reference,
        nik=row.nik if reveal else mask_id(row.nik), kk=row.kk if reveal else mask_id(row.kk),
        revealed=reveal, phone=mask_phone(row.phone), kecamatan_code=row.kecamatan_code,
        reason=row.reason, stage=row.stage,
        suket_number=row.suket_number if reveal or not row.suket_number
        else redact(row.suket_number),
        stage_note=hide_codes(redact(row.stage_note), [row.pickup_code]) if row.stage_note
        else None, language=row.language,
        channel=row.channel, created_at=row.created_at, updated_at=row.updated_at,
        ready_at=row.ready_at, printed_at=row.printed_at, pickup_office=row.pickup_office,
        pickup_at=row.pickup_at, collectable=row.open_code is not None,
        collected_at=row.collected_at, events=events, _open_code=row.open_code,
        visit_cards=tuple((card.reference, mask_id(card.nik)) for card in connection.execute(
            _VISIT_CARDS.where(_APPLICATION.c.visit_id == row.visit_id)))
        if row.open_code is not None else (),
        visit_id=row.visit_id if row.open_code is not None else None, document=row.document,
        particulars=((reason_label(row.document), reason_words(row.document, row.reason)),
                     *particulars(row.document, row.details, reveal)))
