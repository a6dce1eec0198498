"""Africa's Talking adapter: sending through the official SDK and parsing its webhooks.

AT signs no webhook, so these parsers only check shape; authenticity (secret URL) and
idempotency (AT retries) are the web layer's job.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import requests
from africastalking.Service import AfricasTalkingException, validate_phone
from africastalking.SMS import SMSService

from gateway.message import (
    DeliveryReport,
    DeliveryStatus,
    InboundSms,
    OutboundSms,
    PermanentFailure,
    SendResult,
    TemporaryFailure,
    UssdRequest,
    UssdSessionEnd,
    WebhookError,
)

PROVIDER = "africastalking"

# 100 Processed is what AT answers for premium sends: accepted too, so never resend it.
_ACCEPTED_CODES = frozenset({100, 101, 102})
# Out of credit is the city's problem to fix by topping up; the SMS must wait, not be dropped.
_TEMPORARY_4XX = frozenset({405})
_STATUS_NAMES = {
    100: "Processed",
    101: "Sent",
    102: "Queued",
    401: "RiskHold",
    402: "InvalidSenderId",
    403: "InvalidPhoneNumber",
    404: "UnsupportedNumberType",
    405: "InsufficientBalance",
    406: "UserInBlacklist",
    407: "CouldNotRoute",
    409: "DoNotDisturbRejection",
    500: "InternalServerError",
    501: "GatewayError",
    502: "RejectedByGateway",
}

_DELIVERY_STATUS_MAP: dict[str, DeliveryStatus] = {
    "Sent": "sent",
    "Submitted": "sent",
    "Buffered": "buffered",
    "Success": "delivered",
    "Rejected": "undelivered",
    "Failed": "undelivered",
    "AbsentSubscriber": "undelivered",
    "Expired": "undelivered",
}

_ECHO_LIMIT = 40
_REASON_LIMIT = 120


class AfricasTalkingGateway:
    """Sends one SMS per call and sorts every outcome into sent, retry later or give up."""

    name = PROVIDER

    def __init__(
        self,
        username: str,
        api_key: str,
        sender_id: str | None = None,
        timeout: tuple[float, float] = (3.05, 9.05),
    ) -> None:
        self._service = SMSService(username, api_key)
        self._api_key = api_key
        self._sender_id = sender_id
        self._timeout = timeout

    def send(self, sms: OutboundSms) -> SendResult:
        # The SDK would raise a bare ValueError here; a malformed number never gets better.
        if not validate_phone(sms.to):
            raise PermanentFailure("invalid phone number format")
        try:
            answer = self._service.send(
                sms.text, [sms.to], sender_id=self._sender_id, timeout=self._timeout
            )
        except requests.Timeout as exc:
            raise TemporaryFailure("timeout talking to Africa's Talking") from exc
        except requests.ConnectionError as exc:
            raise TemporaryFailure("cannot connect to Africa's Talking") from exc
        except requests.exceptions.JSONDecodeError as exc:
            raise TemporaryFailure("malformed JSON in Africa's Talking response") from exc
        except requests.RequestException as exc:
            raise TemporaryFailure(f"HTTP failure: {type(exc).__name__}") from exc
        except AfricasTalkingException as exc:
            raise TemporaryFailure(f"HTTP error from Africa's Talking: {self._short(exc)}") from exc
        return self._result(answer)

    def _result(self, answer: Any) -> SendResult:
        """Map the per-recipient status, the only place AT says what happened to our SMS."""
        if isinstance(answer, str):
            # The SDK returns text unless Content-Type is exactly application/json.
            try:
                answer = json.loads(answer)
            except ValueError:
                raise TemporaryFailure("non-JSON response from Africa's Talking") from None
        data = answer.get("SMSMessageData") if isinstance(answer, dict) else None
        if not isinstance(data, dict):
            raise TemporaryFailure("malformed response: no SMSMessageData")
        recipients = data.get("Recipients")
        if not isinstance(recipients, list) or not recipients:
            message = self._short(data.get("Message") or "no message")
            raise TemporaryFailure(f"no recipient in response: {message}")
        first = recipients[0]
        try:
            code = int(first["statusCode"])
        except (TypeError, KeyError, ValueError):
            raise TemporaryFailure("malformed response: no recipient statusCode") from None
        status = first.get("status")
        if not isinstance(status, str) or not status:
            status = _STATUS_NAMES.get(code, "Unknown")
        reason = f"{code} {self._short(status, _ECHO_LIMIT)}"
        if code in _ACCEPTED_CODES:
            message_id = first.get("messageId")
            return SendResult(
                provider_message_id=str(message_id) if message_id else None, detail=reason
            )
        if 400 <= code < 500 and code not in _TEMPORARY_4XX:
            raise PermanentFailure(reason)
        raise TemporaryFailure(reason)

    def _short(self, value: object, limit: int = _REASON_LIMIT) -> str:
        """Keep failure reasons loggable: one line, bounded, and never carrying the API key."""
        text = " ".join(str(value).split())
        if self._api_key:
            text = text.replace(self._api_key, "***")
        return text[:limit]


def _required(form: Mapping[str, str], field: str) -> str:
    value = form.get(field)
    if not value:
        raise WebhookError(f"missing field: {field}")
    return value


def _optional(form: Mapping[str, str], field: str) -> str | None:
    return form.get(field) or None


def parse_inbound_sms(form: Mapping[str, str]) -> InboundSms:
    """Read AT's inbound SMS callback; an empty text is kept because citizens do send those."""
    provider_id = _required(form, "id")
    sender = _required(form, "from")
    text = form.get("text")
    if text is None:
        raise WebhookError("missing field: text")
    return InboundSms(
        provider=PROVIDER,
        provider_id=provider_id,
        sender=sender,
        recipient=form.get("to") or "",
        text=text,
        received_at=_optional(form, "date"),
        link_id=_optional(form, "linkId"),
        network_code=_optional(form, "networkCode"),
    )


def parse_delivery_report(form: Mapping[str, str]) -> DeliveryReport:
    """Read AT's delivery report callback, refusing statuses we would otherwise misfile."""
    message_id = _required(form, "id")
    provider_status = _required(form, "status")
    status = _DELIVERY_STATUS_MAP.get(provider_status)
    if status is None:
        raise WebhookError(f"unknown delivery status: {provider_status[:_ECHO_LIMIT]}")
    return DeliveryReport(
        provider=PROVIDER,
        provider_message_id=message_id,
        status=status,
        provider_status=provider_status,
        failure_reason=_optional(form, "failureReason"),
    )


def parse_ussd(form: Mapping[str, str]) -> UssdRequest:
    """Read AT's USSD callback. `text` is absent or empty on the first request of a session."""
    return UssdRequest(
        provider=PROVIDER,
        session_id=_required(form, "sessionId"),
        service_code=form.get("serviceCode") or "",
        phone=_required(form, "phoneNumber"),
        network_code=_optional(form, "networkCode"),
        text=form.get("text") or "",
    )


def _count(form: Mapping[str, str], field: str) -> int | None:
    value = form.get(field) or ""
    # ASCII digits only: str.isdigit also takes "²", which int() refuses, and other scripts' digits.
    if value and not (value.isascii() and value.isdigit()):
        raise WebhookError(f"not a number: {field}={value[:_ECHO_LIMIT]}")
    return int(value) if value else None


def parse_ussd_end(form: Mapping[str, str]) -> UssdSessionEnd:
    """Read AT's end-of-session notification (status, duration, last input, error)."""
    duration, hops = _count(form, "durationInMillis"), _count(form, "hopsCount")
    return UssdSessionEnd(
        provider=PROVIDER,
        session_id=_required(form, "sessionId"),
        phone=_optional(form, "phoneNumber"),
        status=_optional(form, "status"),
        duration_ms=duration,
        hops=hops,
        last_input=_optional(form, "input"),
        error_message=_optional(form, "errorMessage"),
    )
