"""The WhatsApp webhook (Meta's WhatsApp Business Cloud API): `/gateway/whatsapp/<token>`.

Checked in this order: the caller's address and the token as the other webhooks
(`check_caller`), 404 while the channel is off; then for a POST the signature Meta puts on the
raw body (`X-Hub-Signature-256`, HMAC-SHA256 with the app secret, compared in constant time),
before anything is read: missing 401, wrong 403. Then the JSON (400 naming what is wrong).
Each message goes through the SMS dialogues, one transaction each, stored once by its wamid;
each status moves its outbox row forward. Meta retries for 36 hours until it gets a 200, so
every step can be run again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging

from flask import Blueprint, abort, current_app, make_response, request

from gateway.message import WebhookError
from sms_ktp.channels.whatsapp import (
    apply_statuses,
    parse_webhook,
    receive_whatsapp,
)
from sms_ktp.platform import metrics
from sms_ktp.web.webhooks import TEXT, answer_errors, check_caller, current_runtime

log = logging.getLogger(__name__)
whatsapp_webhook = Blueprint("whatsapp_webhook", __name__,
                             url_prefix="/gateway/whatsapp/<token>")
SIGNATURE = "X-Hub-Signature-256"


@whatsapp_webhook.url_value_preprocessor
def _check_caller(endpoint: str | None, values: dict[str, str] | None) -> None:
    check_caller((values or {}).pop("token", ""), endpoint)
    if not current_runtime().settings.gateway.whatsapp.enabled:
        abort(404)


answer_errors(whatsapp_webhook, lambda: request.endpoint)


@whatsapp_webhook.get("")
def verify() -> tuple[str, int, dict[str, str]]:
    """Meta's check when the webhook is set up: the challenge back when our verify token is
    the one given."""
    expected = current_runtime().settings.gateway.whatsapp.verify_token
    given = request.args.get("hub.verify_token", "")
    if (request.args.get("hub.mode") != "subscribe" or not expected
            or not hmac.compare_digest(given.encode(), expected.encode())):
        return "forbidden: wrong verify token\n", 403, TEXT
    return request.args.get("hub.challenge", ""), 200, TEXT


@whatsapp_webhook.post("")
def receive() -> tuple[str, int, dict[str, str]]:
    body = request.get_data(cache=True)
    _check_signature(body)
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise WebhookError("not JSON") from None
    webhook = parse_webhook(payload)
    runtime = current_runtime()
    replies = 0
    for message in webhook.messages:
        replies += receive_whatsapp(runtime.db, runtime.clock, message, runtime.dialogue_ttl,
                                    runtime.pickup_policy(), runtime.reply_limits).replies
    moved = apply_statuses(runtime.db, runtime.clock, webhook.statuses)
    if replies:
        current_app.extensions["sms_ktp.on_reply_queued"]()
    log.info("whatsapp webhook: %d messages (%d replies), %d of %d statuses applied",
             len(webhook.messages), replies, moved, len(webhook.statuses))
    return "ok\n", 200, TEXT


def _check_signature(body: bytes) -> None:
    header = request.headers.get(SIGNATURE)
    if not header:
        metrics.webhook_refused(request.endpoint, "unsigned")
        abort(make_response("unauthorized: no X-Hub-Signature-256\n", 401, TEXT))
    secret = current_runtime().settings.gateway.whatsapp.app_secret.encode()
    expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    if not secret or not hmac.compare_digest(header.strip().encode(), expected.encode()):
        metrics.webhook_refused(request.endpoint, "bad_signature")
        abort(make_response("forbidden: wrong signature\n", 403, TEXT))
