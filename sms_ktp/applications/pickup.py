"""Pickup scheduling by family visit: a family's printed cards are collected at its office (the
kecamatan of the KK) in one slot, the earliest with room for all of them from the next working
day, announced by one SMS with the day, time, place, the cards and one code to show at the
counter; one reminder, one move, one hand-over. Capacity is counted in cards per slot.

Capacity is kept in `pickup_slot` rows locked while a run books them, and the cards a run
schedules are claimed with SKIP LOCKED, so two allocation runs at once (two workers) neither
book a slot beyond its capacity nor schedule a card twice. On SQLite a run is one write
transaction, which serialises them.
"""

from __future__ import annotations

import logging
import secrets
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import Connection, bindparam, case, func, or_, select, update

from flows.catalogue import render
from flows.dates import say_day, say_time
from flows.papers import PURPOSE as PAPERS
from flows.visits import VisitWording, card_name, visit_text
from gsm7.encoding import GSM7_SINGLE, septets
from sms_ktp.applications.pipeline import Move, change_stages, notice_rows
from sms_ktp.domain.documents import card_of
from sms_ktp.domain.local_time import local_date, start_of_day
from sms_ktp.domain.masking import mask_id
from sms_ktp.domain.pickup_calendar import Office, WorkingCalendar, local, slot_starts
from sms_ktp.domain.quiet_hours import QuietHours
from sms_ktp.domain.stages import Stage
from sms_ktp.models import Application, Family, PickupSlot, PickupVisit, in_stage
from sms_ktp.platform.bulk import insert_rows
from sms_ktp.platform.clock import Clock
from sms_ktp.platform.config import DeliverySettings
from sms_ktp.platform.db import Database

CODE_ALPHABET = "ACDEFHJKMNPRTUVWXY34679"  # no 0/O, 1/I/L, 2/Z, 5/S, 8/B: easy to read out
CODE_LENGTH = 6
ACTOR = "system:pickup"
_SCHEDULED = "notify.pickup_scheduled"
_APPLICATION = Application.__table__
_FAMILY = Family.__table__
_SLOT = PickupSlot.__table__
_VISIT = PickupVisit.__table__
log = logging.getLogger(__name__)
# A papers visit's code is not given to another visit this long after its slot or booking.
PAPERS_CODE_KEPT = timedelta(days=90)
_BOOK = (update(_SLOT).where(_SLOT.c.office == bindparam("_office"),
                             _SLOT.c.starts_at == bindparam("_starts_at"))
         .values(booked=bindparam("_booked")))


@dataclass(frozen=True)
class PickupPolicy:
    offices: Mapping[str, Office]
    calendar: WorkingCalendar
    quiet: QuietHours
    search_days: int = 60
    max_reschedules: int = 2
    max_resident_changes: int = 1
    # Cards posted instead of collected, when the family asks (`sms_ktp.applications.delivery`).
    delivery: DeliverySettings = field(default_factory=DeliverySettings)


class SlotBook:
    """The free places of one office's slots over the search window, booked in memory and
    written back at the end of the run (the rows are locked meanwhile)."""

    def __init__(self, connection: Connection, office: Office, policy: PickupPolicy,
                 after: date) -> None:
        self.office = office
        days = policy.calendar.open_days(office, policy.calendar.next_open_day(office, after),
                                         policy.search_days)
        self.starts = [start for day in days for start in slot_starts(office, day)]
        self._starts = frozenset(self.starts)
        self.booked: dict[datetime, int] = {}
        if self.starts:
            ensure_slots(connection, office, self.starts)
            rows = connection.execute(
                select(_SLOT.c.starts_at, _SLOT.c.booked)
                .where(_SLOT.c.office == office.code, _SLOT.c.starts_at >= self.starts[0],
                       _SLOT.c.starts_at <= self.starts[-1])
                .with_for_update()
            ).all()
            self.booked = {row.starts_at: row.booked for row in rows}
        self.changed: set[datetime] = set()
        self._first_free = 0

    def book(self, places: int, not_before: datetime | None = None) -> datetime | None:
        """The earliest slot with `places` free places (after `not_before`), booked; or None."""
        for index in range(self._first_free, len(self.starts)):
            start = self.starts[index]
            if not_before is not None and start <= not_before:
                continue
            if self.booked.get(start, 0) + places <= self.office.capacity:
                self.booked[start] = self.booked.get(start, 0) + places
                self.changed.add(start)
                return start
            if index == self._first_free and self.booked.get(start, 0) >= self.office.capacity:
                self._first_free += 1  # full: never look at it again in this run
        return None

    def take(self, start: datetime | None, places: int) -> bool:
        """Book `places` more in the slot at `start` (a visit's own) when it has room."""
        if start is None or start not in self._starts:
            return False
        if self.booked.get(start, 0) + places > self.office.capacity:
            return False
        self.booked[start] = self.booked.get(start, 0) + places
        self.changed.add(start)
        return True

    def free_days(self, places: int = 1) -> list[date]:
        """The (local) days with a slot that has `places` free places, in order."""
        days: list[date] = []
        for start in self.starts:
            day = local(start).date()
            if (not days or days[-1] != day) \
                    and self.booked.get(start, 0) + places <= self.office.capacity:
                days.append(day)
        return days

    def book_on(self, day: date, places: int = 1) -> datetime | None:
        """The earliest slot of that (local) day with `places` free places, booked; or None."""
        for start in self.starts:
            if local(start).date() == day \
                    and self.booked.get(start, 0) + places <= self.office.capacity:
                self.booked[start] = self.booked.get(start, 0) + places
                self.changed.add(start)
                return start
        return None

    def write(self, connection: Connection) -> None:
        if self.changed:
            connection.execute(_BOOK, [{"_office": self.office.code, "_starts_at": start,
                                        "_booked": self.booked[start]}
                                       for start in sorted(self.changed)])
            self.changed.clear()


def ensure_slots(connection: Connection, office: Office, starts: list[datetime]) -> None:
    """The slot rows of `starts` (with no place booked) where they do not exist yet."""
    connection.execute(_insert_slots(connection.dialect.name), [
        {"office": office.code, "starts_at": start, "capacity": office.capacity, "booked": 0}
        for start in starts])


@cache
def _insert_slots(dialect: str) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(_SLOT).on_conflict_do_nothing(index_elements=["office", "starts_at"])


def taken_codes(connection: Connection, now: datetime) -> set[str]:
    """The codes a new visit's must differ from, so that a code typed at the counter names one
    visit: every open code, and the codes of recent papers visits (kept `PAPERS_CODE_KEPT`
    after their slot or their booking, since the papers may come later)."""
    recent = or_(_VISIT.c.starts_at >= now - PAPERS_CODE_KEPT,
                 _VISIT.c.created_at >= now - PAPERS_CODE_KEPT)
    return set(connection.execute(
        select(_VISIT.c.open_code).where(_VISIT.c.open_code.is_not(None))
        .union(select(_VISIT.c.code).where(_VISIT.c.purpose == PAPERS, recent))).scalars())


_UNBIASED = 256 - 256 % len(CODE_ALPHABET)  # bytes at or above this would favour some letters


def new_codes(taken: set[str], batch: int = 1024) -> Iterator[str]:
    """Short, unguessable codes, none of them in `taken` (which they join), drawn about
    `batch` at a time (an allocation takes thousands, a papers visit one)."""
    size = len(CODE_ALPHABET)
    while True:
        letters = "".join([CODE_ALPHABET[byte % size]
                           for byte in secrets.token_bytes(CODE_LENGTH * batch)
                           if byte < _UNBIASED])
        for start in range(0, len(letters) - CODE_LENGTH + 1, CODE_LENGTH):
            code = letters[start:start + CODE_LENGTH]
            if code not in taken:
                taken.add(code)
                yield code


def _wording(language: str, office: Office, start: datetime) -> dict[str, str]:
    """The words of a slot."""
    moment = local(start)
    return {"day": say_day(language, moment.date()), "time": say_time(language, moment),
            "office": office.name, "address": office.address}


@dataclass
class _NewVisit:
    family_id: int
    office: Office
    start: datetime
    code: str
    cards: list[Any]
    id: int = 0


def allocate(db: Database, clock: Clock, policy: PickupPolicy, limit: int | None = None) -> int:
    """Schedule every printed card not yet scheduled; returns how many were scheduled. A
    family's cards at one office make one visit in the earliest slot with room for all of
    them (split over slots only when none has room); a card whose family already has a visit
    announced at least a working day ahead joins it when its slot has room. A run takes whole
    families: `limit` is reached family by family, and a family one of whose printed cards
    another run holds is left to that run."""
    now = clock.now()
    with db.connect() as connection:
        read = _printed_families(connection, limit)
        families: dict[str, dict[int, list[Any]]] = defaultdict(lambda: defaultdict(list))
        for row in read.values():
            families[row.kecamatan_code][row.family_id].append(row)
        for unknown in set(families) - set(policy.offices):
            cards = sum(len(members) for members in families.pop(unknown).values())
            log.warning("%d printed card(s) of kecamatan %s wait: no pickup office configured",
                        cards, unknown)
        codes = new_codes(taken_codes(connection, now))
        visits: list[_NewVisit] = []
        moves: list[Move] = []
        notices: dict[str, _Notices] = {}
        for office_code in sorted(families):  # one order for every run: no deadlocks
            office = policy.offices[office_code]
            book = SlotBook(connection, office, policy, local_date(now))
            joinable = _joinable_visits(connection, policy, office, now)
            notices[office_code] = _Notices(policy, office, now)
            for family_id, members in families[office_code].items():
                visit = joinable.get(family_id)
                if visit is not None and book.take(visit.starts_at, len(members)):
                    moves.extend(notices[office_code].joined(visit, members))
                    continue
                for start, cards in _slots_for(book, members):
                    visits.append(_NewVisit(family_id, office, start, next(codes), cards))
            book.write(connection)
        _insert_visits(connection, visits, notices, now)
        for visit in visits:
            moves.extend(notices[visit.office.code].scheduled(visit))
        change_stages(connection, moves, Stage.PICKUP_SCHEDULED, actor=ACTOR, now=now,
                      quiet=policy.quiet, note="pickup scheduled", notice=_SCHEDULED,
                      rows=read)
    return len(moves)


# What a visit's SMS names its cards by (`card_names`).
CARD_NAMING = (_APPLICATION.c.document, _APPLICATION.c.details)


def card_names(cards: Iterable[Any]) -> list[str]:
    """A visit's cards as its SMS names them (`flows.visits.card_name`): a KTP-el by its
    masked NIK, a KIA by the child's birth date. `cards`: rows with `nik` and `CARD_NAMING`."""
    return [card_name(card_of(row.document), mask_id(row.nik), row.details) for row in cards]


_PRINTED_CARDS = (notice_rows(_APPLICATION.c.family_id, _FAMILY.c.kecamatan_code,
                              *CARD_NAMING)
                  .where(in_stage(Stage.PRINTED))
                  .order_by(_APPLICATION.c.printed_at, _APPLICATION.c.id))


def _printed_families(connection: Connection, limit: int | None) -> dict[int, Any]:
    """The printed cards of whole families, locked, earliest printed first: the first `limit`
    cards (SKIP LOCKED: the others are another run's), completed with every printed card of
    their families; a family of which a card is held by another run is left to it (the cards
    locked here are released at the commit)."""
    query = _PRINTED_CARDS.with_for_update(of=_APPLICATION, skip_locked=True)
    first = connection.execute(query.limit(limit) if limit is not None else query).all()
    order = list(dict.fromkeys(row.family_id for row in first))
    cards: dict[int, list[Any]] = defaultdict(list)
    if limit is None:
        for row in first:
            cards[row.family_id].append(row)
    printed = (select(_APPLICATION.c.family_id, func.count()).where(in_stage(Stage.PRINTED))
               .group_by(_APPLICATION.c.family_id))
    totals: dict[int, int] = {}
    if limit is None:  # every printed card was asked for: one count over the printed queue
        totals.update(connection.execute(printed).all())
    else:
        for start in range(0, len(order), 500):
            chunk = order[start:start + 500]
            for row in connection.execute(query.where(_APPLICATION.c.family_id.in_(chunk))):
                cards[row.family_id].append(row)
            totals.update(connection.execute(
                printed.where(_APPLICATION.c.family_id.in_(chunk))).all())
    return {row.id: row for family in order if len(cards[family]) == totals.get(family)
            for row in cards[family]}


def _slots_for(book: SlotBook, members: list[Any]) -> list[tuple[datetime, list[Any]]]:
    """The slots a family's cards are booked into: one with room for all of them, else the
    earliest free places card by card (cards landing in one slot still make one visit)."""
    together = book.book(len(members))
    if together is not None:
        return [(together, members)]
    slots: dict[datetime, list[Any]] = {}
    for row in members:
        start = book.book(1)
        if start is None:
            break  # the window is full: the card waits for the next run
        slots.setdefault(start, []).append(row)
    return list(slots.items())


def _joinable_visits(connection: Connection, policy: PickupPolicy, office: Office,
                     now: datetime) -> dict[int, Any]:
    """The open visits of the office a newly printed card of the family may join: at least one
    working day away (the day before, the cards are taken out of the drawer for the day's
    list), the earliest per family. Locked: a move of the visit waits for the run."""
    after = policy.calendar.next_open_day(office, local_date(now))
    rows = connection.execute(
        select(_VISIT.c.id, _VISIT.c.family_id, _VISIT.c.starts_at, _VISIT.c.code,
               _VISIT.c.reminded_at)
        .where(_VISIT.c.office == office.code, _VISIT.c.open_code.is_not(None),
               _VISIT.c.starts_at >= start_of_day(after + timedelta(days=1)))
        .order_by(_VISIT.c.starts_at.desc())
        .with_for_update())
    return {row.family_id: row for row in rows}


def _insert_visits(connection: Connection, visits: list[_NewVisit],
                   notices: Mapping[str, _Notices], now: datetime) -> None:
    """Write the new visits (one bulk write) and learn their ids by their open codes."""
    insert_rows(connection, _VISIT, [
        {"family_id": visit.family_id, "office": visit.office.code, "starts_at": visit.start,
         "code": visit.code, "open_code": visit.code, "reschedules": 0, "changes": 0,
         "reminded_at": notices[visit.office.code].reminded_at(visit.start), "created_at": now}
        for visit in visits])
    by_code = {visit.code: visit for visit in visits}
    codes = list(by_code)
    for first in range(0, len(codes), 500):
        for visit_id, code in connection.execute(
                select(_VISIT.c.id, _VISIT.c.open_code)
                .where(_VISIT.c.open_code.in_(codes[first:first + 500]))):
            by_code[code].id = visit_id


class _Notices:
    """The SMS of a visit: one for all its cards, sent with its first card (the others' moves
    send none). Slot words and reminder days are worked out once per slot and language: a run
    books thousands of visits into a few hundred slots."""

    def __init__(self, policy: PickupPolicy, office: Office, now: datetime) -> None:
        self.policy, self.office, self.now = policy, office, now
        self._wordings: dict[tuple[str, datetime, str], VisitWording] = {}
        self._reminders: dict[datetime, datetime | None] = {}

    def reminded_at(self, start: datetime) -> datetime | None:
        if start not in self._reminders:
            self._reminders[start] = _reminded_at(self.policy, self.office, start, self.now)
        return self._reminders[start]

    def text(self, key: str, start: datetime, cards: list[Any], code: str) -> str:
        language = cards[0].language
        wording = self._wordings.get((key, start, language))
        if wording is None:
            wording = VisitWording(language, key, **_wording(language, self.office, start))
            self._wordings[(key, start, language)] = wording
        text = wording.text(card_names(cards), code=code)
        if key == _SCHEDULED and self.policy.delivery.post:
            # Where posting is offered, the pickup SMS says so when it stays one SMS with it.
            hinted = text + _post_hint(language)
            if (septets(hinted) or GSM7_SINGLE + 1) <= GSM7_SINGLE:
                return hinted
        return text

    def scheduled(self, visit: _NewVisit) -> list[Move]:
        text = self.text(_SCHEDULED, visit.start, visit.cards, visit.code)
        return _visit_moves(visit.cards, text, visit.id, self.office.code, visit.start,
                            visit.code)

    def joined(self, visit: Any, members: list[Any]) -> list[Move]:
        text = self.text("notify.visit_joined", visit.starts_at, members, visit.code)
        return _visit_moves(members, text, visit.id, self.office.code, visit.starts_at,
                            visit.code)


@cache
def _post_hint(language: str) -> str:
    """The pickup SMS's offer of posting ("Dikirim pos? Balas KIRIM"), worded once per
    language: a run words thousands of visits."""
    return render(language, "post.hint")


def _visit_moves(cards: list[Any], text: str, visit_id: int, office: str, start: datetime | None,
                 code: str) -> list[Move]:
    """The moves of a visit's cards into the visit, its SMS with the first card."""
    return _one_sms(cards, text, {"visit_id": visit_id, "pickup_office": office,
                                  "pickup_at": start, "pickup_code": code})


def _one_sms(cards: list[Any], text: str, values: Mapping[str, Any]) -> list[Move]:
    """The moves of a visit's cards: its one SMS with the first card (the outbox row's
    application), none with the others."""
    return [Move(row.id, values, text=text if index == 0 else "")
            for index, row in enumerate(cards)]


def _reminded_at(policy: PickupPolicy, office: Office, start: datetime,
                 now: datetime) -> datetime | None:
    """`now` when the reminder's day has come already: a pickup scheduled for the next
    working day needs no reminder, the pickup SMS is one."""
    due = _reminder_day(policy.calendar, office, local(start).date())
    return now if due <= local_date(now) else None


@lru_cache(maxsize=4096)
def _reminder_day(calendar: WorkingCalendar, office: Office, pickup_day: date) -> date:
    """The working day before the pickup day (cached: thousands of pickups, few days)."""
    day = pickup_day - timedelta(days=1)
    for _ in range(366):
        if calendar.is_open(office, day):
            return day
        day -= timedelta(days=1)
    return day


_RELEASE = (update(_SLOT).where(_SLOT.c.office == bindparam("_office"),
                                _SLOT.c.starts_at == bindparam("_starts_at"))
            .values(booked=case((_SLOT.c.booked > bindparam("_places"),
                                 _SLOT.c.booked - bindparam("_places")), else_=0)))


def release_slot(connection: Connection, office: str, starts_at: datetime,
                 places: int = 1) -> None:
    """Give places of a slot back (a visit moved away, or cards that left it)."""
    connection.execute(_RELEASE, {"_office": office, "_starts_at": starts_at,
                                  "_places": places})


class MoveRefused(Exception):
    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key, self.params = key, params


_VISIT_CARDS = (notice_rows(_APPLICATION.c.stage, _APPLICATION.c.visit_id, *CARD_NAMING)
                .where(_APPLICATION.c.visit_id == bindparam("visit"),
                       _APPLICATION.c.stage.in_([Stage.PICKUP_SCHEDULED.value,
                                                 Stage.MISSED_PICKUP.value]))
                .order_by(_APPLICATION.c.id))


def visit_cards(connection: Connection, visit_id: int) -> list[Any]:
    """The cards of a visit still to hand over, first card first (its SMS goes with it)."""
    return connection.execute(_VISIT_CARDS.with_for_update(of=_APPLICATION),
                              {"visit": visit_id}).all()


def _locked_visit(connection: Connection, visit_id: int) -> Any:
    return connection.execute(select(_VISIT).where(_VISIT.c.id == visit_id)
                              .with_for_update()).one()


def move(connection: Connection, policy: PickupPolicy, visit_id: int, now: datetime,
         actor: str, on: date | None = None) -> datetime:
    """Move a family visit (the resident asked: UBAH JADWAL) with all its cards to another
    day: the first slot of `on` (a local day) with room for them all, or without one of the
    first working day with such a slot after the visit's own day; never a later time of the
    same day, which a family that cannot come that day has no use for. Returns the new slot.
    Raises `MoveRefused` with a catalogue key: the resident's changes are used up
    ("pickup.no_more_changes" with the limit as `n`, "pickup.no_changes" when SMS may not
    move pickups at all), `on` is the visit's own day ("pickup.same_day"), `on` has no free
    slot ("pickup.day_unavailable" with the free `day` nearest to it), or no day has
    ("pickup.full"). A refusal changes nothing and counts as no change."""
    visit = _locked_visit(connection, visit_id)
    if visit.changes >= policy.max_resident_changes:
        raise MoveRefused("pickup.no_more_changes" if policy.max_resident_changes
                          else "pickup.no_changes", n=policy.max_resident_changes)
    office = policy.offices.get(visit.office)
    cards = visit_cards(connection, visit_id)
    if office is None or visit.starts_at is None or not cards:
        raise MoveRefused("pickup.full")
    start = rebook_visit(connection, policy, office, visit, len(cards), now, on, "pickup")
    change_stages(connection, [Move(row.id, {"pickup_at": start}) for row in cards],
                  Stage.PICKUP_SCHEDULED, actor=actor, now=now, quiet=policy.quiet,
                  note="pickup moved by the resident", notice="",
                  rows={row.id: row for row in cards})
    return start


def _set_visit(connection: Connection, visit_id: int, **values: Any) -> None:
    connection.execute(update(_VISIT).where(_VISIT.c.id == visit_id).values(**values))


def rebook_visit(connection: Connection, policy: PickupPolicy, office: Office, visit: Any,
                 places: int, now: datetime, on: date | None, refusals: str) -> datetime:
    """The resident's move of a visit (locked, with a slot) taking `places` to another day: the
    first slot of `on` (a local day) with room for them, or without one of the first working
    day with such a slot after the visit's own day; never a later time of the same day. The
    new slot booked, the old one's places given back, the visit's slot, changes and reminder
    set. Returns the new slot. Raises `MoveRefused` with `refusals`' "same_day" or
    "day_unavailable" (with the free `day` nearest to `on`), or "pickup.full"."""
    current = local(visit.starts_at).date()
    if on == current:
        raise MoveRefused(f"{refusals}.same_day")
    book = SlotBook(connection, office, policy, local_date(now))  # open days after today
    free = [day for day in book.free_days(places) if day != current]
    if on is None:
        day = next((day for day in free if day > current), None)
        if day is None:
            raise MoveRefused("pickup.full")
    elif on not in free:
        if not free:
            raise MoveRefused("pickup.full")
        # The nearest free day, the later one of two as near.
        raise MoveRefused(f"{refusals}.day_unavailable",
                          day=min(free, key=lambda day: (abs(day - on), day < on)))
    else:
        day = on
    start = book.book_on(day, places)
    assert start is not None  # a free day has a free slot
    book.write(connection)
    release_slot(connection, office.code, visit.starts_at, places)
    _set_visit(connection, visit.id, starts_at=start, changes=visit.changes + 1,
               reminded_at=_reminded_at(policy, office, start, now))
    return start


class VerifyError(Exception):
    pass


@dataclass(frozen=True)
class Handover:
    """What happened at the counter: the references handed over, and those of the visit kept
    to collect later (a member who did not come), which get a visit of their own."""

    handed: tuple[str, ...]
    kept: tuple[str, ...]


def visit_by_code(connection: Connection, code: str) -> tuple[Any, list[Any]]:
    """The open visit of a pickup code and its cards to hand over; raises `VerifyError`."""
    code = code.strip().upper()
    visit = connection.execute(select(_VISIT).where(_VISIT.c.open_code == code)
                               .with_for_update()).first()
    cards = visit_cards(connection, visit.id) if visit is not None else []
    if visit is None or not cards:
        used = connection.execute(select(_VISIT.c.purpose).where(_VISIT.c.code == code)
                                  .order_by(_VISIT.c.id.desc())).first()
        if used is not None and used.purpose == PAPERS:
            raise VerifyError(f"code {code} is a papers visit's, not a pickup's: the Loket "
                              "opens it")
        raise VerifyError(f"pickup code {code} was already used" if used
                          else f"unknown pickup code {code}")
    return visit, cards


def verify(db: Database, clock: Clock, code: str, actor: str,
           only: Collection[str] | None = None) -> Handover:
    """Hand over the cards of the visit with this open code: all of them, or only those whose
    reference is in `only` (the others go back to be scheduled again, in a visit of their
    own, and the family gets its SMS). Raises `VerifyError` for an unknown or used code, or a
    reference that is not the visit's."""
    now = clock.now()
    with db.connect() as connection:
        visit, cards = visit_by_code(connection, code)
        return _hand_over(connection, visit, cards, actor, now, only)


def hand_over(db: Database, clock: Clock, visit_id: int, proven: Callable[[str], bool],
              actor: str, only: Collection[str] | None = None) -> Handover:
    """`verify` for a visit found by other means (the counter's search): the code was typed
    earlier and the caller kept only a proof of it, which `proven` checks against the visit's
    open code under the visit's lock, so a code used or given up meanwhile hands nothing over.
    Raises `VerifyError` as `verify` does."""
    now = clock.now()
    with db.connect() as connection:
        visit = connection.execute(select(_VISIT).where(_VISIT.c.id == visit_id)
                                   .with_for_update()).first()
        if visit is None or visit.open_code is None or not proven(visit.open_code):
            raise VerifyError(f"visit {visit_id} is not open with that code")
        cards = visit_cards(connection, visit.id)
        if not cards:
            raise VerifyError(f"visit {visit_id} has no card to hand over")
        return _hand_over(connection, visit, cards, actor, now, only)


def _hand_over(connection: Connection, visit: Any, cards: list[Any], actor: str, now: datetime,
               only: Collection[str] | None) -> Handover:
    """The hand-over itself, on a locked open visit and its locked cards."""
    if only is not None:
        strangers = sorted(set(only) - {row.reference for row in cards})
        if strangers or not only:
            raise VerifyError(f"not a card of visit {visit.code}: {', '.join(strangers)}"
                              if strangers else "no card chosen")
    handed = [row for row in cards if only is None or row.reference in only]
    kept = [row for row in cards if row not in handed]
    rows = {row.id: row for row in cards}
    change_stages(connection, [Move(row.id, {"collected_at": now}) for row in handed],
                  Stage.COLLECTED, actor=actor, now=now, quiet=QuietHours(),
                  note=f"collected with {visit.code}", rows=rows)
    if kept:
        if visit.starts_at is not None:
            release_slot(connection, visit.office, visit.starts_at, len(kept))
        change_stages(connection, [Move(row.id, {"visit_id": None, "pickup_at": None})
                                   for row in kept],
                      Stage.PRINTED, actor=actor, now=now, quiet=QuietHours(),
                      note="not collected with the family's visit: a new visit follows",
                      notice="", rows=rows)
    _set_visit(connection, visit.id, open_code=None)
    return Handover(tuple(row.reference for row in handed),
                    tuple(row.reference for row in kept))


def _due_visits(connection: Connection, *where: Any) -> dict[int, list[Any]]:
    """Open visits matching `where` with their cards to hand over (locked), by visit."""
    rows = connection.execute(
        notice_rows(_APPLICATION.c.stage, _APPLICATION.c.visit_id, _VISIT.c.office,
                    _VISIT.c.starts_at, _VISIT.c.code, _VISIT.c.reschedules, *CARD_NAMING)
        .join(_VISIT, _VISIT.c.id == _APPLICATION.c.visit_id)
        .where(_VISIT.c.open_code.is_not(None), *where)
        .order_by(_VISIT.c.starts_at, _APPLICATION.c.id)
        .with_for_update(of=_APPLICATION, skip_locked=True)).all()
    visits: dict[int, list[Any]] = {}
    for row in rows:
        visits.setdefault(row.visit_id, []).append(row)
    return visits


def _visit_notice(cards: list[Any], key: str, office: Office, start: datetime | None,
                  code: str, values: Mapping[str, Any]) -> list[Move]:
    """One SMS about the visit, with its first card; the other cards' moves send none."""
    lead = cards[0]
    words = (_wording(lead.language, office, start) if start is not None
             else {"office": office.name})
    text = visit_text(lead.language, key, card_names(cards), **words, code=code)
    return _one_sms(cards, text, values)


def retell_visit(connection: Connection, policy: PickupPolicy, visit_id: int,
                 now: datetime) -> bool:
    """The visit's pickup SMS again, for the cards still in it: the one waiting for the end
    of quiet hours went with a card that has just left the visit, and named it. Returns
    whether an SMS was queued (none for a visit held at the office or left empty)."""
    visit = connection.execute(select(_VISIT).where(_VISIT.c.id == visit_id)).first()
    office = policy.offices.get(visit.office) if visit is not None else None
    cards = [row for row in visit_cards(connection, visit_id)
             if row.stage == Stage.PICKUP_SCHEDULED.value]
    if visit is None or office is None or visit.starts_at is None or not cards:
        return False
    # Worded as the allocation words it (the offer of posting included, where it fits).
    text = _Notices(policy, office, now).text(_SCHEDULED, visit.starts_at, cards, visit.code)
    change_stages(connection, _one_sms(cards, text, {}),
                  Stage.PICKUP_SCHEDULED, actor=ACTOR, now=now, quiet=policy.quiet,
                  note="pickup SMS worded again: a card left the visit", notice=_SCHEDULED,
                  rows={row.id: row for row in cards})
    return True


def remind(db: Database, clock: Clock, policy: PickupPolicy, reminder_time: Any) -> int:
    """On the working day before a visit, from `reminder_time` (local), send its reminder:
    one SMS for all its cards. Returns how many visits were reminded."""
    now = clock.now()
    if local(now).time() < reminder_time:
        return 0
    today = local_date(now)
    with db.connect() as connection:
        due = _due_visits(connection, _VISIT.c.reminded_at.is_(None), _VISIT.c.starts_at > now,
                          _APPLICATION.c.stage == Stage.PICKUP_SCHEDULED.value)
        moves: list[Move] = []
        reminded = []
        for visit_id, cards in due.items():
            office = policy.offices.get(cards[0].office)
            if office is None or _reminder_day(policy.calendar, office,
                                               local(cards[0].starts_at).date()) != today:
                continue
            reminded.append(visit_id)
            moves.extend(_visit_notice(cards, "notify.reminder", office, cards[0].starts_at,
                                       cards[0].code, {}))
        if reminded:
            connection.execute(update(_VISIT).where(_VISIT.c.id.in_(reminded))
                               .values(reminded_at=now))
        change_stages(connection, moves, Stage.PICKUP_SCHEDULED, actor=ACTOR, now=now,
                      quiet=policy.quiet, note="reminder sent", notice="notify.reminder",
                      rows={row.id: row for cards in due.values() for row in cards},
                      supersedes=False)
    return len(reminded)


def reschedule_missed(db: Database, clock: Clock, policy: PickupPolicy) -> int:
    """A visit not collected by the end of its day moves with all its cards to the next slot
    with room for them, at most `max_reschedules` times; then its cards are held at the
    office. Returns how many visits were moved or held."""
    now = clock.now()
    today = local_date(now)
    with db.connect() as connection:
        missed = _due_visits(connection, _VISIT.c.starts_at < start_of_day(today),
                             _APPLICATION.c.stage == Stage.PICKUP_SCHEDULED.value)
        moved: list[Move] = []
        held: list[Move] = []
        books: dict[str, SlotBook] = {}
        changed: list[dict[str, Any]] = []
        for visit_id, cards in missed.items():
            first = cards[0]
            office = policy.offices.get(first.office)
            if office is None:
                continue
            if first.reschedules >= policy.max_reschedules:
                held.extend(_visit_notice(cards, "notify.missed_pickup", office, None,
                                          first.code, {"pickup_at": None}))
                changed.append({"_id": visit_id, "_starts_at": None, "_reminded_at": None,
                                "_reschedules": first.reschedules})
                continue
            if office.code not in books:
                books[office.code] = SlotBook(connection, office, policy, today)
            start = books[office.code].book(len(cards))
            if start is None:
                continue
            moved.extend(_visit_notice(cards, "notify.rescheduled", office, start, first.code,
                                       {"pickup_at": start}))
            changed.append({"_id": visit_id, "_starts_at": start, "_reminded_at": None,
                            "_reschedules": first.reschedules + 1})
        for code in sorted(books):
            books[code].write(connection)
        if changed:
            connection.execute(
                update(_VISIT).where(_VISIT.c.id == bindparam("_id"))
                .values(starts_at=bindparam("_starts_at"), reminded_at=bindparam("_reminded_at"),
                        reschedules=bindparam("_reschedules")), changed)
        rows = {row.id: row for cards in missed.values() for row in cards}
        change_stages(connection, moved, Stage.PICKUP_SCHEDULED, actor=ACTOR, now=now,
                      quiet=policy.quiet, note="pickup missed: rescheduled",
                      notice="notify.rescheduled", rows=rows)
        change_stages(connection, held, Stage.MISSED_PICKUP, actor=ACTOR, now=now,
                      quiet=policy.quiet, note="pickup missed too often: held at the office",
                      notice="notify.missed_pickup", rows=rows)
    return len(changed)


def reschedule_by_staff(db: Database, clock: Clock, policy: PickupPolicy, reference: str,
                        actor: str) -> datetime:
    """Staff move the visit of a card (scheduled, or held at the office after missed ones)
    with all its cards to the next slot with room for them after its own, and tell the
    family; returns the new slot. A decision at the counter, so neither the resident's
    `max_resident_changes` nor the automatic `max_reschedules` limits it. The old slot's
    places are given back. Raises `MoveRefused` ("pickup.none": no open visit;
    "pickup.full": no free slot in the search window)."""
    now = clock.now()
    with db.connect() as connection:
        visit_id = connection.execute(
            select(_APPLICATION.c.visit_id).where(
                _APPLICATION.c.reference == reference,
                _APPLICATION.c.stage.in_([Stage.PICKUP_SCHEDULED.value,
                                          Stage.MISSED_PICKUP.value]))).scalar()
        visit = _locked_visit(connection, visit_id) if visit_id is not None else None
        office = policy.offices.get(visit.office) if visit is not None else None
        cards = visit_cards(connection, visit_id) if office is not None else []
        if visit is None or office is None or not cards:
            raise MoveRefused("pickup.none")
        book = SlotBook(connection, office, policy, local_date(now))
        start = book.book(len(cards), not_before=visit.starts_at)
        if start is None:
            raise MoveRefused("pickup.full")
        _staff_rebook(connection, policy, book, visit, cards, start, now, actor,
                      "pickup moved by staff")
    return start


def _staff_move_key(visit: Any, cards: list[Any], now: datetime) -> str:
    """The SMS of a move by staff: "terlewat" only to a family that did miss its visit; an
    early move is worded as the resident's own UBAH JADWAL answer."""
    missed = any(row.stage == Stage.MISSED_PICKUP.value for row in cards) or (
        visit.starts_at is not None and visit.starts_at <= now)
    return "notify.rescheduled" if missed else "pickup.moved"


@dataclass(frozen=True)
class FreeSlot:
    starts_at: datetime
    free: int  # places left for cards


_OTHER_VISIT_DAYS = (select(_VISIT.c.starts_at)
                     .where(_VISIT.c.family_id == bindparam("family"),
                            _VISIT.c.id != bindparam("visit"),
                            _VISIT.c.open_code.is_not(None), _VISIT.c.starts_at.is_not(None)))


def _open_visit(connection: Connection, visit_id: int, *, lock: bool) -> tuple[Any, list[Any]]:
    """An open visit and its cards to hand over, or (None, []) when it has none any more."""
    statement = select(_VISIT).where(_VISIT.c.id == visit_id, _VISIT.c.open_code.is_not(None))
    visit = connection.execute(statement.with_for_update() if lock else statement).first()
    if visit is None:
        return None, []
    if lock:
        return visit, visit_cards(connection, visit_id)
    return visit, connection.execute(_VISIT_CARDS, {"visit": visit_id}).all()


def _family_days(connection: Connection, visit: Any) -> set[date]:
    """The (local) days on which the family has another open visit: one trip a day is enough,
    so a visit is not moved onto one of them."""
    return {local(start).date() for start in connection.execute(
        _OTHER_VISIT_DAYS, {"family": visit.family_id, "visit": visit.id}).scalars()}


def free_slots(connection: Connection, policy: PickupPolicy, visit_id: int, now: datetime,
               days: int = 6) -> list[FreeSlot]:
    """The slots staff may move an open visit to: from the next working day of its office,
    the first `days` days with a slot that has room for all the visit's cards, every such slot
    of those days; never the visit's own slot, nor a day the family already comes on for
    another visit. Reads only (nothing is booked until `move_to`): a slot shown free may be
    taken meanwhile, which `move_to` refuses."""
    visit, cards = _open_visit(connection, visit_id, lock=False)
    office = policy.offices.get(visit.office) if visit is not None else None
    if office is None or not cards:
        return []
    taken_days = _family_days(connection, visit)
    first = policy.calendar.next_open_day(office, local_date(now))
    window = [day for day in policy.calendar.open_days(office, first, policy.search_days)
              if day not in taken_days]
    if not window:
        return []
    booked = dict(connection.execute(
        select(_SLOT.c.starts_at, _SLOT.c.booked)
        .where(_SLOT.c.office == office.code,
               _SLOT.c.starts_at >= start_of_day(window[0]),
               _SLOT.c.starts_at < start_of_day(window[-1] + timedelta(days=1)))).all())
    found: list[FreeSlot] = []
    shown_days: set[date] = set()
    for day in window:
        for start in slot_starts(office, day):
            free = office.capacity - booked.get(start, 0)
            if free >= len(cards) and start != visit.starts_at:
                found.append(FreeSlot(start, free))
                shown_days.add(day)
        if len(shown_days) >= days:
            break
    return found


def move_notice(connection: Connection, policy: PickupPolicy, visit_id: int, start: datetime,
                now: datetime) -> str | None:
    """The one SMS `move_to` would send the family for this move (with the visit's code in
    it: the caller hides it from staff), or None for a visit no longer open."""
    visit, cards = _open_visit(connection, visit_id, lock=False)
    office = policy.offices.get(visit.office) if visit is not None else None
    if office is None or not cards:
        return None
    key = _staff_move_key(visit, cards, now)
    return _visit_notice(cards, key, office, start, visit.code, {})[0].text


def move_to(db: Database, clock: Clock, policy: PickupPolicy, visit_id: int, start: datetime,
            actor: str) -> str:
    """Staff move an open visit, with all its cards, to the slot `start` they chose (from
    `free_slots`), give its old places back and tell the family in one SMS, which is returned.
    A decision at the counter: neither `max_resident_changes` nor `max_reschedules` limits it.
    Raises `MoveRefused`: "pickup.none" (the visit has no card to hand over any more),
    "pickup.same_slot" (its own slot), "pickup.family_day" (the family already comes that day
    for another visit), "pickup.day_unavailable" (not a slot of an open day in the window) or
    "pickup.full" (the slot has no room for the cards any more)."""
    now = clock.now()
    with db.connect() as connection:
        visit, cards = _open_visit(connection, visit_id, lock=True)
        office = policy.offices.get(visit.office) if visit is not None else None
        if office is None or not cards:
            raise MoveRefused("pickup.none")
        if start == visit.starts_at:
            raise MoveRefused("pickup.same_slot")
        if local(start).date() in _family_days(connection, visit):
            raise MoveRefused("pickup.family_day")
        book = SlotBook(connection, office, policy, local_date(now))
        if start not in book.starts:
            raise MoveRefused("pickup.day_unavailable")
        if not book.take(start, len(cards)):
            raise MoveRefused("pickup.full")
        moves = _staff_rebook(connection, policy, book, visit, cards, start, now, actor,
                              "pickup moved by staff to the chosen slot")
    return moves[0].text


def _staff_rebook(connection: Connection, policy: PickupPolicy, book: SlotBook, visit: Any,
                  cards: list[Any], start: datetime, now: datetime, actor: str,
                  note: str) -> list[Move]:
    """A visit moved by staff to `start`, which `book` has taken: the booking written, the old
    slot's places given back, the visit's slot and reminder set, and its one SMS."""
    office = book.office
    book.write(connection)
    if visit.starts_at is not None:
        release_slot(connection, office.code, visit.starts_at, len(cards))
    _set_visit(connection, visit.id, starts_at=start,
               reminded_at=_reminded_at(policy, office, start, now))
    key = _staff_move_key(visit, cards, now)
    moves = _visit_notice(cards, key, office, start, visit.code, {"pickup_at": start})
    change_stages(connection, moves, Stage.PICKUP_SCHEDULED, actor=actor, now=now,
                  quiet=policy.quiet, note=note, notice=key,
                  rows={row.id: row for row in cards})
    return moves
