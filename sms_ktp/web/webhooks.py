"""Africa's Talking webhooks. AT signs nothing, so the URL carries an unguessable token (and
the caller's address may be checked against an allow-list); every handler is idempotent because
AT and the operators retry.

Before a handler runs, the call is checked in this order: the caller's address
(`[gateway] allowed_ips`, 403), the token (404), then the body: a form (400), at most 64 KiB
(413), valid UTF-8, no NUL byte and no field longer than `FIELD_LIMITS` allows (400). So a
malformed call gets a 4xx naming what is wrong, never a 500, and nothing absurd reaches the
dialogues or the database. These checks, and the hand-over of an SMS or a delivery report to
the service, are shared with the other gateways' webhooks (`sms_ktp.web.http_gateway`).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from urllib.parse import unquote_to_bytes

from flask import Blueprint, abort, current_app, make_response, request
from werkzeug.exceptions import RequestEntityTooLarge

from gateway.africastalking import (
    parse_delivery_report,
    parse_inbound_sms,
    parse_ussd,
    parse_ussd_end,
)
from gateway.message import DeliveryReport, InboundSms, WebhookError
from sms_ktp.channels.sms import receive_sms
from sms_ktp.channels.ussd import answer_ussd, record_session_end
from sms_ktp.messaging.outbox import apply_delivery_report
from sms_ktp.platform import metrics
from sms_ktp.runtime import Runtime
from sms_ktp.web.addresses import client_address, networks, within

log = logging.getLogger(__name__)
webhooks = Blueprint("webhooks", __name__, url_prefix="/gateway/africastalking/<token>")
TEXT = {"Content-Type": "text/plain; charset=utf-8"}
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# The longest value each field may have, by endpoint; the fields no handler reads are not
# looked at. An SMS text of up to ten concatenated parts (1,600 characters; AT's inbound SMS are
# shorter) and a USSD session's whole input both fit in TEXT_LIMIT; the others are what the
# columns they go to hold, or what the provider could plausibly send.
TEXT_LIMIT = 1600
FIELD_LIMITS: dict[str, dict[str, int]] = {
    "webhooks.inbound_sms": {"id": 100, "from": 40, "to": 40, "text": TEXT_LIMIT, "date": 40,
                             "linkId": 100, "networkCode": 20},
    "webhooks.delivery_report": {"id": 100, "status": 40, "failureReason": 300},
    "webhooks.ussd": {"sessionId": 100, "serviceCode": 40, "phoneNumber": 40,
                      "networkCode": 20, "text": TEXT_LIMIT},
    "webhooks.ussd_end": {"sessionId": 100, "phoneNumber": 40, "status": 40,
                          "durationInMillis": 9, "hopsCount": 6, "input": TEXT_LIMIT,
                          "errorMessage": 300},
}


def current_runtime() -> Runtime:
    return current_app.extensions["sms_ktp"]


# --- the checks every gateway's webhooks share (also `sms_ktp.web.http_gateway`) -----------------
def check_caller(token: str, counted_as: str | None) -> None:
    """403 for a caller outside `[gateway] allowed_ips` (before the token: a stranger learns
    nothing about it), then 404 for a wrong token; each refusal counted under the webhook
    endpoint `counted_as`."""
    settings = current_runtime().settings
    if settings.gateway.allowed_ips:
        client = client_address(request.remote_addr, request.headers.get("X-Forwarded-For"),
                                networks(tuple(settings.server.trusted_proxies)))
        if client is None or not within(client, networks(tuple(settings.gateway.allowed_ips))):
            metrics.webhook_refused(counted_as, "ip_refused")
            log.warning("webhook call from %s refused: not in [gateway] allowed_ips",
                        client or "an unreadable address")
            abort(make_response("forbidden: caller address not allowed\n", 403, TEXT))
    expected = settings.gateway.webhook_token
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        metrics.webhook_refused(counted_as, "bad_token")
        abort(404)


def check_form_encoding() -> None:
    """An url-encoded form must be UTF-8. werkzeug would replace undecodable bytes silently;
    the body is read once and kept, and the form is parsed from the kept copy."""
    try:
        unquote_to_bytes(request.get_data(cache=True)).decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookError("invalid UTF-8 in the form") from None


def check_field(name: str, value: str | None, limit: int) -> None:
    """No NUL (PostgreSQL refuses it in text; no gateway sends one) and at most `limit`
    characters; an absent field is the parser's business."""
    if value is None:
        return
    if "\x00" in value:
        raise WebhookError(f"NUL byte in field: {name}")
    if len(value) > limit:
        raise WebhookError(f"field too long: {name} (at most {limit} characters)")


def answer_errors(blueprint: Blueprint, counted_as: Callable[[], str | None]) -> None:
    """A malformed callback is answered 400 naming the reason, an oversized one 413; both
    counted under the webhook endpoint `counted_as()` names."""

    def malformed(error: WebhookError) -> tuple[str, int, dict[str, str]]:
        metrics.webhook_refused(counted_as(), "bad_request")
        return f"bad request: {error}\n", 400, TEXT

    def too_large(error: RequestEntityTooLarge) -> tuple[str, int, dict[str, str]]:
        metrics.webhook_refused(counted_as(), "bad_request")
        limit = current_app.config["MAX_CONTENT_LENGTH"] // 1024
        return f"too large: a callback body is at most {limit} KiB\n", 413, TEXT

    blueprint.register_error_handler(WebhookError, malformed)
    blueprint.register_error_handler(RequestEntityTooLarge, too_large)


def take_inbound_sms(sms: InboundSms) -> tuple[str, int, dict[str, str]]:
    """Hand an inbound SMS to the dialogues. A retried callback (same provider id) is answered
    `duplicate` and changes nothing."""
    runtime = current_runtime()
    received = receive_sms(runtime.db, runtime.clock, sms, runtime.dialogue_ttl,
                           runtime.pickup_policy(), runtime.reply_limits)
    if received.replies:
        current_app.extensions["sms_ktp.on_reply_queued"]()
    return ("duplicate\n" if received.duplicate else "ok\n"), 200, TEXT


def take_delivery_report(report: DeliveryReport) -> tuple[str, int, dict[str, str]]:
    """Move the message forward (never back). An unknown id is answered 200 all the same: an
    error would only make the gateway retry a report we cannot use."""
    runtime = current_runtime()
    with runtime.db.transaction() as session:
        known = apply_delivery_report(session, report, runtime.clock.now())
    metrics.delivery_report(report.status if known else None)
    if not known:
        log.info("delivery report for unknown message id")
    return ("ok\n" if known else "unknown message\n"), 200, TEXT


# --- Africa's Talking ---------------------------------------------------------------------------
@webhooks.url_value_preprocessor
def _check_caller(endpoint: str | None, values: dict[str, str] | None) -> None:
    check_caller((values or {}).pop("token", ""), endpoint)


@webhooks.before_request
def _check_form() -> None:
    if request.mimetype not in FORM_TYPES:
        raise WebhookError("not a form (Content-Type must be application/x-www-form-urlencoded)")
    if request.mimetype == FORM_TYPES[0]:
        check_form_encoding()
    for name, limit in FIELD_LIMITS.get(request.endpoint or "", {}).items():
        check_field(name, request.form.get(name), limit)


answer_errors(webhooks, lambda: request.endpoint)


@webhooks.post("/sms")
def inbound_sms() -> tuple[str, int, dict[str, str]]:
    return take_inbound_sms(parse_inbound_sms(request.form))


@webhooks.post("/delivery")
def delivery_report() -> tuple[str, int, dict[str, str]]:
    return take_delivery_report(parse_delivery_report(request.form))


@webhooks.post("/ussd")
def ussd() -> tuple[str, int, dict[str, str]]:
    runtime = current_runtime()
    answer = answer_ussd(runtime.db, runtime.clock, parse_ussd(request.form),
                         runtime.dialogue_ttl, runtime.pickup_policy())
    if answer.sms_queued:
        current_app.extensions["sms_ktp.on_reply_queued"]()
    return answer.screen, 200, TEXT


@webhooks.post("/ussd/end")
def ussd_end() -> tuple[str, int, dict[str, str]]:
    runtime = current_runtime()
    record_session_end(runtime.db, runtime.clock, parse_ussd_end(request.form))
    return "ok\n", 200, TEXT
