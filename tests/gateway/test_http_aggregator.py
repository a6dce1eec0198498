"""The HTTP aggregator adapter against a fake aggregator over real HTTP, in two shapes: a JSON
API with a Bearer key and per-message statuses (`messages.0.status`), and a Zenziva-like GET
API with the keys in the query and Indonesian numbers written `08…`."""

from __future__ import annotations

import base64
import logging
import traceback
from collections.abc import Iterator
from typing import Any

import pytest
from fake_aggregator import Answer, FakeAggregator, refused_url
from werkzeug.datastructures import MultiDict

from gateway.base import Gateway
from gateway.http_aggregator import (
    HttpGateway,
    HttpGatewaySettings,
    parse_delivery,
    parse_inbound,
)
from gateway.message import OutboundSms, PermanentFailure, TemporaryFailure, WebhookError

API_KEY = "sk_live_S3cr3t/key+0123456789"
PHONE = "+6281234567890"
SMS = OutboundSms(id="0b7c1f1e-uid-1", to=PHONE, text="KTP-el Anda siap diambil.")


# --- the two shapes -----------------------------------------------------------------------------
def json_accept(message_id: str) -> dict[str, Any]:
    return {"messages": [{"messageId": message_id, "to": "6281234567890",
                          "status": "PENDING", "description": "Message sent to next instance"}]}


def json_reject() -> dict[str, Any]:
    # Some APIs echo the request, key included: it must not come back in a reason.
    return {"messages": [{"status": "REJECTED_DESTINATION",
                          "description": f"Invalid destination address (key {API_KEY})"}]}


def json_api(url: str, **extra: Any) -> dict[str, Any]:
    """A JSON API: Bearer key, nested message list, a client reference, `62…` numbers."""
    return {
        "send_url": url, "api_key": API_KEY, "number_format": "62",
        "to_field": "messages.0.destinations.0.to", "text_field": "messages.0.text",
        "uid_field": "messages.0.callbackData",
        "fields": {"messages.0.from": "DUKCAPIL"},
        "headers": {"Accept": "application/json"},
        "read_timeout_seconds": 0.5, "rate_per_second": 5,
        "response": {"status_path": "messages.0.status", "accepted_values": ["PENDING"],
                     "permanent_values": ["REJECTED_DESTINATION", "REJECTED_BLACKLIST"],
                     "temporary_values": ["REJECTED_BALANCE"],
                     "message_id_path": "messages.0.messageId",
                     "reason_path": "messages.0.description"},
        **extra,
    }


def zenziva_accept(message_id: str) -> dict[str, Any]:
    return {"messageId": message_id, "to": "081234567890", "status": "1", "text": "Success"}


def zenziva_reject() -> dict[str, Any]:
    return {"messageId": "", "to": "081234567890", "status": "0",
            "text": "Nomor tujuan tidak valid"}


def zenziva_api(url: str, **extra: Any) -> dict[str, Any]:
    """A GET API: user key as a static field, pass key in the query, `08…` numbers."""
    return {
        "send_url": url, "method": "GET", "body": "query", "auth": "query",
        "api_key": API_KEY, "api_key_field": "passkey", "fields": {"userkey": "bogorkota"},
        "to_field": "to", "text_field": "message", "number_format": "08",
        "read_timeout_seconds": 0.5,
        "response": {"status_path": "status", "accepted_values": ["1"],
                     "permanent_http_statuses": [400, "404"],
                     "message_id_path": "messageId", "reason_path": "text"},
    }


SHAPES = {"json": (json_api, json_accept, json_reject),
          "zenziva": (zenziva_api, zenziva_accept, zenziva_reject)}


@pytest.fixture(params=sorted(SHAPES))
def shape(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def fake(shape: str) -> Iterator[FakeAggregator]:
    _, accept, reject = SHAPES[shape]
    with FakeAggregator(accept_body=accept, reject_body=reject) as server:
        yield server


def gateway_for(shape: str, url: str, **extra: Any) -> HttpGateway:
    return HttpGateway(HttpGatewaySettings.from_mapping(SHAPES[shape][0](url, **extra)))


def failure_text(error: BaseException) -> str:
    """Everything an error could put in a log: its text and its formatted traceback."""
    return str(error) + "".join(traceback.format_exception(error))


# --- sending ------------------------------------------------------------------------------------
def test_it_is_a_gateway(fake, shape):
    assert isinstance(gateway_for(shape, fake.send_url), Gateway)


def test_the_json_api_accepts_and_gives_its_message_id():
    with FakeAggregator(accept_body=json_accept) as fake:
        result = gateway_for("json", fake.send_url).send(SMS)
        [request] = fake.sends()
    assert result.provider_message_id == fake.message_ids[0] == "fake-1"
    assert result.detail == "HTTP 200 PENDING Message sent to next instance"
    assert request.method == "POST" and request.content_type == "application/json"
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["Accept"] == "application/json"
    assert request.json() == {"messages": [{
        "from": "DUKCAPIL", "destinations": [{"to": "6281234567890"}],
        "text": "KTP-el Anda siap diambil.", "callbackData": SMS.id}]}
    assert API_KEY not in result.detail


def test_the_zenziva_like_api_gets_a_get_with_the_keys_in_the_query():
    with FakeAggregator(accept_body=zenziva_accept) as fake:
        result = gateway_for("zenziva", fake.send_url).send(SMS)
        [request] = fake.sends()
    assert result.provider_message_id == "fake-1"
    assert request.method == "GET" and request.body == b""
    assert request.query == {"userkey": "bogorkota", "passkey": API_KEY,
                             "to": "081234567890", "message": "KTP-el Anda siap diambil."}
    assert "Authorization" not in request.headers


def test_a_refused_number_is_a_permanent_failure_without_the_key(fake, shape):
    gateway = gateway_for(shape, fake.send_url)
    fake.reject_invalid_number(status=200 if shape == "json" else 400)
    with pytest.raises(PermanentFailure) as refused:
        gateway.send(SMS)
    reason = refused.value.reason
    assert ("REJECTED_DESTINATION" in reason) if shape == "json" else (
        reason == "HTTP 400 0 Nomor tujuan tidak valid")
    assert API_KEY not in failure_text(refused.value)


def test_a_listed_http_status_is_permanent_even_without_a_body(fake, shape):
    status = 422 if shape == "json" else 404
    fake.then(Answer(status, b"", content_type="text/plain"))
    with pytest.raises(PermanentFailure, match=f"^HTTP {status}$"):
        gateway_for(shape, fake.send_url).send(SMS)


@pytest.mark.parametrize("trouble", ["500", "502", "503", "429", "401", "402", "timeout",
                                     "malformed", "unknown value"])
def test_temporary_troubles_keep_the_sms_for_later(fake, shape, trouble):
    gateway = gateway_for(shape, fake.send_url)
    if trouble == "429":
        fake.throttle()
    elif trouble.isdigit():
        fake.fail(int(trouble))
    elif trouble == "timeout":
        fake.hang(5)
    elif trouble == "malformed":
        fake.malformed()
    else:
        fake.then(Answer(200, {"messages": [{"status": "WHO_KNOWS"}], "status": "7"}))
    with pytest.raises(TemporaryFailure) as failed:
        gateway.send(SMS)
    assert API_KEY not in failure_text(failed.value)
    if trouble == "timeout":
        assert failed.value.reason == "timeout talking to the aggregator"
    # and the next send goes through
    assert gateway.send(SMS).provider_message_id


def test_a_listed_temporary_value_wins_over_a_permanent_status():
    with FakeAggregator() as fake:
        fake.then(Answer(400, {"messages": [{"status": "REJECTED_BALANCE"}]}))
        with pytest.raises(TemporaryFailure, match="REJECTED_BALANCE"):
            gateway_for("json", fake.send_url).send(SMS)


def test_a_refused_connection_is_temporary_and_keeps_the_key_out_of_it(shape, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(TemporaryFailure) as failed:
        gateway_for(shape, refused_url()).send(SMS)
    assert failed.value.reason == "cannot connect to the aggregator"
    assert API_KEY not in failure_text(failed.value)
    assert failed.value.__cause__ is None and failed.value.__suppress_context__


def test_no_log_line_carries_the_key(fake, shape, caplog):
    """urllib3 logs the request line at DEBUG, with the query string (the Zenziva key)."""
    caplog.set_level(logging.DEBUG)
    gateway = gateway_for(shape, fake.send_url)
    gateway.send(SMS)
    fake.reject_invalid_number(status=400)
    with pytest.raises(PermanentFailure):
        gateway.send(SMS)
    # werkzeug's lines are the fake aggregator's own request log: the other side of the wire.
    ours = [record for record in caplog.records if record.name != "werkzeug"]
    assert any(record.name.startswith("urllib3") for record in ours), "nothing to check"
    logged = "\n".join(record.getMessage() for record in ours)
    assert API_KEY not in logged and "S3cr3t" not in logged


def test_the_key_is_not_in_the_settings_repr():
    settings = HttpGatewaySettings.from_mapping(json_api("https://sms.example.id/send",
                                                         password="basic-pass"))
    assert API_KEY not in repr(settings) and "basic-pass" not in repr(settings)


@pytest.mark.parametrize(("number_format", "expected"), [
    ("+62", "+6281234567890"), ("62", "6281234567890"), ("08", "081234567890")])
def test_numbers_are_written_as_the_api_wants(number_format, expected):
    with FakeAggregator() as fake:
        gateway = HttpGateway(HttpGatewaySettings.from_mapping({
            "send_url": fake.send_url, "auth": "none", "body": "form",
            "number_format": number_format}))
        gateway.send(SMS)
        assert fake.last.form()["to"] == expected


@pytest.mark.parametrize(("number_format", "to"), [
    ("08", "+12025550123"), ("+62", "081234567890"), ("62", "+62 812"), ("+62", "")])
def test_a_number_that_cannot_be_written_is_refused_before_any_request(number_format, to):
    with FakeAggregator() as fake:
        gateway = HttpGateway(HttpGatewaySettings.from_mapping({
            "send_url": fake.send_url, "auth": "none", "number_format": number_format}))
        with pytest.raises(PermanentFailure):
            gateway.send(OutboundSms(id="u", to=to, text="x"))
        assert fake.received == []


def test_our_uid_goes_only_where_configured():
    with FakeAggregator() as fake:
        plain = {"send_url": fake.send_url, "auth": "none"}
        HttpGateway(HttpGatewaySettings.from_mapping(plain)).send(SMS)
        HttpGateway(HttpGatewaySettings.from_mapping(
            {**plain, "uid_field": "client_ref"})).send(SMS)
        first, second = fake.sends()
    assert first.json() == {"to": PHONE, "text": SMS.text}
    assert second.json() == {"to": PHONE, "text": SMS.text, "client_ref": SMS.id}


def test_a_form_post_with_the_key_in_the_body_and_typed_extra_fields():
    with FakeAggregator() as fake:
        HttpGateway(HttpGatewaySettings.from_mapping({
            "send_url": fake.send_url, "body": "form", "auth": "body", "api_key": API_KEY,
            "api_key_field": "apikey", "fields": {"sender": "DUKCAPIL", "flash": False,
                                                  "type": 0}})).send(SMS)
        request = fake.last
    assert request.content_type == "application/x-www-form-urlencoded"
    assert request.form() == {"sender": "DUKCAPIL", "flash": "false", "type": "0",
                              "to": PHONE, "text": SMS.text, "apikey": API_KEY}


def test_basic_authentication_takes_the_api_key_as_password():
    with FakeAggregator() as fake:
        HttpGateway(HttpGatewaySettings.from_mapping({
            "send_url": fake.send_url, "auth": "basic", "username": "AC0123",
            "api_key": API_KEY})).send(SMS)
        header = fake.last.headers["Authorization"]
    assert base64.b64decode(header.removeprefix("Basic ")).decode() == f"AC0123:{API_KEY}"


def test_a_key_in_another_header_goes_bare():
    with FakeAggregator() as fake:
        HttpGateway(HttpGatewaySettings.from_mapping({
            "send_url": fake.send_url, "api_key": API_KEY, "api_key_header": "X-API-Key"})
        ).send(SMS)
        assert fake.last.headers["X-Api-Key"] == API_KEY


def test_without_a_status_path_the_http_status_decides():
    with FakeAggregator(accept_body=lambda _id: "OK") as fake:
        gateway = HttpGateway(HttpGatewaySettings.from_mapping({
            "send_url": fake.send_url, "auth": "none"}))
        result = gateway.send(SMS)
    assert (result.provider_message_id, result.detail) == (None, "HTTP 200")


def test_a_redirect_is_not_followed():
    """A send must not be replayed elsewhere (nor carry its key there)."""
    with FakeAggregator() as fake:
        fake.then(Answer(302, b"", content_type="text/plain"))
        with pytest.raises(TemporaryFailure, match="HTTP 302"):
            HttpGateway(HttpGatewaySettings.from_mapping({
                "send_url": fake.send_url, "api_key": API_KEY})).send(SMS)
        assert len(fake.received) == 1


def test_a_gateway_that_needs_a_key_refuses_to_start_without_one():
    with pytest.raises(ValueError, match="api_key"):
        HttpGateway(HttpGatewaySettings.from_mapping({"send_url": "https://sms.example.id/"}))
    with pytest.raises(ValueError, match="username"):
        HttpGateway(HttpGatewaySettings.from_mapping({
            "send_url": "https://sms.example.id/", "auth": "basic", "api_key": "k"}))


# --- the configuration --------------------------------------------------------------------------
URL = "https://sms.example.id/send"


@pytest.mark.parametrize(("raw", "key"), [
    ({}, "send_url"),
    ({"send_url": "ftp://sms.example.id/"}, "send_url"),
    ({"send_url": URL, "method": "PUT"}, "method"),
    ({"send_url": URL, "method": "GET"}, "body"),
    ({"send_url": URL, "body": "xml"}, "body"),
    ({"send_url": URL, "body": "query", "auth": "body"}, "auth"),
    ({"send_url": URL, "number_format": "+6208"}, "number_format"),
    ({"send_url": URL, "to_field": ""}, "to_field"),
    ({"send_url": URL, "to_feild": "msisdn"}, "to_feild"),
    ({"send_url": URL, "fields": {"to": "x"}}, "fields"),
    ({"send_url": URL, "fields": {"a": "x", "a.b": "y"}}, "fields"),
    ({"send_url": URL, "fields": {"list.1.x": "y"}}, "fields"),
    ({"send_url": URL, "fields": {"sender": ["x"]}}, "fields.sender"),
    ({"send_url": URL, "headers": {"Bad Header": "x"}}, "headers.Bad Header"),
    ({"send_url": URL, "headers": {"X-A": "x\r\nInjected: 1"}}, "headers.X-A"),
    ({"send_url": URL, "connect_timeout_seconds": 0}, "connect_timeout_seconds"),
    ({"send_url": URL, "read_timeout_seconds": "9"}, "read_timeout_seconds"),
    ({"send_url": URL, "api_key": 1234}, "api_key"),
    ({"send_url": URL, "response": {"status_path": "status"}}, "response.accepted_values"),
    ({"send_url": URL, "response": {"accepted_values": ["ok"]}}, "response.status_path"),
    ({"send_url": URL, "response": {"permanent_http_statuses": [503]}},
     "response.permanent_http_statuses"),
    ({"send_url": URL, "response": {"permanent_http_statuses": ["400-499"]}},
     "response.permanent_http_statuses"),
    ({"send_url": URL, "response": {"permanent_http_statuses": [200]}},
     "response.permanent_http_statuses"),
    ({"send_url": URL, "response": {"accepted_http_statuses": ["299-200"]}},
     "response.accepted_http_statuses"),
    ({"send_url": URL, "response": {"accepted_http_statuses": "200"}},
     "response.accepted_http_statuses"),
    ({"send_url": URL, "response": {"sucess_path": "x"}}, "response.sucess_path"),
    ({"send_url": URL, "response": "strict"}, "response"),
    ({"send_url": URL, "inbound": {"id_field": "", "time_field": ""}}, "inbound.id_field"),
    ({"send_url": URL, "inbound": {"sender_field": ""}}, "inbound.sender_field"),
    ({"send_url": URL, "delivery": {"statuses": {"DELIVRD": "done"}}},
     "delivery.statuses.DELIVRD"),
    ({"send_url": URL, "delivery": {"statuses": {}}}, "delivery.statuses"),
])
def test_a_bad_table_is_refused_naming_the_key(raw, key):
    with pytest.raises(ValueError) as refused:
        HttpGatewaySettings.from_mapping({"api_key": API_KEY, **raw})
    message = str(refused.value)
    assert message.startswith(f"{key}:"), message
    assert API_KEY not in message


def test_defaults_and_what_is_ignored():
    settings = HttpGatewaySettings.from_mapping({"send_url": URL, "rate_per_second": 2.5,
                                                 "method": "post"})
    assert (settings.method, settings.body, settings.auth) == ("POST", "json", "header")
    assert (settings.api_key_header, settings.api_key_prefix) == ("Authorization", "Bearer ")
    assert settings.response.accepted_http_statuses == ((200, 299),)
    assert settings.delivery.statuses["DELIVRD"] == "delivered"


# --- callbacks ----------------------------------------------------------------------------------
NESTED = HttpGatewaySettings.from_mapping({
    "send_url": URL,
    "inbound": {"id_field": "payload.umid", "sender_field": "payload.source",
                "recipient_field": "payload.destination", "text_field": "payload.body",
                "time_field": "payload.receivedAt"},
    "delivery": {"id_field": "payload.umid", "status_field": "payload.status.state",
                 "reason_field": "payload.status.detail",
                 "statuses": {"queued": "sent", "sent": "sent", "delivered": "delivered",
                              "undelivered": "undelivered", "rejected": "undelivered"}},
})
FLAT = HttpGatewaySettings.from_mapping({
    "send_url": URL, "method": "GET", "body": "query",
    "inbound": {"id_field": "", "sender_field": "nohp", "recipient_field": "",
                "text_field": "pesan", "time_field": "waktu"},
    "delivery": {"id_field": "messageId", "status_field": "status", "reason_field": "",
                 "statuses": {"1": "delivered", "2": "buffered", "0": "undelivered"}},
})


def test_a_nested_json_inbound_sms():
    sms = parse_inbound(NESTED, {"namespace": "SMS", "payload": {
        "umid": "b2e6a4f0", "source": "6281234567890", "destination": "98765",
        "body": "DAFTAR", "receivedAt": "2026-11-30T02:00:00Z"}})
    assert (sms.provider, sms.provider_id, sms.sender, sms.recipient, sms.text,
            sms.received_at) == ("http", "b2e6a4f0", "6281234567890", "98765", "DAFTAR",
                                 "2026-11-30T02:00:00Z")


def test_an_inbound_sms_form_without_an_id_is_known_by_sender_time_and_text():
    form = MultiDict({"nohp": "081234567890", "pesan": "YA", "waktu": "2026-11-30 09:00:00"})
    first, again = parse_inbound(FLAT, form), parse_inbound(FLAT, MultiDict(form))
    later = parse_inbound(FLAT, MultiDict({**form, "waktu": "2026-11-30 09:01:00"}))
    assert first.provider_id == again.provider_id != later.provider_id
    assert first.provider_id.startswith("sha256:") and len(first.provider_id) <= 100
    assert (first.sender, first.text, first.recipient) == ("081234567890", "YA", "")


@pytest.mark.parametrize(("data", "reason"), [
    ({"payload": {"source": "0812", "body": "x"}}, "missing field: payload.umid"),
    ({"payload": {"umid": "1", "body": "x"}}, "missing field: payload.source"),
    ({"payload": {"umid": "1", "source": "0812"}}, "missing field: payload.body"),
    ({"payload": {"umid": "1", "source": {"x": 1}, "body": "x"}},
     "not a text: payload.source"),
    ({"payload": ["umid"]}, "missing field: payload.umid"),
])
def test_an_unusable_inbound_sms_is_refused_by_name(data, reason):
    with pytest.raises(WebhookError, match=f"^{reason}$"):
        parse_inbound(NESTED, data)


def test_numbers_in_json_callbacks_are_read_as_written():
    sms = parse_inbound(NESTED, {"payload": {"umid": 42, "source": 6281234567890,
                                             "body": "", "destination": None}})
    assert (sms.provider_id, sms.sender, sms.text, sms.recipient) == (
        "42", "6281234567890", "", "")


@pytest.mark.parametrize(("state", "status"), [
    ("queued", "sent"), ("delivered", "delivered"), ("Delivered", "delivered"),
    ("rejected", "undelivered")])
def test_json_delivery_reports_are_mapped(state, status):
    report = parse_delivery(NESTED, {"payload": {"umid": "b2e6a4f0", "status": {
        "state": state, "detail": "Handset unreachable"}}})
    assert (report.provider, report.provider_message_id, report.status,
            report.provider_status, report.failure_reason) == (
        "http", "b2e6a4f0", status, state, "Handset unreachable")


def test_form_delivery_reports_are_mapped_and_unknown_ones_refused():
    assert parse_delivery(FLAT, MultiDict({"messageId": "77", "status": "2"})).status == "buffered"
    assert parse_delivery(FLAT, {"messageId": 77, "status": 1}).status == "delivered"
    with pytest.raises(WebhookError, match=r"^unknown delivery status: 9$"):
        parse_delivery(FLAT, MultiDict({"messageId": "77", "status": "9"}))
    with pytest.raises(WebhookError, match=r"^missing field: status$"):
        parse_delivery(FLAT, MultiDict({"messageId": "77"}))


def test_the_default_statuses_know_smpp_and_plain_words():
    settings = HttpGatewaySettings.from_mapping({"send_url": URL})
    for word, status in [("DELIVRD", "delivered"), ("UNDELIV", "undelivered"),
                         ("Sent", "sent"), ("EXPIRED", "undelivered")]:
        assert parse_delivery(settings, {"id": "1", "status": word}).status == status
