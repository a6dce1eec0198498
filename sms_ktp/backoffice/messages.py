"""Messages in and out as staff look them up, SMS and WhatsApp alike: the outbox and the inbox
in one list, newest first, each with its channel, and a failed message given a fresh set of
attempts. Texts leave here through `redact` (an inbound SMS may
hold a NIK the resident typed) and `hide_codes` (staff never read a pickup code). A
notification names its application's reference, and one that was superseded (never sent: a
later change made it untrue) names that change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Connection,
    DateTime,
    Integer,
    String,
    case,
    cast,
    func,
    literal_column,
    null,
    select,
    union_all,
)

from sms_ktp.applications.hidden_codes import hide_codes
from sms_ktp.domain.masking import mask_phone, redact
from sms_ktp.messaging import outbox
from sms_ktp.messaging.outbox import FAILED, RANK
from sms_ktp.models import Application, ApplicationEvent, InboundMessage, OutboxMessage

_OUT = OutboxMessage.__table__
_IN = InboundMessage.__table__
_APPLICATION = Application.__table__
_EVENT = ApplicationEvent.__table__
OUTGOING, INCOMING = "out", "in"
STATUSES = tuple(RANK)  # the outbox's statuses, in the order a message goes through them
CHANNELS = (outbox.SMS, outbox.WHATSAPP)


def came_on(provider: Any) -> Any:
    """The channel an inbound message came in on, in SQL: WhatsApp's webhook stores its
    messages under the provider "whatsapp", every other provider is an SMS aggregator's."""
    whatsapp, sms = literal_column(f"'{outbox.WHATSAPP}'"), literal_column(f"'{outbox.SMS}'")
    return case((provider == whatsapp, whatsapp), else_=sms)


@dataclass(frozen=True)
class Search:
    phone: str | None = None  # E.164
    status: str | None = None  # an outbox status: only outgoing SMS have one
    direction: str | None = None  # OUTGOING, INCOMING or None for both
    channel: str | None = None  # one of CHANNELS, or None for both


@dataclass(frozen=True)
class Message:
    direction: str
    id: int
    at: datetime
    phone: str  # masked
    text: str  # redacted
    kind: str | None
    status: str | None
    attempts: int | None
    segments: int | None
    last_error: str | None
    sent_at: datetime | None
    delivered_at: datetime | None
    replied: bool | None
    gateway: str | None  # which gateway took it (out) or brought it (in)
    # The one it went out or came in on: the worker writes the channel a message went on into
    # its row (a WhatsApp message sent by SMS instead is an SMS row).
    channel: str = outbox.SMS
    reference: str | None = None  # the application a notification is about
    # The timeline entry that superseded it: the stage the application moved to, who moved
    # it, and when.
    superseded_stage: str | None = None
    superseded_actor: str | None = None
    superseded_at: datetime | None = None


def _null(kind: Any) -> Any:
    return cast(null(), kind)


def _selected(search: Search) -> Any:
    """Both tables as one list with the same columns (a UNION ALL of the directions asked)."""
    parts = []
    if search.direction in (None, OUTGOING):
        outgoing = select(
            literal_column(f"'{OUTGOING}'").label("direction"), _OUT.c.id,
            _OUT.c.created_at.label("at"), _OUT.c.phone, _OUT.c.text, _OUT.c.kind,
            _OUT.c.status, _OUT.c.attempts, _OUT.c.segments, _OUT.c.last_error, _OUT.c.sent_at,
            _OUT.c.delivered_at, _null(Boolean()).label("replied"),
            _OUT.c.provider.label("gateway"), _APPLICATION.c.reference,
            _EVENT.c.stage.label("superseded_stage"), _EVENT.c.actor.label("superseded_actor"),
            _EVENT.c.at.label("superseded_at"), _OUT.c.channel,
        ).select_from(
            _OUT.outerjoin(_APPLICATION, _APPLICATION.c.id == _OUT.c.application_id)
            .outerjoin(_EVENT, _EVENT.c.id == _OUT.c.superseded_by))
        if search.phone:
            outgoing = outgoing.where(_OUT.c.phone == search.phone)
        if search.status:
            outgoing = outgoing.where(_OUT.c.status == search.status)
        if search.channel in CHANNELS:
            outgoing = outgoing.where(_OUT.c.channel == search.channel)
        parts.append(outgoing)
    if search.direction in (None, INCOMING) and not search.status:
        incoming = select(
            literal_column(f"'{INCOMING}'").label("direction"), _IN.c.id,
            _IN.c.received_at.label("at"), _IN.c.sender.label("phone"), _IN.c.text,
            _null(String()).label("kind"), _null(String()).label("status"),
            _null(Integer()).label("attempts"), _null(Integer()).label("segments"),
            _null(String()).label("last_error"), _null(DateTime()).label("sent_at"),
            _null(DateTime()).label("delivered_at"), _IN.c.replied,
            _IN.c.provider.label("gateway"), _null(String()).label("reference"),
            _null(String()).label("superseded_stage"), _null(String()).label("superseded_actor"),
            _null(DateTime()).label("superseded_at"), came_on(_IN.c.provider).label("channel"))
        if search.phone:
            incoming = incoming.where(_IN.c.sender == search.phone)
        if search.channel == outbox.WHATSAPP:
            incoming = incoming.where(_IN.c.provider == outbox.WHATSAPP)
        elif search.channel == outbox.SMS:
            incoming = incoming.where(_IN.c.provider != outbox.WHATSAPP)
        parts.append(incoming)
    if not parts:
        return None
    return (parts[0] if len(parts) == 1 else union_all(*parts)).subquery()


def search(connection: Connection, search: Search, page: int, per_page: int
           ) -> tuple[int, list[Message]]:
    """How many messages match, and one page of them (newest first), masked and redacted."""
    rows = _selected(search)
    if rows is None:
        return 0, []
    total = connection.execute(select(func.count()).select_from(rows)).scalar_one()
    found = connection.execute(
        # At one instant a reply is newer than the SMS it answers: "out" before "in".
        select(rows).order_by(rows.c.at.desc(), rows.c.direction.desc(), rows.c.id.desc())
        .offset((page - 1) * per_page).limit(per_page)).all()
    return total, [_message(row) for row in found]


def _message(row: Any) -> Message:
    return Message(
        direction=row.direction, id=row.id, at=_utc(row.at), phone=mask_phone(row.phone),
        text=hide_codes(redact(row.text or "")), kind=row.kind, status=row.status,
        attempts=row.attempts, segments=row.segments,
        last_error=redact(row.last_error) if row.last_error else None,
        sent_at=_utc(row.sent_at), delivered_at=_utc(row.delivered_at),
        replied=None if row.replied is None else bool(row.replied), gateway=row.gateway,
        reference=row.reference, superseded_stage=row.superseded_stage,
        superseded_actor=row.superseded_actor, superseded_at=_utc(row.superseded_at),
        channel=row.channel)


def _utc(moment: Any) -> Any:
    """A NULL cast in a union carries a plain DateTime type: naive values are UTC."""
    if isinstance(moment, datetime) and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def failed_count(connection: Connection, phone: str) -> int:
    return connection.execute(select(func.count()).select_from(_OUT)
                              .where(_OUT.c.phone == phone, _OUT.c.status == FAILED)
                              ).scalar_one()
