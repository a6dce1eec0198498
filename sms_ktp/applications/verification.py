"""Verification by staff: an application received (by SMS, USSD or at the counter) is checked
by a member of staff before its NIK goes to Kemendagri for penunggalan. The status SMS promises
it ("menunggu verifikasi petugas"), so the office works a queue of them, oldest first.

Verifying sends the application on to penunggalan without an SMS: the resident was told at
registration that verification and penunggalan come next, STATUS answers the new stage, and the
next SMS (ready to print, or a double record) is news they can act on. An SMS per verification
would double the cost of every registration for a message that asks nothing of the family.
Something wrong is a rejection (`decisions.reject`), whose reason the family reads by SMS.

Kemendagri's answer stays authoritative: a penunggalan result for an application still waiting
for verification is applied all the same (`penunggalan._WAITING`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, literal_column, select

from sms_ktp.applications.pipeline import Move, change_stages
from sms_ktp.domain.masking import mask_id, redact
from sms_ktp.domain.quiet_hours import QuietHours
from sms_ktp.domain.stages import Stage
from sms_ktp.models import Application, ApplicationEvent, Family, in_stage
from sms_ktp.platform.clock import Clock
from sms_ktp.platform.db import Database

PAGE_SIZE = 50
NOTE = "diverifikasi petugas; menunggu penunggalan di Kemendagri"
_APPLICATION = Application.__table__
_FAMILY = Family.__table__
_EVENT = ApplicationEvent.__table__
# Verification is the KTP-el's step before penunggalan; another document's papers are checked at
# its papers visit. The document is checked on the queue's rows (`document || ''`, which no
# index serves), so the queue's own partial index is read, not every KTP-el ever made.
_KTP_EL = _APPLICATION.c.document.concat("") == literal_column("'ktp'")
_WAITING = (select(_APPLICATION.c.id, _APPLICATION.c.reference, _APPLICATION.c.nik,
                   _FAMILY.c.kk, _FAMILY.c.kecamatan_code, _APPLICATION.c.reason,
                   _APPLICATION.c.suket_number, _APPLICATION.c.channel,
                   _APPLICATION.c.created_at)
            .join(_FAMILY, _FAMILY.c.id == _APPLICATION.c.family_id)
            .where(in_stage(Stage.SUBMITTED), _KTP_EL))


@dataclass(frozen=True)
class Waiting:
    """One application waiting for verification, as the queue shows it: numbers masked."""

    reference: str
    nik: str
    kk: str
    kecamatan_code: str
    reason: str
    suket_number: str | None
    channel: str
    registered_by: str  # the actor of its registration ("resident:sms", "staff:<username>")
    created_at: datetime


@dataclass(frozen=True)
class Queue:
    rows: list[Waiting]
    total: int
    page: int
    pages: int


def waiting(connection: Connection, *, office: str | None = None, page: int = 1,
            size: int = PAGE_SIZE) -> Queue:
    """The applications waiting for verification, oldest first; `office`: only those whose
    family's KK is of that kecamatan (an operator's queue)."""
    statement = _WAITING
    counted = (select(func.count()).select_from(_APPLICATION)
               .join(_FAMILY, _FAMILY.c.id == _APPLICATION.c.family_id)
               .where(in_stage(Stage.SUBMITTED), _KTP_EL))
    if office is not None:
        statement = statement.where(_FAMILY.c.kecamatan_code == office)
        counted = counted.where(_FAMILY.c.kecamatan_code == office)
    total = connection.execute(counted).scalar_one()
    pages = max(1, -(-total // size))
    page = min(max(1, page), pages)
    rows = connection.execute(statement.order_by(_APPLICATION.c.created_at, _APPLICATION.c.id)
                              .offset((page - 1) * size).limit(size)).all()
    registrants = registered_by(connection, [row.id for row in rows])
    return Queue([Waiting(row.reference, mask_id(row.nik), mask_id(row.kk), row.kecamatan_code,
                          row.reason, redact(row.suket_number) if row.suket_number else None,
                          row.channel, registrants.get(row.id, ""), row.created_at)
                  for row in rows], total, page, pages)


def registered_by(connection: Connection, applications: Sequence[int]) -> dict[int, str]:
    """Who registered each application: the actor of its first `submitted` timeline entry."""
    if not applications:
        return {}
    first = (select(_EVENT.c.application_id, func.min(_EVENT.c.id).label("id"))
             .where(_EVENT.c.application_id.in_(applications),
                    _EVENT.c.stage == Stage.SUBMITTED.value)
             .group_by(_EVENT.c.application_id).subquery())
    return dict(connection.execute(select(_EVENT.c.application_id, _EVENT.c.actor)
                                   .join(first, first.c.id == _EVENT.c.id)).all())


@dataclass(frozen=True)
class Verified:
    done: list[str]  # references sent on to penunggalan
    skipped: list[str]  # no longer waiting (verified, rejected or cancelled meanwhile)


def verify(db: Database, clock: Clock, quiet: QuietHours, references: Sequence[str],
           actor: str, office: str | None = None) -> Verified:
    """Send these applications on to penunggalan, in one transaction; those not waiting for
    verification any more (or, with `office`, not of that kecamatan) are left as they are."""
    wanted = list(dict.fromkeys(references))
    if not wanted:
        return Verified([], [])
    statement = (select(_APPLICATION.c.id, _APPLICATION.c.reference)
                 .join(_FAMILY, _FAMILY.c.id == _APPLICATION.c.family_id)
                 .where(_APPLICATION.c.reference.in_(wanted), in_stage(Stage.SUBMITTED),
                        _KTP_EL)
                 .with_for_update(of=_APPLICATION))
    if office is not None:
        statement = statement.where(_FAMILY.c.kecamatan_code == office)
    with db.connect() as connection:
        rows = connection.execute(statement.order_by(_APPLICATION.c.id)).all()
        change_stages(connection, [Move(row.id) for row in rows], Stage.PENUNGGALAN,
                      actor=actor, now=clock.now(), quiet=quiet, note=NOTE, notice="",
                      supersedes=False)  # nothing the family was told becomes untrue
    done = {row.reference for row in rows}
    return Verified([ref for ref in wanted if ref in done],
                    [ref for ref in wanted if ref not in done])


@dataclass(frozen=True)
class DoubleRecord:
    """An application Kemendagri found recorded twice: it waits for the resident's visit to the
    kecamatan, after which staff mark it resolved (`decisions.resolve_duplicate`)."""

    reference: str
    nik: str
    kecamatan_code: str
    note: str | None  # Kemendagri's note, redacted
    since: datetime


DOUBLE_RECORD_LIMIT = 200
_DOUBLE = (select(_APPLICATION.c.reference, _APPLICATION.c.nik, _FAMILY.c.kecamatan_code,
                  _APPLICATION.c.stage_note, _APPLICATION.c.updated_at)
           .join(_FAMILY, _FAMILY.c.id == _APPLICATION.c.family_id)
           .where(in_stage(Stage.DUPLICATE))
           .order_by(_APPLICATION.c.updated_at, _APPLICATION.c.id))


def double_records(connection: Connection, *, office: str | None = None,
                   limit: int = DOUBLE_RECORD_LIMIT) -> list[DoubleRecord]:
    """The double records waiting for a visit, the longest waiting first."""
    statement = _DOUBLE if office is None else _DOUBLE.where(_FAMILY.c.kecamatan_code == office)
    return [DoubleRecord(row.reference, mask_id(row.nik), row.kecamatan_code,
                         redact(row.stage_note) if row.stage_note else None, row.updated_at)
            for row in connection.execute(statement.limit(limit))]
