"""Moving an application through its stages: every change is a timeline entry, and each change
that matters to the resident sends one SMS (a notification, held back in quiet hours) to the
family's phone in the application's language."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from flows.catalogue import messages, render
from sms_ktp.domain.stages import CLOSED_STAGES, Stage
from sms_ktp.masking import mask_id
from sms_ktp.models import Application, ApplicationEvent, Family
from sms_ktp.outbox import enqueue
from sms_ktp.quiet_hours import QuietHours

_APPLICATION = Application.__table__
_FAMILY = Family.__table__
_READ = (
    select(_APPLICATION.c.id, _APPLICATION.c.reference, _APPLICATION.c.nik,
           _APPLICATION.c.stage, _APPLICATION.c.language, _FAMILY.c.phone)
    .join(_FAMILY, _FAMILY.c.id == _APPLICATION.c.family_id)
    .where(_APPLICATION.c.id == bindparam("application_id"))
    .with_for_update(of=_APPLICATION)
)
_EVENT = insert(ApplicationEvent.__table__)


@dataclass(frozen=True)
class Change:
    """The application as it was, and the stage it moved to."""

    application_id: int
    reference: str
    before: str
    after: str
    phone: str


def change_stage(connection: Connection, application_id: int, to: Stage, *, actor: str,
                 now: datetime, quiet: QuietHours, note: str = "",
                 notice: str | None = None, params: Mapping[str, Any] | None = None,
                 values: Mapping[str, Any] | None = None) -> Change:
    """Move the application to `to` (with extra column `values`), record it in the timeline,
    and send the resident the catalogue message `notice` (default: `notify.<stage>` when the
    catalogue has one; "" sends nothing)."""
    row = connection.execute(_READ, {"application_id": application_id}).one()
    columns: dict[str, Any] = {"stage": to.value, "updated_at": now, **(values or {})}
    if to in CLOSED_STAGES:
        columns.update(active_nik=None, open_code=None)
    connection.execute(update(_APPLICATION).where(_APPLICATION.c.id == application_id)
                       .values(**columns))
    connection.execute(_EVENT, {"application_id": application_id, "at": now,
                                "stage": to.value, "actor": actor[:60], "note": note[:500]})
    key = f"notify.{to.value}" if notice is None else notice
    if key and key in messages("id"):
        text = render(row.language, key, ref=row.reference, nik=mask_id(row.nik),
                      **(params or {}))
        enqueue(connection, row.phone, text, now, kind="notification",
                not_before=quiet.next_allowed(now))
    return Change(application_id, row.reference, row.stage, to.value, row.phone)
