"""Africa's Talking webhooks. AT signs nothing, so the URL carries an unguessable token; every
handler is idempotent because AT and the operators retry."""

from __future__ import annotations

import hmac
import logging

from flask import Blueprint, abort, current_app, request

from gateway.africastalking import (
    parse_delivery_report,
    parse_inbound_sms,
    parse_ussd,
    parse_ussd_end,
)
from gateway.message import WebhookError
from sms_ktp import metrics
from sms_ktp.inbound import receive_sms
from sms_ktp.outbox import apply_delivery_report
from sms_ktp.runtime import Runtime
from sms_ktp.ussd import answer_ussd, record_session_end

log = logging.getLogger(__name__)
webhooks = Blueprint("webhooks", __name__, url_prefix="/gateway/africastalking/<token>")
TEXT = {"Content-Type": "text/plain; charset=utf-8"}


def _runtime() -> Runtime:
    return current_app.extensions["sms_ktp"]


@webhooks.url_value_preprocessor
def _check_token(endpoint: str | None, values: dict[str, str] | None) -> None:
    token = (values or {}).pop("token", "")
    expected = _runtime().settings.gateway.webhook_token
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        metrics.webhook_refused(endpoint, "bad_token")
        abort(404)


@webhooks.errorhandler(WebhookError)
def _malformed(error: WebhookError) -> tuple[str, int, dict[str, str]]:
    metrics.webhook_refused(request.endpoint, "bad_request")
    return f"bad request: {error}\n", 400, TEXT


@webhooks.post("/sms")
def inbound_sms() -> tuple[str, int, dict[str, str]]:
    runtime = _runtime()
    sms = parse_inbound_sms(request.form)
    received = receive_sms(runtime.db, runtime.clock, sms, runtime.dialogue_ttl,
                           runtime.pickup_policy())
    if received.replies:
        current_app.extensions["sms_ktp.on_reply_queued"]()
    return ("duplicate\n" if received.duplicate else "ok\n"), 200, TEXT


@webhooks.post("/delivery")
def delivery_report() -> tuple[str, int, dict[str, str]]:
    runtime = _runtime()
    report = parse_delivery_report(request.form)
    with runtime.db.transaction() as session:
        known = apply_delivery_report(session, report, runtime.clock.now())
    metrics.delivery_report(report.status if known else None)
    if not known:
        # Answered 200 all the same: an error would only make AT retry a report we cannot use.
        log.info("delivery report for unknown message id")
    return ("ok\n" if known else "unknown message\n"), 200, TEXT


@webhooks.post("/ussd")
def ussd() -> tuple[str, int, dict[str, str]]:
    runtime = _runtime()
    answer = answer_ussd(runtime.db, runtime.clock, parse_ussd(request.form),
                         runtime.dialogue_ttl, runtime.pickup_policy())
    if answer.sms_queued:
        current_app.extensions["sms_ktp.on_reply_queued"]()
    return answer.screen, 200, TEXT


@webhooks.post("/ussd/end")
def ussd_end() -> tuple[str, int, dict[str, str]]:
    runtime = _runtime()
    record_session_end(runtime.db, runtime.clock, parse_ussd_end(request.form))
    return "ok\n", 200, TEXT
