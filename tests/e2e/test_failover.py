"""A failing primary gateway at 2 a.m.: after three failures in a row the replies leave through
the fallback, none lost or sent twice; every five minutes the primary is tried again and takes
the traffic back once it works. Staff see which gateway carried each SMS.

The primary is Africa's Talking through its real SDK (HTTP intercepted at the transport), the
fallback the console gateway; the whole service over HTTP; the clock moved by the test."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
import requests
import responses
from live_service import LiveService, start_service
from sqlmodel import select
from staff_browser import StaffBrowser, make_staff

from gateway.africastalking import AfricasTalkingGateway
from gateway.routing import RoutingGateway
from sms_ktp.models import OutboxMessage
from sms_ktp.platform.config import Settings
from sms_ktp.runtime import build_gateway

SANDBOX = "https://api.sandbox.africastalking.com/version1/messaging"
PHONES = [f"+62812666000{n:02d}" for n in range(6)]


class Operator:
    """Africa's Talking, down (503) until told otherwise; what it accepted, in order."""

    def __init__(self) -> None:
        self.down = True
        self.attempts = 0
        self.accepted: list[str] = []
        self._ids = itertools.count(1)

    def __call__(self, request: requests.PreparedRequest) -> tuple[int, dict, str]:
        self.attempts += 1
        if self.down:
            return 503, {}, "Service Unavailable"
        phone = parse_qs(request.body)["to"][0]
        self.accepted.append(phone)
        body = ('{"SMSMessageData": {"Message": "Sent to 1/1", "Recipients": [{"statusCode": '
                f'101, "number": "{phone}", "status": "Success", "cost": "IDR 300", '
                f'"messageId": "ATXid_{next(self._ids)}"}}]}}}}')
        return 201, {"Content-Type": "application/json"}, body


@pytest.fixture
def failover(database, clock, tmp_path) -> Iterator[tuple[LiveService, Operator, RoutingGateway]]:
    operator = Operator()
    settings = Settings()
    settings.gateway.provider, settings.gateway.fallback = "africastalking", "console"
    settings.gateway.failover_after, settings.gateway.retry_primary_seconds = 3, 300
    settings.gateway.console.outbox_file = str(tmp_path / "outbox.jsonl")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru("http://127.0.0.1")
        mock.add_callback(responses.POST, SANDBOX, callback=operator)
        primary = AfricasTalkingGateway("sandbox", "at-test-key")
        routing = build_gateway(settings, monotonic=lambda: clock.now().timestamp(),
                                adapters={"africastalking": primary})
        assert isinstance(routing, RoutingGateway)
        def same_gateways(service_settings: Settings) -> None:
            service_settings.gateway.provider = settings.gateway.provider
            service_settings.gateway.fallback = settings.gateway.fallback

        for live in start_service(database, clock, tmp_path, gateway=routing,
                                  configure=same_gateways):
            yield live, operator, routing


def rows(service: LiveService) -> list[OutboxMessage]:
    with service.runtime.db.transaction() as session:
        return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all())


def test_a_failing_primary_hands_over_to_the_fallback_and_takes_back(failover, clock):
    service, operator, routing = failover
    for phone in PHONES:
        assert service.post_sms(phone, "DAFTAR").status_code == 200
    service.worker.dispatch_outbox()
    # the first three tries fail; the third moves to the console, and so do the next three
    assert operator.attempts == 3 and routing.active == "console"
    service.worker.beat()  # the worker says which gateway it sends through; /healthz shows it
    health = service.http.get(f"{service.base_url}/healthz", timeout=10)
    assert health.status_code == 503 and health.json()["gateways"] == ["console"]
    assert health.json()["problems"] == [
        "SMS go through the fallback gateway console: africastalking keeps failing"]
    consoled = [sms["to"] for sms in service.sent()]
    assert consoled == PHONES[2:]
    # the two that failed first wait for their retry, then leave through the fallback too
    clock.advance(timedelta(minutes=2))
    service.worker.dispatch_outbox()
    assert sorted(sms["to"] for sms in service.sent()) == sorted(PHONES)
    assert operator.attempts == 3  # the primary is left alone for five minutes
    assert [(row.status, row.provider) for row in rows(service)] == [("sent", "console")] * 6

    # the primary recovers; five minutes after the hand-over the next SMS probes it
    operator.down = False
    clock.advance(timedelta(minutes=3))
    service.post_sms(PHONES[0], "STATUS")
    service.worker.dispatch_outbox()
    assert operator.accepted == [PHONES[0]] and routing.active == "africastalking"
    service.worker.beat()
    health = service.http.get(f"{service.base_url}/healthz", timeout=10)
    assert health.status_code == 200 and health.json()["gateways"] == ["africastalking"]
    service.post_sms(PHONES[1], "STATUS")
    service.worker.dispatch_outbox()
    assert operator.accepted == [PHONES[0], PHONES[1]]
    providers = [row.provider for row in rows(service)]
    assert providers == ["console"] * 6 + ["africastalking"] * 2
    assert len(service.sent()) == 6  # nothing sent twice


def test_staff_see_the_gateway_of_each_sms(failover, clock):
    service, operator, _ = failover
    for phone in PHONES[:3]:
        service.post_sms(phone, "BANTUAN")
    service.worker.dispatch_outbox()  # the third try moves to the console
    operator.down = False
    clock.advance(timedelta(minutes=6))
    service.worker.dispatch_outbox()  # the two retries: the first probes the primary, it works
    make_staff(service.runtime.db, "admin1", "admin")
    browser = StaffBrowser(service.base_url)
    browser.login("admin1")
    page = browser.http.get(f"{service.base_url}/staff/messages?direction=out", timeout=10)
    cells = re.findall(r'<td class="gateway">([^<]*)</td>', page.text)
    assert sorted(cells) == ["africastalking", "africastalking", "console"]
