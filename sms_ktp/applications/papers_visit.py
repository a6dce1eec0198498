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
from datetime import datetime, timedelta

from sqlalchemy import Connection, insert, or_, select

from flows.dates import say_day, say_time
from sms_ktp.applications.pickup import PickupPolicy, SlotBook, _reminded_at, new_codes
from sms_ktp.domain.local_time import local_date
from sms_ktp.domain.pickup_calendar import local
from sms_ktp.domain.stages import Stage
from sms_ktp.models import Application, PickupVisit

PURPOSE = "papers"
_APPLICATION = Application.__table__
_VISIT = PickupVisit.__table__
_CODE_KEPT = timedelta(days=90)  # a papers visit's code is not given to another this long


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
    book = SlotBook(connection, office, policy, local_date(now))
    for visit in _open_visits(connection, family_id, office.code, now):
        if book.take(visit.starts_at, 1):
            book.write(connection)
            return PapersVisit(visit.id, local(visit.starts_at), office.name, office.address,
                               visit.code)
    start = book.book(1)
    book.write(connection)
    code = next(new_codes(_codes(connection, now)))
    visit_id = connection.execute(insert(_VISIT).values(
        family_id=family_id, purpose=PURPOSE, office=office.code, starts_at=start, code=code,
        open_code=None, reschedules=0, changes=0, created_at=now,
        reminded_at=_reminded_at(policy, office, start, now) if start is not None else now,
    ).returning(_VISIT.c.id)).scalar_one()
    return PapersVisit(visit_id, local(start) if start is not None else None, office.name,
                       office.address, code)


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


def _open_visits(connection: Connection, family_id: int, office: str,
                 now: datetime) -> list[object]:
    """The family's papers visits at the office still ahead with an application still waiting
    for its papers, earliest first (locked: a move waits for the booking)."""
    waiting = (select(_APPLICATION.c.id)
               .where(_APPLICATION.c.papers_visit_id == _VISIT.c.id,
                      _APPLICATION.c.stage == Stage.SUBMITTED.value)
               .exists())
    return list(connection.execute(
        select(_VISIT.c.id, _VISIT.c.starts_at, _VISIT.c.code)
        .where(_VISIT.c.family_id == family_id, _VISIT.c.purpose == PURPOSE,
               _VISIT.c.office == office, _VISIT.c.starts_at > now, waiting)
        .order_by(_VISIT.c.starts_at)
        .with_for_update(of=_VISIT)).all())


def _codes(connection: Connection, now: datetime) -> set[str]:
    """The codes a new papers visit's must differ from: every open pickup code and the codes
    of recent papers visits (a code at the counter names one visit)."""
    recent = or_(_VISIT.c.starts_at >= now - _CODE_KEPT, _VISIT.c.created_at >= now - _CODE_KEPT)
    return set(connection.execute(
        select(_VISIT.c.open_code).where(_VISIT.c.open_code.is_not(None))).scalars()) | set(
        connection.execute(select(_VISIT.c.code)
                           .where(_VISIT.c.purpose == PURPOSE, recent)).scalars())
