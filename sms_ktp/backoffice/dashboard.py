"""The figures of the back office's dashboard: applications per stage and kecamatan and per
document and stage, the print queue against blangko stock, today's pickups, today's messages
out (per status, and per channel with their cost, also over the last 30 days) and the last 30
days of activity (registrations per document).

Pure queries: a Connection and `now` in, frozen dataclasses out; no Flask. Every figure is one
GROUP BY in the database (a handful of rows come back, never one per application). "Today" and
"a day" are calendar days of the regency served (WIB, WITA or WIT) turned into UTC ranges, so
that the filters are plain ranges on the stored UTC columns: the print queue and today's open
pickups use their stage's partial index; the other ranges (application.created_at, printed_at,
collected_at and outbox.created_at) become index range scans once those columns are indexed.
The tables per stage, kecamatan and document read every application once, by nature: one
GROUP BY serves both.

Scope: `office=None` is the whole city; an operator passes their kecamatan code and sees the
applications of families whose KK is from that kecamatan and the pickups at that office. A
`document` narrows the stage table per kecamatan and the activity to that document's
applications (the table per document always shows every one).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Select, and_, exists, func, literal_column, select

from sms_ktp.applications.printing import KTP, Stock, printed_on, stock
from sms_ktp.backoffice.worklist import STAGE_ORDER, covered_by_stock, of_document, stages_of
from sms_ktp.domain import documents, region
from sms_ktp.domain.local_time import local_date, local_zone, start_of_day
from sms_ktp.domain.stages import Stage
from sms_ktp.messaging import outbox
from sms_ktp.models import Application, Family, OutboxMessage, in_stage

_APPLICATION = Application.__table__
_FAMILY = Family.__table__
_OUTBOX = OutboxMessage.__table__

CHART_DAYS = 30
# Every stage in the pipelines' order, then the ends that leave them.
STAGE_COLUMNS: tuple[str, ...] = tuple(stage.value for stage in STAGE_ORDER)


def stage_columns(counted: Iterable[str] = (), codes: Iterable[str] | None = None
                  ) -> tuple[str, ...]:
    """The columns of a stage table: the stages of the documents offered (or of `codes`), in
    the pipelines' order; a stage counted that they do not have (a document no longer offered,
    a stage this table does not know yet) still counts, in a column of its own at the end."""
    offered = tuple(stage.value for stage in stages_of(
        *(documents.enabled() if codes is None else codes)))
    extra = set(counted) - set(offered)
    return offered + tuple(sorted(extra, key=lambda stage: (
        STAGE_COLUMNS.index(stage) if stage in STAGE_COLUMNS else len(STAGE_COLUMNS), stage)))


# --- days -------------------------------------------------------------------------------------

def day_span(day: date) -> tuple[datetime, datetime]:
    """The UTC instants [start, end) of one calendar day of the regency served (WIB, WITA or
    WIT)."""
    return start_of_day(day), start_of_day(day + timedelta(days=1))


def _local_day(column: Any, dialect: str) -> Any:
    """The local calendar day of a stored (naive UTC) timestamp, in SQL. Indonesia's three
    zones keep one offset all year (no daylight saving), so shifting by it is exact."""
    offset = datetime(2000, 1, 1, tzinfo=local_zone()).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    if dialect == "sqlite":
        return func.date(column, f"{minutes:+d} minutes")
    return func.date(column + literal_column(f"interval '{minutes} minutes'"))


def _as_date(value: date | str) -> date:
    """SQLite hands `date()` back as text, PostgreSQL as a date."""
    return date.fromisoformat(value) if isinstance(value, str) else value


# --- scope ------------------------------------------------------------------------------------

def _of_document(query: Select[Any], document: str | None) -> Select[Any]:
    return query if document is None else query.where(of_document(document))


def _in_kecamatan(query: Select[Any], office: str | None) -> Select[Any]:
    """Applications of families whose KK is from this kecamatan (None: no filter)."""
    if office is None:
        return query
    return query.join(_FAMILY, _FAMILY.c.id == _APPLICATION.c.family_id).where(
        _FAMILY.c.kecamatan_code == office)


def _at_office(query: Select[Any], office: str | None) -> Select[Any]:
    return query if office is None else query.where(_APPLICATION.c.pickup_office == office)


def kecamatan_codes(office: str | None) -> tuple[str, ...]:
    """The rows of the city's tables: the six kecamatan, or the operator's own office."""
    return tuple(sorted(region.current().kecamatan)) if office is None else (office,)


# --- applications per stage and kecamatan -----------------------------------------------------

@dataclass(frozen=True)
class StageRow:
    kecamatan: str  # code "01".."06"
    counts: Mapping[str, int]  # stage -> applications
    total: int


@dataclass(frozen=True)
class StageTable:
    stages: tuple[str, ...]  # the columns
    rows: tuple[StageRow, ...]
    totals: Mapping[str, int]  # stage -> applications in every row
    total: int

    def count(self, kecamatan: str, stage: str) -> int:
        return next((row.counts.get(stage, 0) for row in self.rows
                     if row.kecamatan == kecamatan), 0)


@dataclass(frozen=True)
class DocumentRow:
    document: str  # a code of `sms_ktp.domain.documents`
    counts: Mapping[str, int]  # stage -> applications
    total: int
    stages: frozenset[str]  # the stages this document may stand in (others are no figure)


@dataclass(frozen=True)
class DocumentTable:
    stages: tuple[str, ...]  # the columns
    rows: tuple[DocumentRow, ...]
    totals: Mapping[str, int]
    total: int

    def count(self, document: str, stage: str) -> int:
        return next((row.counts.get(stage, 0) for row in self.rows
                     if row.document == document), 0)


@dataclass(frozen=True)
class StageCounts:
    """Applications per kecamatan of the family's KK, document and stage, as one GROUP BY
    returns them."""

    office: str | None
    counts: Mapping[tuple[str, str, str], int]  # (kecamatan, document, stage) -> applications

    def by_kecamatan(self, document: str | None = None) -> StageTable:
        counts: dict[str, dict[str, int]] = {code: {} for code in kecamatan_codes(self.office)}
        for (code, each, stage), count in self.counts.items():
            if document is None or each == document:
                row = counts.setdefault(code, {})
                row[stage] = row.get(stage, 0) + count
        seen = {stage for row in counts.values() for stage in row}
        stages = stage_columns(seen, None if document is None else (document,))
        rows = tuple(StageRow(code, {stage: row.get(stage, 0) for stage in stages},
                              sum(row.values())) for code, row in sorted(counts.items()))
        totals = {stage: sum(row.counts[stage] for row in rows) for stage in stages}
        return StageTable(stages, rows, totals, sum(row.total for row in rows))

    def by_document(self) -> DocumentTable:
        """A row per document offered, and per document no longer offered that still has
        applications, in the catalogue's order."""
        counts: dict[str, dict[str, int]] = {code: {} for code in documents.enabled()}
        for (_, each, stage), count in self.counts.items():
            row = counts.setdefault(each, {})
            row[stage] = row.get(stage, 0) + count
        stages = stage_columns({stage for row in counts.values() for stage in row})
        order = list(documents.DOCUMENTS)
        rows = tuple(
            DocumentRow(code, {stage: row.get(stage, 0) for stage in stages}, sum(row.values()),
                        frozenset(stage.value for stage in stages_of(code))
                        if code in documents.DOCUMENTS else frozenset(row))
            for code, row in sorted(counts.items(), key=lambda item: (
                order.index(item[0]) if item[0] in order else len(order), item[0])))
        totals = {stage: sum(row.counts[stage] for row in rows) for stage in stages}
        return DocumentTable(stages, rows, totals, sum(row.total for row in rows))


def stage_counts(connection: Connection, office: str | None = None) -> StageCounts:
    """Applications per kecamatan, document and stage: one GROUP BY over every application."""
    kecamatan = _FAMILY.c.kecamatan_code
    query = (select(kecamatan, _APPLICATION.c.document, _APPLICATION.c.stage, func.count())
             .select_from(_APPLICATION.join(_FAMILY, _FAMILY.c.id == _APPLICATION.c.family_id))
             .group_by(kecamatan, _APPLICATION.c.document, _APPLICATION.c.stage))
    if office is not None:
        query = query.where(kecamatan == office)
    return StageCounts(office, {(code, document, stage): int(count)
                                for code, document, stage, count in connection.execute(query)})


def applications_by_stage(connection: Connection, office: str | None = None,
                          document: str | None = None) -> StageTable:
    """Applications per kecamatan of the family's KK and per stage (of one document)."""
    return stage_counts(connection, office).by_kecamatan(document)


def applications_by_document(connection: Connection, office: str | None = None
                             ) -> DocumentTable:
    """Applications per document and stage."""
    return stage_counts(connection, office).by_document()


# --- print queue and blangko ------------------------------------------------------------------

@dataclass(frozen=True)
class PrintQueue:
    """Cards waiting to be printed against the blank cards left. Blangko are shared by the whole
    city, so whether they suffice is judged on the city's queue even for an operator."""

    waiting: int  # in scope: print queue, not yet reserved in a batch
    in_batch: int  # in scope: reserved in a print batch not yet done (their blangko is set aside)
    waiting_city: int  # the whole city's cards not yet reserved
    stocks: tuple[Stock, ...]
    # In scope: cards not yet reserved that the free blangko cover (the oldest ready first, as
    # batches take them): they wait for somebody to make a print batch, not for blangko.
    covered: int = 0
    card: str = KTP  # the kind of card (and of blangko): each has its own queue and stock

    @property
    def for_batch(self) -> int:
        return self.covered

    @property
    def for_blangko(self) -> int:
        """In scope: cards beyond the free blangko, which no batch can take before more come."""
        return max(0, self.waiting - self.covered)

    @property
    def free(self) -> int:
        return sum(site.free for site in self.stocks)

    @property
    def shortfall(self) -> int:
        """Cards of the city's queue that the free blangko cannot cover (0: enough)."""
        return max(0, self.waiting_city - self.free)


def print_queue(connection: Connection, sites: Sequence[str],
                office: str | None = None, card: str = KTP) -> PrintQueue:
    """The city's queue of one kind of card (the KTP-el's by default) against its blangko. The
    city's queue is read from the print queue's partial index alone; an operator's share of it
    joins the families of that queue only."""
    reserved = _APPLICATION.c.print_batch_id.isnot(None)
    queued = (in_stage(Stage.PRINT_QUEUE), printed_on(card))
    city = dict(connection.execute(
        select(reserved, func.count()).where(*queued).group_by(reserved)
    ).all())
    mine = city if office is None else dict(connection.execute(_in_kecamatan(
        select(reserved, func.count()).where(*queued), office
    ).group_by(reserved)).all())
    stocks = tuple(stock(connection, site, card) for site in sites)
    free = sum(site.free for site in stocks)
    waiting_city = int(city.get(False, 0))
    if office is None or not free:
        covered = min(waiting_city, free)
    else:
        # The operator's share of the city's oldest-ready cards that the free blangko cover.
        covered = int(connection.execute(_in_kecamatan(
            select(func.count()).select_from(_APPLICATION)
            .where(_APPLICATION.c.id.in_(covered_by_stock(free, card).scalar_subquery())),
            office)).scalar_one())
    return PrintQueue(waiting=int(mine.get(False, 0)), in_batch=int(mine.get(True, 0)),
                      waiting_city=waiting_city, stocks=stocks, covered=covered, card=card)


def other_cards() -> tuple[str, ...]:
    """The kinds of card besides the KTP-el's that the documents offered are printed on (the
    KIA's), each with a print queue and blangko of its own."""
    offered = {documents.document(code).card for code in documents.enabled()}
    return tuple(card for card in documents.CARDS if card != KTP and card in offered)


# --- today's pickups --------------------------------------------------------------------------

@dataclass(frozen=True)
class OfficePickups:
    """One office's pickups today. `booked`: cards whose pickup slot is today, still open or
    collected today; of the open ones, `to_come` have their slot ahead or running and `missed`
    are not collected although their slot is over (the worker reschedules them after the day).
    `collected`: cards handed over today, whichever day they were booked for."""

    office: str
    booked: int = 0
    to_come: int = 0
    missed: int = 0
    collected: int = 0


@dataclass(frozen=True)
class Pickups:
    day: date
    offices: tuple[OfficePickups, ...]

    @property
    def total(self) -> OfficePickups:
        return OfficePickups("", *(sum(getattr(row, key) for row in self.offices)
                                   for key in ("booked", "to_come", "missed", "collected")))


def pickups_today(connection: Connection, now: datetime, office: str | None = None,
                  slot_minutes: Mapping[str, int] | None = None) -> Pickups:
    """Today's pickups per office. A slot is over `slot_minutes[office]` after it starts (0 when
    unknown: over as soon as it starts). Two small GROUP BYs: the open pickups of today through
    the pickup queue's partial index, and today's collections."""
    day = local_date(now)
    start, end = day_span(day)
    lengths = slot_minutes or {}
    figures: dict[str, Counter[str]] = {code: Counter() for code in kecamatan_codes(office)}
    pickup_office, pickup_at = _APPLICATION.c.pickup_office, _APPLICATION.c.pickup_at
    open_slots = connection.execute(_at_office(
        select(pickup_office, pickup_at, func.count())
        .where(in_stage(Stage.PICKUP_SCHEDULED), pickup_at >= start, pickup_at < end)
        .group_by(pickup_office, pickup_at), office))
    for code, starts_at, count in open_slots:
        over = starts_at + timedelta(minutes=lengths.get(code, 0)) <= now
        figures.setdefault(code, Counter()).update(
            {"booked": count, "missed" if over else "to_come": count})
    booked_today = and_(pickup_at >= start, pickup_at < end)
    # Handed over at an office: a signed PDF collected (downloaded) has no pickup office.
    handed_over = connection.execute(_at_office(
        select(pickup_office, booked_today, func.count())
        .where(_APPLICATION.c.collected_at >= start, _APPLICATION.c.collected_at < end,
               pickup_office.is_not(None))
        .group_by(pickup_office, booked_today), office))
    for code, was_booked_today, count in handed_over:
        figures.setdefault(code, Counter()).update(
            {"collected": count, "booked": count if was_booked_today else 0})
    return Pickups(day, tuple(
        OfficePickups(code, **{key: int(figures[code][key])
                               for key in ("booked", "to_come", "missed", "collected")})
        for code in sorted(figures)))


# --- today's messages ------------------------------------------------------------------------

# The outbox's statuses in four plain groups that add up to every SMS of the day.
SMS_GROUPS: Mapping[str, str] = {
    outbox.QUEUED: "queued", outbox.SENDING: "queued",
    outbox.SENT: "sent", outbox.BUFFERED: "sent",
    outbox.DELIVERED: "delivered", outbox.READ: "delivered",
    outbox.FAILED: "failed", outbox.UNDELIVERED: "failed",
    outbox.SUPERSEDED: "superseded",
}
CHANNELS: tuple[str, ...] = (outbox.SMS, outbox.WHATSAPP)


@dataclass(frozen=True)
class ChannelFigures:
    """One channel's messages over a period, sent or still to send (a superseded one never
    leaves and is never billed). An SMS is billed per segment; a WhatsApp message only when it
    went as a template (`outbox.template`: Meta does not charge a reply or a text within the 24
    hours after the resident wrote) and did not fail (Meta bills a delivered message)."""

    channel: str
    messages: int = 0
    delivered: int = 0  # delivered or read
    failed: int = 0
    segments: int = 0  # of the SMS
    billed: int = 0  # WhatsApp messages Meta charges for

    def estimated_cost(self, price_per_segment: int, cost_per_message: int) -> int:
        """Rupiah."""
        if self.channel == outbox.WHATSAPP:
            return self.billed * cost_per_message
        return self.segments * price_per_segment


def _channel_figures(connection: Connection, start: datetime, end: datetime,
                     office: str | None) -> tuple[dict[str, int], tuple[ChannelFigures, ...]]:
    """The outbox rows written in [start, end): counted per status group (every channel), and
    per channel. One GROUP BY."""
    channel = _OUTBOX.c.channel  # the one it went on: the worker records it
    templated = _OUTBOX.c.template.is_not(None)
    query = (select(_OUTBOX.c.status, channel, templated, func.count(),
                    func.coalesce(func.sum(_OUTBOX.c.segments), 0))
             .where(_OUTBOX.c.created_at >= start, _OUTBOX.c.created_at < end)
             .group_by(_OUTBOX.c.status, channel, templated))
    if office is not None:
        query = query.where(exists().where(_FAMILY.c.phone == _OUTBOX.c.phone,
                                           _FAMILY.c.kecamatan_code == office))
    groups = {"queued": 0, "sent": 0, "delivered": 0, "failed": 0, "superseded": 0}
    per_channel: dict[str, Counter[str]] = {each: Counter() for each in CHANNELS}
    for status, went_on, is_template, count, parts in connection.execute(query):
        # A status this table does not know counts as not sent, as far as we know.
        group = SMS_GROUPS.get(status, "queued")
        groups[group] += int(count)
        if group == "superseded":
            continue
        figures = per_channel.setdefault(went_on, Counter())
        figures["messages"] += int(count)
        figures["segments"] += int(parts)
        if group in ("delivered", "failed"):
            figures[group] += int(count)
        if is_template and group != "failed":
            figures["billed"] += int(count)
    channels = tuple(
        ChannelFigures(each, messages=figures["messages"], delivered=figures["delivered"],
                       failed=figures["failed"],
                       segments=figures["segments"] if each == outbox.SMS else 0,
                       billed=figures["billed"] if each == outbox.WHATSAPP else 0)
        for each, figures in per_channel.items())
    return groups, channels


@dataclass(frozen=True)
class SmsDay:
    """Today's messages (outbox rows written today, SMS and WhatsApp). `sent`: handed to the
    gateway, no delivery report yet; `failed`: parked as failed or reported undelivered;
    `queued`: not sent yet; `superseded`: never sent, made untrue or replaced before it left
    (and never billed). `channels`: the same messages per channel."""

    day: date
    queued: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    superseded: int = 0
    segments: int = 0  # of the SMS sent or still to send (a WhatsApp message has none)
    channels: tuple[ChannelFigures, ...] = ()

    @property
    def messages(self) -> int:
        return self.queued + self.sent + self.delivered + self.failed

    def channel(self, name: str) -> ChannelFigures:
        return next((each for each in self.channels if each.channel == name),
                    ChannelFigures(name))

    def estimated_cost(self, price_per_segment: int, cost_per_message: int = 0) -> int:
        """Rupiah: every SMS segment is billed, a long SMS being several; a WhatsApp template
        once, unless it failed."""
        return (self.segments * price_per_segment
                + self.channel(outbox.WHATSAPP).billed * cost_per_message)


def sms_today(connection: Connection, now: datetime, office: str | None = None) -> SmsDay:
    """For an operator, the messages to phones of families of their kecamatan."""
    day = local_date(now)
    start, end = day_span(day)
    groups, channels = _channel_figures(connection, start, end, office)
    segments = next(each.segments for each in channels if each.channel == outbox.SMS)
    return SmsDay(day, segments=segments, channels=channels, **groups)


@dataclass(frozen=True)
class ChannelSpan:
    """The messages of the last days per channel, today included."""

    first: date
    last: date
    channels: tuple[ChannelFigures, ...]

    def channel(self, name: str) -> ChannelFigures:
        return next((each for each in self.channels if each.channel == name),
                    ChannelFigures(name))

    def estimated_cost(self, price_per_segment: int, cost_per_message: int) -> int:
        return sum(each.estimated_cost(price_per_segment, cost_per_message)
                   for each in self.channels)


def channels_over(connection: Connection, now: datetime, office: str | None = None,
                  days: int = CHART_DAYS) -> ChannelSpan:
    """Messages per channel over the last `days` local days, today last."""
    last = local_date(now)
    first = last - timedelta(days=days - 1)
    _, channels = _channel_figures(connection, day_span(first)[0], day_span(last)[1], office)
    return ChannelSpan(first, last, channels)


# --- the last 30 days -------------------------------------------------------------------------

Series = tuple[tuple[date, int], ...]


@dataclass(frozen=True)
class Activity:
    """Per local day, oldest first, every day present (zero when nothing happened)."""

    registrations: Series  # applications created
    printed: Series  # cards printed
    collected: Series  # cards collected
    # Applications created per document (those offered, and any other registered in the span).
    by_document: Mapping[str, Series] = field(default_factory=dict)


def _per_day(connection: Connection, column: Any, days: Sequence[date],
             scoped: Callable[[Select[Any]], Select[Any]]) -> Series:
    since, until = day_span(days[0])[0], day_span(days[-1])[1]
    day = _local_day(column, connection.dialect.name)
    query = scoped(select(day, func.count()).where(column >= since, column < until)
                   .group_by(day))
    counts = {_as_date(value): int(count) for value, count in connection.execute(query)}
    return tuple((each, counts.get(each, 0)) for each in days)


def _per_day_and_document(connection: Connection, days: Sequence[date],
                          scoped: Callable[[Select[Any]], Select[Any]]
                          ) -> dict[str, Series]:
    """Applications created per local day and document: one GROUP BY."""
    column = _APPLICATION.c.created_at
    since, until = day_span(days[0])[0], day_span(days[-1])[1]
    day = _local_day(column, connection.dialect.name)
    query = scoped(select(day, _APPLICATION.c.document, func.count())
                   .where(column >= since, column < until)
                   .group_by(day, _APPLICATION.c.document))
    counts: dict[str, dict[date, int]] = {code: {} for code in documents.enabled()}
    for value, code, count in connection.execute(query):
        counts.setdefault(code, {})[_as_date(value)] = int(count)
    return {code: tuple((each, per_day.get(each, 0)) for each in days)
            for code, per_day in counts.items()}


def daily_activity(connection: Connection, now: datetime, office: str | None = None,
                   days: int = CHART_DAYS, document: str | None = None) -> Activity:
    """Registrations (in all and per document), prints and collections per day over the last
    `days` days, today last; of one `document` when given."""
    last = local_date(now)
    span = [last - timedelta(days=back) for back in range(days - 1, -1, -1)]

    def kecamatan(query: Select[Any]) -> Select[Any]:
        return _of_document(_in_kecamatan(query, office), document)

    def at_office(query: Select[Any]) -> Select[Any]:
        return _of_document(_at_office(query, office), document)

    by_document = _per_day_and_document(connection, span, kecamatan)
    registrations = tuple((each, sum(series[index][1] for series in by_document.values()))
                          for index, each in enumerate(span))
    return Activity(
        registrations=registrations,
        printed=_per_day(connection, _APPLICATION.c.printed_at, span, kecamatan),
        collected=_per_day(connection, _APPLICATION.c.collected_at, span, at_office),
        by_document=by_document)


# --- everything -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Dashboard:
    office: str | None  # None: the whole city
    at: datetime
    stages: StageTable
    printing: PrintQueue
    pickups: Pickups
    sms: SmsDay
    activity: Activity
    documents: DocumentTable | None = None  # per document and stage, every document
    document: str | None = None  # the document `stages` and `activity` are of (None: all)
    # The print queues of the other kinds of card offered (the KIA's) once they have a card or a
    # blangko (before, the page is the KTP-el's alone); `printing` is the KTP-el's.
    other_printing: tuple[PrintQueue, ...] = ()
    # The messages of the last 30 days per channel (today's are in `sms`).
    recent_channels: ChannelSpan | None = None


def dashboard(connection: Connection, now: datetime, office: str | None = None, *,
              sites: Iterable[str] = (), slot_minutes: Mapping[str, int] | None = None,
              document: str | None = None) -> Dashboard:
    """Every figure of the page, in the caller's transaction."""
    counts = stage_counts(connection, office)
    return Dashboard(office, now, counts.by_kecamatan(document),
                     print_queue(connection, tuple(sites), office),
                     pickups_today(connection, now, office, slot_minutes),
                     sms_today(connection, now, office),
                     daily_activity(connection, now, office, document=document),
                     documents=counts.by_document(), document=document,
                     other_printing=tuple(
                         queue for queue in (print_queue(connection, tuple(sites), office, card)
                                             for card in other_cards())
                         if queue.waiting_city or queue.in_batch
                         or any(site.total for site in queue.stocks)),
                     recent_channels=channels_over(connection, now, office))

