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
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from flows.catalogue import render
from flows.ussd import Menu, UssdChannel, UssdTurn
from gateway.message import UssdRequest, UssdSessionEnd
from sms_ktp.clock import Clock
from sms_ktp.db import Database, insert_ignoring_duplicate, retry_after_disconnect
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


def _session_row(connection: Connection, key: dict[str, str],
                 new_row: dict[str, Any]) -> Mapping[str, Any]:
    """The session's row, locked, with its phone's state (`STATE_COLUMNS`) read along; created
    first when the session is new."""
    row = connection.execute(_SELECT_SESSION, key).mappings().first()
    if row is None:
        insert_ignoring_duplicate(connection, UssdSession, {**new_row, **key},
                                  unique=("provider", "session_id"))
        row = connection.execute(_SELECT_SESSION, key).mappings().one()
    return row


@retry_after_disconnect
def answer_ussd(db: Database, clock: Clock, request: UssdRequest, ttl: timedelta) -> UssdAnswer:
    now = clock.now()
    phone = normalise_msisdn(request.phone)
    if phone is None:
        return UssdAnswer("END " + render("id", "ussd.error.phone"), 0)
    key = {"provider": request.provider, "session_id": request.session_id[:100]}
    new_row = {"phone": phone, "service_code": request.service_code[:40],
               "network_code": request.network_code, "started_at": now}
    with db.connect() as connection:
        state = PhoneStateStore(connection, phone)
        channel = UssdChannel(SqlServices(connection, clock, state, channel="ussd"), ttl)
        if not request.text:
            # Most likely the first request of a new session: answer it, then store the session
            # with that answer in one INSERT. When the session exists already (a retry), fall
            # through to the general path.
            turn = channel.begin(phone, state.load(), now)
            stored = insert_ignoring_duplicate(connection, UssdSession, {
                **new_row, **key, **_progress(key["session_id"], "", turn, 1, now)},
                unique=("provider", "session_id"))
            if stored is not None:
                return UssdAnswer(turn.screen, 0)
        row = _session_row(connection, key, {**new_row, "requests": 0, "updated_at": now})
        inputs = new_inputs(row, request.text)
        if inputs is None:
            return UssdAnswer(row["last_screen"] or "", 0)
        conversation = state.adopt(row)
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
            "row_id": row["id"],
            **_progress(key["session_id"], request.text, turn, row["requests"] + 1, now)})
    return UssdAnswer(turn.screen, len(sms))


def _progress(session_id: str, text: str, turn: UssdTurn, requests: int,
              now: datetime) -> dict[str, Any]:
    """What a session row keeps of its latest request."""
    return {"menu": turn.menu.to_dict(), "last_text_length": len(text),
            "last_text_digest": _digest(session_id, text), "last_screen": turn.screen,
            "requests": requests, "updated_at": now}


@retry_after_disconnect
def record_session_end(db: Database, clock: Clock, end: UssdSessionEnd) -> None:
    """Keep how a session ended; a notification for a session we never saw is kept too."""
    now = clock.now()
    with db.connect() as connection:
        key = {"provider": end.provider, "session_id": end.session_id[:100]}
        row = _session_row(connection, key, {
            "phone": normalise_msisdn(end.phone or "") or "", "requests": 0,
            "started_at": now, "updated_at": now})
        connection.execute(_UPDATE_SESSION, {
            "row_id": row["id"], "end_status": (end.status or "")[:40] or None,
            "duration_ms": end.duration_ms,
            "last_input": redact(end.last_input)[:200] if end.last_input else None,
            "error_message": redact(end.error_message)[:300] if end.error_message else None,
            "ended_at": now, "updated_at": now})
