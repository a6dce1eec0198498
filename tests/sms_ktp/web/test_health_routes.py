"""/healthz and /metrics over HTTP, on the whole service, as a load balancer and Prometheus see
them."""

from __future__ import annotations

import re
import socket
from datetime import timedelta

import pytest
from live_service import KK, NIK, PHONE, LiveService, start_service
from scrape import Scrape
from sqlmodel import func, select

from sms_ktp.messaging.outbox import enqueue
from sms_ktp.models import OutboxMessage
from sms_ktp.platform import heartbeat
from sms_ktp.platform.db import Database

REF = re.compile(r"ref (\d{9})")


def beat(service: LiveService) -> None:
    """The worker process says it is alive (it does so every few seconds)."""
    with service.runtime.db.connect() as connection:
        heartbeat.beat(connection, "worker-host:4242:00c0ffee", service.runtime.clock.now())


def healthz(service: LiveService) -> tuple[int, dict]:
    response = service.http.get(f"{service.base_url}/healthz", timeout=10)
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    return response.status_code, response.json()


def scrape(service: LiveService, **headers: str) -> Scrape:
    response = service.http.get(f"{service.base_url}/metrics", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return Scrape(response.text)


def counters_moved(after: Scrape, before: Scrape) -> dict[tuple[str, str], float]:
    return {key: value for key, value in after.moved(before).items()
            if key[0].endswith(("_total", "_count"))}


def queued_rows(service: LiveService) -> int:
    with service.runtime.db.transaction() as session:
        return session.exec(select(func.count()).select_from(OutboxMessage)
                            .where(OutboxMessage.status == "queued")).one()


def test_a_fresh_service_with_a_beating_worker_is_healthy(service):
    beat(service)
    status, report = healthz(service)
    assert status == 200
    assert report == {"healthy": True, "problems": [], "database": True,
                      "worker_heartbeat_age_seconds": 0.0, "outbox_backlog": 0,
                      "outbox_not_due": 0, "oldest_queued_age_seconds": None,
                      "gateways": [], "checked_at": service.runtime.clock.now().isoformat()}


def test_no_worker_ever_started_is_503(service):
    status, report = healthz(service)
    assert (status, report["problems"]) == (503, ["no worker heartbeat"])


def web_healthz(service: LiveService) -> tuple[int, dict]:
    response = service.http.get(f"{service.base_url}/healthz/web", timeout=10)
    assert response.headers["Cache-Control"] == "no-store"
    return response.status_code, response.json()


def test_the_load_balancers_check_asks_only_whether_the_web_node_can_serve(service, clock):
    with service.runtime.db.connect() as connection:  # a late SMS, and no worker at all
        enqueue(connection, PHONE, "halo", clock.now())
    clock.advance(timedelta(hours=1))
    assert healthz(service)[0] == 503
    assert web_healthz(service) == (200, {"healthy": True, "database": True})


def test_a_stale_heartbeat_is_503_with_the_reason(service, clock):
    beat(service)
    clock.advance(timedelta(seconds=61))
    status, report = healthz(service)
    assert (status, report["healthy"], report["problems"]) == (
        503, False, ["worker heartbeat 61 s old"])
    assert report["worker_heartbeat_age_seconds"] == 61.0
    beat(service)
    assert healthz(service)[0] == 200


def test_a_reply_left_unsent_past_the_limit_is_503_until_the_worker_sends_it(service, clock):
    assert service.post_sms(PHONE, "DAFTAR").status_code == 200  # the reply waits in the outbox
    clock.advance(timedelta(seconds=301))
    beat(service)
    status, report = healthz(service)
    assert (status, report["problems"]) == (503, ["an SMS due 301 s ago is not sent"])
    assert (report["outbox_backlog"], report["oldest_queued_age_seconds"]) == (1, 301.0)

    service.worker.run_once()
    status, report = healthz(service)
    assert (status, report["outbox_backlog"], report["oldest_queued_age_seconds"]) == (
        200, 0, None)


def test_notifications_held_for_quiet_hours_are_not_late(service, clock):
    release = clock.now() + timedelta(hours=22)  # 07:00 tomorrow in Bogor
    with service.runtime.db.connect() as connection:
        enqueue(connection, PHONE, "Kartu siap diambil", clock.now(), kind="notification",
                not_before=release)
    clock.set(release - timedelta(hours=5))  # 2 a.m.
    beat(service)
    status, report = healthz(service)
    assert (status, report["outbox_backlog"], report["outbox_not_due"]) == (200, 1, 1)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_database_is_503_not_500(database, clock, tmp_path):
    if database.dialect == "sqlite":
        gone = Database(f"sqlite:///{tmp_path / 'gone' / 'sms-ktp.db'}")
        (tmp_path / "gone").rmdir()
    else:
        gone = Database(f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/test")
    running = start_service(gone, clock, tmp_path)
    service = next(running)
    try:
        status, report = healthz(service)
        assert (status, report["database"], report["problems"]) == (
            503, False, ["database unreachable"])
        assert web_healthz(service) == (503, {"healthy": False, "database": False})
        result = scrape(service)
        assert (result["sms_ktp_database_up"], result["sms_ktp_healthy"]) == (0, 0)
    finally:
        running.close()
        gone.dispose()


def test_healthz_shows_nothing_about_residents(service):
    beat(service)
    service.sms(PHONE, f"DAFTAR {NIK}#{KK}#2")
    assert service.post_sms(PHONE, "YA").status_code == 200  # its reply left unsent
    response = service.http.get(f"{service.base_url}/healthz", timeout=10)
    assert response.status_code == 200
    for secret in (NIK, KK, PHONE, PHONE.lstrip("+"), NIK[-4:], KK[-4:], PHONE[-3:]):
        assert secret not in response.text
    assert set(response.json()) == {"healthy", "problems", "database",
                                    "worker_heartbeat_age_seconds", "outbox_backlog",
                                    "outbox_not_due", "oldest_queued_age_seconds", "gateways",
                                    "checked_at"}


def test_an_sms_registration_moves_the_counters_by_exactly_its_messages(service):
    beat(service)
    before = scrape(service)
    assert service.sms(PHONE, f"REG {NIK}#{KK}#")[0].startswith("Alasan cetak KTP-el?")
    assert service.sms(PHONE, "3")[0].startswith("Periksa:")
    [done] = service.sms(PHONE, "YA")
    assert REF.search(done)
    assert counters_moved(scrape(service), before) == {
        ("sms_ktp_inbound_sms_total", "outcome=accepted"): 3,
        ("sms_ktp_dialogue_completions_total", "channel=sms,kind=registration"): 1,
        ("sms_ktp_outbound_sms_total", "status=sent"): 3,
        ("sms_ktp_gateway_send_seconds_count", ""): 3,
        ("sms_ktp_outbound_send_delay_seconds_count", ""): 3,
    }


def test_refused_and_repeated_webhooks_and_delivery_reports_are_counted(service):
    before = scrape(service)
    assert service.post_sms(PHONE, "STATUS", message_id="ATXid_repeated").status_code == 200
    assert service.post_sms(PHONE, "STATUS", message_id="ATXid_repeated").text == "duplicate\n"
    assert service.post_sms("XL-INFO", "Paket data murah").status_code == 200
    assert service.http.post(service.url("/sms"), data={"from": PHONE}).status_code == 400
    assert service.http.post(service.url("/sms", token="wrong"),
                             data={"from": PHONE}).status_code == 404
    service.worker.run_once()
    with service.runtime.db.transaction() as session:
        provider_id = session.exec(select(OutboxMessage.provider_message_id)).one()
    for report_id, status in ((provider_id, "Buffered"), (provider_id, "Success"),
                              ("ATXid_unknown", "Success")):
        response = service.http.post(service.url("/delivery"),
                                     data={"id": report_id, "status": status})
        assert response.status_code == 200
    assert service.ussd("ATUid_1", "").startswith("CON ")
    assert service.ussd("ATUid_1", "2").startswith("CON ")  # the status menu
    assert counters_moved(scrape(service), before) == {
        ("sms_ktp_inbound_sms_total", "outcome=accepted"): 1,
        ("sms_ktp_inbound_sms_total", "outcome=duplicate"): 1,
        ("sms_ktp_inbound_sms_total", "outcome=non_mobile"): 1,
        ("sms_ktp_inbound_sms_total", "outcome=bad_request"): 1,
        ("sms_ktp_inbound_sms_total", "outcome=bad_token"): 1,
        ("sms_ktp_dialogue_completions_total", "channel=sms,kind=status"): 1,
        ("sms_ktp_dialogue_completions_total", "channel=ussd,kind=status"): 1,
        ("sms_ktp_ussd_requests_total", "outcome=continue"): 2,
        ("sms_ktp_outbound_sms_total", "status=sent"): 1,
        ("sms_ktp_gateway_send_seconds_count", ""): 1,
        ("sms_ktp_outbound_send_delay_seconds_count", ""): 1,
        ("sms_ktp_delivery_reports_total", "status=buffered"): 1,
        ("sms_ktp_delivery_reports_total", "status=delivered"): 1,
        ("sms_ktp_delivery_reports_total", "status=unknown_message"): 1,
    }


def test_the_backlog_gauge_is_the_rows_in_the_outbox(service, clock):
    beat(service)
    for number in range(3):
        assert service.post_sms(f"+62812345678{number:02d}", "BANTUAN").status_code == 200
    clock.advance(timedelta(seconds=20))
    result = scrape(service)
    assert result["sms_ktp_outbox_backlog", "status=queued"] == queued_rows(service) == 3
    assert result["sms_ktp_outbox_backlog", "status=sending"] == 0
    assert result["sms_ktp_outbox_oldest_due_age_seconds"] == 20
    service.worker.run_once()
    result = scrape(service)
    assert result["sms_ktp_outbox_backlog", "status=queued"] == queued_rows(service) == 0
    assert result["sms_ktp_outbox_oldest_due_age_seconds"] == 0


@pytest.mark.parametrize(("header", "allowed"), [
    (None, False), ("Bearer wrong", False), ("s3cret-metrics-token", False),
    ("Bearer s3cret-metrics-token", True)])
def test_a_metrics_token_keeps_metrics_to_who_has_it(service, header, allowed):
    service.runtime.settings.health.metrics_token = "s3cret-metrics-token"
    headers = {"Authorization": header} if header else {}
    response = service.http.get(f"{service.base_url}/metrics", headers=headers, timeout=10)
    assert response.status_code == (200 if allowed else 401)
    if not allowed:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "sms_ktp" not in response.text
    assert healthz(service)[0] == 503  # /healthz stays open (no worker here: 503)
