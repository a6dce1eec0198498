"""A USSD request, from the webhook to the screen it answers, in one transaction.

Africa's Talking sends the whole session's input every time (`1*3271...*2`). The new input is
what was added since the previous request of the session, which we recognise by its length and
digest (the input itself holds NIK and KK numbers, so it is not stored). A request whose input did
not change is a retry: it gets the stored screen and changes nothing.

A phone has one USSD session at a time, so the session's progress is kept in the phone's state
row: one SELECT and one UPDATE a screen. The `ussd_session` table records sessions for the
statistics (a row when one starts, its outcome when the operator reports the end) and which
phone opened each one: a session belongs to that phone, and the same session id posted with
another phone number is refused (`ussd.other_phone`) instead of being played for it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from flows.catalogue import render, supported
from flows.ussd import Menu, UssdChannel, UssdTurn
from gateway.message import UssdRequest, UssdSessionEnd
from sms_ktp import crypto
from sms_ktp.applications.pickup import PickupPolicy
from sms_ktp.applications.services import SqlServices
from sms_ktp.domain.masking import mask_phone, redact
from sms_ktp.domain.phones import normalise_msisdn
from sms_ktp.messaging.outbox import enqueue
from sms_ktp.messaging.phone_state import PhoneStateStore
from sms_ktp.models import UssdSession
from sms_ktp.platform import metrics
from sms_ktp.platform.clock import Clock
from sms_ktp.platform.db import Database, insert_ignoring_duplicate, retry_after_disconnect

log = logging.getLogger(__name__)
_SESSION = UssdSession.__table__
_SESSION_ID = select(_SESSION.c.id, _SESSION.c.phone).where(
    _SESSION.c.provider == bindparam("provider"),
    _SESSION.c.session_id == bindparam("session_id"))
_UPDATE_SESSION = update(_SESSION).where(_SESSION.c.id == bindparam("row_id"))


@dataclass(frozen=True)
class UssdAnswer:
    screen: str
    sms_queued: int
    completed: tuple[str, ...] = ()  # what the dialogue got done (`metrics.DIALOGUE_KINDS`)


def _digest(session: str, text: str) -> str:
    """Keyed (the lookup key): a plain hash of an input holding a NIK and a KK, whose structure
    is known, could be reversed by trying every likely number."""
    return crypto.keyed_hash(f"{session}\x00{text}", "ussd_input")


def new_inputs(progress: Mapping[str, Any], text: str) -> list[str] | None:
    """The inputs `text` adds to what the session already answered; None for a retry."""
    known, digest, session = (progress["ussd_text_length"], progress["ussd_text_digest"],
                              progress["ussd_session"])
    if len(text) == known and _digest(session, text) == digest:
        return None
    if (len(text) > known and (known == 0 or text[known] == "*")
            and _digest(session, text[:known]) == digest):
        return [text[known + 1:] if known else text]
    # The operator's record of the session is not ours (a reset, a lost request): its last
    # entry is the newest input.
    return [text.rsplit("*", 1)[-1]]


def answer_ussd(db: Database, clock: Clock, request: UssdRequest, ttl: timedelta,
                policy: PickupPolicy) -> UssdAnswer:
    """Counted in the metrics once committed (or failed), never twice for one retried run."""
    try:
        answer = _answer_ussd(db, clock, request, ttl, policy)
    except Exception:
        metrics.USSD_REQUESTS.labels("error").inc()
        raise
    metrics.ussd_answered(answer.screen, answer.completed)
    return answer


@retry_after_disconnect
def _answer_ussd(db: Database, clock: Clock, request: UssdRequest, ttl: timedelta,
                 policy: PickupPolicy) -> UssdAnswer:
    now = clock.now()
    phone = normalise_msisdn(request.phone)
    if phone is None:
        return UssdAnswer("END " + render("id", "ussd.error.phone"), 0)
    session = f"{request.provider}:{request.session_id}"[:140]
    with db.connect() as connection:
        state = PhoneStateStore(connection, phone)
        conversation = state.load()
        services = SqlServices(connection, clock, state, policy, channel="ussd")
        channel = UssdChannel(services, ttl)
        if state.ussd is None or state.ussd["ussd_session"] != session:
            _, owner = _record_start(connection, request, phone, now)
            if owner not in (phone, ""):
                log.warning("ussd session %s of %s posted by %s: refused",
                            redact(request.session_id)[:40], mask_phone(owner),
                            mask_phone(phone))
                language = supported(services.language_of(phone))
                return UssdAnswer("END " + render(language, "ussd.other_phone"), 0)
            turn = channel.begin(phone, conversation, now)
            inputs = request.text.split("*") if request.text else []
        else:
            inputs = new_inputs(state.ussd, request.text)
            if inputs is None:
                return UssdAnswer(state.ussd["ussd_screen"] or "", 0)
            turn = UssdTurn(state.ussd["ussd_screen"] or "",
                            Menu.from_dict(state.ussd["ussd_menu"]), conversation)
        sms: list[str] = []
        for text in inputs:
            if turn.ended:
                break
            turn = channel.handle(turn.menu, text, phone, turn.conversation, now)
            sms += turn.sms
        state.ussd = {"ussd_session": session, "ussd_menu": turn.menu.to_dict(),
                      "ussd_text_length": len(request.text),
                      "ussd_text_digest": _digest(session, request.text),
                      "ussd_screen": turn.screen}
        state.save(turn.conversation, now)
        for text in sms:
            enqueue(connection, phone, text, now, kind="ussd")
    return UssdAnswer(turn.screen, len(sms), tuple(services.completed))


def _record_start(connection: Connection, request: UssdRequest, phone: str,
                  now: datetime) -> tuple[int, str]:
    """The session's statistics row (created once, whatever the retries): its id, and the
    phone that opened the session ("" when only its end was heard of)."""
    key = {"provider": request.provider, "session_id": request.session_id[:100]}
    row_id = insert_ignoring_duplicate(connection, UssdSession, {
        **key, "phone": phone, "service_code": request.service_code[:40],
        "network_code": request.network_code, "started_at": now,
    }, unique=("provider", "session_id"))
    if row_id is not None:
        return row_id, phone
    found = connection.execute(_SESSION_ID, key).one()
    return found.id, found.phone


@retry_after_disconnect
def record_session_end(db: Database, clock: Clock, end: UssdSessionEnd) -> None:
    """Keep how a session ended; a notification for a session we never saw is kept too."""
    now = clock.now()
    phone = normalise_msisdn(end.phone or "") or ""
    start = UssdRequest(end.provider, end.session_id, "", phone, None, "")
    with db.connect() as connection:
        connection.execute(_UPDATE_SESSION, {
            "row_id": _record_start(connection, start, phone, now)[0],
            "end_status": (end.status or "")[:40] or None,
            "duration_ms": end.duration_ms,
            "hops": end.hops,
            "last_input": redact(end.last_input)[:200] if end.last_input else None,
            "error_message": redact(end.error_message)[:300] if end.error_message else None,
            "ended_at": now})
