"""A kelurahan's list: the SMS for its families without a phone, which the dispatcher put there
(`outbox.Dispatcher`, sent to the kelurahan's address) instead of sending them, and which a
helper of the kelurahan passes on to the family and ticks "disampaikan".

The list is the outbox rows themselves (delivered to the address), so a notice that a later
change made untrue before it was due (`outbox.supersede`) never reaches it, and retention and a
resident's data export treat these SMS as any other. Ticks live beside them
(`KelurahanNotice`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.exc import IntegrityError

from sms_ktp.domain.contact_address import address_of
from sms_ktp.domain.masking import mask_id
from sms_ktp.messaging.outbox import DELIVERED, KELURAHAN
from sms_ktp.models import Application, KelurahanNotice, OutboxMessage

SHOWN = 50  # notices still to pass on shown at once (the oldest first)
SHOWN_PASSED = 20  # the latest ones passed on, for a colleague asking "was it done?"

_OUTBOX = OutboxMessage.__table__
_NOTICE = KelurahanNotice.__table__
_APPLICATION = Application.__table__


@dataclass(frozen=True)
class Notice:
    id: int
    at: datetime  # when it reached the list
    text: str  # the SMS as the family would have read it
    reference: str | None  # the application it is about (None: an announcement)
    nik: str  # masked
    passed_at: datetime | None
    passed_by: str | None


@dataclass(frozen=True)
class Mailbox:
    to_pass: list[Notice]
    passed: list[Notice]
    waiting: int  # not yet passed on, in all (more than `to_pass` holds when the list is long)


def _on_the_list(kelurahan: str) -> list[Any]:
    return [_OUTBOX.c.phone == address_of(kelurahan), _OUTBOX.c.status == DELIVERED,
            _OUTBOX.c.provider == KELURAHAN]


def mailbox(connection: Connection, kelurahan: str, shown: int = SHOWN,
            shown_passed: int = SHOWN_PASSED) -> Mailbox:
    """The kelurahan's notices: those not passed on yet (oldest first: that family has waited
    longest), and the latest ones passed on (newest first)."""
    unticked = _NOTICE.c.outbox_id.is_(None)
    waiting = connection.execute(
        select(func.count()).select_from(_OUTBOX)
        .outerjoin(_NOTICE, _NOTICE.c.outbox_id == _OUTBOX.c.id)
        .where(*_on_the_list(kelurahan), unticked)).scalar_one()
    to_pass = connection.execute(
        _LISTED.where(*_on_the_list(kelurahan), unticked).order_by(_OUTBOX.c.id).limit(shown))
    passed = connection.execute(
        _LISTED.where(*_on_the_list(kelurahan), ~unticked)
        .order_by(_NOTICE.c.passed_at.desc(), _OUTBOX.c.id.desc()).limit(shown_passed))
    return Mailbox([_notice(row) for row in to_pass], [_notice(row) for row in passed], waiting)


_LISTED = (select(_OUTBOX.c.id, _OUTBOX.c.sent_at, _OUTBOX.c.text, _APPLICATION.c.reference,
                  _APPLICATION.c.nik, _NOTICE.c.passed_at, _NOTICE.c.passed_by)
           .outerjoin(_APPLICATION, _APPLICATION.c.id == _OUTBOX.c.application_id)
           .outerjoin(_NOTICE, _NOTICE.c.outbox_id == _OUTBOX.c.id))


def _notice(row: Any) -> Notice:
    return Notice(row.id, row.sent_at, row.text, row.reference,
                  mask_id(row.nik) if row.reference else "", row.passed_at, row.passed_by)


def mark_passed(connection: Connection, kelurahan: str, notice_id: int, actor: str,
                now: datetime) -> bool:
    """Tick one notice of this kelurahan's list as passed on to the family; False when it is
    not on this list or was ticked already (by a colleague, or the same form sent twice)."""
    on_list = connection.execute(
        select(_OUTBOX.c.id).where(_OUTBOX.c.id == notice_id, *_on_the_list(kelurahan))
    ).first()
    if on_list is None:
        return False
    already = connection.execute(
        select(_NOTICE.c.outbox_id).where(_NOTICE.c.outbox_id == notice_id)).first()
    if already is not None:
        return False
    try:
        with connection.begin_nested():
            connection.execute(insert(_NOTICE).values(
                outbox_id=notice_id, kelurahan=kelurahan, passed_at=now, passed_by=actor[:60]))
    except IntegrityError:  # a colleague's tick committed between our read and our insert
        return False
    return True
