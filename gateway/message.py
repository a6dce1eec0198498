"""Provider-neutral messages: the only shapes that cross the gateway boundary.

Keeping them plain (no provider objects, no KTP knowledge) lets the rest of the system switch
between Africa's Talking, an Indonesian aggregator or a GSM modem without changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DeliveryStatus = Literal["sent", "buffered", "delivered", "undelivered"]

# Ordered by how far the SMS got, so callers can ignore a report that would move a message back.
DELIVERY_STATUSES: tuple[DeliveryStatus, ...] = ("sent", "buffered", "delivered", "undelivered")


@dataclass(frozen=True)
class InboundSms:
    """An SMS from a citizen, kept raw so nothing is lost before the domain validates it."""

    provider: str
    provider_id: str
    sender: str
    recipient: str
    text: str
    received_at: str | None
    link_id: str | None
    network_code: str | None


@dataclass(frozen=True)
class OutboundSms:
    """An SMS to send; `id` is ours and doubles as the idempotency key across retries."""

    id: str
    to: str
    text: str


@dataclass(frozen=True)
class SendResult:
    """What the provider accepted; its message id links later delivery reports to our SMS."""

    provider_message_id: str | None
    detail: str = ""
    # Which gateway took it, when one gateway stands for several (gateway.routing).
    gateway: str | None = None
    # The approved template it went as, when the channel bills templates (WhatsApp).
    template: str | None = None


class TemporaryFailure(Exception):
    """The send may succeed later (network, provider outage, balance), so keep the SMS queued."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PermanentFailure(Exception):
    """Retrying cannot help (bad number, blacklist, ...), so stop and record the reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class DeliveryReport:
    """A provider's word on an SMS we sent, with its raw status kept for troubleshooting."""

    provider: str
    provider_message_id: str
    status: DeliveryStatus
    provider_status: str
    failure_reason: str | None


@dataclass(frozen=True)
class UssdRequest:
    """One step of a USSD session: `text` is every input of the session so far, joined by `*`
    (empty on the first request)."""

    provider: str
    session_id: str
    service_code: str
    phone: str
    network_code: str | None
    text: str


@dataclass(frozen=True)
class UssdSessionEnd:
    """The operator's word that a USSD session is over, and how it went."""

    provider: str
    session_id: str
    phone: str | None
    status: str | None
    duration_ms: int | None
    hops: int | None
    last_input: str | None
    error_message: str | None


class WebhookError(ValueError):
    """A webhook we cannot use; the message names the field so the caller can log and answer 400."""
