"""Pickup allocation of a printed-card backlog, in cards per second, against a floor.

What is measured: the wall time of one
`sms_ktp.applications.pickup.allocate(db, clock, policy)` call that
schedules a whole backlog of printed cards (default 30,423, the backlog of printed cards waiting
for their owners in the article) into the pickup slots of the six kecamatan offices of Kota Bogor:
the earliest slot with room at the office of the family's KK, the cards of one family together.
That one call reads the backlog, creates the slot rows of the search window, and writes, in one
transaction, N application updates, N timeline rows, one family visit and one notification SMS
in the outbox per family visit (the family's cards at one office in one slot, one code) and the
booked counts of the slots. `rows_per_s` is N / its seconds.

Why a floor: an absolute rate says more about the machine and the database than about the
scheduler. The floor is the cheapest write of N rows the project itself can do: N rows through
its own bulk path, `sms_ktp.platform.bulk.insert_rows` (COPY on PostgreSQL, one driver
executemany on SQLite; the path `allocate` writes its per-card rows through), in one transaction
(`Database.connect()`, as `allocate` uses), into a scratch table with the columns of
`pickup_slot` (created for the floor, dropped after it, so the real table is untouched), on the
same database in the same run. `floor_rows_per_s` is N / its seconds, measured before and after
the allocation, the better of the two kept. `allocate` writes
at least three rows a card plus an update, so a ratio near 1 is out of reach; the target is
`ratio = rows_per_s / floor_rows_per_s >= 0.3`. The run also times what the allocation spends
waiting on the database (statements, COPYs, the commit): `database_only_ratio` is the ratio the
allocation would reach if its Python side took no time, the ceiling of any Python speed-up.

Setup (not measured): a fresh schema, then families and printed applications inserted directly in
bulk (Core executemany): families of mostly 1-4 cards (up to 6), KKs spread unevenly over the six
kecamatan codes 01..06, valid and distinct 16-digit NIK and KK numbers, 9-digit references,
language "id", reason "baru", stage "printed" with `printed_at` over the previous 60 days, and a
"printed" timeline row each. The clock is fixed at Monday 30 November 2026 08:00 WIB, so a run is
deterministic (the population is seeded; only the pickup codes are random). The default search
window (`pickup.search_days`, 60 open days) is too short for the largest office's share of the
backlog at the default capacity, so the run raises it to what the largest office needs plus a
margin (printed), and creates the working calendar (holiday tables) before the measure, as a
running worker has it already.

Checked afterwards, against the database (a WARNING line each, exit status 1): every card is
`pickup_scheduled` at its family's kecamatan office, in a future slot of an open day of that
office; no slot over capacity and every slot's `booked` equal to its cards; every open code
unique per visit (the cards sharing a code are one family's, in one slot); every visit's code
in exactly one notification SMS, to the family's phone, naming the office, an SMS naming the
cards of one family visit only (one family, one office, one day), and as many SMS as family
visits; one new timeline row a card; the cards of one family split over several slots only
when no slot had room for all. Reported with them: `sms_rows`, the pickup SMS written to the
outbox, and `family_visits`, the distinct (family, office, day) of the scheduled cards.

    python bench/pickup_allocation.py [--cards N] [--database-url URL] [--max-seconds S]
                                      [--profile]

Default database: a fresh SQLite file in a temporary folder. On a PostgreSQL URL (loopback only)
the run gets a schema of its own, dropped with its tables at the end. `--profile` runs the
allocation under cProfile and prints its top functions (the figures are then inflated).
The last line of the output is a JSON object.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import logging
import math
import pstats
import random
import re
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from common import check_database_url, kk_number, private_schema, settings_for
from sqlalchemy import MetaData, event, func, insert, select

from sms_ktp.applications import pickup
from sms_ktp.applications.pickup import PickupPolicy
from sms_ktp.domain.identity import parse_kk, parse_nik
from sms_ktp.domain.local_time import local_date
from sms_ktp.domain.phones import normalise_msisdn
from sms_ktp.domain.pickup_calendar import WorkingCalendar, local, offices_from_config, slot_starts
from sms_ktp.domain.reference import new_reference
from sms_ktp.domain.stages import Stage
from sms_ktp.models import (
    Application,
    ApplicationEvent,
    Family,
    OutboxMessage,
    PickupSlot,
    PickupVisit,
)
from sms_ktp.platform import bulk
from sms_ktp.platform.clock import FixedClock
from sms_ktp.platform.db import Database
from sms_ktp.runtime import Runtime

TARGET_RATIO = 0.3
CARDS = 30_423  # printed cards waiting for their owners, as in the article
MAX_CARDS = 300_000
START = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # Monday 30 November 2026, 08:00 WIB
SEED = 20261130
# Cards per KK: mostly 1-4.
FAMILY_SIZES = (1, 2, 3, 4, 5, 6)
FAMILY_WEIGHTS = (38, 26, 18, 11, 5, 2)
# Kecamatan of the KKs: uneven, roughly after the kecamatan's populations (an approximation; the
# measure does not depend on it). 01 Bogor Selatan, 02 Bogor Timur, 03 Bogor Tengah,
# 04 Bogor Barat, 05 Bogor Utara, 06 Tanah Sareal.
KECAMATAN = ("01", "02", "03", "04", "05", "06")
KECAMATAN_WEIGHTS = (19, 10, 10, 23, 18, 20)
PHONE_PREFIX = "+628121"  # + 7 digits: one phone per family
SETUP_ACTOR = "bench:setup"
FLOOR_TABLE = "bench_floor_slot"
CODE_IN_SMS = re.compile(rf"\b[{pickup.CODE_ALPHABET}]{{{pickup.CODE_LENGTH}}}\b")

_APPLICATION = Application.__table__
_FAMILY = Family.__table__
_EVENT = ApplicationEvent.__table__
_OUTBOX = OutboxMessage.__table__
_SLOT = PickupSlot.__table__
_VISIT = PickupVisit.__table__


class TimeLimit(Exception):
    pass


# --- the backlog --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Household:
    kecamatan: str
    phone: str
    cards: tuple[int, ...]  # application ids


@dataclass
class Backlog:
    households: dict[int, Household]  # by family id
    family_of: dict[int, int] = field(default_factory=dict)  # application id -> family id

    @property
    def cards(self) -> int:
        return len(self.family_of)

    def per_office(self) -> Counter[str]:
        return Counter({code: sum(len(h.cards) for h in self.households.values()
                                  if h.kecamatan == code) for code in KECAMATAN})


def family_plan(cards: int, rng: random.Random) -> list[tuple[str, int]]:
    """(kecamatan, cards) of every family, the cards adding up to `cards`."""
    plan: list[tuple[str, int]] = []
    left = cards
    while left:
        size = min(left, rng.choices(FAMILY_SIZES, FAMILY_WEIGHTS)[0])
        plan.append((rng.choices(KECAMATAN, KECAMATAN_WEIGHTS)[0], size))
        left -= size
    return plan


def nik(number: int, kecamatan: str, rng: random.Random, today: date) -> str:
    """A valid NIK, distinct for every `number` below 9,999 * 28 * 12 (day, month and serial
    follow from it; the year and the +40 of women's birth days are drawn)."""
    serial = 1 + number % 9_999
    day = 1 + (number // 9_999) % 28 + (40 if rng.random() < 0.5 else 0)
    month = 1 + (number // (9_999 * 28)) % 12
    value = f"3271{kecamatan}{day:02d}{month:02d}{rng.randint(1950, 2008) % 100:02d}{serial:04d}"
    if parse_nik(value, today).value != value:
        raise AssertionError(f"generated NIK refused for #{number}")
    return value


def populate(db: Database, cards: int, now: datetime) -> Backlog:
    """The printed backlog, inserted in bulk (families, applications, a timeline row each)."""
    rng = random.Random(SEED)
    today = local_date(now)
    plan = family_plan(cards, rng)
    families: list[dict[str, Any]] = []
    members: list[list[dict[str, Any]]] = []
    references: set[str] = set()
    number = 0
    for index, (kecamatan, size) in enumerate(plan):
        kk = kk_number(kecamatan, index)
        phone = f"{PHONE_PREFIX}{index:07d}"
        if parse_kk(kk).value != kk or normalise_msisdn(phone) != phone:
            raise AssertionError(f"generated KK or phone refused for family #{index}")
        printed = now - timedelta(seconds=rng.randint(3_600, 60 * 86_400))
        families.append({"kk": kk, "phone": phone, "kecamatan_code": kecamatan,
                         "created_at": printed - timedelta(days=30)})
        rows = []
        for _ in range(size):
            reference = new_reference(rng)
            while reference in references:
                reference = new_reference(rng)
            references.add(reference)
            person = nik(number, kecamatan, rng, today)
            number += 1
            at = printed + timedelta(seconds=rng.randint(0, 600))
            rows.append({"reference": reference, "nik": person, "active_nik": person,
                         "reason": "baru", "stage": Stage.PRINTED.value, "language": "id",
                         "channel": "sms", "created_at": at - timedelta(days=30),
                         "updated_at": at, "ready_at": at - timedelta(days=1),
                         "printed_at": at})
        members.append(rows)
    with db.connect() as connection:
        family_ids = connection.execute(
            insert(_FAMILY).returning(_FAMILY.c.id, sort_by_parameter_order=True),
            families).scalars().all()
        rows = [{**row, "family_id": family_id}
                for family_id, rows in zip(family_ids, members, strict=True) for row in rows]
        application_ids = connection.execute(
            insert(_APPLICATION).returning(_APPLICATION.c.id, sort_by_parameter_order=True),
            rows).scalars().all()
        connection.execute(insert(_EVENT), [
            {"application_id": application_id, "at": row["printed_at"],
             "stage": Stage.PRINTED.value, "actor": SETUP_ACTOR, "note": "printed"}
            for application_id, row in zip(application_ids, rows, strict=True)])
    backlog = Backlog({})
    ids = iter(application_ids)
    for family_id, family, (kecamatan, size) in zip(family_ids, families, plan, strict=True):
        cards_of = tuple(next(ids) for _ in range(size))
        backlog.households[family_id] = Household(kecamatan, family["phone"], cards_of)
        backlog.family_of.update(dict.fromkeys(cards_of, family_id))
    return backlog


# --- the search window --------------------------------------------------------------------------
def days_needed(policy: PickupPolicy, per_office: Counter[str], today: date
                ) -> dict[str, tuple[int, date]]:
    """For every office: how many open days (from the next one, as `allocate` counts them) hold
    its cards at full slots, and the last of them."""
    needed: dict[str, tuple[int, date]] = {}
    for code, cards in sorted(per_office.items()):
        office = policy.offices[code]
        day = policy.calendar.next_open_day(office, today)
        days, places, last = 0, 0, day
        while places < cards:
            places += len(slot_starts(office, day)) * office.capacity
            days, last = days + 1, day
            day = policy.calendar.next_open_day(office, day)
        needed[code] = (days, last)
    return needed


def search_days(default: int, needed: dict[str, tuple[int, date]]) -> tuple[int, int]:
    """The window: the largest office's days plus a margin (5%, at least 3 open days) for the
    places a family of several cards leaves free when it skips a slot too full for it; never
    below the configured default. Also the margin."""
    most = max((days for days, _ in needed.values()), default=0)
    margin = max(3, math.ceil(0.05 * most))
    return max(default, most + margin), margin


# --- the floor ----------------------------------------------------------------------------------
def floor_seconds(db: Database, cards: int, now: datetime) -> float:
    """`cards` rows written in one transaction through the project's bulk path
    (`bulk.insert_rows`: COPY on PostgreSQL, one driver executemany on SQLite), as the allocation
    writes its own, into a scratch table with the columns of `pickup_slot`, created before and
    dropped after (the rows are built beforehand)."""
    table = _SLOT.to_metadata(MetaData(), name=FLOOR_TABLE)
    rows = [{"office": KECAMATAN[i % len(KECAMATAN)],
             "starts_at": now + timedelta(minutes=30 * (i // len(KECAMATAN))),
             "capacity": 10, "booked": 0} for i in range(cards)]
    with db.connect() as connection:
        table.create(connection)
    try:
        started = time.perf_counter()
        with db.connect() as connection:
            bulk.insert_rows(connection, table, rows)
        seconds = time.perf_counter() - started
        with db.connect() as connection:
            stored = connection.execute(select(func.count()).select_from(table)).scalar_one()
        if stored != cards:
            raise AssertionError(f"floor: {stored} rows stored of {cards}")
        return seconds
    finally:
        with db.connect() as connection:
            table.drop(connection)


# --- where the time goes ------------------------------------------------------------------------
class DatabaseTime:
    """Time spent waiting on the database during the measure: statements (cursor executes),
    bulk COPYs, and the commit (from its start to the end of the measured call). The rest of
    the measured time is the Python side: reading rows, booking, wording SMS."""

    def __init__(self, db: Database) -> None:
        self.engine = db.engine
        self.statements = 0.0
        self.copies = 0.0
        self._commit_at: float | None = None
        self._started = 0.0
        self._copy = bulk.copy_rows

    def __enter__(self) -> DatabaseTime:
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        event.listen(self.engine, "commit", self._commit)
        bulk.copy_rows = self._timed_copy
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)
        event.remove(self.engine, "commit", self._commit)
        bulk.copy_rows = self._copy

    def commit(self, ended: float) -> float:
        return 0.0 if self._commit_at is None else ended - self._commit_at

    def seconds(self, ended: float) -> float:
        return self.statements + self.copies + self.commit(ended)

    def _before(self, *_: Any) -> None:
        self._started = time.perf_counter()

    def _after(self, *_: Any) -> None:
        self.statements += time.perf_counter() - self._started

    def _commit(self, *_: Any) -> None:
        self._commit_at = time.perf_counter()

    def _timed_copy(self, *args: Any) -> None:
        started = time.perf_counter()
        try:
            self._copy(*args)
        finally:
            self.copies += time.perf_counter() - started


# --- checking what the allocation left behind ---------------------------------------------------
@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)
    slot_rows: int = 0
    slots_used: int = 0
    sms_rows: int = 0  # pickup SMS the allocation wrote to the outbox
    family_visits: int = 0  # distinct (family, office, day): the trips to a counter
    multi_families: int = 0
    split_families: int = 0
    offices: dict[str, tuple[int, date, date]] = field(default_factory=dict)  # cards, first, last


def verify(db: Database, policy: PickupPolicy, backlog: Backlog, now: datetime,
           scheduled: int) -> Findings:
    found = Findings()
    problems = found.problems
    with db.connect() as connection:
        cards = connection.execute(
            select(_APPLICATION.c.id, _APPLICATION.c.family_id, _APPLICATION.c.stage,
                   _APPLICATION.c.pickup_office, _APPLICATION.c.pickup_at,
                   _APPLICATION.c.visit_id, _VISIT.c.open_code, _APPLICATION.c.pickup_code,
                   _VISIT.c.family_id.label("visit_family"), _VISIT.c.starts_at,
                   _FAMILY.c.kecamatan_code, _FAMILY.c.phone)
            .join(_FAMILY, _FAMILY.c.id == _APPLICATION.c.family_id)
            .outerjoin(_VISIT, _VISIT.c.id == _APPLICATION.c.visit_id)).all()
        slots = connection.execute(select(_SLOT.c.office, _SLOT.c.starts_at, _SLOT.c.capacity,
                                          _SLOT.c.booked)).all()
        outbox = connection.execute(select(_OUTBOX.c.phone, _OUTBOX.c.kind,
                                           _OUTBOX.c.text)).all()
        events = connection.execute(select(_EVENT.c.application_id, _EVENT.c.stage,
                                           _EVENT.c.actor)).all()

    if scheduled != backlog.cards:
        problems.append(f"allocate scheduled {scheduled} cards of {backlog.cards}")
    if len(cards) != backlog.cards or {c.id for c in cards} != set(backlog.family_of):
        problems.append(f"{len(cards)} applications in the database, {backlog.cards} inserted")

    # Every card: scheduled at its family's office, in a future slot of an open day.
    starts: dict[tuple[str, date], set[datetime]] = {}
    wrong: Counter[str] = Counter()
    example: dict[str, str] = {}

    def bad(kind: str, card: Any) -> None:
        wrong[kind] += 1
        example.setdefault(kind, f"application {card.id}")

    for card in cards:
        if card.stage != Stage.PICKUP_SCHEDULED.value:
            bad(f"not {Stage.PICKUP_SCHEDULED.value}", card)
            continue
        if card.pickup_office != card.kecamatan_code:
            bad("at an office other than the KK's kecamatan", card)
            continue
        office = policy.offices.get(card.pickup_office)
        if office is None or card.pickup_at is None:
            bad("without an office or a slot", card)
            continue
        if card.pickup_at <= now:
            bad("with a slot not in the future", card)
        day = local(card.pickup_at).date()
        if not policy.calendar.is_open(office, day):
            bad("on a day its office is closed", card)
        key = (office.code, day)
        if key not in starts:
            starts[key] = set(slot_starts(office, day))
        if card.pickup_at not in starts[key]:
            bad("at a time that is no slot start", card)
        if not card.open_code or card.open_code != card.pickup_code:
            bad("without an open visit code equal to its pickup code", card)
        if (card.visit_family, card.starts_at) != (card.family_id, card.pickup_at):
            bad("in a visit of another family or another slot", card)
    problems += [f"{count} cards {kind} (e.g. {example[kind]})" for kind, count in wrong.items()]
    # One code a visit: the cards sharing a code are one family's, in one slot.
    sharing: dict[str, set[tuple[int, datetime]]] = defaultdict(set)
    for card in cards:
        if card.open_code:
            sharing[card.open_code].add((card.family_id, card.pickup_at))
    if any(len(visits) > 1 for visits in sharing.values()):
        problems.append(f"{sum(1 for v in sharing.values() if len(v) > 1)} open codes shared "
                        "by two visits")

    # Slots: within capacity, booked = the cards in it.
    per_slot = Counter((card.pickup_office, card.pickup_at) for card in cards
                       if card.pickup_at is not None)
    rows = {(slot.office, slot.starts_at): slot for slot in slots}
    found.slot_rows = len(rows)
    found.slots_used = sum(1 for slot in slots if slot.booked)
    over = [key for key, slot in rows.items() if slot.booked > slot.capacity]
    if over:
        problems.append(f"{len(over)} slots over capacity (e.g. {over[0][0]} {over[0][1]})")
    off = [key for key in set(rows) | set(per_slot)
           if (rows[key].booked if key in rows else None) != per_slot.get(key, 0)]
    if off:
        key = off[0]
        problems.append(f"{len(off)} slots whose booked count is not their number of cards "
                        f"(e.g. office {key[0]} {key[1]}: booked "
                        f"{rows[key].booked if key in rows else 'no row'}, "
                        f"{per_slot.get(key, 0)} cards)")

    # The SMS: every visit's code in exactly one notification, to its family's phone, with its
    # office's name; an SMS names the cards of one family visit only (one family, one office,
    # one day), so there are at least as many SMS as visits and at most one a card.
    def visit(card: Any) -> tuple[int, str, date]:
        return card.family_id, card.pickup_office, local(card.pickup_at).date()

    by_code = {card.open_code: card for card in cards if card.open_code}
    visits = {visit(card) for card in cards if card.pickup_at is not None and card.pickup_office}
    found.sms_rows = len(outbox)
    found.family_visits = len(visits)
    texted: Counter[str] = Counter()
    stray = 0
    for sms in outbox:
        named = [by_code[code] for code in CODE_IN_SMS.findall(sms.text) if code in by_code]
        card = named[0] if named else None
        office = policy.offices.get(card.pickup_office) if card else None
        if (card is None or sms.kind != "notification" or sms.phone != card.phone
                or office is None or office.name not in sms.text
                or len({visit(other) for other in named}) != 1):
            stray += 1
            continue
        texted.update(other.open_code for other in named)
    if not len(visits) <= len(outbox) <= backlog.cards:
        problems.append(f"{len(outbox)} outbox rows for {backlog.cards} cards in {len(visits)} "
                        "family visits")
    if stray:
        problems.append(f"{stray} outbox rows that are no notification, to the family's phone, "
                        "of the codes of one family visit, with its office")
    unsent = [code for code in by_code if texted[code] != 1]
    if unsent:
        problems.append(f"{len(unsent)} visits whose code is not in exactly one pickup SMS")
    if found.sms_rows != found.family_visits:
        problems.append(f"{found.sms_rows} pickup SMS for {found.family_visits} family visits: "
                        "one SMS a visit expected")

    # The timeline: the setup's "printed" row and one new row a card.
    new = Counter(event.application_id for event in events if event.actor != SETUP_ACTOR)
    scheduled_events = Counter(event.application_id for event in events
                               if event.actor == pickup.ACTOR
                               and event.stage == Stage.PICKUP_SCHEDULED.value)
    if sum(new.values()) != backlog.cards:
        problems.append(f"{sum(new.values())} new timeline rows for {backlog.cards} cards")
    missing = [i for i in backlog.family_of if scheduled_events[i] != 1]
    if missing:
        problems.append(f"{len(missing)} cards without exactly one '{pickup.ACTOR}' "
                        f"{Stage.PICKUP_SCHEDULED.value} timeline row (e.g. {missing[0]})")

    # Families: one slot for all their cards, unless no slot had room for all of them (booking
    # only fills slots, so a slot with room at the end had room when the family was booked).
    when = {card.id: card.pickup_at for card in cards}
    free: dict[str, int] = defaultdict(int)
    for slot in slots:
        free[slot.office] = max(free[slot.office], slot.capacity - slot.booked)
    for household in backlog.households.values():
        if len(household.cards) < 2:
            continue
        found.multi_families += 1
        if len({when.get(card) for card in household.cards}) > 1:
            found.split_families += 1
            if free[household.kecamatan] >= len(household.cards):
                problems.append(f"a family of {len(household.cards)} cards at office "
                                f"{household.kecamatan} split although a slot has room for all")

    for code in sorted({card.pickup_office for card in cards if card.pickup_at}):
        days = sorted(local(c.pickup_at).date() for c in cards
                      if c.pickup_office == code and c.pickup_at)
        found.offices[code] = (len(days), days[0], days[-1])
    return found


# --- the run ------------------------------------------------------------------------------------
def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cards", type=int, default=CARDS,
                        help=f"printed cards in the backlog (default {CARDS})")
    parser.add_argument("--database-url",
                        help="default: a fresh SQLite file in a temporary folder; on a "
                        "(loopback) PostgreSQL, a private schema dropped at the end")
    parser.add_argument("--max-seconds", type=float, default=600.0,
                        help="give up after this long (default 600)")
    parser.add_argument("--profile", action="store_true",
                        help="run the allocation under cProfile and print its top functions "
                        "(the figures are then inflated)")
    args = parser.parse_args(argv)
    if not 1 <= args.cards <= MAX_CARDS:
        parser.error(f"--cards must be between 1 and {MAX_CARDS}")
    if not 0 < args.max_seconds <= 24 * 3600:
        parser.error("--max-seconds must be more than 0 and at most 86400")
    if args.database_url:
        check_database_url(args.database_url, "bench/pickup_allocation.py")
    return args


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """TimeLimit raised in this (the main) thread after `seconds`; a transaction it interrupts
    rolls back."""

    def expired(_signal: int, _frame: FrameType | None) -> None:
        raise TimeLimit(f"time limit reached (--max-seconds {seconds:g})")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def print_profile(profile: cProfile.Profile) -> None:
    for order in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats(order).print_stats(25)
        text = out.getvalue()
        print(f"--- profile of allocate, top 25 by {order} ---")
        print(text[text.find("   ncalls"):].rstrip())


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv)
    began = time.monotonic()
    logging.basicConfig(level=logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    figures: dict[str, Any] = {"cards": args.cards, "seconds": 0.0, "rows_per_s": 0.0,
                               "floor_rows_per_s": 0.0, "ratio": 0.0}
    problems: list[str] = []
    with (tempfile.TemporaryDirectory(prefix="sms-ktp-bench-") as folder,
          private_schema(args.database_url) as database_url):
        settings = settings_for(Path(folder), database_url, "bench/pickup_allocation.py")
        runtime = Runtime.from_settings(settings, clock=FixedClock(START))
        figures["database"] = runtime.db.dialect
        try:
            with time_limit(args.max_seconds):
                _run(args, runtime, figures, problems)
        except TimeLimit as error:
            problems.append(str(error))
        except Exception as error:  # a failed run is a failed check: still the JSON line
            traceback.print_exc()
            problems.append(f"{type(error).__name__}: {str(error).splitlines()[0][:300]}")
        finally:
            runtime.db.dispose()
    print(f"run took {time.monotonic() - began:.1f} s")
    for problem in problems:
        print(f"WARNING: {problem}")
    print(json.dumps(figures), flush=True)
    return 1 if problems else 0


def _run(args: argparse.Namespace, runtime: Runtime, figures: dict[str, Any],
         problems: list[str]) -> None:
    db, now = runtime.db, runtime.clock.now()
    print(f"sms-ktp pickup allocation benchmark: {db.dialect} "
          f"({db.engine.url.render_as_string(hide_password=True)})")
    print(f"  clock fixed at {local(now):%A %d %B %Y %H:%M} WIB ({now:%Y-%m-%d %H:%M} UTC)")
    db.create_schema()
    started = time.perf_counter()
    backlog = populate(db, args.cards, now)
    sizes = Counter(len(h.cards) for h in backlog.households.values())
    per_office = backlog.per_office()
    print(f"  setup:   {backlog.cards} printed cards of {len(backlog.households)} families "
          f"(cards per KK: " + ", ".join(f"{k}: {sizes[k]}" for k in sorted(sizes)) + "), "
          f"inserted in {time.perf_counter() - started:.1f} s (not measured)")
    print("  offices: " + ", ".join(f"{code}: {per_office[code]}" for code in KECAMATAN)
          + " cards")

    # The window from the offices and calendar of the settings, before the runtime builds its
    # policy (which it may build once and keep).
    today = local_date(now)
    default_days = runtime.settings.pickup.search_days
    planning = PickupPolicy(offices_from_config(runtime.settings.pickup.offices),
                            WorkingCalendar(), runtime.quiet_hours)
    needed = days_needed(planning, per_office, today)
    days, margin = search_days(default_days, needed)
    runtime.settings.pickup.search_days = days
    policy = runtime.pickup_policy()
    if policy.search_days != days:  # built before the settings changed
        policy = replace(policy, search_days=days)
    for office in policy.offices.values():  # the holiday tables of the window, loaded now
        policy.calendar.open_days(office, policy.calendar.next_open_day(office, today), days)
    largest = max(per_office, key=lambda code: (needed[code][0], per_office[code]))
    most, last = needed[largest]
    chosen = f"raised from {default_days}" if days > default_days else "the default"
    print(f"  window:  search_days {days} ({chosen}): at "
          f"{policy.offices[largest].capacity} cards a slot, the largest office ({largest}, "
          f"{per_office[largest]} cards) fills {most} open days, to {last:%a %d %b %Y}; "
          f"+{margin} for places a family of several cards skips")
    figures["search_days"] = days

    floors = [floor_seconds(db, args.cards, now)]
    print(f"  floor before: {args.cards} slot-shaped rows through bulk.insert_rows in "
          f"{floors[0]:.3f} s = {args.cards / floors[0]:,.0f} rows/s", flush=True)

    profile = cProfile.Profile() if args.profile else None
    with DatabaseTime(db) as inside:
        started = time.perf_counter()
        if profile:
            profile.enable()
        scheduled = pickup.allocate(db, runtime.clock, policy)
        if profile:
            profile.disable()
        ended = time.perf_counter()
    seconds = ended - started
    in_database = inside.seconds(ended)
    print(f"  allocate:     {scheduled} cards scheduled in {seconds:.3f} s = "
          f"{scheduled / seconds:,.0f} cards/s" + (" (under cProfile)" if profile else ""),
          flush=True)

    floors.append(floor_seconds(db, args.cards, now))
    print(f"  floor after:  {args.cards} slot-shaped rows through bulk.insert_rows in "
          f"{floors[1]:.3f} s = {args.cards / floors[1]:,.0f} rows/s", flush=True)
    if profile:
        print_profile(profile)

    floor = min(floors)
    rows_per_s, floor_rows_per_s = args.cards / seconds, args.cards / floor
    ratio = rows_per_s / floor_rows_per_s
    database_ratio = floor / in_database
    figures.update(seconds=round(seconds, 3), rows_per_s=round(rows_per_s, 1),
                   floor_rows_per_s=round(floor_rows_per_s, 1), ratio=round(ratio, 3),
                   floor_seconds=round(floor, 3), database_seconds=round(in_database, 3),
                   database_only_ratio=round(database_ratio, 3), profiled=bool(profile))
    print(f"  in the database: {in_database:.3f} s of the {seconds:.3f} s (statements "
          f"{inside.statements:.3f}, bulk copies {inside.copies:.3f}, commit "
          f"{inside.commit(ended):.3f}); the rest is Python. Were the Python side free, the "
          f"ratio would be {database_ratio:.3f}")
    verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
    print(f"cards {rows_per_s:,.0f}/s; floor (better of before/after) {floor_rows_per_s:,.0f} "
          f"rows/s; ratio {ratio:.3f} (target >= {TARGET_RATIO}: {verdict})")

    found = verify(db, policy, backlog, now, scheduled)
    problems += found.problems
    for code, (cards, first, last) in sorted(found.offices.items()):
        print(f"  office {code} ({policy.offices[code].name}): {cards} cards, "
              f"{first:%a %d %b %Y} to {last:%a %d %b %Y}")
    print(f"  slots: {found.slot_rows} rows in the window, {found.slots_used} booked; families "
          f"of several cards: {found.multi_families}, split over slots: {found.split_families}")
    print(f"  pickup SMS: {found.sms_rows} written for {backlog.cards} cards in "
          f"{found.family_visits} family visits (one family, one office, one day)")
    figures.update(families=len(backlog.households), split_families=found.split_families,
                   slot_rows=found.slot_rows, sms_rows=found.sms_rows,
                   family_visits=found.family_visits)
    if not found.problems:
        print(f"verified: {backlog.cards} cards pickup_scheduled at their KK's office in open "
              f"future slots within capacity, codes unique, each code in one SMS of its family "
              f"visit, one timeline row each")


if __name__ == "__main__":
    sys.exit(main())
