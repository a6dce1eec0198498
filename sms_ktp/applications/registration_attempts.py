"""A registration typed with the NIK of another family: the phone that typed it learns as
little as possible, and the family's own phone is told, since it is their data.

The family is told at most once a day per NIK, so that nobody can use the attempt to flood a
family's phone.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, select

from flows.catalogue import render
from flows.ports import ActiveApplication
from sms_ktp.applications.pipeline import notice_rows
from sms_ktp.domain.masking import mask_id
from sms_ktp.domain.quiet_hours import QuietHours
from sms_ktp.messaging.outbox import enqueue
from sms_ktp.models import Application, OutboxMessage

NOTICE = "notify.other_phone_tried"
KIND = "notification"
ONCE_IN = timedelta(days=1)
_OUTBOX = OutboxMessage.__table__
_ALREADY_TOLD = (select(_OUTBOX.c.id)
                 .where(_OUTBOX.c.phone == bindparam("phone"), _OUTBOX.c.kind == KIND,
                        _OUTBOX.c.text == bindparam("text"),
                        _OUTBOX.c.created_at >= bindparam("since"))
                 .limit(1))
# The language of the family's notices: the phone's own choice, else the application's.
_NOTICE = notice_rows().where(Application.reference == bindparam("reference"))


def tell_family_of_attempt(connection: Connection, active: ActiveApplication, nik: str,
                           now: datetime, quiet: QuietHours) -> bool:
    """Queue the notice to the family phone (outside quiet hours) unless it was sent in the
    last day; True when queued."""
    language = connection.execute(_NOTICE, {"reference": active.reference}).one().language
    text = render(language, NOTICE, ref=active.reference, nik=mask_id(nik))  # kept GSM-7
    told = connection.execute(_ALREADY_TOLD, {"phone": active.phone, "text": text,
                                              "since": now - ONCE_IN}).first()
    if told is not None:
        return False
    enqueue(connection, active.phone, text, now, kind=KIND, not_before=quiet.next_allowed(now),
            notice=NOTICE)
    return True
