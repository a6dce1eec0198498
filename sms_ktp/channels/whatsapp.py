"""WhatsApp messages into the same dialogues as SMS, and WhatsApp's statuses onto the outbox.

A WhatsApp message is handled as an SMS whose provider is "whatsapp" and whose provider id is
its wamid (`receive_sms`): the same dialogues, rules, limits and family phone, stored once, so a
delivery Meta retries (for up to 36 hours) changes nothing; its replies are queued to go back by
WhatsApp. What a resident taps (a reply button, a list row, a template's quick reply) reaches the
dialogue as the id or payload the choice was sent with ("1", "YA"). A message that is not text
(a photo, a voice note, a location) is stored once and answered that only text is read.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from flows.catalogue import render, supported
from gateway.message import InboundSms, WebhookError
from gateway.whatsapp import SmsInstead, error_class
from sms_ktp.applications.pickup import PickupPolicy
from sms_ktp.channels.sms import Received, receive_sms, record_inbound
from sms_ktp.domain.masking import mask_phone
from sms_ktp.domain.phones import normalise_msisdn
from sms_ktp.messaging.limits import UNLIMITED, ReplyGate, ReplyLimits
from sms_ktp.messaging.outbox import (
    FAILED,
    WHATSAPP,
    WHATSAPP_STATUSES,
    apply_whatsapp_status,
    enqueue_replies,
)
from sms_ktp.messaging.whatsapp_window import note_contact
from sms_ktp.models import PhoneState
from sms_ktp.platform import metrics
from sms_ktp.platform.clock import Clock
from sms_ktp.platform.db import Database, retry_after_disconnect

log = logging.getLogger(__name__)
OBJECT = "whatsapp_business_account"
# The longest value each field may have (as the SMS webhook's limits): longer is no message
# Meta sends, and refused before anything is stored.
LIMITS = {"id": 200, "from": 40, "type": 40, "text": 4096, "status": 20}
_STATE = PhoneState.__table__


@dataclass(frozen=True)
class WhatsAppMessage:
    """One message of a webhook: `text` is what the dialogue reads, None for a message that is
    not text (`kind`: image, audio, location...)."""

    wamid: str
    sender: str  # digits, as Meta sends them
    kind: str
    text: str | None
    sent_at: datetime | None
    recipient: str = ""


@dataclass(frozen=True)
class WhatsAppStatus:
    wamid: str
    status: str
    error: str | None  # "<code> <title>" of a failure
    code: int | None = None  # of a failure


@dataclass(frozen=True)
class Webhook:
    messages: tuple[WhatsAppMessage, ...]
    statuses: tuple[WhatsAppStatus, ...]


# --- reading the webhook ----------------------------------------------------------------------
def parse_webhook(payload: Any) -> Webhook:
    """Every message and status of every entry and change, in order; `WebhookError` (a 400)
    for anything that is not Meta's shape, before anything is stored."""
    if not isinstance(payload, dict):
        raise WebhookError("not a JSON object")
    if payload.get("object") != OBJECT:
        raise WebhookError(f'"object" is not "{OBJECT}"')
    messages: list[WhatsAppMessage] = []
    statuses: list[WhatsAppStatus] = []
    for entry in _list(payload, "entry"):
        for change in _list(_object(entry, "entry"), "changes"):
            change = _object(change, "change")
            if change.get("field") != "messages":
                continue  # account updates, template reviews: nothing for the dialogues
            value = _object(change.get("value"), "value")
            recipient = _object(value.get("metadata") or {}, "metadata").get(
                "display_phone_number", "")
            messages += (_message(_object(m, "message"), str(recipient)[:40])
                         for m in _list(value, "messages"))
            statuses += (_status(_object(s, "status")) for s in _list(value, "statuses"))
    return Webhook(tuple(messages), tuple(statuses))


def _list(container: Mapping[str, Any], name: str) -> list[Any]:
    value = container.get(name, [])
    if not isinstance(value, list):
        raise WebhookError(f'"{name}" is not a list')
    return value


def _object(value: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise WebhookError(f'"{name}" is not an object')
    return value


def _field(container: Mapping[str, Any], name: str, limit_of: str | None = None,
           required: bool = True) -> str | None:
    value = container.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise WebhookError(f'missing or not a string: "{name}"')
    if "\x00" in value:
        raise WebhookError(f'NUL byte in field: "{name}"')
    limit = LIMITS[limit_of or name]
    if len(value) > limit:
        raise WebhookError(f'field too long: "{name}" (at most {limit} characters)')
    return value


def _message(message: Mapping[str, Any], recipient: str) -> WhatsAppMessage:
    wamid, sender, kind = (_field(message, "id"), _field(message, "from"),
                           _field(message, "type"))
    assert wamid is not None and sender is not None and kind is not None
    return WhatsAppMessage(wamid, sender, kind, _text(message, kind),
                           _time(message.get("timestamp")), recipient)


def _text(message: Mapping[str, Any], kind: str) -> str | None:
    """What the dialogue reads: the text, or the id of the button or list row tapped, or a
    template quick reply's payload; None for any other kind."""
    if kind == "text":
        return _field(_object(message.get("text"), "text"), "body", "text")
    if kind == "interactive":
        interactive = _object(message.get("interactive"), "interactive")
        reply_kind = interactive.get("type")
        if reply_kind in ("button_reply", "list_reply"):
            return _field(_object(interactive.get(reply_kind), reply_kind), "id", "text")
        return None
    if kind == "button":
        button = _object(message.get("button"), "button")
        return (_field(button, "payload", "text", required=False)
                or _field(button, "text", "text"))
    return None


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _status(status: Mapping[str, Any]) -> WhatsAppStatus:
    wamid, state = _field(status, "id"), _field(status, "status")
    assert wamid is not None and state is not None
    error, code = None, None
    errors = status.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        # The code and Meta's title only: its details may quote the number.
        error = f"{first.get('code', '')} {first.get('title', '')}".strip()[:200] or None
        with suppress(TypeError, ValueError):
            code = int(first.get("code"))
    return WhatsAppStatus(wamid, state, error, code)


# --- handling it ------------------------------------------------------------------------------
def receive_whatsapp(db: Database, clock: Clock, message: WhatsAppMessage, ttl: timedelta,
                     policy: PickupPolicy, limits: ReplyLimits | None = None) -> Received:
    """One message through the SMS dialogues (a text, a tap) or answered that only text is
    read; its replies queued to go back by WhatsApp. A wamid already received changes
    nothing."""
    sms = InboundSms(WHATSAPP, message.wamid, _e164(message.sender), message.recipient,
                     message.text if message.text is not None else f"[{message.kind}]",
                     message.sent_at.isoformat() if message.sent_at else None, None, None)
    if message.text is not None:
        return receive_sms(db, clock, sms, ttl, policy, limits, channel=WHATSAPP)
    return _answer_not_text(db, clock, sms, limits or UNLIMITED)


def _e164(sender: str) -> str:
    """Meta's wa_id is the number's digits; the SMS side reads "+62..."."""
    return sender if sender.startswith("+") else f"+{sender}"


@retry_after_disconnect
def _answer_not_text(db: Database, clock: Clock, sms: InboundSms,
                     limits: ReplyLimits) -> Received:
    now = clock.now()
    phone = normalise_msisdn(sms.sender)
    with db.connect() as connection:
        inbound_id = record_inbound(connection, sms, phone, now)
        if inbound_id is None:
            return Received(None, duplicate=True, replies=0, outcome="duplicate")
        if phone is None:
            return Received(inbound_id, duplicate=False, replies=0, outcome="non_mobile")
        note_contact(connection, phone, sms.received_at, now)
        reply = render(_language(connection, phone), "whatsapp.text_only")
        gate = ReplyGate(connection, phone, now, limits)
        queued = gate.over_limit() is None and gate.admit(reply)
        if queued:
            enqueue_replies(connection, phone, [reply], now, inbound_id=inbound_id,
                            channel=WHATSAPP)
    log.info("whatsapp %s from %s: not text (%s), %s", inbound_id, mask_phone(phone),
             sms.text, "answered" if queued else "held back")
    metrics.sms_received("accepted", WHATSAPP)
    return Received(inbound_id, duplicate=False, replies=int(queued),
                    suppressed=tuple(gate.suppressed))


def _language(connection: Connection, phone: str) -> str:
    """As `flows.language.language_for` answers an SMS: the phone's choice, else its dialogue's
    language, each only when the regency offers it."""
    row = connection.execute(select(_STATE.c.language, _STATE.c.dialogue_language)
                             .where(_STATE.c.phone == phone)).first()
    if row is None:
        return supported(None)
    return supported(row.language or row.dialogue_language)


def apply_statuses(db: Database, clock: Clock, statuses: Iterable[WhatsAppStatus]) -> int:
    """Each status moves its outbox row forward (never back); an unknown wamid, or a status
    WhatsApp may add later, is ignored. A message that failed because the window had closed
    or the number is not on WhatsApp goes out by SMS instead. Returns how many rows moved."""
    known = [status for status in statuses if status.status in WHATSAPP_STATUSES]
    if not known:
        return 0
    now = clock.now()
    moved = 0
    with db.connect() as connection:
        for status in known:
            moved += apply_whatsapp_status(
                connection, status.wamid, status.status, status.error, now,
                by_sms=status.status == FAILED and status.code is not None
                and issubclass(error_class(status.code), SmsInstead))
    return moved
