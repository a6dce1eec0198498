"""Meta's customer-service window: a business may write to a resident on WhatsApp freely for 24
hours after the resident's last WhatsApp message, and afterwards only with an approved template.
`whatsapp_contact` keeps when each phone last wrote, noted in the transaction that stores its
message."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, bindparam, case, exists, select

from sms_ktp.models import InboundMessage, UtcDateTime, WhatsAppContact

WINDOW = timedelta(hours=24)
_CONTACT = WhatsAppContact.__table__
_INBOUND = InboundMessage.__table__
# inbound_message.provider of a WhatsApp message (the others came by SMS).
WHATSAPP_PROVIDER = "whatsapp"


@cache
def _upsert(dialect: str) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(_CONTACT).values(
        phone=bindparam("phone"), last_inbound_at=bindparam("at", type_=UtcDateTime()))
    newer = statement.excluded.last_inbound_at > _CONTACT.c.last_inbound_at
    return statement.on_conflict_do_update(
        index_elements=[_CONTACT.c.phone],
        set_={"last_inbound_at": case((newer, statement.excluded.last_inbound_at),
                                      else_=_CONTACT.c.last_inbound_at)})


def note_contact(connection: Connection, phone: str, written_at: str | None,
                 now: datetime) -> None:
    """The phone wrote on WhatsApp at `written_at` (ISO 8601, as the message says; never later
    than now, now when unknown). A message delivered late moves nothing back."""
    at = now
    if written_at:
        with suppress(TypeError, ValueError):  # unreadable: now
            at = min(datetime.fromisoformat(written_at), now)
    connection.execute(_upsert(connection.dialect.name), {"phone": phone, "at": at})


def window_open(connection: Connection, phone: str, now: datetime) -> bool:
    """Whether a plain WhatsApp message may reach the phone now (no template needed), by the
    rule the dispatcher and the broadcast page read (`window_open_at`)."""
    return bool(connection.execute(select(window_open_at(now))
                                   .where(_CONTACT.c.phone == phone)).scalar())


def prefers_whatsapp() -> ColumnElement[bool]:
    """SQL, over `whatsapp_contact` in the query's FROM (an outer join may leave it empty): the
    phone last wrote on WhatsApp, no SMS received from it since. The family's preferred
    channel for a notice is the one it last used; the dispatcher reads it a batch at a time
    (`whatsapp_preferred`), the broadcast page for a whole audience at once."""
    sms_since = exists().where(_INBOUND.c.sender == _CONTACT.c.phone,
                               _INBOUND.c.provider != WHATSAPP_PROVIDER,
                               _INBOUND.c.received_at > _CONTACT.c.last_inbound_at)
    return and_(_CONTACT.c.phone.is_not(None), ~sms_since)


def window_open_at(now: datetime) -> ColumnElement[bool]:
    """SQL, over `whatsapp_contact`: the window is open at `now`, 24 hours after the phone
    last wrote."""
    return _CONTACT.c.last_inbound_at > now - WINDOW


def whatsapp_preferred(connection: Connection, phones: Iterable[str],
                       now: datetime) -> dict[str, bool]:
    """Of `phones`, those whose family last wrote on WhatsApp (`prefers_whatsapp`), each with
    whether the window is open now. One statement for a whole batch; a phone absent prefers
    SMS."""
    wanted = sorted(set(phones))
    if not wanted:
        return {}
    rows = connection.execute(select(_CONTACT.c.phone, window_open_at(now).label("open"))
                              .where(_CONTACT.c.phone.in_(wanted), prefers_whatsapp())).all()
    return {row.phone: bool(row.open) for row in rows}
