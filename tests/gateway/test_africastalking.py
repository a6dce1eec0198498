"""Africa's Talking adapter, driven through the real SDK with HTTP intercepted by `responses`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import parse_qs

import pytest
import requests
import responses

from gateway.africastalking import (
    AfricasTalkingGateway,
    parse_delivery_report,
    parse_inbound_sms,
)
from gateway.base import Gateway
from gateway.message import (
    DELIVERY_STATUSES,
    OutboundSms,
    PermanentFailure,
    SendResult,
    TemporaryFailure,
    WebhookError,
)

PROD_URL = "https://api.africastalking.com/version1/messaging"
SANDBOX_URL = "https://api.sandbox.africastalking.com/version1/messaging"
API_KEY = "atsk_secret_key_0123456789abcdef"
PHONE = "+6281234567890"
SMS = OutboundSms(id="out-1", to=PHONE, text="KTP-el Anda siap diambil.")

STATUS_NAMES = {
    101: "Success",
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


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    # Unmatched requests raise ConnectionError, so nothing can reach the internet.
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def at_answer(code: int, status: str | None = None, message_id: str = "ATXid_abc") -> dict:
    return {
        "SMSMessageData": {
            "Message": "Sent to 1/1 Total Cost: IDR 300.0000",
            "Recipients": [
                {
                    "statusCode": code,
                    "number": PHONE,
                    "status": status or STATUS_NAMES[code],
                    "cost": "IDR 300.0000",
                    "messageId": message_id if code in (101, 102) else "None",
                }
            ],
        }
    }


def gateway(username: str = "bogor", sender_id: str | None = None) -> AfricasTalkingGateway:
    return AfricasTalkingGateway(username, API_KEY, sender_id=sender_id, timeout=(1.0, 2.0))


def form_of(call: responses.Call) -> dict[str, str]:
    body = call.request.body
    text = body.decode() if isinstance(body, bytes) else body
    return {key: values[0] for key, values in parse_qs(text, keep_blank_values=True).items()}


def test_is_a_gateway() -> None:
    assert isinstance(gateway(), Gateway)
    assert gateway().name == "africastalking"


def test_send_posts_form_to_production(http: responses.RequestsMock) -> None:
    http.post(PROD_URL, json=at_answer(101))

    result = gateway().send(SMS)

    assert result == SendResult(provider_message_id="ATXid_abc", detail="101 Success")
    assert len(http.calls) == 1
    call = http.calls[0]
    assert call.request.url == PROD_URL
    assert call.request.headers["apiKey"] == API_KEY
    assert call.request.headers["Accept"] == "application/json"
    form = form_of(call)
    assert form["username"] == "bogor"
    assert form["to"] == PHONE
    assert form["message"] == SMS.text
    assert "from" not in form
    assert call.request.req_kwargs["timeout"] == (1.0, 2.0)


def test_send_uses_sandbox_host_and_sender_id(http: responses.RequestsMock) -> None:
    http.post(SANDBOX_URL, json=at_answer(101))

    gateway("sandbox", sender_id="DISDUKCAPIL").send(SMS)

    call = http.calls[0]
    assert call.request.url == SANDBOX_URL
    form = form_of(call)
    assert form["username"] == "sandbox"
    assert form["from"] == "DISDUKCAPIL"


def test_send_keeps_non_ascii_text(http: responses.RequestsMock) -> None:
    http.post(PROD_URL, json=at_answer(101))
    text = "Jadwal: Senin — Kantor Disdukcapil é"

    gateway().send(OutboundSms(id="x", to=PHONE, text=text))

    assert form_of(http.calls[0])["message"] == text


def test_queued_is_accepted(http: responses.RequestsMock) -> None:
    http.post(PROD_URL, json=at_answer(102, message_id="ATXid_q"))

    assert gateway().send(SMS).provider_message_id == "ATXid_q"


def test_json_with_charset_content_type_is_parsed(http: responses.RequestsMock) -> None:
    # The SDK only decodes JSON when Content-Type is exactly application/json.
    http.post(
        PROD_URL,
        body=json.dumps(at_answer(101)),
        content_type="application/json; charset=utf-8",
    )

    assert gateway().send(SMS).provider_message_id == "ATXid_abc"


@pytest.mark.parametrize("code", [401, 402, 403, 404, 406, 407, 409])
def test_4xx_status_is_permanent(http: responses.RequestsMock, code: int) -> None:
    http.post(PROD_URL, json=at_answer(code))

    with pytest.raises(PermanentFailure) as caught:
        gateway().send(SMS)

    assert caught.value.reason == f"{code} {STATUS_NAMES[code]}"


def test_insufficient_balance_is_temporary(http: responses.RequestsMock) -> None:
    http.post(PROD_URL, json=at_answer(405))

    with pytest.raises(TemporaryFailure) as caught:
        gateway().send(SMS)

    assert caught.value.reason == "405 InsufficientBalance"


@pytest.mark.parametrize("code", [500, 501, 502])
def test_5xx_status_is_temporary(http: responses.RequestsMock, code: int) -> None:
    http.post(PROD_URL, json=at_answer(code))

    with pytest.raises(TemporaryFailure) as caught:
        gateway().send(SMS)

    assert caught.value.reason == f"{code} {STATUS_NAMES[code]}"


def test_status_code_as_string_is_understood(http: responses.RequestsMock) -> None:
    answer = at_answer(403)
    answer["SMSMessageData"]["Recipients"][0]["statusCode"] = "403"
    http.post(PROD_URL, json=answer)

    with pytest.raises(PermanentFailure, match="403 InvalidPhoneNumber"):
        gateway().send(SMS)


@pytest.mark.parametrize(
    ("status", "body"),
    [(500, "Internal Server Error"), (401, "The supplied authentication is invalid")],
)
def test_http_error_is_temporary(http: responses.RequestsMock, status: int, body: str) -> None:
    http.post(PROD_URL, body=body, status=status)

    with pytest.raises(TemporaryFailure) as caught:
        gateway().send(SMS)

    assert body in caught.value.reason
    assert API_KEY not in caught.value.reason


def test_http_error_echoing_api_key_is_scrubbed(http: responses.RequestsMock) -> None:
    http.post(PROD_URL, body=f"bad key {API_KEY}", status=401)

    with pytest.raises(TemporaryFailure) as caught:
        gateway().send(SMS)

    assert API_KEY not in caught.value.reason
    assert API_KEY not in str(caught.value)


@pytest.mark.parametrize(
    "error",
    [
        requests.ConnectionError("boom"),
        requests.Timeout("slow"),
        requests.exceptions.ConnectTimeout("slow connect"),
        requests.exceptions.ReadTimeout("slow read"),
        requests.exceptions.SSLError("tls"),
        requests.exceptions.TooManyRedirects("loop"),
    ],
)
def test_transport_errors_are_temporary(http: responses.RequestsMock, error: Exception) -> None:
    http.post(PROD_URL, body=error)

    with pytest.raises(TemporaryFailure) as caught:
        gateway().send(SMS)

    assert API_KEY not in caught.value.reason


def test_unmatched_request_never_leaves_the_machine(http: responses.RequestsMock) -> None:
    # No registered URL: responses raises ConnectionError, which must map to a retry.
    with pytest.raises(TemporaryFailure):
        gateway().send(SMS)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ('{"SMSMessageData": {', "application/json"),
        ("<html>oops</html>", "text/html"),
        ("", "application/json"),
    ],
)
def test_malformed_body_is_temporary(
    http: responses.RequestsMock, body: str, content_type: str
) -> None:
    http.post(PROD_URL, body=body, content_type=content_type)

    with pytest.raises(TemporaryFailure):
        gateway().send(SMS)


@pytest.mark.parametrize(
    "answer",
    [
        {},
        [],
        {"SMSMessageData": None},
        {"SMSMessageData": {"Message": "InvalidSenderId", "Recipients": []}},
        {"SMSMessageData": {"Message": "Sent to 0/1"}},
        {"SMSMessageData": {"Recipients": [{"status": "Success"}]}},
        {"SMSMessageData": {"Recipients": [{"statusCode": "abc"}]}},
        {"SMSMessageData": {"Recipients": ["oops"]}},
    ],
)
def test_unexpected_json_is_temporary(http: responses.RequestsMock, answer: object) -> None:
    http.post(PROD_URL, json=answer)

    with pytest.raises(TemporaryFailure):
        gateway().send(SMS)


def test_no_recipient_reason_carries_at_message(http: responses.RequestsMock) -> None:
    http.post(PROD_URL, json={"SMSMessageData": {"Message": "InvalidSenderId", "Recipients": []}})

    with pytest.raises(TemporaryFailure, match="no recipient in response: InvalidSenderId"):
        gateway().send(SMS)


def test_invalid_number_is_permanent_without_http(http: responses.RequestsMock) -> None:
    with pytest.raises(PermanentFailure):
        gateway().send(OutboundSms(id="x", to="081234567890", text="hi"))

    assert len(http.calls) == 0


# --- inbound SMS webhook -------------------------------------------------------------------

INBOUND = {
    "id": "at-in-1",
    "from": "+6281234567890",
    "to": "98765",
    "text": "DAFTAR 3271012345678901",
    "date": "2024-05-06 08:15:00",
    "linkId": "link-1",
    "networkCode": "51010",
}


def test_parse_inbound_sms() -> None:
    sms = parse_inbound_sms(INBOUND)

    assert sms.provider == "africastalking"
    assert sms.provider_id == "at-in-1"
    assert sms.sender == "+6281234567890"
    assert sms.recipient == "98765"
    assert sms.text == "DAFTAR 3271012345678901"
    assert sms.received_at == "2024-05-06 08:15:00"
    assert sms.link_id == "link-1"
    assert sms.network_code == "51010"


def test_parse_inbound_sms_optional_fields_absent() -> None:
    sms = parse_inbound_sms({"id": "1", "from": "+628111", "text": ""})

    assert sms.text == ""
    assert sms.recipient == ""
    assert (sms.received_at, sms.link_id, sms.network_code) == (None, None, None)


@pytest.mark.parametrize("field", ["id", "from", "text"])
def test_parse_inbound_sms_missing_field(field: str) -> None:
    form = {key: value for key, value in INBOUND.items() if key != field}

    with pytest.raises(WebhookError) as caught:
        parse_inbound_sms(form)

    assert str(caught.value) == f"missing field: {field}"


@pytest.mark.parametrize("field", ["id", "from"])
def test_parse_inbound_sms_empty_identity_is_missing(field: str) -> None:
    with pytest.raises(WebhookError, match=f"^missing field: {field}$"):
        parse_inbound_sms({**INBOUND, field: ""})


def test_webhook_error_is_value_error() -> None:
    with pytest.raises(ValueError):
        parse_inbound_sms({})


# --- delivery report webhook ---------------------------------------------------------------

REPORT = {
    "id": "ATXid_abc",
    "status": "Success",
    "phoneNumber": "+6281234567890",
    "networkCode": "51010",
    "retryCount": "0",
}


@pytest.mark.parametrize(
    ("provider_status", "status"),
    [
        ("Sent", "sent"),
        ("Submitted", "sent"),
        ("Buffered", "buffered"),
        ("Success", "delivered"),
        ("Rejected", "undelivered"),
        ("Failed", "undelivered"),
        ("AbsentSubscriber", "undelivered"),
        ("Expired", "undelivered"),
    ],
)
def test_parse_delivery_report_statuses(provider_status: str, status: str) -> None:
    report = parse_delivery_report({**REPORT, "status": provider_status})

    assert report.provider == "africastalking"
    assert report.provider_message_id == "ATXid_abc"
    assert report.status == status
    assert report.status in DELIVERY_STATUSES
    assert report.provider_status == provider_status
    assert report.failure_reason is None


def test_parse_delivery_report_failure_reason() -> None:
    report = parse_delivery_report(
        {**REPORT, "status": "Failed", "failureReason": "UserInBlacklist"}
    )

    assert report.failure_reason == "UserInBlacklist"


def test_parse_delivery_report_empty_failure_reason_is_none() -> None:
    assert parse_delivery_report({**REPORT, "failureReason": ""}).failure_reason is None


@pytest.mark.parametrize("field", ["id", "status"])
def test_parse_delivery_report_missing_field(field: str) -> None:
    form = {key: value for key, value in REPORT.items() if key != field}

    with pytest.raises(WebhookError) as caught:
        parse_delivery_report(form)

    assert str(caught.value) == f"missing field: {field}"


def test_parse_delivery_report_unknown_status() -> None:
    with pytest.raises(WebhookError) as caught:
        parse_delivery_report({**REPORT, "status": "Bogus"})

    assert str(caught.value) == "unknown delivery status: Bogus"


def test_parse_delivery_report_unknown_status_is_truncated() -> None:
    with pytest.raises(WebhookError) as caught:
        parse_delivery_report({**REPORT, "status": "X" * 500})

    assert str(caught.value) == "unknown delivery status: " + "X" * 40


def test_delivery_statuses_order() -> None:
    assert DELIVERY_STATUSES == ("sent", "buffered", "delivered", "undelivered")
