"""Webhooks of the HTTP SMS aggregator (`gateway.http_aggregator`): inbound SMS and delivery
reports, as JSON or as a form, in the shape `[gateway.http]` describes.

The guarantees are those of the Africa's Talking webhooks, through the same checks
(`sms_ktp.web.webhooks`): the caller's address (403), the token (404), then the body: JSON or a
form (400), at most 64 KiB (413), valid UTF-8, no NUL byte, no field longer than it may be
(400, naming the field as configured). Without a `[gateway.http] send_url` these URLs do
not exist (404); with an unusable table they answer 503 and log why. An inbound SMS is stored
once however often it is posted; a delivery report never moves a message back.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, abort, current_app, g, make_response, request

from gateway.http_aggregator import (
    HttpGatewaySettings,
    field_text,
    parse_delivery,
    parse_inbound,
)
from gateway.message import WebhookError
from sms_ktp.web.webhooks import (
    FORM_TYPES,
    TEXT,
    TEXT_LIMIT,
    answer_errors,
    check_caller,
    check_field,
    check_form_encoding,
    current_runtime,
    take_delivery_report,
    take_inbound_sms,
)

log = logging.getLogger(__name__)
http_gateway = Blueprint("http_gateway", __name__, url_prefix="/gateway/http/<token>")
# Refusals are counted with Africa's Talking's: the counters are per kind of callback.
COUNTED_AS = {"http_gateway.inbound_sms": "webhooks.inbound_sms",
              "http_gateway.delivery_report": "webhooks.delivery_report"}
# The longest value each field may have, by the role it plays (its name is configured).
INBOUND_LIMITS = {"id_field": 100, "sender_field": 40, "recipient_field": 40,
                  "text_field": TEXT_LIMIT, "time_field": 40}
DELIVERY_LIMITS = {"id_field": 100, "status_field": 40, "reason_field": 300}
_CACHE = "sms_ktp.http_gateway"


def adapter_settings() -> HttpGatewaySettings:
    """The adapter's settings, read once per app and again only when the table changes."""
    raw = current_runtime().settings.gateway.http or {}
    cached = current_app.extensions.get(_CACHE)
    if cached is not None and cached[0] == raw:
        return cached[1]
    if not isinstance(raw, Mapping) or not raw.get("send_url"):
        abort(404)  # no aggregator configured (the example's table has an empty send_url)
    try:
        settings = HttpGatewaySettings.from_mapping(raw)
    except ValueError as error:
        log.error("HTTP gateway callback refused: [gateway.http] %s", error)
        abort(make_response("unavailable: [gateway.http] is not usable\n", 503, TEXT))
    current_app.extensions[_CACHE] = (copy.deepcopy(raw), settings)
    return settings


@http_gateway.url_value_preprocessor
def _check_call(endpoint: str | None, values: dict[str, str] | None) -> None:
    """Every check here, not in a `before_request`: the app's input guard runs before any
    blueprint's and would parse the form first, replacing undecodable bytes silently."""
    check_caller((values or {}).pop("token", ""), COUNTED_AS.get(endpoint or ""))
    settings = adapter_settings()
    data = _callback_data()
    fields, limits = ((settings.inbound, INBOUND_LIMITS) if endpoint == "http_gateway.inbound_sms"
                      else (settings.delivery, DELIVERY_LIMITS))
    for role, limit in limits.items():
        name = getattr(fields, role)
        if name:
            _check_value(name, field_text(data, name), limit)
    g.http_callback = data


def _callback_data() -> Mapping[str, Any]:
    """The body as a mapping: a JSON object or a form."""
    if request.is_json:  # application/json and application/*+json
        try:
            data = json.loads(request.get_data(cache=True).decode("utf-8"))
        except UnicodeDecodeError:
            raise WebhookError("invalid UTF-8 in the JSON body") from None
        except (ValueError, RecursionError):
            raise WebhookError("malformed JSON") from None
        if not isinstance(data, dict):
            raise WebhookError("the JSON body must be an object")
        return data
    if request.mimetype in FORM_TYPES:
        if request.mimetype == FORM_TYPES[0]:
            check_form_encoding()
        return request.form
    raise WebhookError("neither JSON nor a form (Content-Type must be application/json or "
                       "application/x-www-form-urlencoded)")


def _check_value(name: str, value: str | None, limit: int) -> None:
    check_field(name[:40], value, limit)
    # A JSON string may hold a lone surrogate (`"\ud800"`), which no database column takes.
    if value is not None and not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise WebhookError(f"invalid Unicode in field: {name[:40]}") from None


answer_errors(http_gateway, lambda: COUNTED_AS.get(request.endpoint or ""))


@http_gateway.post("/sms")
def inbound_sms() -> tuple[str, int, dict[str, str]]:
    return take_inbound_sms(parse_inbound(adapter_settings(), g.http_callback))


@http_gateway.post("/delivery")
def delivery_report() -> tuple[str, int, dict[str, str]]:
    return take_delivery_report(parse_delivery(adapter_settings(), g.http_callback))
