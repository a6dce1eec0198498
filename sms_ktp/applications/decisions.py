"""Staff decisions on an application: rejecting it (with the reason the resident is told) or
cancelling it. Both close the application, so its NIK may apply again, and free its pickup."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, select

from sms_ktp.applications import sms_budget
from sms_ktp.applications.pickup import PickupPolicy, release_slot, retell_visit
from sms_ktp.applications.pipeline import change_stage
from sms_ktp.domain.masking import redact
from sms_ktp.domain.quiet_hours import QuietHours
from sms_ktp.domain.stages import CLOSED_STAGES, Stage
from sms_ktp.messaging.outbox import has_queued_notice
from sms_ktp.models import Application
from sms_ktp.platform.clock import Clock
from sms_ktp.platform.db import Database

_APPLICATION = Application.__table__


class DecisionRefused(Exception):
    pass


def reason_budget() -> int:
    """The GSM-7 septets a rejection's reason may take: the SMS that tells the family (in its
    language, with the longest reference and number) stays one SMS (`sms_budget`)."""
    return sms_budget.budget("why")


# A card that is printed already is not rejected: it is handed over or cancelled.
REJECTABLE = frozenset({Stage.SUBMITTED, Stage.PENUNGGALAN, Stage.PRINT_READY, Stage.DUPLICATE,
                        Stage.PRINT_QUEUE})


def _open_application(connection: Connection, reference: str) -> Row[Any]:
    row = connection.execute(select(_APPLICATION.c.id, _APPLICATION.c.stage,
                                    _APPLICATION.c.pickup_office, _APPLICATION.c.pickup_at,
                                    _APPLICATION.c.visit_id)
                             .where(_APPLICATION.c.reference == reference)
                             .with_for_update()).first()
    if row is None:
        raise DecisionRefused(f"unknown reference {reference}")
    if Stage(row.stage) in CLOSED_STAGES:
        raise DecisionRefused(f"application {reference} is already {row.stage}")
    return row


def _free_pickup(connection: Connection, row: Row[Any]) -> None:
    """A closed application gives its place in the pickup slot back."""
    if row.stage == Stage.PICKUP_SCHEDULED.value and row.pickup_at is not None:
        release_slot(connection, row.pickup_office, row.pickup_at)


def reject(db: Database, clock: Clock, quiet: QuietHours, reference: str, reason: str,
           actor: str) -> None:
    # Stored and sent to the resident: a number typed into it is masked like everywhere else.
    reason = redact(" ".join(reason.split()))
    if not reason:
        raise DecisionRefused("a rejection needs a reason the resident can act on")
    if sms_budget.length(reason) > reason_budget():
        raise DecisionRefused(f"keep the reason within {reason_budget()} GSM-7 septets (one "
                              f"SMS); it takes {sms_budget.length(reason)}")
    with db.connect() as connection:
        row = _open_application(connection, reference)
        if Stage(row.stage) not in REJECTABLE:
            raise DecisionRefused(f"application {reference} is {row.stage}: too late to reject")
        change_stage(connection, row.id, Stage.REJECTED, actor=actor, now=clock.now(),
                     quiet=quiet, note=reason, params={"why": reason},
                     values={"stage_note": reason})


def cancel(db: Database, clock: Clock, quiet: QuietHours, reference: str, note: str,
           actor: str, policy: PickupPolicy | None = None) -> None:
    """With `policy`: a card that carried its family visit's pickup SMS, still waiting for the
    end of quiet hours, leaves the visit without taking the others' SMS with it (the SMS is
    worded again for the cards left)."""
    with db.connect() as connection:
        row = _open_application(connection, reference)
        untold = (policy is not None and row.visit_id is not None
                  and has_queued_notice(connection, row.id))
        change_stage(connection, row.id, Stage.CANCELLED, actor=actor, now=clock.now(),
                     quiet=quiet, note=note)
        _free_pickup(connection, row)
        if untold:
            retell_visit(connection, policy, row.visit_id, clock.now())
