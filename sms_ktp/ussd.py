"""A USSD request, from the webhook to the screen it answers, in one transaction.

Africa's Talking sends the whole session's input every time (`1*3271...*2`). The new input is
what was added since the previous request of the session, which we recognise by its length and
digest (the input itself holds NIK and KK numbers, so it is not stored). A request whose input did
not change is a retry: it gets the stored screen and changes nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlmodel import Session

from flows.catalogue import render
from flows.ussd import Menu, UssdChannel, UssdTurn
from gateway.message import UssdRequest, UssdSessionEnd
from sms_ktp.clock import Clock
from sms_ktp.db import Database, insert_ignoring_duplicate
from sms_ktp.masking import redact
from sms_ktp.models import UssdSession
from sms_ktp.outbox import enqueue
from sms_ktp.phone_state import PhoneStateStore
from sms_ktp.phones import normalise_msisdn
from sms_ktp.services import SqlServices


@dataclass(frozen=True)
class UssdAnswer:
    screen: str
    sms_queued: int


def _digest(session_id: str, text: str) -> str:
    return hashlib.sha256(f"{session_id}\x00{text}".encode()).hexdigest()


def new_inputs(row: UssdSession, text: str) -> list[str] | None:
    """The inputs `text` adds to what the session already answered; None for a retry."""
    if row.last_text_length is None:  # nothing answered yet: the session starts here
        return text.split("*") if text else []
    if len(text) == row.last_text_length and _digest(row.session_id, text) == row.last_text_digest:
        return None
    known = row.last_text_length
    if (len(text) > known and (known == 0 or text[known] == "*")
            and _digest(row.session_id, text[:known]) == row.last_text_digest):
        return [text[known + 1:] if known else text]
    # The operator's record of the session is not ours (a reset, a lost request): its last
    # entry is the newest input.
    return [text.rsplit("*", 1)[-1]]


def _session_row(session: Session, request: UssdRequest, phone: str,
                 now: datetime) -> UssdSession:
    insert_ignoring_duplicate(session, UssdSession, {
        "provider": request.provider, "session_id": request.session_id[:100], "phone": phone,
        "service_code": request.service_code[:40], "network_code": request.network_code,
        "requests": 0, "started_at": now, "updated_at": now,
    }, unique=("provider", "session_id"))
    return session.execute(
        select(UssdSession).where(UssdSession.provider == request.provider,
                                  UssdSession.session_id == request.session_id[:100])
        .with_for_update()
    ).scalar_one()


def answer_ussd(db: Database, clock: Clock, request: UssdRequest, ttl: timedelta) -> UssdAnswer:
    now = clock.now()
    phone = normalise_msisdn(request.phone)
    if phone is None:
        return UssdAnswer("END " + render("id", "ussd.error.phone"), 0)
    with db.transaction() as session:
        row = _session_row(session, request, phone, now)
        inputs = new_inputs(row, request.text)
        if inputs is None:
            return UssdAnswer(row.last_screen or "", 0)
        state = PhoneStateStore(session, phone)
        conversation = state.load()
        channel = UssdChannel(SqlServices(session, clock, state, channel="ussd"), ttl)
        if row.last_text_length is None:
            turn = channel.begin(phone, conversation, now)
        else:
            turn = UssdTurn(row.last_screen or "", Menu.from_dict(row.menu), conversation)
        sms: list[str] = []
        for text in inputs:
            if turn.ended:
                break
            turn = channel.handle(turn.menu, text, phone, turn.conversation, now)
            sms += turn.sms
        state.save(turn.conversation, now)
        for text in sms:
            enqueue(session, phone, text, now, kind="ussd")
        row.menu = turn.menu.to_dict()
        row.last_text_length = len(request.text)
        row.last_text_digest = _digest(row.session_id, request.text)
        row.last_screen = turn.screen
        row.requests += 1
        row.updated_at = now
    return UssdAnswer(turn.screen, len(sms))


def record_session_end(db: Database, clock: Clock, end: UssdSessionEnd) -> None:
    """Keep how a session ended; a notification for a session we never saw is kept too."""
    now = clock.now()
    with db.transaction() as session:
        insert_ignoring_duplicate(session, UssdSession, {
            "provider": end.provider, "session_id": end.session_id[:100],
            "phone": normalise_msisdn(end.phone or "") or "", "requests": 0,
            "started_at": now, "updated_at": now,
        }, unique=("provider", "session_id"))
        row = session.execute(
            select(UssdSession).where(UssdSession.provider == end.provider,
                                      UssdSession.session_id == end.session_id[:100])
            .with_for_update()
        ).scalar_one()
        row.end_status = (end.status or "")[:40] or None
        row.duration_ms = end.duration_ms
        row.last_input = redact(end.last_input)[:200] if end.last_input else None
        row.error_message = redact(end.error_message)[:300] if end.error_message else None
        row.ended_at = now
        row.updated_at = now
