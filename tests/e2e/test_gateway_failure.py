"""Replies through the real Africa's Talking SDK, its HTTP calls intercepted at the transport:
an outage is retried with backoff, a permanent refusal is not, and nothing is sent twice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
import requests
import responses
from live_service import PHONE, LiveService, start_service
from sqlmodel import select

from gateway.africastalking import AfricasTalkingGateway
from sms_ktp.models import OutboxMessage

SANDBOX = "https://api.sandbox.africastalking.com/version1/messaging"


def accepted(message_id: str) -> responses.Response:
    body = {"SMSMessageData": {"Message": "Sent to 1/1 Total Cost: IDR 300",
                               "Recipients": [{"statusCode": 101, "number": PHONE,
                                               "status": "Success", "cost": "IDR 300",
                                               "messageId": message_id}]}}
    return responses.Response("POST", SANDBOX, json=body, status=201)


def refused(code: int, status: str) -> responses.Response:
    body = {"SMSMessageData": {"Message": "Sent to 0/1", "Recipients": [
        {"statusCode": code, "number": PHONE, "status": status, "cost": "0",
         "messageId": "None"}]}}
    return responses.Response("POST", SANDBOX, json=body, status=201)


@pytest.fixture
def at_service(database, clock, tmp_path) -> Iterator[tuple[LiveService, responses.RequestsMock]]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru("http://127.0.0.1")
        gateway = AfricasTalkingGateway("sandbox", "at-test-key", sender_id="DUKCAPIL")
        for live in start_service(database, clock, tmp_path, gateway=gateway):
            yield live, mock


def rows(service: LiveService) -> list[OutboxMessage]:
    with service.runtime.db.transaction() as session:
        return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all())


def posted(mock: responses.RequestsMock) -> list[dict[str, list[str]]]:
    return [parse_qs(call.request.body) for call in mock.calls
            if call.request.url == SANDBOX]


def test_an_outage_is_retried_with_backoff_and_sent_once(at_service, clock):
    service, mock = at_service
    mock.add(responses.Response("POST", SANDBOX, body="Internal Server Error", status=500))
    mock.add(responses.Response("POST", SANDBOX, body=requests.ConnectionError("down")))
    mock.add(accepted("ATXid_ok"))

    assert service.post_sms(PHONE, "DAFTAR").status_code == 200
    service.worker.run_once()
    [row] = rows(service)
    assert (row.status, row.attempts) == ("queued", 1)
    assert "Internal Server Error" in row.last_error
    first_retry = row.next_attempt_at - clock.now()
    assert timedelta(seconds=15) <= first_retry <= timedelta(seconds=30)

    service.worker.run_once()  # not due yet: nothing is tried
    assert len(posted(mock)) == 1

    clock.advance(first_retry)
    service.worker.run_once()
    [row] = rows(service)
    assert (row.status, row.attempts) == ("queued", 2)
    second_retry = row.next_attempt_at - clock.now()
    assert timedelta(seconds=30) <= second_retry <= timedelta(seconds=60)

    clock.advance(second_retry)
    service.worker.run_once()
    [row] = rows(service)
    assert (row.status, row.attempts, row.provider_message_id) == ("sent", 3, "ATXid_ok")
    calls = posted(mock)
    assert len(calls) == 3
    assert calls[-1]["to"] == [PHONE] and calls[-1]["from"] == ["DUKCAPIL"]
    assert calls[-1]["message"][0].startswith("Daftar cetak KTP-el Kota Bogor.")

    clock.advance(timedelta(hours=2))
    service.worker.run_once()
    assert len(posted(mock)) == 3  # sent once, never again


def test_a_permanent_refusal_is_not_retried(at_service, clock):
    service, mock = at_service
    mock.add(refused(403, "InvalidPhoneNumber"))
    service.post_sms(PHONE, "DAFTAR")
    service.worker.run_once()
    clock.advance(timedelta(hours=3))
    service.worker.run_once()
    [row] = rows(service)
    assert (row.status, row.attempts, row.last_error) == ("failed", 1, "403 InvalidPhoneNumber")
    assert len(posted(mock)) == 1


def test_retries_stop_after_the_last_attempt(at_service, clock):
    service, mock = at_service
    mock.add(responses.Response("POST", SANDBOX, body=requests.Timeout("slow")))
    service.post_sms(PHONE, "DAFTAR")
    max_attempts = service.runtime.settings.worker.max_attempts
    for _ in range(max_attempts + 2):
        service.worker.run_once()
        clock.advance(timedelta(hours=2))
    [row] = rows(service)
    assert (row.status, row.attempts) == ("failed", max_attempts)
    assert len(posted(mock)) == max_attempts


def test_one_phones_replies_leave_in_order_after_an_outage(at_service, clock):
    service, mock = at_service
    mock.add(responses.Response("POST", SANDBOX, body="Bad Gateway", status=502))
    service.post_sms(PHONE, "DAFTAR")
    service.post_sms(PHONE, "3271014501900001")
    service.worker.run_once()
    assert len(posted(mock)) == 1  # the second waits behind the first
    mock.replace(responses.POST, SANDBOX, json=json.loads(accepted("x").body))
    clock.advance(timedelta(minutes=1))
    service.worker.run_once()
    texts = [call["message"][0] for call in posted(mock)]
    assert texts[1].startswith("Daftar cetak") and texts[2].startswith("Kirim nomor KK")


def test_the_phone_simulator_does_not_exist_with_a_real_gateway(at_service):
    service, mock = at_service
    assert service.http.get(f"{service.base_url}/simulator/").status_code == 404
    response = service.http.post(f"{service.base_url}/simulator/",
                                 data={"phone": PHONE, "text": "DAFTAR"})
    assert response.status_code == 404 and posted(mock) == []
