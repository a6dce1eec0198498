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

from sqlalchemy import (
    Connection,
    Select,
    bindparam,
    func,
    insert,
    literal_column,
    select,
    true,
    update,
)

from flows.catalogue import render
from flows.dates import say_time
from flows.dialogue import Conversation
from flows.registration import kept_text
from flows.sms import SmsChannel, SmsTurn
from gateway.message import InboundSms
from sms_ktp.applications.pickup import PickupPolicy
from sms_ktp.applications.services import SqlServices
from sms_ktp.channels.whatsapp_options import keyword_options, options_for
from sms_ktp.domain.masking import mask_phone, redact
from sms_ktp.domain.phones import normalise_msisdn
from sms_ktp.domain.pickup_calendar import local
from sms_ktp.messaging.limits import (
    DIALOGUE_KIND,
    LIMIT_KIND,
    PATIENCE,
    REPLY_KINDS,
    UNLIMITED,
    WINDOW,
    ReplyGate,
    ReplyLimits,
)
from sms_ktp.messaging.outbox import WHATSAPP, enqueue_replies, reply_rows
from sms_ktp.messaging.phone_state import STORED, PhoneStateStore
from sms_ktp.messaging.whatsapp_window import note_contact
from sms_ktp.models import InboundMessage, OutboxMessage, PhoneState, UtcDateTime
from sms_ktp.platform import metrics
from sms_ktp.platform.clock import Clock
from sms_ktp.platform.db import Database, insert_ignoring_duplicate, retry_after_disconnect

log = logging.getLogger(__name__)
MAX_TEXT = 1000
_INBOUND = InboundMessage.__table__
_STATE = PhoneState.__table__
_OUTBOX = OutboxMessage.__table__
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
    return insert_ignoring_duplicate(connection, InboundMessage, _inbound_row(sms, phone, now),
                                     unique=("provider", "provider_id"))


def _inbound_row(sms: InboundSms, phone: str | None, now: datetime) -> dict[str, Any]:
    return {
        "provider": sms.provider,
        "provider_id": sms.provider_id[:100],
        "sender": phone or sms.sender[:40],
        "recipient": sms.recipient[:40],
        "text": redact(kept_text(sms.text[:MAX_TEXT])),
        "link_id": sms.link_id,
        "network_code": sms.network_code,
        "replied": phone is not None,
        "received_at": now,
    }


# On PostgreSQL what every turn does (store the SMS, read and lock the phone's state, write it
# back, queue the reply) takes two statements instead of four: each statement costs a round
# trip, the server's work and the driver's, on cores the server shares with the app. SQLite
# (in process, no round trip) runs the same steps one statement each.
@cache
def _stored_and_state() -> Any:
    """The inbound SMS stored as `record_inbound` does and, when it is new, the phone's state
    row read and locked as `PhoneStateStore.load` reads it (`phone` NULL: no row yet); no row at
    all for an SMS already received."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    stored = (pg_insert(_INBOUND)
              .values({name: bindparam(name, type_=_INBOUND.c[name].type)
                       for name in _INBOUND_COLUMNS})
              .on_conflict_do_nothing(index_elements=["provider", "provider_id"])
              .returning(_INBOUND.c.id).cte("stored"))
    state = (select(_STATE.c.phone, *(_STATE.c[name] for name in STORED))
             .where(_STATE.c.phone == bindparam("key")).with_for_update().lateral("state"))
    return select(stored.c.id, state).select_from(stored.outerjoin(state, true()))


_INBOUND_COLUMNS = ("provider", "provider_id", "sender", "recipient", "text", "link_id",
                    "network_code", "replied", "received_at")


@cache
def _state_and_reply(exists: bool | None, columns: tuple[str, ...], guarded: bool,
                     replies: int = 1) -> Any:
    """The phone's state written as `PhoneStateStore.save` writes it (`exists`: an UPDATE,
    False: an INSERT that updates a row that appeared meanwhile, None: nothing to write) and,
    with `columns`, the turn's `replies` (one or two) queued as `enqueue_replies` queues them,
    in one statement; binds `key`, `state_<column>`, `reply_<column>` and `reply2_<column>`.
    The second reply is written from the first one's RETURNING, so that it comes after it, as
    the rows of one multi-row INSERT would (which SQLAlchemy compiles again on every call).

    `guarded`: the statement writes nothing, and returns no row, when the first reply would be
    the `identical`-th identical one in a row (`ReplyGate.admit`: the phone's newest replies of
    the hour since `since`, all this very text); the turn then decides as it always did. (The
    second reply can be held back only when it is the first one again: such a turn is not
    written here.)"""
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    written = (*STORED, "updated_at")
    values = {name: bindparam(f"state_{name}", type_=_STATE.c[name].type) for name in written}
    first, second = ({name: bindparam(f"{prefix}_{name}", type_=_OUTBOX.c[name].type)
                      for name in columns} for prefix in ("reply", "reply2"))
    allowed: Any = None
    if guarded:
        newest = (select(_OUTBOX.c.text)
                  .where(_OUTBOX.c.phone == bindparam("key"),
                         _OUTBOX.c.kind.in_([literal_column(f"'{kind}'") for kind in REPLY_KINDS]),
                         _OUTBOX.c.created_at >= bindparam("since", type_=UtcDateTime()))
                  .order_by(_OUTBOX.c.created_at.desc(), _OUTBOX.c.id.desc())
                  .limit(bindparam("identical")).subquery())
        run = select((select(func.count()).select_from(newest)
                      .where(newest.c.text == first["text"]).scalar_subquery()
                      == bindparam("identical")).label("held")).cte("run")
        allowed = ~select(run.c.held).scalar_subquery()
    write: Any = None
    if exists:
        write = update(_STATE).where(_STATE.c.phone == bindparam("key")).values(values)
        if allowed is not None:
            write = write.where(allowed)
    elif exists is not None:
        row = select(bindparam("key"), *values.values())
        new = pg_insert(_STATE).from_select(
            ["phone", *written], row.where(allowed) if allowed is not None else row)
        write = new.on_conflict_do_update(
            index_elements=[_STATE.c.phone], set_={name: new.excluded[name] for name in written})
    if not columns:
        return write
    if allowed is not None:
        queued = insert(_OUTBOX).from_select(list(columns), select(*first.values()).where(allowed))
    else:
        queued = insert(_OUTBOX).values(first)
    if replies == 2:
        earlier = queued.returning(_OUTBOX.c.id).cte("earlier")
        queued = insert(_OUTBOX).from_select(
            list(columns), select(*second.values()).select_from(earlier)).add_cte(earlier)
    if write is not None:
        queued = queued.add_cte(write.cte("state"))
    return queued.returning(_OUTBOX.c.id) if allowed is not None else queued


def _queue(connection: Connection, phone: str, replies: list[str], now: datetime, kind: str,
           inbound_id: int, write: tuple[bool, dict[str, Any]] | None, channel: str,
           options: str | None = None) -> None:
    """The replies queued (to go back on `channel`) and, on PostgreSQL, the phone's state
    written (`write`, from `PhoneStateStore.write`) with them. `options`: the choices of the
    question the last reply asks (WhatsApp)."""
    if write is None:
        enqueue_replies(connection, phone, replies, now, kind=kind, inbound_id=inbound_id,
                        channel=channel, options=options)
        return
    _write_state(connection, phone, write,
                 reply_rows(phone, replies[:2], now, kind, inbound_id, channel,
                            options if len(replies) <= 2 else None))
    if len(replies) > 2:
        enqueue_replies(connection, phone, replies[2:], now, kind=kind, inbound_id=inbound_id,
                        channel=channel, options=options)


def _write_state(connection: Connection, phone: str, write: tuple[bool, dict[str, Any]] | None,
                 rows: list[dict[str, Any]], identical: int = 0) -> bool:
    """`_state_and_reply` run with at most two reply `rows`; `identical` > 0 guards the first
    (`ReplyGate.admit`). False when the guard held it back and nothing was written."""
    parameters: dict[str, Any] = {"key": phone}
    if write is not None:
        parameters.update({f"state_{name}": value for name, value in write[1].items()})
    for prefix, row in zip(("reply", "reply2"), rows, strict=False):
        parameters.update({f"{prefix}_{name}": value for name, value in row.items()})
    guarded = identical > 0 and bool(rows)
    statement = _state_and_reply(None if write is None else write[0],
                                 tuple(rows[0]) if rows else (), guarded, len(rows))
    if guarded:
        parameters.update(identical=identical, since=rows[0]["created_at"] - WINDOW)
        return connection.execute(statement, parameters).first() is not None
    connection.execute(statement, parameters)
    return True


def receive_sms(db: Database, clock: Clock, sms: InboundSms, ttl: timedelta,
                policy: PickupPolicy, limits: ReplyLimits | None = None,
                channel: str = "sms") -> Received:
    """Counted in the metrics once committed (or failed), never twice for one retried run.
    `limits`: the per-phone limits on replies (`sms_ktp.messaging.limits`; the webhook passes the
    configured ones, `Runtime.reply_limits`); None: every reply is queued. `channel`: the one
    the message came in on ("sms", "whatsapp"), which its replies go back on."""
    try:
        received = _receive_sms(db, clock, sms, ttl, policy, limits or UNLIMITED, channel)
    except Exception:
        metrics.sms_received("error", channel)
        raise
    metrics.sms_received(received.outcome, channel, completed=received.completed)
    metrics.replies_suppressed(received.suppressed)
    return received


@retry_after_disconnect
def _receive_sms(db: Database, clock: Clock, sms: InboundSms, ttl: timedelta,
                 policy: PickupPolicy, limits: ReplyLimits, via: str) -> Received:
    now = clock.now()
    phone = normalise_msisdn(sms.sender)
    with db.connect() as connection:
        together = phone is not None and connection.dialect.name == "postgresql"
        if together:
            first = connection.execute(_stored_and_state(), {
                **_inbound_row(sms, phone, now), "key": phone}).mappings().first()
            inbound_id = first["id"] if first is not None else None
        else:
            inbound_id = record_inbound(connection, sms, phone, now)
        if inbound_id is None:
            log.info("inbound %s/%s already received", sms.provider, sms.provider_id)
            return Received(None, duplicate=True, replies=0, outcome="duplicate")
        if phone is None:
            # Short codes and alphanumeric senders are operators' robots: answering them is
            # how reply loops start.
            log.info("inbound %s from non-mobile sender: no reply", inbound_id)
            return Received(inbound_id, duplicate=False, replies=0, outcome="non_mobile")
        if via == WHATSAPP:  # its 24-hour window opens again (`sms.received_at`: when sent)
            note_contact(connection, phone, sms.received_at, now)
        state = PhoneStateStore(connection, phone)
        if together:
            conversation = state.loaded(first if first["phone"] is not None else None)
        else:
            conversation = state.load()
        write: tuple[bool, dict[str, Any]] | None = None
        done = False  # the state and the replies written already
        options: str | None = None  # of the question the last reply asks (WhatsApp)
        services = SqlServices(connection, clock, state, policy, channel=via)
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
            kind = DIALOGUE_KIND if in_dialogue else "reply"
            options = _options(turn, conversation, in_dialogue) if via == WHATSAPP else None
            if together and _one_or_two(turn.replies) and _written_at_once(
                    connection, state, turn, now, kind, inbound_id, limits.identical, via,
                    options):
                replies = turn.replies  # as `_admitted` gives them when the reply is admitted
                done = True
            else:
                replies, kept = _admitted(gate, channel, turn, conversation, in_dialogue, phone,
                                          services.completed, connection, limits.identical)
                if kept is not turn.conversation or not replies \
                        or replies[-1] != turn.replies[-1]:
                    options = None
                if together:
                    write = state.write(kept, now)
                else:
                    state.save(kept, now)
        if not done:
            _queue(connection, phone, replies, now, kind, inbound_id, write, via, options)
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


def _options(turn: SmsTurn, before: Conversation | None, in_dialogue: bool) -> str | None:
    """On WhatsApp, the choices the turn's last reply offers: those of the question it asks (a
    reply that only leaves a dialogue where it was asks nothing), else those of the list it
    is (BAHASA's languages, LAYANAN's documents)."""
    asked = options_for(turn.conversation) if (
        in_dialogue or turn.conversation is not before) else None
    if asked is None and turn.replies:
        return keyword_options(turn.replies[-1])
    return asked


def _one_or_two(replies: list[str]) -> bool:
    """A turn `_written_at_once` writes: one reply, or two different ones (another document's
    YA: its reference, then the papers to bring)."""
    return len(replies) == 1 or (len(replies) == 2 and replies[0] != replies[1])


def _written_at_once(connection: Connection, state: PhoneStateStore, turn: SmsTurn,
                     now: datetime, kind: str, inbound_id: int, identical: int,
                     channel: str, options: str | None = None) -> bool:
    """PostgreSQL, a turn with one reply or two (`_one_or_two`): the state the turn leaves and
    its replies written in one statement that also reads the phone's newest replies, instead of
    reading them first (`ReplyGate`): when the replies are admitted, as nearly always,
    `_admitted` would keep exactly this. False when one would be held back: nothing was
    written, and the turn decides as before."""
    rows = reply_rows(state.phone, turn.replies, now, kind, inbound_id, channel, options)
    write = state.pending(turn.conversation, now)
    if not _write_state(connection, state.phone, write, rows, identical):
        return False
    state.write(turn.conversation, now)  # as written
    return True


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
