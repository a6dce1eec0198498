"""An inbound SMS, from the webhook to the replies in the outbox, in one transaction.

The provider's message id is unique: a retried webhook finds its row and changes nothing. A
crash before the commit leaves no trace, so the provider's retry is handled as new.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Connection, Select, bindparam, select, update

from flows.catalogue import render
from flows.dates import say_time
from flows.dialogue import Conversation
from flows.registration import kept_text
from flows.sms import SmsChannel, SmsTurn
from gateway.message import InboundSms
from sms_ktp.applications.pickup import PickupPolicy
from sms_ktp.applications.services import SqlServices
from sms_ktp.domain.masking import mask_phone, redact
from sms_ktp.domain.phones import normalise_msisdn
from sms_ktp.domain.pickup_calendar import local
from sms_ktp.messaging.limits import (
    DIALOGUE_KIND,
    LIMIT_KIND,
    PATIENCE,
    UNLIMITED,
    WINDOW,
    ReplyGate,
    ReplyLimits,
)
from sms_ktp.messaging.outbox import enqueue_replies
from sms_ktp.messaging.phone_state import PhoneStateStore
from sms_ktp.models import InboundMessage
from sms_ktp.platform import metrics
from sms_ktp.platform.clock import Clock
from sms_ktp.platform.db import Database, insert_ignoring_duplicate, retry_after_disconnect

log = logging.getLogger(__name__)
MAX_TEXT = 1000
_INBOUND = InboundMessage.__table__
_NOT_REPLIED = update(_INBOUND).where(_INBOUND.c.id == bindparam("row_id")).values(replied=False)


@dataclass(frozen=True)
class Received:
    inbound_id: int | None
    duplicate: bool
    replies: int
    outcome: str = "accepted"  # `metrics.INBOUND_OUTCOMES`
    completed: tuple[str, ...] = ()  # what the dialogue got done (`metrics.DIALOGUE_KINDS`)
    suppressed: tuple[str, ...] = ()  # replies the limits held back (`metrics.SUPPRESSED_REASONS`)


def record_inbound(connection: Connection, sms: InboundSms, phone: str | None,
                   now: datetime) -> int | None:
    """Store the SMS (text redacted); None when the provider's id was already received."""
    return insert_ignoring_duplicate(
        connection,
        InboundMessage,
        {
            "provider": sms.provider,
            "provider_id": sms.provider_id[:100],
            "sender": phone or sms.sender[:40],
            "recipient": sms.recipient[:40],
            "text": redact(kept_text(sms.text[:MAX_TEXT])),
            "link_id": sms.link_id,
            "network_code": sms.network_code,
            "replied": phone is not None,
            "received_at": now,
        },
        unique=("provider", "provider_id"),
    )


def receive_sms(db: Database, clock: Clock, sms: InboundSms, ttl: timedelta,
                policy: PickupPolicy, limits: ReplyLimits | None = None) -> Received:
    """Counted in the metrics once committed (or failed), never twice for one retried run.
    `limits`: the per-phone limits on replies (`sms_ktp.messaging.limits`; the webhook passes the
    configured ones, `Runtime.reply_limits`); None: every reply is queued."""
    try:
        received = _receive_sms(db, clock, sms, ttl, policy, limits or UNLIMITED)
    except Exception:
        metrics.sms_received("error")
        raise
    metrics.sms_received(received.outcome, completed=received.completed)
    metrics.replies_suppressed(received.suppressed)
    return received


@retry_after_disconnect
def _receive_sms(db: Database, clock: Clock, sms: InboundSms, ttl: timedelta,
                 policy: PickupPolicy, limits: ReplyLimits) -> Received:
    now = clock.now()
    phone = normalise_msisdn(sms.sender)
    with db.connect() as connection:
        inbound_id = record_inbound(connection, sms, phone, now)
        if inbound_id is None:
            log.info("inbound %s/%s already received", sms.provider, sms.provider_id)
            return Received(None, duplicate=True, replies=0, outcome="duplicate")
        if phone is None:
            # Short codes and alphanumeric senders are operators' robots: answering them is
            # how reply loops start.
            log.info("inbound %s from non-mobile sender: no reply", inbound_id)
            return Received(inbound_id, duplicate=False, replies=0, outcome="non_mobile")
        state = PhoneStateStore(connection, phone)
        conversation = state.load()
        services = SqlServices(connection, clock, state, policy, channel="sms")
        channel = SmsChannel(services, ttl)
        text = sms.text[:MAX_TEXT]
        gate = ReplyGate(connection, phone, now, limits)
        in_dialogue = channel.answers_dialogue(text, conversation, now)
        over = None if in_dialogue else gate.over_limit()
        if over is not None:
            # Over the hourly limit: the SMS changes nothing; the phone learns once when it
            # may write again.
            language = channel.language(phone, conversation)
            replies = [] if over.told else [render(
                language, "limit.reached", n=limits.per_hour,
                time=say_time(language, local(over.again_at)))]
            kind = LIMIT_KIND
        else:
            turn = channel.handle(text, phone, conversation, now)
            replies, kept = _admitted(gate, channel, turn, conversation, in_dialogue, phone,
                                      services.completed, connection, limits.identical)
            state.save(kept, now)
            kind = DIALOGUE_KIND if in_dialogue else "reply"
        enqueue_replies(connection, phone, replies, now, kind=kind, inbound_id=inbound_id)
        queued = len(replies)
        if gate.suppressed and not queued:
            # Staff see "belum dibalas" on the messages page: nothing left for this SMS.
            connection.execute(_NOT_REPLIED, {"row_id": inbound_id})
    if log.isEnabledFor(logging.INFO):
        log.info("inbound %s from %s: %d repl%s%s", inbound_id, mask_phone(phone), queued,
                 "y" if queued == 1 else "ies",
                 f", {len(gate.suppressed)} held back ({', '.join(gate.suppressed)})"
                 if gate.suppressed else "")
    return Received(inbound_id, duplicate=False, replies=queued,
                    completed=tuple(services.completed), suppressed=tuple(gate.suppressed))


def _admitted(gate: ReplyGate, channel: SmsChannel, turn: SmsTurn,
              before: Conversation | None, in_dialogue: bool, phone: str,
              completed: list[str], connection: Connection, identical: int
              ) -> tuple[list[str], Conversation | None]:
    """The replies to queue and the conversation to keep. A turn outside a dialogue whose
    replies are all held back changes nothing (so that no summary is confirmed that was not
    sent). Inside a dialogue the same reply again and again to the same text (an auto-responder)
    ends the dialogue; to different texts (a resident trying one wrong answer after another) it
    is answered up to `PATIENCE` times in a row."""
    if in_dialogue:
        held = not all([gate.admit(reply) for reply in turn.replies])
        if held and "registration" not in completed and (
                gate.repeats(turn.replies[-1], PATIENCE)
                or _same_texts(connection, phone, identical + 1, gate.now - WINDOW)):
            return [channel.stop_dialogue(phone, turn.conversation or before)], None
        gate.suppressed.clear()
        return turn.replies, turn.conversation
    admitted = [reply for reply in turn.replies if gate.admit(reply)]
    if turn.replies and not admitted:
        return [], before
    return admitted, turn.conversation


@cache
def _latest_texts(count: int) -> Select[Any]:
    return (select(_INBOUND.c.text)
            .where(_INBOUND.c.sender == bindparam("phone"),
                   _INBOUND.c.received_at >= bindparam("since"))
            .order_by(_INBOUND.c.received_at.desc(), _INBOUND.c.id.desc()).limit(count))


def _same_texts(connection: Connection, phone: str, count: int, since: datetime) -> bool:
    """Whether the phone's latest `count` SMS of the hour (this one included) say the same."""
    texts = list(connection.execute(_latest_texts(count),
                                    {"phone": phone, "since": since}).scalars())
    return len(texts) == count and len(set(texts)) == 1
