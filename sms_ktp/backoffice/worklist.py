"""The work queues of the back office: the applications list filtered by document, stage,
kecamatan, the kelurahan where it was registered, pickup office and a range of local days,
sorted by how long the resident has waited, paged by keyset.

Why a keyset and not OFFSET: a clerk working through 30,000 cards pages deep into the list,
and OFFSET makes the database read and throw away every row before the page. Here a page is
"the next 50 after id N", read from the primary key's index in either direction, so the last
page costs what the first does. The id is the order applications were made in, which is how
long the resident has been waiting.

Every filter is a plain condition on stored columns (local days become UTC ranges), so the
list, its total and its export are one query each, all built here. The document, like the
stage, is written into the SQL (a few known codes): the planner then weighs a rare document
(its index, `ix_application_document`, holds the ids in order on SQLite) against a common one
(the primary key read in order, the document checked on the way).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
)

from sms_ktp.applications.kelurahan_contact import kelurahan_of_regency
from sms_ktp.applications.printing import printed_on
from sms_ktp.backoffice.roles import Role
from sms_ktp.backoffice.search import kecamatan_name
from sms_ktp.backoffice.wording import document_words, stage_words
from sms_ktp.domain import region
from sms_ktp.domain.contact_address import address_of
from sms_ktp.domain.documents import DOCUMENTS, ENDING_STAGES, document
from sms_ktp.domain.local_time import start_of_day
from sms_ktp.domain.masking import mask_id
from sms_ktp.domain.stages import Stage
from sms_ktp.models import Application, ApplicationEvent, Family, StaffUser, in_stage

_APPLICATION = Application.__table__
_FAMILY = Family.__table__
_EVENT = ApplicationEvent.__table__
_STAFF = StaffUser.__table__
ACTOR_PREFIX = "staff:"  # how a member of staff stands in a timeline (`Staff.actor`)
PAGE_SIZE = 50
# A range of more than this many days is a typing slip (year 2206), refused as such.
MAX_SPAN_DAYS = 3660


# Every stage in the order of the pipelines, then the ends that leave them: how a list offers
# them and the dashboard's columns.
STAGE_ORDER = (Stage.SUBMITTED, Stage.PAPERS_CHECKED, Stage.PENUNGGALAN, Stage.PRINT_READY,
               Stage.DUPLICATE, Stage.SIGNED, Stage.READY, Stage.PRINT_QUEUE, Stage.PRINTED,
               Stage.PICKUP_SCHEDULED, Stage.MISSED_PICKUP, Stage.POST_REQUESTED, Stage.POSTED,
               Stage.COLLECTED, Stage.DELIVERED, Stage.REJECTED, Stage.CANCELLED)
# The stages beside a path that its machinery may put an application in.
_PENUNGGALAN_SIDE = (Stage.PRINT_READY, Stage.DUPLICATE)
_PICKUP_SIDE = (Stage.MISSED_PICKUP, Stage.POST_REQUESTED, Stage.POSTED, Stage.DELIVERED)


def stages_of(*codes: str) -> tuple[Stage, ...]:
    """The stages an application of these documents may stand in, in the pipelines' order: its
    path, penunggalan's results where the path has it, a missed pickup and delivery by post for
    a card, and the ends."""
    own: set[Stage] = set(ENDING_STAGES)
    for code in codes:
        each = document(code)
        own.update(each.path)
        if Stage.PENUNGGALAN in each.path:
            own.update(_PENUNGGALAN_SIDE)
        if each.card is not None:
            own.update(_PICKUP_SIDE)
    return tuple(stage for stage in STAGE_ORDER if stage in own)


# The stages whose queue has a partial index of its own (`models.Application`): a few thousand
# rows at most, which the list reads rather than every application of a document.
INDEXED_STAGES = frozenset({Stage.SUBMITTED, Stage.DUPLICATE, Stage.PRINT_QUEUE, Stage.PRINTED,
                            Stage.PICKUP_SCHEDULED})


def of_document(code: str, *, stage: Stage | None = None) -> ColumnElement[bool]:
    """`application.document = '<code>'`, the code written into the SQL (checked first: only a
    known document's code gets there). Beside a `stage` whose queue has its own partial index,
    the document is checked on the queue's rows (`document || '' = ...`, which no index
    serves): without statistics SQLite would otherwise prefer the document's index and read
    every KTP-el ever made to find a queue's cards."""
    value = literal_column(f"'{document(code).code}'")
    if stage in INDEXED_STAGES:
        return _APPLICATION.c.document.concat("") == value
    return _APPLICATION.c.document == value


class DateField(StrEnum):
    """Which day a date range is about."""

    CREATED = "created"  # registered
    READY = "ready"  # print-ready (PRR)
    PRINTED = "printed"
    PICKUP = "pickup"  # the pickup slot
    COLLECTED = "collected"


DATE_COLUMNS = {DateField.CREATED: _APPLICATION.c.created_at,
                DateField.READY: _APPLICATION.c.ready_at,
                DateField.PRINTED: _APPLICATION.c.printed_at,
                DateField.PICKUP: _APPLICATION.c.pickup_at,
                DateField.COLLECTED: _APPLICATION.c.collected_at}


class PrintWait(StrEnum):
    """Where a card of the print queue stands: what it is waiting for."""

    BLANGKO = "blangko"  # beyond the free blank cards: nothing to print it on yet
    BATCH = "batch"  # the free blank cards cover it; no print batch has taken it yet
    RESERVED = "reserved"  # in a print batch not marked printed yet


class Sort(StrEnum):
    OLDEST = "oldest"  # the longest wait first
    NEWEST = "newest"


@dataclass(frozen=True)
class Filters:
    """What a list shows; every field empty is every application in scope."""

    document: str | None = None  # a code of `sms_ktp.domain.documents`
    stage: Stage | None = None
    kecamatan: str | None = None  # of the family's KK
    # Where it was registered: by a helper of this kelurahan, or for a family without a phone
    # whose contact it is. A KK number does not say its kelurahan, and an SMS registration
    # does not ask it, so no other application has one.
    kelurahan: str | None = None
    office: str | None = None  # the pickup office
    date_field: DateField = DateField.CREATED
    since: date | None = None  # local days, both included
    until: date | None = None
    print_wait: PrintWait | None = None  # implies the print queue
    sort: Sort | None = None  # None: `order`'s default

    @property
    def order(self) -> Sort:
        """A work queue (one stage) is worked through from the longest wait; the whole list
        opens on what came in last, as the back office's front page of applications."""
        if self.sort is not None:
            return self.sort
        return Sort.OLDEST if self.stage or self.print_wait else Sort.NEWEST

    def as_query(self) -> dict[str, str]:
        """The filters as query-string parameters (what a link to this list carries)."""
        pairs = {"document": self.document or "",
                 "stage": self.stage.value if self.stage else "",
                 "kecamatan": self.kecamatan or "", "kelurahan": self.kelurahan or "",
                 "office": self.office or "",
                 "date": self.date_field.value if self.since or self.until else "",
                 "since": self.since.isoformat() if self.since else "",
                 "until": self.until.isoformat() if self.until else "",
                 "wait": self.print_wait.value if self.print_wait else "",
                 "sort": self.sort.value if self.sort else ""}
        return {key: value for key, value in pairs.items() if value}

    def scoped(self, kecamatan: str | None) -> Filters:
        """The filters an operator of `kecamatan` may use: their own kecamatan, always, and a
        kelurahan of it only."""
        if kecamatan is None:
            return self
        kelurahan = self.kelurahan if self.kelurahan and self.kelurahan[4:6] == kecamatan \
            else None
        return replace(self, kecamatan=kecamatan, kelurahan=kelurahan)

    @property
    def any(self) -> bool:
        return bool(set(self.as_query()) - {"sort"})


@dataclass(frozen=True)
class Parsed:
    filters: Filters
    errors: tuple[str, ...]  # in words, for the page; the filter at fault is left out


def parse_filters(args: Mapping[str, str]) -> Parsed:
    """Filters from a query string. A value that makes no sense is dropped and said why, so a
    mistyped link still shows a list instead of an error page."""
    errors: list[str] = []
    kecamatan_names = region.current().kecamatan

    def choice(name: str, enum: type[StrEnum], what: str) -> Any:
        value = args.get(name, "").strip()
        if not value:
            return None
        try:
            return enum(value)
        except ValueError:
            errors.append(f"{what} tidak dikenal; filter ini diabaikan.")
            return None

    def area(name: str, what: str) -> str | None:
        value = args.get(name, "").strip()
        if not value:
            return None
        if value not in kecamatan_names:
            errors.append(f"{what} tidak dikenal; filter ini diabaikan.")
            return None
        return value

    def day(name: str, what: str) -> date | None:
        value = args.get(name, "").strip()
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            errors.append(f"{what} harus tanggal (hari/bulan/tahun); filter ini diabaikan.")
            return None

    code = args.get("document", "").strip() or None
    if code is not None and code not in DOCUMENTS:
        errors.append("Dokumen tidak dikenal; filter ini diabaikan.")
        code = None
    stage = choice("stage", Stage, "Tahap")
    if code is not None and stage is not None and stage not in stages_of(code):
        errors.append(f"Tahap “{stage_words(stage)}” bukan tahap {document_words(code)}; "
                      "filter tahap diabaikan.")
        stage = None
    since, until = day("since", "Tanggal awal"), day("until", "Tanggal akhir")
    if since and until and since > until:
        errors.append("Tanggal awal sesudah tanggal akhir: keduanya ditukar.")
        since, until = until, since
    if since and until and (until - since).days > MAX_SPAN_DAYS:
        errors.append("Rentang tanggal lebih dari 10 tahun: periksa tahunnya. "
                      "Filter tanggal diabaikan.")
        since = until = None
    kelurahan = args.get("kelurahan", "").strip() or None
    if kelurahan is not None and not kelurahan_of_regency(kelurahan, region.current().code):
        errors.append("Kelurahan tidak dikenal; filter ini diabaikan.")
        kelurahan = None
    filters = Filters(
        document=code, stage=stage, kecamatan=area("kecamatan", "Kecamatan"), kelurahan=kelurahan,
        office=area("office", "Kantor ambil"),
        date_field=choice("date", DateField, "Jenis tanggal") or DateField.CREATED,
        since=since, until=until, print_wait=choice("wait", PrintWait, "Keadaan antre cetak"),
        sort=choice("sort", Sort, "Urutan"))
    if filters.print_wait is not None and stage not in (None, Stage.PRINT_QUEUE):
        errors.append("Keadaan antre cetak hanya untuk tahap antre cetak; filter ini "
                      "diabaikan.")
        filters = replace(filters, print_wait=None)
    if filters.print_wait is not None and code is not None \
            and Stage.PRINT_QUEUE not in stages_of(code):
        errors.append(f"{document_words(code)} tidak dicetak di sini; filter antre cetak "
                      "diabaikan.")
        filters = replace(filters, print_wait=None)
    return Parsed(filters, tuple(errors))


# --- the query ---------------------------------------------------------------------------------

_ROW = (select(_APPLICATION.c.id, _APPLICATION.c.reference, _APPLICATION.c.nik,
               _APPLICATION.c.document, _APPLICATION.c.stage, _FAMILY.c.kecamatan_code,
               _APPLICATION.c.channel,
               _APPLICATION.c.created_at, _APPLICATION.c.ready_at, _APPLICATION.c.printed_at,
               _APPLICATION.c.pickup_office, _APPLICATION.c.pickup_at,
               _APPLICATION.c.collected_at)
        .join(_FAMILY, _FAMILY.c.id == _APPLICATION.c.family_id))


# The free blank cards: of one kind for every card of the print queue, or of each kind
# (`printing.free_by_card`) for the cards printed on it.
Free = int | Mapping[str, int]


def covered_by_stock(free: int, card: str | None = None) -> Select[Any]:
    """The ids of the print queue's cards (of one kind of card: `card`) that the free blank
    cards cover: the oldest ready first, as `printing.reserve_next` takes them (the queue's
    partial index, in order)."""
    statement = select(_APPLICATION.c.id).where(in_stage(Stage.PRINT_QUEUE),
                                                _APPLICATION.c.print_batch_id.is_(None))
    if card is not None:
        statement = statement.where(printed_on(card))
    return statement.order_by(_APPLICATION.c.ready_at, _APPLICATION.c.id).limit(max(0, free))


def _covered(free: Free) -> ColumnElement[bool]:
    """The application is one of the print queue's cards the free blank cards cover (each
    kind's cards by that kind's free blangko)."""
    if isinstance(free, Mapping):
        return or_(*(and_(printed_on(card),
                          _APPLICATION.c.id.in_(covered_by_stock(left, card).scalar_subquery()))
                     for card, left in free.items()))
    return _APPLICATION.c.id.in_(covered_by_stock(free).scalar_subquery())


def registered_in(kelurahan: str) -> ColumnElement[bool]:
    """The application was registered by a helper of `kelurahan` (the registration's timeline
    entry names them; its actor column is indexed), or its family's contact is that kelurahan."""
    by_helper = exists().where(
        _EVENT.c.application_id == _APPLICATION.c.id,
        _EVENT.c.stage == Stage.SUBMITTED.value,
        _EVENT.c.actor == literal(ACTOR_PREFIX) + _STAFF.c.username,
        _STAFF.c.role == Role.HELPER.value, _STAFF.c.office == kelurahan)
    return or_(by_helper, _FAMILY.c.phone == address_of(kelurahan))


def filtered(statement: Select[Any], filters: Filters, *, free: Free = 0) -> Select[Any]:
    """`statement` (which joins the family) narrowed to `filters`. `free`: the free blank
    cards (of each kind), which tell a card waiting for blangko from one waiting for a print
    batch."""
    stage = Stage.PRINT_QUEUE if filters.print_wait is not None else filters.stage
    if filters.document is not None:
        statement = statement.where(of_document(filters.document, stage=stage))
    if stage is not None:
        # Written into the SQL: the stage's partial index serves the queues that have one.
        statement = statement.where(in_stage(stage))
    if filters.kecamatan is not None:
        statement = statement.where(_FAMILY.c.kecamatan_code == filters.kecamatan)
    if filters.kelurahan is not None:
        statement = statement.where(registered_in(filters.kelurahan))
    if filters.office is not None:
        statement = statement.where(_APPLICATION.c.pickup_office == filters.office)
    column = DATE_COLUMNS[filters.date_field]
    if filters.since is not None:
        statement = statement.where(column >= start_of_day(filters.since))
    if filters.until is not None:
        statement = statement.where(column < start_of_day(filters.until + timedelta(days=1)))
    wait = filters.print_wait
    if wait is PrintWait.RESERVED:
        statement = statement.where(_APPLICATION.c.print_batch_id.is_not(None))
    elif wait is not None:
        covered = _covered(free)
        statement = statement.where(_APPLICATION.c.print_batch_id.is_(None),
                                    covered if wait is PrintWait.BATCH else ~covered)
    return statement


@dataclass(frozen=True)
class Row:
    """One line of a work queue; the NIK is masked."""

    id: int
    reference: str
    nik: str
    document: str
    stage: str
    kecamatan_code: str
    channel: str
    created_at: datetime
    ready_at: datetime | None
    printed_at: datetime | None
    pickup_office: str | None
    pickup_at: datetime | None
    collected_at: datetime | None

    @property
    def kecamatan(self) -> str:
        return kecamatan_name(self.kecamatan_code)


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    total: int  # of the whole filtered list
    newer: bool  # a page before this one exists (in the list's order)
    older: bool  # a page after it exists

    @property
    def first_id(self) -> int | None:
        return self.rows[0].id if self.rows else None

    @property
    def last_id(self) -> int | None:
        return self.rows[-1].id if self.rows else None


def count(connection: Connection, filters: Filters, *, free: Free = 0) -> int:
    """The total of a filtered list: one COUNT over the same conditions (30,000 applications
    count in milliseconds; see bench/worklist.py)."""
    statement = filtered(select(func.count()).select_from(
        _APPLICATION.join(_FAMILY, _FAMILY.c.id == _APPLICATION.c.family_id)), filters,
        free=free)
    return int(connection.execute(statement).scalar_one())


def page(connection: Connection, filters: Filters, *, after: int | None = None,
         before: int | None = None, last: bool = False, free: Free = 0,
         size: int = PAGE_SIZE) -> Page:
    """One page of the list: the first, the one `after` an id, the one `before` an id (in the
    list's order), or the `last`. One more row than shown is read to know whether the list
    goes on; the other direction is known from the cursor itself (a page after something has
    something before it) or, for the last page and a page before something, by one more row
    read backwards."""
    ascending = filters.order is Sort.OLDEST
    key = _APPLICATION.c.id
    statement = filtered(_ROW, filters, free=free)
    backwards = last or before is not None
    if after is not None:
        statement = statement.where(key > after if ascending else key < after)
    if before is not None:
        statement = statement.where(key < before if ascending else key > before)
    forward = ascending != backwards
    statement = statement.order_by(key if forward else key.desc()).limit(size + 1)
    rows = connection.execute(statement).all()
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
        newer, older = more, before is not None
    else:
        newer, older = after is not None, more
    return Page([_row(row) for row in rows], count(connection, filters, free=free),
                newer=newer, older=older)


def _row(row: Any) -> Row:
    return Row(row.id, row.reference, mask_id(row.nik), row.document, row.stage,
               row.kecamatan_code, row.channel, row.created_at, row.ready_at, row.printed_at,
               row.pickup_office, row.pickup_at, row.collected_at)


@dataclass(frozen=True)
class ExportRow:
    """One line of an export: `nik` and `kk` full only when asked for (an audited admin
    export), masked otherwise."""

    reference: str
    nik: str
    kk: str
    stage: str
    kecamatan_code: str
    channel: str
    created_at: datetime
    ready_at: datetime | None
    printed_at: datetime | None
    pickup_office: str | None
    pickup_at: datetime | None
    collected_at: datetime | None
    document: str = "ktp"


_EXPORT = (select(_APPLICATION.c.reference, _APPLICATION.c.nik, _FAMILY.c.kk,
                  _APPLICATION.c.document, _APPLICATION.c.stage, _FAMILY.c.kecamatan_code,
                  _APPLICATION.c.channel, _APPLICATION.c.created_at, _APPLICATION.c.ready_at,
                  _APPLICATION.c.printed_at, _APPLICATION.c.pickup_office,
                  _APPLICATION.c.pickup_at, _APPLICATION.c.collected_at)
           .join(_FAMILY, _FAMILY.c.id == _APPLICATION.c.family_id))
EXPORT_CHUNK = 1000


def export_rows(connection: Connection, filters: Filters, *, full: bool = False,
                free: Free = 0) -> Iterator[ExportRow]:
    """Every row of a filtered list, in its order, read a thousand at a time by keyset (a
    30,000-row export never sits in memory whole, and no cursor stays open between chunks)."""
    ascending = filters.order is Sort.OLDEST
    key = _APPLICATION.c.id
    statement = filtered(_EXPORT.add_columns(key), filters, free=free)
    statement = statement.order_by(key if ascending else key.desc()).limit(EXPORT_CHUNK)
    cursor: int | None = None
    while True:
        chunk = statement if cursor is None else statement.where(
            key > cursor if ascending else key < cursor)
        rows = connection.execute(chunk).all()
        for row in rows:
            yield ExportRow(row.reference, (row.nik or "") if full else mask_id(row.nik),
                            (row.kk or "") if full else mask_id(row.kk), row.stage,
                            row.kecamatan_code, row.channel, row.created_at, row.ready_at,
                            row.printed_at, row.pickup_office, row.pickup_at,
                            row.collected_at, row.document)
        if len(rows) < EXPORT_CHUNK:
            return
        cursor = rows[-1].id
