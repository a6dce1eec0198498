"""The visit to hand in the papers of a document other than the KTP-el (KK, akta, KIA): one place
in a slot of the family's kecamatan office, booked at registration in the same slots and with
the same capacity as pickups (`pickup.SlotBook`), so the counter sees one queue-free day.

A papers visit is a `pickup_visit` row with purpose "papers" and no `open_code` (every pickup
query filters on the open code, so none of them sees it); `code` is a 6-letter code shown at
the counter. Each application it is for takes one place of its slot and points at it by
`application.papers_visit_id`; the visit is open while one of them is still `submitted` and
its slot is ahead. A family with an open papers visit joins it when its slot has room.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, bindparam, insert, or_, select, text, update

from flows.dates import say_day, say_time
from flows.papers import PURPOSE, papers_text
from sms_ktp.applications.decisions import document_name
from sms_ktp.applications.pickup import (
    PAPERS_CODE_KEPT,
    MoveRefused,
    PickupPolicy,
    _reminded_at,
    _reminder_day,
    ensure_slots,
    new_codes,
    rebook_visit,
)
from sms_ktp.applications.pipeline import Move, change_stages, notice_rows
from sms_ktp.domain.local_time import local_date, start_of_day
from sms_ktp.domain.pickup_calendar import Office, local, slot_starts
from sms_ktp.domain.stages import Stage
from sms_ktp.models import Application, Family, PickupSlot, PickupVisit, UtcDateTime
from sms_ktp.platform.clock import Clock
from sms_ktp.platform.db import Database

ACTOR = "system:papers"
_APPLICATION = Application.__table__
_VISIT = PickupVisit.__table__
_FAMILY = Family.__table__


@dataclass(frozen=True)
class PapersVisit:
    id: int
    at: datetime | None  # local (`pickup_calendar.local`) start; None when no slot was free
    office: str  # the office's name
    address: str
    code: str


def book(connection: Connection, policy: PickupPolicy, family_id: int, kecamatan_code: str,
         now: datetime) -> PapersVisit | None:
    """One place for the papers of one application at the family's kecamatan office: in the
    family's open papers visit when its slot has room, else in the earliest slot with room from
    the next working day (a visit without a slot when the search window is full: the office
    takes the papers any day). None when the kecamatan has no office. The caller sets
    `application.papers_visit_id` to the returned visit's id; no SMS is sent here."""
    office = policy.offices.get(kecamatan_code)
    if office is None:
        return None
    ahead = _visits_ahead(connection, family_id, office.code, now)
    for visit in ahead:
        if visit.purpose == PURPOSE and visit.waiting \
                and _take_place(connection, office, visit.starts_at):
            return PapersVisit(visit.id, local(visit.starts_at), office.name, office.address,
                               visit.code)
    start = _first_free_place(connection, office, policy, now, _days_of(ahead))
    visit_id, code = _new_visit(connection, now, {
        "family_id": family_id, "purpose": PURPOSE, "office": office.code, "starts_at": start,
        "open_code": None, "reschedules": 0, "changes": 0, "created_at": now,
        "reminded_at": _reminded_at(policy, office, start, now) if start is not None else now})
    return PapersVisit(visit_id, local(start) if start is not None else None, office.name,
                       office.address, code)


# One place, as a registration books it: a handful of statements on the slots of the first day
# with room (a day's allocation of pickups books thousands through `SlotBook` instead).
_SLOT = PickupSlot.__table__
_TAKE = (update(_SLOT)
         .where(_SLOT.c.office == bindparam("_office"), _SLOT.c.starts_at == bindparam("_start"),
                _SLOT.c.booked < bindparam("_capacity"))
         .values(booked=_SLOT.c.booked + 1))
_DAY_SLOTS = (select(_SLOT.c.starts_at, _SLOT.c.booked)
              .where(_SLOT.c.office == bindparam("office"),
                     _SLOT.c.starts_at >= bindparam("first"),
                     _SLOT.c.starts_at <= bindparam("last"))
              .order_by(_SLOT.c.starts_at))


def _take_place(connection: Connection, office: Office, start: datetime | None) -> bool:
    """One more place in the slot at `start` when it has room (one UPDATE that holds the
    capacity even with two registrations at once)."""
    if start is None:
        return False
    taken = connection.execute(_TAKE, {"_office": office.code, "_start": start,
                                       "_capacity": office.capacity})
    return bool(taken.rowcount)


def _visits_ahead(connection: Connection, family_id: int, office: str,
                  now: datetime) -> list[Any]:
    """The family's visits to the office still ahead, earliest first, in one query: its open
    pickups and its papers visits, each papers visit with whether an application still waits
    for its papers on it (one the next application may join). Locked: a move waits for the
    booking."""
    return list(connection.execute(_AHEAD, {"family_id": family_id, "office": office,
                                            "now": now}).all())


_WAITING = (select(_APPLICATION.c.id)
            .where(_APPLICATION.c.papers_visit_id == _VISIT.c.id,
                   _APPLICATION.c.stage == Stage.SUBMITTED.value)
            .exists())
_AHEAD = (select(_VISIT.c.id, _VISIT.c.starts_at, _VISIT.c.code, _VISIT.c.purpose,
                 _WAITING.label("waiting"))
          .where(_VISIT.c.family_id == bindparam("family_id"),
                 _VISIT.c.office == bindparam("office"),
                 _VISIT.c.starts_at > bindparam("now"),
                 or_(_VISIT.c.open_code.is_not(None), _VISIT.c.purpose == PURPOSE))
          .order_by(_VISIT.c.starts_at)
          .with_for_update(of=_VISIT))


def _days_of(visits: list[Any]) -> dict[date, datetime]:
    """The days the family already comes to the office (a pickup, another papers visit), with
    the slot it comes at: one visit per family per day."""
    days: dict[date, datetime] = {}
    for visit in visits:
        days.setdefault(local(visit.starts_at).date(), visit.starts_at)
    return days


def _first_free_place(connection: Connection, office: Office, policy: PickupPolicy,
                      now: datetime, family_days: dict[date, datetime]) -> datetime | None:
    """The earliest slot with room from the office's next working day, one place taken; None
    when the search window is full. On a day the family already comes, its own slot or none."""
    calendar = policy.calendar
    first = calendar.next_open_day(office, local_date(now))
    days = calendar.open_days(office, first, policy.search_days)
    if connection.dialect.name == "postgresql":
        return _first_free_at_once(connection, office, days, family_days)
    for day in days:
        if day in family_days:
            if _take_place(connection, office, family_days[day]):
                return family_days[day]
            continue
        starts = slot_starts(office, day)
        if not starts:
            continue
        bounds = {"office": office.code, "first": starts[0], "last": starts[-1]}
        booked = dict(connection.execute(_DAY_SLOTS, bounds).all())
        if len(booked) < len(starts):
            ensure_slots(connection, office, starts)
            booked = dict(connection.execute(_DAY_SLOTS, bounds).all())
        for start in starts:
            if booked.get(start, 0) < office.capacity \
                    and _take_place(connection, office, start):
                return start
    return None


# PostgreSQL looks at several days in one statement (a surge fills the first days, and each
# full day was a statement of its own): the first of `starts` (in their order; those also in
# `own` are a family's own slot on a day it already comes, taken only from an existing row)
# whose row has room or is still missing, and one place taken there. The instants travel as one
# text of naive UTC times (`_day_starts`): a list of datetimes costs the driver more than the
# statement costs the server.
_DAYS_AT_ONCE = 10
_FREE_AT_ONCE = text("""
WITH wanted AS (
    SELECT w.starts_at, w.n,
        w.starts_at = ANY(string_to_array(:own, ',')::timestamp without time zone[]) AS own
    FROM unnest(string_to_array(:starts, ',')::timestamp without time zone[])
        WITH ORDINALITY AS w(starts_at, n)
), free AS (
    SELECT wanted.starts_at FROM wanted
    LEFT JOIN pickup_slot ON pickup_slot.office = :office
        AND pickup_slot.starts_at = wanted.starts_at
    WHERE pickup_slot.booked < :capacity OR (pickup_slot.office IS NULL AND NOT wanted.own)
    ORDER BY wanted.n LIMIT 1
), taken AS (
    UPDATE pickup_slot SET booked = pickup_slot.booked + 1
    WHERE pickup_slot.office = :office AND pickup_slot.starts_at = (SELECT starts_at FROM free)
        AND pickup_slot.booked < :capacity
    RETURNING pickup_slot.starts_at
)
SELECT (SELECT starts_at FROM free) AS free, (SELECT starts_at FROM taken) AS taken
""").columns(free=UtcDateTime(), taken=UtcDateTime())


def _first_free_at_once(connection: Connection, office: Office, days: list[date],
                        family_days: dict[date, datetime]) -> datetime | None:
    """`_first_free_place` on PostgreSQL: `_DAYS_AT_ONCE` days a statement. A free slot whose
    row is missing gets its day's rows, and the statement runs again (as it does when another
    booking took the last place meanwhile)."""
    for at in range(0, len(days), _DAYS_AT_ONCE):
        chunk = days[at:at + _DAYS_AT_ONCE]
        own = [_naive_text(family_days[day]) for day in chunk if day in family_days]
        starts = [_naive_text(family_days[day]) if day in family_days
                  else _day_starts(office, day) for day in chunk]
        parameters = {"office": office.code, "capacity": office.capacity, "own": ",".join(own),
                      "starts": ",".join(part for part in starts if part)}
        while parameters["starts"]:
            row = connection.execute(_FREE_AT_ONCE, parameters).one()
            if row.taken is not None:
                return row.taken
            if row.free is None:
                break  # these days are full
            ensure_slots(connection, office, slot_starts(office, local(row.free).date()))
    return None


def _naive_text(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")


@lru_cache(maxsize=4096)
def _day_starts(office: Office, day: date) -> str:
    """A day's slot starts as `_FREE_AT_ONCE` reads them (cached: a surge books thousands of
    visits on a few dozen days)."""
    return ",".join(_naive_text(start) for start in slot_starts(office, day))


def _new_visit(connection: Connection, now: datetime, values: dict[str, Any]) -> tuple[int, str]:
    """The papers visit written with a code that no open pickup and no recent papers visit has
    (a code at the counter names one visit): the check is part of the INSERT, which writes
    nothing when the candidate is taken, and the next candidate is tried."""
    for code in new_codes(set(), batch=4):
        visit_id = connection.execute(_NEW_VISIT, {
            **values, "code": code, "recent": now - PAPERS_CODE_KEPT}).scalar()
        if visit_id is not None:
            return int(visit_id), code
    raise AssertionError("unreachable: new_codes never ends")


_NEW_COLUMNS = ("family_id", "purpose", "office", "starts_at", "code", "open_code",
                "reschedules", "changes", "created_at", "reminded_at")
_NEW_VALUES = {name: bindparam(name, type_=_VISIT.c[name].type) for name in _NEW_COLUMNS}
_RECENT = bindparam("recent", type_=_VISIT.c.created_at.type)
_OTHER = PickupVisit.__table__.alias("other")
_NEW_VISIT = insert(_VISIT).from_select(
    list(_NEW_COLUMNS),
    select(*_NEW_VALUES.values()).where(~select(_OTHER.c.id).where(
        or_(_OTHER.c.open_code == _NEW_VALUES["code"],
            (_OTHER.c.code == _NEW_VALUES["code"]) & (_OTHER.c.purpose == PURPOSE)
            & or_(_OTHER.c.starts_at >= _RECENT, _OTHER.c.created_at >= _RECENT))).exists())
).returning(_VISIT.c.id)


def words(language: str, visit: PapersVisit) -> dict[str, str]:
    """The words of a papers visit for a message: `day`, `time`, `office`, `address` (the day
    and time empty for a visit without a slot)."""
    if visit.at is None:
        return {"day": "", "time": "", "office": visit.office, "address": visit.address}
    return {"day": say_day(language, visit.at.date()), "time": say_time(language, visit.at),
            "office": visit.office, "address": visit.address}


def view(connection: Connection, policy: PickupPolicy, papers_visit_id: int) -> PapersVisit | None:
    """A booked papers visit as `book` returned it (None when unknown or its office is gone)."""
    row = connection.execute(select(_VISIT).where(_VISIT.c.id == papers_visit_id,
                                                  _VISIT.c.purpose == PURPOSE)).first()
    office = policy.offices.get(row.office) if row is not None else None
    if row is None or office is None:
        return None
    return PapersVisit(row.id, local(row.starts_at) if row.starts_at is not None else None,
                       office.name, office.address, row.code)


# --- the reminder -------------------------------------------------------------------------------
def _waiting(connection: Connection, *where: Any, lock: bool = True,
             skip_locked: bool = True) -> dict[int, list[Any]]:
    """Papers visits matching `where` with their applications still waiting for the papers
    (locked; with `skip_locked`, those another run holds are left to it), by visit, earliest
    slot first."""
    query = (notice_rows(_APPLICATION.c.document, _APPLICATION.c.papers_visit_id,
                         _APPLICATION.c.stage, _VISIT.c.office, _VISIT.c.starts_at,
                         _VISIT.c.code, _VISIT.c.changes, _VISIT.c.family_id)
             .join(_VISIT, _VISIT.c.id == _APPLICATION.c.papers_visit_id)
             .where(_VISIT.c.purpose == PURPOSE,
                    _APPLICATION.c.stage == Stage.SUBMITTED.value, *where)
             .order_by(_VISIT.c.starts_at, _VISIT.c.id, _APPLICATION.c.id))
    if lock:
        query = query.with_for_update(of=_APPLICATION, skip_locked=skip_locked)
    visits: dict[int, list[Any]] = {}
    for row in connection.execute(query):
        visits.setdefault(row.papers_visit_id, []).append(row)
    return visits


def visit_text(key: str, office: Office, applications: list[Any], start: datetime | None = None,
               **params: Any) -> str:
    """The catalogue message `key` about a papers visit, for its family (the first
    application's language), naming its applications."""
    lead = applications[0]
    moment = local(start if start is not None else lead.starts_at)
    return papers_text(lead.language, key,
                       [(row.document, row.reference) for row in applications],
                       day=say_day(lead.language, moment.date()),
                       time=say_time(lead.language, moment), office=office.name,
                       address=office.address, code=lead.code, **params)


def _one_sms(applications: list[Any], text: str) -> list[Move]:
    """A change of every application of a visit: its one SMS with the first, none with the
    others."""
    return [Move(row.id, {}, text=text if index == 0 else "")
            for index, row in enumerate(applications)]


def remind(db: Database, clock: Clock, policy: PickupPolicy, reminder_time: Any) -> int:
    """On the working day before a papers visit, from `reminder_time` (local), its reminder:
    one SMS naming every application it is for (as pickups are reminded: `pickup.remind`).
    Returns how many visits were reminded."""
    now = clock.now()
    if local(now).time() < reminder_time:
        return 0
    today = local_date(now)
    with db.connect() as connection:
        due = _waiting(connection, _VISIT.c.reminded_at.is_(None), _VISIT.c.starts_at > now)
        moves: list[Move] = []
        reminded = []
        for visit_id, applications in due.items():
            office = policy.offices.get(applications[0].office)
            if office is None or _reminder_day(policy.calendar, office, local(
                    applications[0].starts_at).date()) != today:
                continue
            reminded.append(visit_id)
            moves.extend(_one_sms(applications, visit_text("papers.reminder", office,
                                                           applications)))
        if reminded:
            connection.execute(update(_VISIT).where(_VISIT.c.id.in_(reminded))
                               .values(reminded_at=now))
        change_stages(connection, moves, Stage.SUBMITTED, actor=ACTOR, now=now,
                      quiet=policy.quiet, note="papers visit reminder sent",
                      notice="papers.reminder",
                      rows={row.id: row for rows in due.values() for row in rows},
                      supersedes=False)
    return len(reminded)


# --- UBAH JADWAL --------------------------------------------------------------------------------
def family_visits(connection: Connection, phone: str, now: datetime) -> dict[int, list[Any]]:
    """The papers visits of the family of this phone with a slot from today on and applications
    still waiting for their papers, with those applications, earliest first (read only). A day
    gone by is not offered: the papers are then brought in office hours, any day."""
    return _waiting(connection, _VISIT.c.starts_at >= start_of_day(local_date(now)),
                    _FAMILY.c.phone == phone, lock=False)


def move(connection: Connection, policy: PickupPolicy, visit_id: int, now: datetime,
         actor: str, on: date | None = None) -> datetime:
    """Move a papers visit (the resident asked: UBAH JADWAL) to another day, as a pickup moves
    (`pickup.rebook_visit`, with its limits): the first slot of `on` with a place for each of its
    applications, or without `on` the first such slot of a working day after the visit's own
    day. Returns the new slot. Raises `MoveRefused` with a catalogue key ("papers.no_more_changes"
    or "papers.no_changes", "papers.same_day", "papers.day_unavailable" with the nearest free
    `day`, "pickup.full"); a refusal changes nothing."""
    visit = connection.execute(select(_VISIT).where(_VISIT.c.id == visit_id,
                                                    _VISIT.c.purpose == PURPOSE)
                               .with_for_update()).one()
    if visit.changes >= policy.max_resident_changes:
        raise MoveRefused("papers.no_more_changes" if policy.max_resident_changes
                          else "papers.no_changes", n=policy.max_resident_changes)
    office = policy.offices.get(visit.office)
    applications = _waiting(connection, _VISIT.c.id == visit_id,
                            skip_locked=False).get(visit_id, [])
    if office is None or visit.starts_at is None or not applications:
        raise MoveRefused("pickup.full")
    start = rebook_visit(connection, policy, office, visit, len(applications), now, on,
                         "papers")
    change_stages(connection, [Move(row.id) for row in applications], Stage.SUBMITTED,
                  actor=actor, now=now, quiet=policy.quiet,
                  note="papers visit moved by the resident", notice="",
                  rows={row.id: row for row in applications})
    return start


# --- at the office ------------------------------------------------------------------------------
COMPLETE_NOTE = "papers complete at the office"
MISSING_NOTE = "papers missing: {what}"


class PapersRefused(Exception):
    """Nothing recorded: the application waits for no papers (unknown, or past `submitted`)."""


@dataclass(frozen=True)
class Waiting:
    """An application whose papers the office waits for, and its visit."""

    application_id: int
    reference: str
    document: str
    nik: str | None
    reason: str
    visit_id: int
    office: str
    starts_at: datetime | None
    code: str


_WAITING = (select(_APPLICATION.c.id, _APPLICATION.c.reference, _APPLICATION.c.document,
                   _APPLICATION.c.nik, _APPLICATION.c.reason, _VISIT.c.id.label("visit_id"),
                   _VISIT.c.office, _VISIT.c.starts_at, _VISIT.c.code)
            .join(_VISIT, _VISIT.c.id == _APPLICATION.c.papers_visit_id)
            .where(_VISIT.c.purpose == PURPOSE, _APPLICATION.c.stage == Stage.SUBMITTED.value))


def waiting(connection: Connection, reference: str) -> Waiting | None:
    """The application with this reference while the office waits for its papers."""
    row = connection.execute(_WAITING.where(_APPLICATION.c.reference == reference)).first()
    return Waiting(*row) if row is not None else None


def office_days(connection: Connection, office: str, first: date,
                last: date) -> list[Waiting]:
    """The applications whose papers the office waits for with a visit from the (local) day
    `first` to `last`, by slot; then those without a slot (the window was full)."""
    rows = connection.execute(
        _WAITING.where(_VISIT.c.office == office,
                       or_(_VISIT.c.starts_at.is_(None),
                           (_VISIT.c.starts_at >= start_of_day(first))
                           & (_VISIT.c.starts_at < start_of_day(last + timedelta(days=1)))))
        .order_by(_VISIT.c.starts_at.is_(None), _VISIT.c.starts_at, _VISIT.c.id,
                  _APPLICATION.c.id)).all()
    return [Waiting(*row) for row in rows]


def record_missing(connection: Connection, policy: PickupPolicy, reference: str, what: str,
                   actor: str, now: datetime) -> None:
    """Staff found the papers incomplete: the application stays `submitted`, its timeline says
    what is missing and the family gets ONE SMS saying it (`papers.missing`). `what` is checked
    by the caller (one SMS: `sms_budget.budget("what")`)."""
    found = connection.execute(_WAITING.where(_APPLICATION.c.reference == reference)
                               .with_for_update(of=_APPLICATION)).first()
    if found is None:
        raise PapersRefused(f"application {reference} waits for no papers")
    change_stages(connection, [Move(found.id, {}, {"what": what,
                                                   "document": document_name(found.document)})],
                  Stage.SUBMITTED, actor=actor, now=now, quiet=policy.quiet,
                  note=MISSING_NOTE.format(what=what), notice="papers.missing")
