"""Pickup scheduling: each printed card gets the earliest slot with free capacity at its office
(the kecamatan of the family's KK) from the next working day, and the family an SMS with the day,
time, place and a pickup code to show at the counter.

Capacity is kept in `pickup_slot` rows locked while a run books them, and the cards a run
schedules are claimed with SKIP LOCKED, so two allocation runs at once (two workers) neither
book a slot beyond its capacity nor schedule a card twice. On SQLite a run is one write
transaction, which serialises them.
"""

from __future__ import annotations

import logging
import secrets
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from flows.catalogue import template
from flows.dates import say_day, say_time
from sms_ktp.applications.pipeline import Move, change_stages, notice_rows
from sms_ktp.domain.local_time import local_date
from sms_ktp.domain.masking import mask_id
from sms_ktp.domain.pickup_calendar import Office, WorkingCalendar, local, slot_starts
from sms_ktp.domain.quiet_hours import QuietHours
from sms_ktp.domain.stages import Stage
from sms_ktp.models import Application, Family, PickupSlot, in_stage
from sms_ktp.platform.clock import Clock
from sms_ktp.platform.db import Database

CODE_ALPHABET = "ACDEFHJKMNPRTUVWXY34679"  # no 0/O, 1/I/L, 2/Z, 5/S, 8/B: easy to read out
CODE_LENGTH = 6
ACTOR = "system:pickup"
_SCHEDULED = "notify.pickup_scheduled"
_APPLICATION = Application.__table__
_FAMILY = Family.__table__
_SLOT = PickupSlot.__table__
log = logging.getLogger(__name__)
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


class SlotBook:
    """The free places of one office's slots over the search window, booked in memory and
    written back at the end of the run (the rows are locked meanwhile)."""

    def __init__(self, connection: Connection, office: Office, policy: PickupPolicy,
                 after: date) -> None:
        self.office = office
        days = policy.calendar.open_days(office, policy.calendar.next_open_day(office, after),
                                         policy.search_days)
        self.starts = [start for day in days for start in slot_starts(office, day)]
        self.booked: dict[datetime, int] = {}
        if self.starts:
            _ensure_slots(connection, office, self.starts)
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


def _ensure_slots(connection: Connection, office: Office, starts: list[datetime]) -> None:
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


def _open_codes(connection: Connection) -> set[str]:
    return set(connection.execute(select(_APPLICATION.c.open_code)
                                  .where(_APPLICATION.c.open_code.is_not(None))).scalars())


_UNBIASED = 256 - 256 % len(CODE_ALPHABET)  # bytes at or above this would favour some letters


def new_codes(taken: set[str]) -> Iterator[str]:
    """Short, unguessable codes, none of them in `taken` (which they join)."""
    while True:
        letters = "".join([CODE_ALPHABET[byte % len(CODE_ALPHABET)]
                           for byte in secrets.token_bytes(CODE_LENGTH * 1024)
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


def allocate(db: Database, clock: Clock, policy: PickupPolicy, limit: int | None = None) -> int:
    """Schedule every printed card not yet scheduled; returns how many were scheduled. Cards
    of one family at one office share a slot when one has room for all of them."""
    now = clock.now()
    with db.connect() as connection:
        query = (notice_rows(_APPLICATION.c.family_id, _FAMILY.c.kecamatan_code)
                 .where(in_stage(Stage.PRINTED))
                 .order_by(_APPLICATION.c.printed_at, _APPLICATION.c.id)
                 .with_for_update(of=_APPLICATION, skip_locked=True))
        if limit is not None:
            query = query.limit(limit)
        read = {row.id: row for row in connection.execute(query)}
        families: dict[str, dict[int, list[Any]]] = defaultdict(lambda: defaultdict(list))
        for row in read.values():
            families[row.kecamatan_code][row.family_id].append(row)
        for unknown in set(families) - set(policy.offices):
            cards = sum(len(members) for members in families.pop(unknown).values())
            log.warning("%d printed card(s) of kecamatan %s wait: no pickup office configured",
                        cards, unknown)
        codes = new_codes(_open_codes(connection))
        moves: list[Move] = []
        for office_code in sorted(families):  # one order for every run: no deadlocks
            office = policy.offices[office_code]
            book = SlotBook(connection, office, policy, local_date(now))
            notices = _Notices(policy, office, now)
            for members in families[office_code].values():
                together = book.book(len(members)) if len(members) > 1 else None
                for row in members:
                    start = together or book.book(1)
                    if start is None:
                        break  # the window is full: the card waits for the next run
                    moves.append(notices.scheduled(row, start, next(codes)))
            book.write(connection)
        change_stages(connection, moves, Stage.PICKUP_SCHEDULED, actor=ACTOR, now=now,
                      quiet=policy.quiet, note="pickup scheduled", notice=_SCHEDULED,
                      rows=read)
    return len(moves)


class _Notices:
    """The pickup SMS and reminder day of each slot of one office, worked out once per slot and
    language: a run books thousands of cards into a few hundred slots."""

    def __init__(self, policy: PickupPolicy, office: Office, now: datetime) -> None:
        self.policy, self.office, self.now = policy, office, now
        self.slots: dict[tuple[datetime, str], tuple[datetime | None, str]] = {}

    def scheduled(self, row: Any, start: datetime, code: str) -> Move:
        key = (start, row.language)
        if key not in self.slots:
            self.slots[key] = (
                _reminded_at(self.policy, self.office, start, self.now),
                template(row.language, _SCHEDULED, **_wording(row.language, self.office, start)))
        reminded_at, text = self.slots[key]
        return Move(row.id,
                    values={"pickup_office": self.office.code, "pickup_at": start,
                            "open_code": code, "pickup_code": code, "reminded_at": reminded_at},
                    text=text.format(ref=row.reference, nik=mask_id(row.nik), code=code))


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
                                _SLOT.c.starts_at == bindparam("_starts_at"),
                                _SLOT.c.booked > 0)
            .values(booked=_SLOT.c.booked - 1))


def release_slot(connection: Connection, office: str, starts_at: datetime) -> None:
    """Give one place of a slot back (a pickup moved away, or its application closed)."""
    connection.execute(_RELEASE, {"_office": office, "_starts_at": starts_at})


class MoveRefused(Exception):
    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key, self.params = key, params


def move(connection: Connection, policy: PickupPolicy, application_id: int, now: datetime,
         actor: str, on: date | None = None) -> datetime:
    """Move a scheduled pickup (the resident asked: UBAH JADWAL) to another day: the first
    free slot of `on` (a local day), or without one of the first working day with a free slot
    after the pickup's own day; never a later time of the same day, which a resident who cannot
    come that day has no use for. Returns the new slot. Raises `MoveRefused` with a catalogue
    key: the resident's changes are used up ("pickup.no_more_changes" with the limit as `n`,
    "pickup.no_changes" when SMS may not move pickups at all), `on` is the pickup's own day
    ("pickup.same_day"), `on` has no free slot ("pickup.day_unavailable" with the free `day`
    nearest to it), or no day has ("pickup.full"). A refusal changes nothing and counts as no
    change."""
    row = connection.execute(
        select(_APPLICATION.c.pickup_office, _APPLICATION.c.pickup_at,
               _APPLICATION.c.pickup_changes)
        .where(_APPLICATION.c.id == application_id,
               in_stage(Stage.PICKUP_SCHEDULED))
        .with_for_update()
    ).one()
    if row.pickup_changes >= policy.max_resident_changes:
        raise MoveRefused("pickup.no_more_changes" if policy.max_resident_changes
                          else "pickup.no_changes", n=policy.max_resident_changes)
    office = policy.offices.get(row.pickup_office)
    if office is None or row.pickup_at is None:
        raise MoveRefused("pickup.full")
    today, current = local_date(now), local(row.pickup_at).date()
    if on == current:
        raise MoveRefused("pickup.same_day")
    book = SlotBook(connection, office, policy, today)  # open days after today
    free = [day for day in book.free_days() if day != current]
    if on is None:
        day = next((day for day in free if day > current), None)
        if day is None:
            raise MoveRefused("pickup.full")
    elif on not in free:
        if not free:
            raise MoveRefused("pickup.full")
        # The nearest free day, the later one of two as near.
        raise MoveRefused("pickup.day_unavailable",
                          day=min(free, key=lambda day: (abs(day - on), day < on)))
    else:
        day = on
    start = book.book_on(day)
    assert start is not None  # a free day has a free slot
    book.write(connection)
    release_slot(connection, office.code, row.pickup_at)
    change_stages(connection, [Move(application_id, {
        "pickup_at": start, "pickup_changes": row.pickup_changes + 1,
        "reminded_at": _reminded_at(policy, office, start, now)})],
        Stage.PICKUP_SCHEDULED, actor=actor, now=now, quiet=policy.quiet,
        note="pickup moved by the resident", notice="")
    return start


class VerifyError(Exception):
    pass


def verify(db: Database, clock: Clock, code: str, actor: str) -> str:
    """Mark the card with this open pickup code collected; returns its reference."""
    code = code.strip().upper()
    now = clock.now()
    with db.connect() as connection:
        row = connection.execute(
            select(_APPLICATION.c.id, _APPLICATION.c.reference)
            .where(_APPLICATION.c.open_code == code).with_for_update()
        ).first()
        if row is None:
            used = connection.execute(select(_APPLICATION.c.reference)
                                      .where(_APPLICATION.c.pickup_code == code)).first()
            raise VerifyError(f"pickup code {code} was already used" if used
                              else f"unknown pickup code {code}")
        change_stages(connection, [Move(row.id, {"collected_at": now})], Stage.COLLECTED,
                      actor=actor, now=now, quiet=QuietHours(), note=f"collected with {code}")
        return row.reference


def remind(db: Database, clock: Clock, policy: PickupPolicy, reminder_time: Any) -> int:
    """On the working day before a pickup, from `reminder_time` (local), send the reminder."""
    now = clock.now()
    if local(now).time() < reminder_time:
        return 0
    today = local_date(now)
    with db.connect() as connection:
        due = connection.execute(
            notice_rows(_APPLICATION.c.pickup_office, _APPLICATION.c.pickup_at,
                        _APPLICATION.c.pickup_code)
            .where(in_stage(Stage.PICKUP_SCHEDULED),
                   _APPLICATION.c.reminded_at.is_(None),
                   _APPLICATION.c.pickup_at > now)
            .with_for_update(of=_APPLICATION, skip_locked=True)
        ).all()
        moves = []
        for row in due:
            office = policy.offices.get(row.pickup_office)
            if office is None or _reminder_day(policy.calendar, office,
                                                   local(row.pickup_at).date()) != today:
                continue
            moves.append(Move(row.id, {"reminded_at": now},
                              {**_wording(row.language, office, row.pickup_at),
                               "code": row.pickup_code}))
        change_stages(connection, moves, Stage.PICKUP_SCHEDULED, actor=ACTOR, now=now,
                      quiet=policy.quiet, note="reminder sent", notice="notify.reminder",
                      rows={row.id: row for row in due}, supersedes=False)
    return len(moves)


def reschedule_missed(db: Database, clock: Clock, policy: PickupPolicy) -> int:
    """A pickup not collected by the end of its day moves to the next free slot, at most
    `max_reschedules` times; then the card is held at the office."""
    now = clock.now()
    today = local_date(now)
    with db.connect() as connection:
        missed = connection.execute(
            notice_rows(_APPLICATION.c.pickup_office, _APPLICATION.c.pickup_at,
                        _APPLICATION.c.pickup_code, _APPLICATION.c.pickup_reschedules)
            .where(in_stage(Stage.PICKUP_SCHEDULED),
                   _APPLICATION.c.pickup_at < now)
            .order_by(_APPLICATION.c.pickup_at)
            .with_for_update(of=_APPLICATION, skip_locked=True)
        ).all()
        missed = [row for row in missed if local(row.pickup_at).date() < today]
        moved: list[Move] = []
        held: list[Move] = []
        books: dict[str, SlotBook] = {}
        for row in missed:
            office = policy.offices.get(row.pickup_office)
            if office is None:
                continue
            if row.pickup_reschedules >= policy.max_reschedules:
                held.append(Move(row.id, {"pickup_at": None},
                                 {"office": office.name, "code": row.pickup_code}))
                continue
            if office.code not in books:
                books[office.code] = SlotBook(connection, office, policy, today)
            start = books[office.code].book(1)
            if start is None:
                continue
            moved.append(Move(row.id, {"pickup_at": start, "reminded_at": None,
                                       "pickup_reschedules": row.pickup_reschedules + 1},
                              {**_wording(row.language, office, start),
                               "code": row.pickup_code}))
        for code in sorted(books):
            books[code].write(connection)
        rows = {row.id: row for row in missed}
        change_stages(connection, moved, Stage.PICKUP_SCHEDULED, actor=ACTOR, now=now,
                      quiet=policy.quiet, note="pickup missed: rescheduled",
                      notice="notify.rescheduled", rows=rows)
        change_stages(connection, held, Stage.MISSED_PICKUP, actor=ACTOR, now=now,
                      quiet=policy.quiet, note="pickup missed too often: held at the office",
                      rows=rows)
    return len(moved) + len(held)


def reschedule_by_staff(db: Database, clock: Clock, policy: PickupPolicy, reference: str,
                        actor: str) -> datetime:
    """Staff move a pickup (scheduled, or held at the office after missed ones) to the next
    free slot after its own and tell the family; returns the new slot. A decision at the
    counter, so neither the resident's `max_resident_changes` nor the automatic
    `max_reschedules` limits it. The old slot's place is given back. Raises `MoveRefused`
    ("pickup.none": no open pickup; "pickup.full": no free slot in the search window)."""
    now = clock.now()
    with db.connect() as connection:
        row = connection.execute(
            notice_rows(_APPLICATION.c.stage, _APPLICATION.c.pickup_office,
                        _APPLICATION.c.pickup_at, _APPLICATION.c.pickup_code)
            .where(_APPLICATION.c.reference == reference,
                   _APPLICATION.c.stage.in_([Stage.PICKUP_SCHEDULED.value,
                                             Stage.MISSED_PICKUP.value]))
            .with_for_update(of=_APPLICATION)
        ).first()
        office = policy.offices.get(row.pickup_office) if row is not None else None
        if row is None or office is None:
            raise MoveRefused("pickup.none")
        book = SlotBook(connection, office, policy, local_date(now))
        start = book.book(1, not_before=row.pickup_at)
        if start is None:
            raise MoveRefused("pickup.full")
        book.write(connection)
        if row.pickup_at is not None:
            release_slot(connection, office.code, row.pickup_at)
        # "Terlewat" only to a family that did miss its pickup; an early move is worded as
        # the resident's own UBAH JADWAL answer.
        missed = row.stage == Stage.MISSED_PICKUP.value or (
            row.pickup_at is not None and row.pickup_at <= now)
        change_stages(connection, [Move(
            row.id, {"pickup_at": start, "reminded_at": _reminded_at(policy, office, start, now)},
            {**_wording(row.language, office, start), "code": row.pickup_code})],
            Stage.PICKUP_SCHEDULED, actor=actor, now=now, quiet=policy.quiet,
            note="pickup moved by staff",
            notice="notify.rescheduled" if missed else "pickup.moved", rows={row.id: row})
    return start
