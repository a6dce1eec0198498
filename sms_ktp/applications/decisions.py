"""Staff decisions on an application of any document: rejecting it (with the reason the resident
is told) or cancelling it, which close the application, so its NIK may apply again, and free its
place in a pickup or papers-visit slot; and a double record (data ganda) resolved after the
resident's visit, which sends the card back to the print queue. `preview` words the SMS a
decision will send, for the page that asks staff to confirm it.

The SMS of a rejection or a cancellation names the document (`closing_notice`): the KTP-el keeps
the texts its residents know, another document has its own text or the generic one with its
name."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, select

from flows.catalogue import Msg, messages, render
from gsm7.encoding import segments
from sms_ktp.applications import sms_budget
from sms_ktp.applications.pickup import PickupPolicy, release_slot, retell_visit
from sms_ktp.applications.pipeline import change_stage, notice_rows
from sms_ktp.domain.masking import mask_id, mask_phone, redact
from sms_ktp.domain.quiet_hours import QuietHours
from sms_ktp.domain.stages import CLOSED_STAGES, Stage
from sms_ktp.messaging.outbox import has_queued_notice
from sms_ktp.models import Application, PickupVisit
from sms_ktp.platform.clock import Clock
from sms_ktp.platform.db import Database

_APPLICATION = Application.__table__
_VISIT = PickupVisit.__table__


class DecisionRefused(Exception):
    pass


def reason_budget() -> int:
    """The GSM-7 septets a rejection's reason may take: the SMS that tells the family (in its
    language, with the longest reference and number) stays one SMS (`sms_budget`)."""
    return sms_budget.budget("why")


# Rejected while the document is not made yet: a card printed already, or a PDF signed, is not
# refused but handed over or cancelled.
REJECTABLE = frozenset({Stage.SUBMITTED, Stage.PAPERS_CHECKED, Stage.PENUNGGALAN,
                        Stage.PRINT_READY, Stage.DUPLICATE, Stage.PRINT_QUEUE})


def document_name(code: str) -> Msg | str:
    """A document's short name as its family reads it ("KK", "Akta Kelahiran"), in the reader's
    language: its catalogue's `<code>.name`; its code while it has none."""
    key = f"{code}.name"
    return Msg(key) if key in messages("id") else code


def closing_notice(document: str, stage: Stage) -> tuple[str, dict[str, Any]]:
    """The catalogue message (and the placeholders it needs besides the reference, the NIK and
    the reason) that tells a family its application was rejected or cancelled: the document's
    own `<code>.notify.<stage>`, the KTP-el's as its residents know it, else the generic text
    naming the document."""
    own = f"{document}.notify.{stage.value}"
    if own in messages("id"):
        return own, {}
    if document == "ktp":
        return f"notify.{stage.value}", {}
    return f"notify.document_{stage.value}", {"document": document_name(document)}


def _open_application(connection: Connection, reference: str) -> Row[Any]:
    row = connection.execute(select(_APPLICATION.c.id, _APPLICATION.c.stage,
                                    _APPLICATION.c.document, _APPLICATION.c.pickup_office,
                                    _APPLICATION.c.pickup_at, _APPLICATION.c.visit_id,
                                    _APPLICATION.c.papers_visit_id)
                             .where(_APPLICATION.c.reference == reference)
                             .with_for_update()).first()
    if row is None:
        raise DecisionRefused(f"unknown reference {reference}")
    if Stage(row.stage) in CLOSED_STAGES:
        raise DecisionRefused(f"application {reference} is already {row.stage}")
    return row


def _free_places(connection: Connection, row: Row[Any], now: datetime) -> None:
    """A closed application gives its place in the pickup slot back, or its place in the slot
    of the papers visit still ahead."""
    if row.stage == Stage.PICKUP_SCHEDULED.value and row.pickup_at is not None:
        release_slot(connection, row.pickup_office, row.pickup_at)
    if row.stage == Stage.SUBMITTED.value and row.papers_visit_id is not None:
        visit = connection.execute(select(_VISIT.c.office, _VISIT.c.starts_at)
                                   .where(_VISIT.c.id == row.papers_visit_id)).first()
        if visit is not None and visit.starts_at is not None and visit.starts_at > now:
            release_slot(connection, visit.office, visit.starts_at)


def checked_reason(reason: str) -> str:
    """The reason as stored and sent: one line, a number typed into it masked like everywhere
    else, within one SMS."""
    reason = redact(" ".join(reason.split()))
    if not reason:
        raise DecisionRefused("a rejection needs a reason the resident can act on")
    if sms_budget.length(reason) > reason_budget():
        raise DecisionRefused(f"keep the reason within {reason_budget()} GSM-7 septets (one "
                              f"SMS); it takes {sms_budget.length(reason)}")
    return reason


def reject(db: Database, clock: Clock, quiet: QuietHours, reference: str, reason: str,
           actor: str) -> None:
    reason = checked_reason(reason)
    with db.connect() as connection:
        reject_in(connection, quiet, reference, reason, actor, clock.now())


def reject_in(connection: Connection, quiet: QuietHours, reference: str, reason: str,
              actor: str, now: datetime) -> None:
    """`reject` in the caller's transaction (`reason` as `checked_reason` gives it)."""
    row = _open_application(connection, reference)
    if Stage(row.stage) not in REJECTABLE:
        raise DecisionRefused(f"application {reference} is {row.stage}: too late to reject")
    key, params = closing_notice(row.document, Stage.REJECTED)
    change_stage(connection, row.id, Stage.REJECTED, actor=actor, now=now, quiet=quiet,
                 note=reason, notice=key, params={**params, "why": reason},
                 values={"stage_note": reason})
    _free_places(connection, row, now)


def cancel(db: Database, clock: Clock, quiet: QuietHours, reference: str, note: str,
           actor: str, policy: PickupPolicy | None = None) -> None:
    """With `policy`: a card that carried its family visit's pickup SMS, still waiting for the
    end of quiet hours, leaves the visit without taking the others' SMS with it (the SMS is
    worded again for the cards left)."""
    with db.connect() as connection:
        cancel_in(connection, quiet, reference, note, actor, clock.now(), policy)


def cancel_in(connection: Connection, quiet: QuietHours, reference: str, note: str,
              actor: str, now: datetime, policy: PickupPolicy | None = None) -> None:
    """`cancel` in the caller's transaction."""
    row = _open_application(connection, reference)
    untold = (policy is not None and row.visit_id is not None
              and has_queued_notice(connection, row.id))
    key, params = closing_notice(row.document, Stage.CANCELLED)
    change_stage(connection, row.id, Stage.CANCELLED, actor=actor, now=now, quiet=quiet,
                 note=note, notice=key, params=params)
    _free_places(connection, row, now)
    if untold and policy is not None:
        retell_visit(connection, policy, row.visit_id, now)


RESOLVED_NOTE = "data ganda diselesaikan setelah warga datang ke kecamatan"
NOTE_LIMIT = 200  # a note of staff: one line in the timeline


def resolve_duplicate(db: Database, clock: Clock, quiet: QuietHours, reference: str,
                      note: str, actor: str) -> None:
    """A double record resolved after the resident's visit to the kecamatan: the card joins
    the print queue as ready now (`ready_at`: its turn comes after the cards that were ready
    before it, as for any card Kemendagri clears today), and the family is told by SMS."""
    note = redact(" ".join(note.split()))[:NOTE_LIMIT]
    with db.connect() as connection:
        row = _open_application(connection, reference)
        if row.stage != Stage.DUPLICATE.value:
            raise DecisionRefused(f"application {reference} is {row.stage}, not a double record")
        now = clock.now()
        change_stage(connection, row.id, Stage.PRINT_QUEUE, actor=actor, now=now, quiet=quiet,
                     note=f"{RESOLVED_NOTE}: {note}" if note else RESOLVED_NOTE,
                     notice="notify.duplicate_resolved",
                     values={"ready_at": now, "stage_note": None})


@dataclass(frozen=True)
class Preview:
    """The SMS a decision will send, as the family will read it (numbers masked, as sent)."""

    phone: str  # the family phone, masked
    text: str
    segments: int
    held_until: datetime | None  # quiet hours now: when it leaves


def preview(connection: Connection, reference: str, key: str, now: datetime,
            quiet: QuietHours, **params: Any) -> Preview | None:
    """The catalogue message `key` worded for this application's family as `change_stage`
    words it (the phone's language, else the application's); None for an unknown reference."""
    row = connection.execute(notice_rows().where(
        Application.__table__.c.reference == reference)).first()
    if row is None:
        return None
    text = render(row.language, key, ref=row.reference, nik=mask_id(row.nik), **params)
    leaves = quiet.next_allowed(now)
    return Preview(mask_phone(row.phone), text, segments(text), leaves if leaves > now else None)
