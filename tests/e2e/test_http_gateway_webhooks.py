"""The HTTP aggregator's webhooks through the real server: a fake aggregator posts inbound SMS
and delivery reports (JSON and forms) to the service, and the service's replies leave through
the HTTP adapter to the same fake. Who may call, what a call may carry, idempotency, and
delivery statuses that only move forward."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from fake_aggregator import FakeAggregator
from fuzzing import EXAMPLES, FUZZ, error_log, texts
from hypothesis import given, settings
from hypothesis import strategies as st
from live_service import PHONE, TOKEN, LiveService, start_service
from scrape import Scrape
from sqlalchemy import select

from gateway.http_aggregator import HttpGateway, HttpGatewaySettings
from sms_ktp.models import InboundMessage, OutboxMessage
from sms_ktp.platform import metrics
from sms_ktp.platform.config import Settings

API_KEY = "aggregator-key-0123456789abcdef"
STATUSES = {"ACCEPTED": "sent", "BUFFERED": "buffered", "DELIVERED": "delivered",
            "UNDELIVERED": "undelivered", "FAILED": "undelivered"}


def table(send_url: str) -> dict[str, Any]:
    """An aggregator with flat callbacks (posted as JSON or as a form) and a JSON send API."""
    return {
        "send_url": send_url, "api_key": API_KEY, "to_field": "destination",
        "text_field": "text", "uid_field": "clientMessageId", "fields": {"source": "DUKCAPIL"},
        "rate_per_second": 10,
        "response": {"status_path": "status.state", "accepted_values": ["Queued"],
                     "message_id_path": "umid", "reason_path": "status.detail"},
        "inbound": {"id_field": "msgid", "sender_field": "msisdn",
                    "recipient_field": "shortcode", "text_field": "message",
                    "time_field": "received"},
        "delivery": {"id_field": "msgid", "status_field": "status", "reason_field": "error",
                     "statuses": STATUSES},
    }


def accepted(message_id: str) -> dict[str, Any]:
    return {"umid": message_id, "status": {"state": "Queued", "detail": "queued"}}


@pytest.fixture
def fake() -> Iterator[FakeAggregator]:
    with FakeAggregator(accept_body=accepted) as server:
        yield server


@pytest.fixture
def service(database, clock, tmp_path, fake) -> Iterator[LiveService]:  # type: ignore[no-untyped-def]
    """The service with `[gateway.http]` set, sending through the adapter to the fake."""
    raw = table(fake.send_url)

    def configure(settings: Settings) -> None:
        settings.gateway.http = raw  # type: ignore[attr-defined]

    gateway = HttpGateway(HttpGatewaySettings.from_mapping(raw))
    yield from start_service(database, clock, tmp_path, gateway=gateway, configure=configure)


def url(service: LiveService, path: str, token: str = TOKEN) -> str:
    return f"{service.base_url}/gateway/http/{token}{path}"


def sms(text: str, msgid: str = "MO-1", sender: str = PHONE) -> dict[str, str]:
    return {"msgid": msgid, "msisdn": sender.lstrip("+"), "shortcode": "98765",
            "message": text, "received": "2026-11-30 09:00:00"}


def rows(service: LiveService, model: Any) -> list[Any]:
    table_ = model.__table__
    with service.runtime.db.connect() as connection:
        return list(connection.execute(select(table_).order_by(table_.c.id)).all())


def scrape() -> Scrape:
    return Scrape(metrics.exposition(None).decode())


# --- inbound ------------------------------------------------------------------------------------
@pytest.mark.parametrize("as_json", [True, False], ids=["json", "form"])
def test_an_inbound_sms_is_stored_once_and_answered_through_the_aggregator(service, fake,
                                                                           as_json):
    posted = fake.post_inbound(url(service, "/sms"), sms("DAFTAR"), as_json=as_json)
    assert (posted.status_code, posted.text) == (200, "ok\n")
    again = fake.post_inbound(url(service, "/sms"), sms("DAFTAR"), as_json=as_json)
    assert (again.status_code, again.text) == (200, "duplicate\n")

    [inbound] = rows(service, InboundMessage)
    assert (inbound.provider, inbound.provider_id, inbound.sender, inbound.recipient) == (
        "http", "MO-1", PHONE, "98765")
    [reply] = rows(service, OutboxMessage)
    assert reply.phone == PHONE and "Kirim NIK" in reply.text

    service.worker.run_once()
    [sent] = fake.sends()
    assert sent.headers["Authorization"] == f"Bearer {API_KEY}"
    assert sent.json() == {"source": "DUKCAPIL", "destination": PHONE, "text": reply.text,
                           "clientMessageId": reply.uid}
    [reply] = rows(service, OutboxMessage)
    assert (reply.status, reply.provider_message_id) == ("sent", fake.message_ids[0])


def test_the_table_is_read_again_when_it_changes(service, fake):
    """A nested JSON shape (the fields under `payload`), set while the service runs."""
    nested = table(fake.send_url)
    nested["inbound"] = {"id_field": "payload.umid", "sender_field": "payload.source",
                         "text_field": "payload.body", "time_field": "payload.receivedAt"}
    service.runtime.settings.gateway.http = nested
    body = {"namespace": "SMS", "eventType": "inbound", "payload": {
        "umid": "c0ffee", "source": "6281234567890", "body": "BANTUAN",
        "receivedAt": "2026-11-30T02:00:00Z"}}
    assert fake.post_inbound(url(service, "/sms"), body, as_json=True).text == "ok\n"
    [inbound] = rows(service, InboundMessage)
    assert (inbound.provider_id, inbound.sender) == ("c0ffee", PHONE)


# --- delivery reports ---------------------------------------------------------------------------
@pytest.mark.parametrize("as_json", [True, False], ids=["json", "form"])
def test_delivery_reports_move_the_status_forward_only(service, fake, as_json):
    fake.post_inbound(url(service, "/sms"), sms("DAFTAR"), as_json=as_json)
    service.worker.run_once()
    [message_id] = fake.message_ids

    def report(status: str, **extra: str) -> str:
        response = fake.post_delivery(url(service, "/delivery"),
                                      {"msgid": message_id, "status": status, **extra},
                                      as_json=as_json)
        assert response.status_code == 200, response.text
        [message] = rows(service, OutboxMessage)
        return message.status

    assert report("BUFFERED") == "buffered"
    assert report("DELIVERED") == "delivered"
    assert report("BUFFERED") == "delivered"  # late
    assert report("FAILED", error="UserDoesNotExist") == "delivered"  # wrong, after the fact
    [message] = rows(service, OutboxMessage)
    assert message.last_error is None and message.delivered_at is not None


def test_a_failed_delivery_is_recorded_with_its_reason(service, fake):
    fake.post_inbound(url(service, "/sms"), sms("DAFTAR"))
    service.worker.run_once()
    fake.post_delivery(url(service, "/delivery"), {"msgid": fake.message_ids[0],
                                                   "status": "UNDELIVERED",
                                                   "error": "AbsentSubscriber"}, as_json=True)
    [message] = rows(service, OutboxMessage)
    assert (message.status, message.last_error) == ("undelivered", "AbsentSubscriber")


def test_a_report_for_an_unknown_message_is_acknowledged_and_ignored(service, fake):
    response = fake.post_delivery(url(service, "/delivery"),
                                  {"msgid": "nobody", "status": "DELIVERED"})
    assert (response.status_code, response.text) == (200, "unknown message\n")


def test_an_unknown_delivery_status_is_refused_by_name(service, fake):
    response = fake.post_delivery(url(service, "/delivery"),
                                  {"msgid": "x", "status": "Teleported"}, as_json=True)
    assert response.status_code == 400
    assert response.text == "bad request: unknown delivery status: Teleported\n"


# --- who may call -------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/sms", "/delivery"])
def test_a_wrong_token_is_not_found(service, fake, path):
    response = fake.post_inbound(url(service, path, token=TOKEN[:-1] + "x"), sms("DAFTAR"))
    assert response.status_code == 404
    assert rows(service, InboundMessage) == []


@pytest.mark.parametrize("path", ["/sms", "/delivery"])
def test_a_caller_outside_the_allow_list_is_refused_before_the_token(service, fake, path):
    service.runtime.settings.gateway.allowed_ips = ["203.0.113.0/24"]
    for token in (TOKEN, "wrong"):
        response = fake.post_inbound(url(service, path, token=token), sms("DAFTAR"))
        assert (response.status_code, response.text) == (
            403, "forbidden: caller address not allowed\n")
    assert rows(service, InboundMessage) == []


@pytest.mark.parametrize("raw", [{}, {"send_url": ""}])
def test_without_an_aggregator_the_urls_do_not_exist(service, fake, raw):
    service.runtime.settings.gateway.http = raw
    assert fake.post_inbound(url(service, "/sms"), sms("DAFTAR")).status_code == 404


def test_an_unusable_table_is_said_so_not_a_500(service, fake, caplog):
    service.runtime.settings.gateway.http = {"send_url": "ftp://sms.example.id/"}
    response = fake.post_inbound(url(service, "/sms"), sms("DAFTAR"))
    assert (response.status_code, response.text) == (
        503, "unavailable: [gateway.http] is not usable\n")
    assert "[gateway.http] send_url" in caplog.text


# --- what a call may carry ----------------------------------------------------------------------
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def dumps(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields).encode()


@pytest.mark.parametrize(("body", "content_type", "reason"), [
    (b"{not json", JSON, "malformed JSON"),
    (b"[" * 5000 + b"]" * 5000, JSON, "malformed JSON"),
    (b'["DAFTAR"]', JSON, "the JSON body must be an object"),
    (b'{"msgid": "1", "msisdn": "6281234567890", "message": "\xff"}', JSON,
     "invalid UTF-8 in the JSON body"),
    (dumps({**sms("x"), "message": "DA\x00FTAR"}), JSON, "NUL byte in field: message"),
    (b'{"msgid": "1", "msisdn": "6281234567890", "message": "\\ud800"}', JSON,
     "invalid Unicode in field: message"),
    (dumps({**sms("x"), "message": {"text": "DAFTAR"}}), JSON, "not a text: message"),
    (dumps({**sms("x"), "message": "A" * 1601}), JSON,
     "field too long: message (at most 1600 characters)"),
    (dumps({**sms("x"), "msisdn": "6" * 41}), JSON, "field too long: msisdn"),
    (dumps({**sms("x"), "msgid": "m" * 101}), JSON, "field too long: msgid"),
    (dumps({k: v for k, v in sms("x").items() if k != "msisdn"}), JSON,
     "missing field: msisdn"),
    (b"msgid=1&msisdn=6281234567890&message=%FF%FE", FORM, "invalid UTF-8 in the form"),
    (b"msgid=1&msisdn=6281234567890&message=DA%00FTAR", FORM, "NUL byte in field: message"),
    (b"msgid=1&msisdn=6281234567890&message=DAFTAR", "text/plain", "neither JSON nor a form"),
    (b"msgid=1&msisdn=6281234567890&message=DAFTAR", None, "neither JSON nor a form"),
])
def test_a_malformed_inbound_callback_is_refused_with_its_reason(service, body, content_type,
                                                                 reason):
    before = scrape()
    headers = {"Content-Type": content_type} if content_type else {}
    response = service.http.post(url(service, "/sms"), data=body, headers=headers, timeout=10)
    assert response.status_code == 400
    assert response.text.startswith("bad request: ") and reason in response.text
    assert scrape().moved(before) == {("sms_ktp_inbound_sms_total", "outcome=bad_request"): 1.0}
    assert rows(service, InboundMessage) == []


@pytest.mark.parametrize(("fields", "reason"), [
    ({"msgid": "1", "status": "DELIVERED", "error": "e" * 301}, "field too long: error"),
    ({"msgid": "1", "status": "D" * 41}, "field too long: status"),
    ({"status": "DELIVERED"}, "missing field: msgid"),
    ({"msgid": "1", "status": ["DELIVERED"]}, "not a text: status"),
])
def test_a_malformed_delivery_report_is_refused_with_its_reason(service, fake, fields, reason):
    response = fake.post_delivery(url(service, "/delivery"), fields, as_json=True)
    assert response.status_code == 400 and reason in response.text


def test_an_oversized_body_is_refused_with_a_reason(service, fake):
    response = fake.post_inbound(url(service, "/sms"), sms("A" * 70_000), as_json=True)
    assert (response.status_code, response.text) == (
        413, "too large: a callback body is at most 64 KiB\n")


# --- anything at all ----------------------------------------------------------------------------
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | texts(60),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts(10), inner, max_size=3),
    max_leaves=8)
CALLBACK_FIELDS = ("msgid", "msisdn", "shortcode", "message", "received", "status", "error")


@st.composite
def callbacks(draw: st.DrawFn) -> tuple[bytes, str]:
    """A body (the fields we read, as anything, plus strangers) and how it travels."""
    fields = draw(st.fixed_dictionaries({}, optional={
        name: st.sampled_from(["DAFTAR", "DELIVERED", "6281234567890"]) | JSON_VALUES
        for name in CALLBACK_FIELDS}))
    fields.update(draw(st.dictionaries(texts(12), JSON_VALUES, max_size=2)))
    how = draw(st.sampled_from(["json", "form", "raw"]))
    if how == "json":
        return json.dumps(fields).encode(), JSON
    if how == "form":
        pairs = {k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}
        return urlencode(pairs, errors="surrogatepass").encode(), FORM
    return draw(st.binary(max_size=200)), draw(st.sampled_from([JSON, FORM, "text/plain"]))


@pytest.mark.parametrize("path", ["/sms", "/delivery"])
def test_the_webhooks_survive_anything(service, path):
    with error_log() as errors:

        @settings(FUZZ, max_examples=max(1, EXAMPLES * 3 // 5))
        @given(call=callbacks())
        def call(call: tuple[bytes, str]) -> None:
            body, content_type = call
            response = service.http.post(url(service, path), data=body, timeout=30,
                                         headers={"Content-Type": content_type})
            assert response.status_code in (200, 400, 413), (response.status_code,
                                                              response.text[:300])
            assert not errors.records, errors.messages()

        call()
