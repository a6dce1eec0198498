"""The counter (loket): finding a family's visit from whatever the resident brings (the pickup
code on their phone, a reference, a NIK, a KK or the family's phone), the visit as the counter
shows it, the family without an open visit, and the day's list of cards to take out of the
drawer.

Every lookup is by an indexed column: the open code (unique), a reference (unique), a NIK or a
KK by its keyed hash, a phone. Numbers leave this module masked; the pickup code never leaves
it (staff type it, they never read it). `office`: an operator's kecamatan, outside which nothing
is found, so that another office's families are not even disclosed.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Select, select

from sms_ktp.applications.document_files import LINK_CODE_LENGTH
from sms_ktp.backoffice.search import (
    PICKUP_OPEN,
    CodeVisit,
    Key,
    parse_query,
    read_code,
    visit_by_code,
)
from sms_ktp.domain.local_time import start_of_day
from sms_ktp.domain.masking import mask_id, mask_phone
from sms_ktp.domain.stages import Stage
from sms_ktp.models import Application, Family, PickupVisit

_APPLICATION = Application.__table__
_FAMILY = Family.__table__
_VISIT = PickupVisit.__table__
_OPEN_STAGES = [stage.value for stage in PICKUP_OPEN]
FAMILY_LIMIT = 20  # a phone or a NIK belongs to a family or two; this only bounds a page


@dataclass(frozen=True)
class CounterQuery:
    """What was typed at the counter. `kind`: "code", "link" (a signed PDF's code), "reference",
    "number" (16 digits: a NIK or a KK), "phone", "empty" or "unknown"; `shown`: what the page
    may say back (a number masked, a code never)."""

    kind: str
    value: str = ""
    shown: str = ""


def parse_counter_query(text: str) -> CounterQuery:
    """A visit's code (a pickup's or a papers visit's) as residents read it out or copy it from
    their SMS ("akd 3-4f", "Kode AKD34F"), a signed PDF's code (8 letters, `document_files`:
    quoted at the office to have it printed), else what the applications search understands
    (separators between digits ignored)."""
    code = read_code(text)
    if code is not None:
        return CounterQuery("code", code, "kode ambil")
    link = read_code(text, LINK_CODE_LENGTH)
    if link is not None:
        return CounterQuery("link", link, "kode dokumen")
    query = parse_query(text[:100])
    kinds = {Key.RECENT: "empty", Key.REFERENCE: "reference", Key.NIK: "number",
             Key.PHONE: "phone", Key.CODE: "code", Key.UNKNOWN: "unknown"}
    shown = mask_phone(query.value) if query.key is Key.PHONE else query.shown
    return CounterQuery(kinds[query.key], query.value, shown)


@dataclass(frozen=True)
class Found:
    """Where a search leads: one open visit, else the families it matched (possibly none).
    `used_code`: the code typed was a pickup's, already used or given up; `code_visit`: the
    visit the code typed names, open or closed (a papers visit has a page of its own)."""

    visit_id: int | None = None
    family_ids: tuple[int, ...] = ()
    used_code: bool = False
    code_visit: CodeVisit | None = field(default=None, compare=False)  # what it says


def find(connection: Connection, query: CounterQuery, office: str | None) -> Found:
    """The visit or families `query` names. A card found by its reference or NIK leads to its
    own open visit; a family (by KK or phone, or a card without an open visit) to its only open
    visit, else to the family."""
    if query.kind == "code":
        return _by_code(connection, query.value, office)
    if query.kind == "reference":
        cards = _cards_where(connection, _APPLICATION.c.reference == query.value, office)
        return _resolve(connection, cards, [], office)
    if query.kind == "number":
        cards = _cards_where(connection, _APPLICATION.c.nik_hash == query.value, office)
        families = _families_where(connection, _FAMILY.c.kk_hash == query.value, office)
        return _resolve(connection, cards, families, office)
    if query.kind == "phone":
        families = _families_where(connection, _FAMILY.c.phone == query.value, office)
        return _resolve(connection, [], families, office)
    return Found()


def code_opens(connection: Connection, visit_id: int, code: str) -> bool:
    """Whether `code`, typed from the resident's SMS, is the open code of this visit."""
    open_code = connection.execute(select(_VISIT.c.open_code)
                                   .where(_VISIT.c.id == visit_id)).scalar()
    return open_code is not None and hmac.compare_digest(open_code.encode(), code.encode())


def _visible(statement: Select[Any], office: str | None) -> Select[Any]:
    return statement if office is None else statement.where(_FAMILY.c.kecamatan_code == office)


def _by_code(connection: Connection, code: str, office: str | None) -> Found:
    """An open pickup leads to its visit; a papers visit (open or not) and a pickup already
    used are told as such (`code_visit`), with the family."""
    found = visit_by_code(connection, code, office=office)
    if found is None:
        return Found()
    if found.papers:
        return Found(family_ids=(found.family_id,), code_visit=found)
    if found.open:
        return Found(visit_id=found.id, family_ids=(found.family_id,), code_visit=found)
    return Found(family_ids=(found.family_id,), used_code=True, code_visit=found)


def _cards_where(connection: Connection, where: Any, office: str | None) -> list[Any]:
    statement = (select(_APPLICATION.c.family_id, _APPLICATION.c.visit_id,
                        _APPLICATION.c.stage, _VISIT.c.open_code)
                 .join(_FAMILY, _FAMILY.c.id == _APPLICATION.c.family_id)
                 .outerjoin(_VISIT, _VISIT.c.id == _APPLICATION.c.visit_id)
                 .where(where).order_by(_APPLICATION.c.id.desc()).limit(FAMILY_LIMIT))
    return connection.execute(_visible(statement, office)).all()


def _families_where(connection: Connection, where: Any, office: str | None) -> list[int]:
    statement = select(_FAMILY.c.id).where(where).order_by(_FAMILY.c.id).limit(FAMILY_LIMIT)
    return list(connection.execute(_visible(statement, office)).scalars())


def _resolve(connection: Connection, cards: list[Any], families: list[int],
             office: str | None) -> Found:
    own = list(dict.fromkeys(card.visit_id for card in cards
                             if card.open_code is not None and card.stage in _OPEN_STAGES))
    family_ids = tuple(dict.fromkeys([*(card.family_id for card in cards), *families]))
    if len(own) == 1:
        return Found(visit_id=own[0], family_ids=family_ids)
    if len(family_ids) == 1 and not own:
        visits = open_visits(connection, family_ids[0])
        if len(visits) == 1:
            return Found(visit_id=visits[0].id, family_ids=family_ids)
    return Found(family_ids=family_ids)


@dataclass(frozen=True)
class Card:
    """A card as the counter shows it: the NIK masked; `reason` says what the owner brings."""

    reference: str
    nik: str
    stage: str
    reason: str
    visit_id: int | None = None  # its open visit, if it has one
    pickup_at: datetime | None = None


@dataclass(frozen=True)
class VisitSummary:
    id: int
    starts_at: datetime | None  # None: held at the office after missed slots
    cards: int


@dataclass(frozen=True)
class Visit:
    """An open family visit: its office and slot, its cards to hand over, the family (masked)
    and the family's other open visits."""

    id: int
    family_id: int
    office: str
    starts_at: datetime | None
    reminded_at: datetime | None
    kk: str
    phone: str
    cards: tuple[Card, ...]
    others: tuple[VisitSummary, ...]

    @property
    def held(self) -> bool:
        """Held at the office after missed slots: any day, in opening hours."""
        return self.starts_at is None

    @property
    def references(self) -> frozenset[str]:
        return frozenset(card.reference for card in self.cards)


_CARD = (select(_APPLICATION.c.reference, _APPLICATION.c.nik, _APPLICATION.c.stage,
                _APPLICATION.c.reason, _APPLICATION.c.visit_id, _APPLICATION.c.pickup_at)
         .order_by(_APPLICATION.c.id))


def _card(row: Any, open_visits: set[int] | None = None) -> Card:
    visit_id = row.visit_id if open_visits is None or row.visit_id in open_visits else None
    return Card(row.reference, mask_id(row.nik), row.stage, row.reason, visit_id,
                row.pickup_at if visit_id is not None else None)


def visit(connection: Connection, visit_id: int, office: str | None) -> Visit | None:
    """The open visit (with cards still to hand over) if the member of staff may see it."""
    statement = (select(_VISIT.c.id, _VISIT.c.family_id, _VISIT.c.office, _VISIT.c.starts_at,
                        _VISIT.c.reminded_at, _FAMILY.c.kk, _FAMILY.c.phone)
                 .join(_FAMILY, _FAMILY.c.id == _VISIT.c.family_id)
                 .where(_VISIT.c.id == visit_id, _VISIT.c.open_code.is_not(None)))
    if office is not None:
        statement = statement.where(_VISIT.c.office == office)
    row = connection.execute(statement).first()
    if row is None:
        return None
    cards = tuple(_card(card) for card in connection.execute(
        _CARD.where(_APPLICATION.c.visit_id == visit_id,
                    _APPLICATION.c.stage.in_(_OPEN_STAGES))))
    if not cards:
        return None
    others = tuple(summary for summary in open_visits(connection, row.family_id)
                   if summary.id != visit_id)
    return Visit(row.id, row.family_id, row.office, row.starts_at, row.reminded_at,
                 mask_id(row.kk), mask_phone(row.phone), cards, others)


def open_visits(connection: Connection, family_id: int) -> list[VisitSummary]:
    """The family's visits with cards still to hand over, the earliest first (held ones last)."""
    rows = connection.execute(
        select(_VISIT.c.id, _VISIT.c.starts_at, _APPLICATION.c.id.label("card"))
        .join(_APPLICATION, _APPLICATION.c.visit_id == _VISIT.c.id)
        .where(_VISIT.c.family_id == family_id, _VISIT.c.open_code.is_not(None),
               _APPLICATION.c.stage.in_(_OPEN_STAGES))
        .order_by(_VISIT.c.id)).all()
    counted: dict[int, list[Any]] = {}
    for row in rows:
        counted.setdefault(row.id, []).append(row)
    summaries = [VisitSummary(visit_id, cards[0].starts_at, len(cards))
                 for visit_id, cards in counted.items()]
    return sorted(summaries, key=lambda summary: (summary.starts_at is None,
                                                  summary.starts_at or datetime.min, summary.id))


@dataclass(frozen=True)
class FamilyView:
    """A family as the counter shows it when it has no one visit to open: every card with its
    stage, and its open visits."""

    id: int
    kk: str
    phone: str
    kecamatan_code: str
    cards: tuple[Card, ...]
    visits: tuple[VisitSummary, ...]


def family(connection: Connection, family_id: int, office: str | None) -> FamilyView | None:
    statement = _visible(select(_FAMILY).where(_FAMILY.c.id == family_id), office)
    row = connection.execute(statement).first()
    if row is None:
        return None
    visits = tuple(open_visits(connection, family_id))
    opened = {summary.id for summary in visits}
    cards = tuple(_card(card, opened) for card in connection.execute(
        _CARD.where(_APPLICATION.c.family_id == family_id).limit(100)))
    return FamilyView(row.id, mask_id(row.kk), mask_phone(row.phone), row.kecamatan_code,
                      cards, visits)


@dataclass(frozen=True)
class DayVisit:
    id: int
    starts_at: datetime | None
    cards: tuple[Card, ...]


@dataclass(frozen=True)
class DayList:
    """The cards to take out of the drawer for one office's day, by slot and family visit, and
    those held at the office (their family may come any day)."""

    office: str
    day: date
    slots: tuple[tuple[datetime, tuple[DayVisit, ...]], ...]
    held: tuple[DayVisit, ...]

    @property
    def total(self) -> int:
        return sum(len(visit.cards) for _, visits in self.slots for visit in visits)

    @property
    def families(self) -> int:
        return sum(len(visits) for _, visits in self.slots)


def day_list(connection: Connection, office: str, day: date) -> DayList:
    """The office's open visits of that (local) day, slot by slot."""
    base = (select(_VISIT.c.id.label("visit"), _VISIT.c.starts_at.label("slot"),
                   _APPLICATION.c.reference, _APPLICATION.c.nik, _APPLICATION.c.stage,
                   _APPLICATION.c.reason, _APPLICATION.c.visit_id, _APPLICATION.c.pickup_at)
            .join(_APPLICATION, _APPLICATION.c.visit_id == _VISIT.c.id)
            .where(_VISIT.c.office == office, _VISIT.c.open_code.is_not(None),
                   _APPLICATION.c.stage.in_(_OPEN_STAGES))
            .order_by(_VISIT.c.starts_at, _VISIT.c.id, _APPLICATION.c.id))
    scheduled = connection.execute(base.where(
        _VISIT.c.starts_at >= start_of_day(day),
        _VISIT.c.starts_at < start_of_day(day + timedelta(days=1)),
        _APPLICATION.c.stage == Stage.PICKUP_SCHEDULED.value)).all()
    held = connection.execute(base.where(_VISIT.c.starts_at.is_(None))).all()
    slots: dict[datetime, list[DayVisit]] = {}
    for visit_ in _day_visits(scheduled):
        assert visit_.starts_at is not None
        slots.setdefault(visit_.starts_at, []).append(visit_)
    return DayList(office, day, tuple((start, tuple(visits)) for start, visits in slots.items()),
                   tuple(_day_visits(held)))


def _day_visits(rows: list[Any]) -> list[DayVisit]:
    grouped: dict[int, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row.visit, []).append(row)
    return [DayVisit(visit_id, cards[0].slot, tuple(_card(card) for card in cards))
            for visit_id, cards in grouped.items()]
