"""A USSD request, from the webhook to the screen it answers, in one transaction.

Africa's Talking sends the whole session's input every time (`1*3271...*2`). The new input is
what was added since the previous request of the session, which we recognise by its length and
digest (the input itself holds NIK and KK numbers, so it is not stored). A request whose input did
not change is a retry: it gets the stored screen and changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from flows.catalogue import render
from flows.ussd import Menu, UssdChannel, UssdTurn
from gateway.message import UssdRequest, UssdSessionEnd
from sms_ktp.clock import Clock
from sms_ktp.db import Database, insert_ignoring_duplicate
from sms_ktp.masking import redact
from sms_ktp.models import PhoneState, UssdSession
from sms_ktp.outbox import enqueue
from sms_ktp.phone_state import STATE_COLUMNS, PhoneStateStore
from sms_ktp.phones import normalise_msisdn
from sms_ktp.services import SqlServices


@dataclass(frozen=True)
class UssdAnswer:
    screen: str
    sms_queued: int


def _digest(session_id: str, text: str) -> str:
    return hashlib.sha256(f"{session_id}\x00{text}".encode()).hexdigest()


def new_inputs(row: Mapping[str, Any], text: str) -> list[str] | None:
    """The inputs `text` adds to what the session already answered; None for a retry."""
    known, digest = row["last_text_length"], row["last_text_digest"]
    if known is None:  # nothing answered yet: the session starts here
        return text.split("*") if text else []
    if len(text) == known and _digest(row["session_id"], text) == digest:
        return None
    if (len(text) > known and (known == 0 or text[known] == "*")
            and _digest(row["session_id"], text[:known]) == digest):
        return [text[known + 1:] if known else text]
    # The operator's record of the session is not ours (a reset, a lost request): its last
    # entry is the newest input.
    return [text.rsplit("*", 1)[-1]]


_SESSION = UssdSession.__table__
_STATE = PhoneState.__table__
# The session row and, joined in to save a round trip, the state of its phone. Only the session
# row is locked: a phone in a USSD session cannot send an SMS at the same time.
_SELECT_SESSION = (
    select(_SESSION.c.id, _SESSION.c.session_id, _SESSION.c.menu, _SESSION.c.last_text_length,
           _SESSION.c.last_text_digest, _SESSION.c.last_screen, _SESSION.c.requests,
           *STATE_COLUMNS)
    .select_from(_SESSION.outerjoin(_STATE, _STATE.c.phone == _SESSION.c.phone))
    .where(_SESSION.c.provider == bindparam("provider"),
           _SESSION.c.session_id == bindparam("session_id"))
    .with_for_update(of=_SESSION)
)
_UPDATE_SESSION = update(_SESSION).where(_SESSION.c.id == bindparam("row_id"))


def _session_row(connection: Connection, provider: str, session_id: str,
                 new_row: dict[str, Any], likely_new: bool) -> Mapping[str, Any]:
    """The session's row, locked, with its phone's state (`STATE_COLUMNS`) when it was read
    along; created first when the session is new. A session's first request (empty input)
    most likely opens it: then the INSERT comes first and, when it goes through, is the only
    statement."""
    key = {"provider": provider, "session_id": session_id[:100]}
    if likely_new:
        row_id = insert_ignoring_duplicate(connection, UssdSession, {**new_row, **key},
                                           unique=("provider", "session_id"))
        if row_id is not None:
            return {"id": row_id, "session_id": key["session_id"], "menu": None,
                    "last_text_length": None, "last_text_digest": None, "last_screen": None,
                    "requests": 0}
    row = connection.execute(_SELECT_SESSION, key).mappings().first()
    if row is None:
        insert_ignoring_duplicate(connection, UssdSession, {**new_row, **key},
                                  unique=("provider", "session_id"))
        row = connection.execute(_SELECT_SESSION, key).mappings().one()
    return row


def answer_ussd(db: Database, clock: Clock, request: UssdRequest, ttl: timedelta) -> UssdAnswer:
    now = clock.now()
    phone = normalise_msisdn(request.phone)
    if phone is None:
        return UssdAnswer("END " + render("id", "ussd.error.phone"), 0)
    with db.connect() as connection:
        row = _session_row(connection, request.provider, request.session_id, {
            "phone": phone, "service_code": request.service_code[:40],
            "network_code": request.network_code, "requests": 0, "started_at": now,
            "updated_at": now}, likely_new=not request.text)
        inputs = new_inputs(row, request.text)
        if inputs is None:
            return UssdAnswer(row["last_screen"] or "", 0)
        state = PhoneStateStore(connection, phone)
        conversation = state.adopt(row) if "phone" in row else state.load()
        channel = UssdChannel(SqlServices(connection, clock, state, channel="ussd"), ttl)
        if row["last_text_length"] is None:
            turn = channel.begin(phone, conversation, now)
        else:
            turn = UssdTurn(row["last_screen"] or "", Menu.from_dict(row["menu"]), conversation)
        sms: list[str] = []
        for text in inputs:
            if turn.ended:
                break
            turn = channel.handle(turn.menu, text, phone, turn.conversation, now)
            sms += turn.sms
        state.save(turn.conversation, now)
        for text in sms:
            enqueue(connection, phone, text, now, kind="ussd")
        connection.execute(_UPDATE_SESSION, {
            "row_id": row["id"], "menu": turn.menu.to_dict(), "last_text_length": len(request.text),
            "last_text_digest": _digest(row["session_id"], request.text),
            "last_screen": turn.screen, "requests": row["requests"] + 1, "updated_at": now})
    return UssdAnswer(turn.screen, len(sms))


def record_session_end(db: Database, clock: Clock, end: UssdSessionEnd) -> None:
    """Keep how a session ended; a notification for a session we never saw is kept too."""
    now = clock.now()
    with db.connect() as connection:
        row = _session_row(connection, end.provider, end.session_id, {
            "phone": normalise_msisdn(end.phone or "") or "", "requests": 0,
            "started_at": now, "updated_at": now}, likely_new=False)
        connection.execute(_UPDATE_SESSION, {
            "row_id": row["id"], "end_status": (end.status or "")[:40] or None,
            "duration_ms": end.duration_ms,
            "last_input": redact(end.last_input)[:200] if end.last_input else None,
            "error_message": redact(end.error_message)[:300] if end.error_message else None,
            "ended_at": now, "updated_at": now})
