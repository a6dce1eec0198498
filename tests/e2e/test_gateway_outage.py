"""A long gateway outage, as an operator lives it: residents keep texting while Africa's Talking
times out and answers 5xx; the backlog builds and `/healthz` says so; the worker backs off instead
of hammering; after recovery the backlog drains, every reply once, each phone's in order.

The real Africa's Talking SDK, its HTTP calls intercepted at the transport; the whole service
over HTTP; the clock moved by the test."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
import requests
import responses
from live_service import NIK, LiveService, start_service
from sqlmodel import select

from gateway.africastalking import AfricasTalkingGateway
from sms_ktp.models import OutboxMessage

SANDBOX = "https://api.sandbox.africastalking.com/version1/messaging"
PHONES = [f"+62812555000{n:02d}" for n in range(6)]
FAILURES = itertools.cycle([
    (500, "Internal Server Error"), requests.ReadTimeout("read timed out"),
    (503, "Service Unavailable"), requests.ConnectionError("connection refused")])


class Operator:
    """Africa's Talking as the test wants it: down, then up; every accepted SMS recorded."""

    def __init__(self) -> None:
        self.down = True
        self.attempts = 0
        self.accepted: list[tuple[str, str]] = []  # (phone, text), in the order taken
        self._ids = itertools.count(1)

    def __call__(self, request: requests.PreparedRequest) -> tuple[int, dict, str]:
        self.attempts += 1
        if self.down:
            failure = next(FAILURES)
            if isinstance(failure, Exception):
                raise failure
            return failure[0], {}, failure[1]
        form = parse_qs(request.body)
        phone, text = form["to"][0], form["message"][0]
        self.accepted.append((phone, text))
        body = ('{"SMSMessageData": {"Message": "Sent to 1/1", "Recipients": [{"statusCode": '
                f'101, "number": "{phone}", "status": "Success", "cost": "IDR 300", '
                f'"messageId": "ATXid_{next(self._ids)}"}}]}}}}')
        return 201, {"Content-Type": "application/json"}, body


@pytest.fixture
def outage(database, clock, tmp_path) -> Iterator[tuple[LiveService, Operator]]:
    operator = Operator()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru("http://127.0.0.1")
        mock.add_callback(responses.POST, SANDBOX, callback=operator)
        gateway = AfricasTalkingGateway("sandbox", "at-test-key", sender_id="DUKCAPIL")
        for live in start_service(database, clock, tmp_path, gateway=gateway):
            yield live, operator


def healthz(service: LiveService) -> tuple[int, dict]:
    response = service.http.get(f"{service.base_url}/healthz", timeout=10)
    return response.status_code, response.json()


def rows(service: LiveService) -> list[OutboxMessage]:
    with service.runtime.db.transaction() as session:
        return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all())


def minute_by_minute(service: LiveService, clock, minutes: int) -> None:
    """The worker's life for `minutes`: it beats and dispatches once a minute."""
    for _ in range(minutes):
        clock.advance(timedelta(minutes=1))
        service.worker.beat()
        service.worker.dispatch_outbox()


def test_a_long_outage_builds_a_backlog_that_drains_once_and_in_order(outage, clock):
    service, operator = outage
    service.worker.beat()
    for phone in PHONES:  # residents text on during the outage: two replies each
        assert service.post_sms(phone, "DAFTAR").status_code == 200
        assert service.post_sms(phone, NIK).status_code == 200
    service.worker.dispatch_outbox()
    assert operator.attempts == len(PHONES)  # each phone's second reply waits behind its first
    assert healthz(service)[0] == 200  # just written: not late yet

    minute_by_minute(service, clock, 30)
    status, report = healthz(service)
    assert status == 503
    assert report["database"] is True and report["worker_heartbeat_age_seconds"] == 0.0
    assert report["outbox_backlog"] == 2 * len(PHONES)
    assert report["oldest_queued_age_seconds"] >= 25 * 60
    assert any("due" in problem or "late" in problem for problem in report["problems"])
    # backoff (30 s, 1, 2, 4, 8, 16 min, each with jitter of up to half): a handful of tries
    # per SMS in half an hour, not 30
    first_replies = [row for row in rows(service) if row.attempts]
    assert {row.status for row in rows(service)} == {"queued"}
    assert len(first_replies) == len(PHONES)
    assert all(5 <= row.attempts <= 7 for row in first_replies)
    assert operator.attempts == sum(row.attempts for row in rows(service))
    assert operator.accepted == []

    operator.down = False
    minute_by_minute(service, clock, 60)  # the longest backoff so far passes, and then some
    assert [row.status for row in rows(service)] == ["sent"] * 2 * len(PHONES)
    status, report = healthz(service)
    assert (status, report["outbox_backlog"], report["problems"]) == (200, 0, [])
    # once each, and each phone's in the order they were written
    assert len(operator.accepted) == len(set(operator.accepted)) == 2 * len(PHONES)
    for phone in PHONES:
        texts = [text for to, text in operator.accepted if to == phone]
        assert texts[0].startswith("Daftar cetak") and texts[1].startswith("Kirim nomor KK")
