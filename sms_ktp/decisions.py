"""Staff decisions on an application: rejecting it (with the reason the resident is told) or
cancelling it. Both close the application, so its NIK may apply again, and free its pickup."""

from __future__ import annotations

from sqlalchemy import select

from sms_ktp.clock import Clock
from sms_ktp.db import Database
from sms_ktp.domain.stages import CLOSED_STAGES, Stage
from sms_ktp.models import Application
from sms_ktp.pipeline import change_stage
from sms_ktp.quiet_hours import QuietHours

REASON_LIMIT = 50  # the reason goes into one SMS
_APPLICATION = Application.__table__


class DecisionRefused(Exception):
    pass


def _open_application(connection, reference: str) -> int:  # type: ignore[no-untyped-def]
    row = connection.execute(select(_APPLICATION.c.id, _APPLICATION.c.stage)
                             .where(_APPLICATION.c.reference == reference)
                             .with_for_update()).first()
    if row is None:
        raise DecisionRefused(f"unknown reference {reference}")
    if Stage(row.stage) in CLOSED_STAGES:
        raise DecisionRefused(f"application {reference} is already {row.stage}")
    return row.id


def reject(db: Database, clock: Clock, quiet: QuietHours, reference: str, reason: str,
           actor: str) -> None:
    reason = " ".join(reason.split())
    if not reason:
        raise DecisionRefused("a rejection needs a reason the resident can act on")
    if len(reason) > REASON_LIMIT:
        raise DecisionRefused(f"keep the reason within {REASON_LIMIT} characters (one SMS)")
    with db.connect() as connection:
        change_stage(connection, _open_application(connection, reference), Stage.REJECTED,
                     actor=actor, now=clock.now(), quiet=quiet, note=reason,
                     params={"why": reason}, values={"stage_note": reason})


def cancel(db: Database, clock: Clock, quiet: QuietHours, reference: str, note: str,
           actor: str) -> None:
    with db.connect() as connection:
        change_stage(connection, _open_application(connection, reference), Stage.CANCELLED,
                     actor=actor, now=clock.now(), quiet=quiet, note=note)
