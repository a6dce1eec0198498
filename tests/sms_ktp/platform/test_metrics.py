"""Metrics as Prometheus reads them: counters moved by exactly what happened, gauges equal to
the rows, and several processes adding up in one scrape."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections import Counter
from datetime import timedelta
from types import SimpleNamespace

import pytest
import requests
from fake_graph import button_reply, envelope, inbound_text, post_webhook
from live_service import TOKEN
from scrape import Scrape
from sqlmodel import select

from gateway.message import (
    InboundSms,
    OutboundSms,
    PermanentFailure,
    SendResult,
    TemporaryFailure,
)
from gateway.routing import RateLimit, Route, RoutingGateway
from sms_ktp.channels.sms import receive_sms
from sms_ktp.messaging.outbox import Dispatcher, RetryPolicy, enqueue
from sms_ktp.models import OutboxMessage
from sms_ktp.platform import heartbeat, metrics
from sms_ktp.platform.config import HealthSettings, Settings
from sms_ktp.platform.db import Database
from sms_ktp.platform.health import Health, check
from sms_ktp.runtime import Runtime

PHONE = "+6281234567890"
NIK = "3271014501900001"
KK = "3271010101200003"


class ScriptedGateway:
    """Answers by the text: "ok" is accepted, "later" fails for now, "never" for good."""

    name = "scripted"

    def send(self, sms: OutboundSms) -> SendResult:
        if sms.text == "later":
            raise TemporaryFailure("busy")
        if sms.text == "never":
            raise PermanentFailure("invalid number")
        return SendResult(f"id-{sms.id}")


def scrape(report: Health | None = None) -> Scrape:
    return Scrape(metrics.exposition(report).decode())


def counters_moved(after: Scrape, before: Scrape) -> dict[tuple[str, str], float]:
    return {key: value for key, value in after.moved(before).items()
            if key[0].endswith(("_total", "_count"))}


def queue(database: Database, clock, *texts: str, **kwargs) -> None:
    with database.connect() as connection:
        for number, text in enumerate(texts):
            enqueue(connection, f"{PHONE[:-2]}{number:02d}", text, clock.now(), **kwargs)


def test_a_dispatch_counts_each_result_and_times_the_gateway_and_the_wait(database, clock):
    queue(database, clock, "ok", "later", "never")
    clock.advance(timedelta(seconds=7))  # the worker comes by 7 s after they were due
    before = scrape()
    Dispatcher(database, ScriptedGateway(), clock, RetryPolicy()).dispatch_once()
    after = scrape()
    assert counters_moved(after, before) == {
        ("sms_ktp_outbound_sms_total", "status=sent"): 1,
        ("sms_ktp_outbound_sms_total", "status=retry"): 1,
        ("sms_ktp_outbound_sms_total", "status=failed"): 1,
        ("sms_ktp_gateway_send_seconds_count", ""): 3,
        ("sms_ktp_outbound_send_delay_seconds_count", ""): 1,
    }
    delay = "sms_ktp_outbound_send_delay_seconds"
    assert after[f"{delay}_sum", ""] - before[f"{delay}_sum", ""] == pytest.approx(7)
    assert after[f"{delay}_bucket", "le=5.0"] == before[f"{delay}_bucket", "le=5.0"]
    assert after[f"{delay}_bucket", "le=10.0"] == before[f"{delay}_bucket", "le=10.0"] + 1


def test_the_gateway_time_leaves_out_the_wait_for_its_rate_limit(database, clock):
    queue(database, clock, "first", "second")
    accepting = SimpleNamespace(name="accepting",
                                send=lambda sms: SendResult(f"id-{sms.id}"))
    limited = RoutingGateway(Route(accepting, RateLimit(5.0)))
    before = scrape()
    assert Dispatcher(database, limited, clock, RetryPolicy()).dispatch_once().sent == 2
    after = scrape()
    assert limited.last_wait > 0.15  # the second waited a fifth of a second
    spent = after["sms_ktp_gateway_send_seconds_sum", ""] - before[
        "sms_ktp_gateway_send_seconds_sum", ""]
    assert spent < 0.1


def test_a_message_parked_after_its_last_lease_expired_counts_as_failed(database, clock):
    queue(database, clock, "ok")
    policy = RetryPolicy(max_attempts=1, lease_seconds=60)
    Dispatcher(database, ScriptedGateway(), clock, policy)._claim()  # then the worker died
    clock.advance(timedelta(seconds=61))
    before = scrape()
    assert Dispatcher(database, ScriptedGateway(), clock, policy).dispatch_once().claimed == 0
    assert counters_moved(scrape(), before) == {("sms_ktp_outbound_sms_total", "status=failed"): 1}


def test_inbound_sms_count_by_outcome_and_dialogues_by_what_they_got_done(database, clock,
                                                                        tmp_path):
    runtime = Runtime(Settings(data_dir=str(tmp_path)), database, clock)
    ids = iter(range(1, 100))

    def receive(text: str, sender: str = PHONE, message_id: str | None = None) -> None:
        sms = InboundSms("africastalking", message_id or f"ATX{next(ids)}", sender, "98765",
                         text, None, None, None)
        receive_sms(database, clock, sms, runtime.dialogue_ttl, runtime.pickup_policy())

    before = scrape()
    receive(f"REG {NIK}#{KK}#")
    receive("3")
    receive("YA", message_id="ATX-ya")
    receive("YA", message_id="ATX-ya")  # the provider retried
    receive("STATUS")
    receive("BERHENTI")
    receive("halo", sender="INFO-XL")  # an operator's robot
    assert counters_moved(scrape(), before) == {
        ("sms_ktp_inbound_sms_total", "outcome=accepted"): 5,
        ("sms_ktp_inbound_sms_total", "outcome=duplicate"): 1,
        ("sms_ktp_inbound_sms_total", "outcome=non_mobile"): 1,
        ("sms_ktp_dialogue_completions_total", "channel=sms,kind=registration"): 1,
        ("sms_ktp_dialogue_completions_total", "channel=sms,kind=status"): 1,
        ("sms_ktp_dialogue_completions_total", "channel=sms,kind=broadcast_opt_out"): 1,
    }


def test_a_whatsapp_registration_is_counted_under_its_channel_at_metrics(clock,
                                                                          whatsapp_service):
    """Over HTTP, as Prometheus scrapes it: WhatsApp messages counted by outcome in their own
    counter (the SMS one does not move), what they got done under channel="whatsapp" (series
    there from the start), and unsigned or wrongly signed calls as refusals."""
    service = whatsapp_service()
    before = http_scrape(service.base_url)
    assert ("sms_ktp_dialogue_completions_total",
            "channel=whatsapp,kind=registration") in before.values  # a known series
    assert ("sms_ktp_inbound_whatsapp_total", "outcome=bad_signature") in before.values
    sent_at = str(int(clock.now().timestamp()))
    for number, message in enumerate((
            inbound_text("wamid.1", PHONE, f"REG {NIK}#{KK}#", timestamp=sent_at),
            inbound_text("wamid.2", PHONE, "3", timestamp=sent_at),
            button_reply("wamid.3", PHONE, "YA", "Kirim", timestamp=sent_at),
            button_reply("wamid.3", PHONE, "YA", "Kirim", timestamp=sent_at))):
        response = post_webhook(f"{service.base_url}/gateway/whatsapp/{TOKEN}",
                                envelope(message))
        assert response.status_code == 200, (number, response.text)
    url = f"{service.base_url}/gateway/whatsapp/{TOKEN}"
    assert requests.post(url, json={}, timeout=10).status_code == 401
    assert requests.post(url, json={}, timeout=10, headers={
        "X-Hub-Signature-256": "sha256=" + "0" * 64}).status_code == 403
    moved = counters_moved(http_scrape(service.base_url), before)
    assert moved == {
        ("sms_ktp_inbound_whatsapp_total", "outcome=accepted"): 3,
        ("sms_ktp_inbound_whatsapp_total", "outcome=duplicate"): 1,  # Meta's retry
        ("sms_ktp_inbound_whatsapp_total", "outcome=unsigned"): 1,
        ("sms_ktp_inbound_whatsapp_total", "outcome=bad_signature"): 1,
        ("sms_ktp_dialogue_completions_total", "channel=whatsapp,kind=registration"): 1,
    }


def http_scrape(base_url: str) -> Scrape:
    response = requests.get(f"{base_url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    return Scrape(response.text)


def test_the_outbox_gauges_are_the_rows_of_the_outbox(database, clock):
    with database.connect() as connection:
        heartbeat.beat(connection, "host:1:0000", clock.now())
    queue(database, clock, "ok", "ok", "ok", "ok")
    queue(database, clock, "ok", "ok", not_before=clock.now() + timedelta(hours=10))
    Dispatcher(database, ScriptedGateway(), clock, RetryPolicy(), batch_size=1)._claim()
    clock.advance(timedelta(seconds=42))
    result = scrape(check(database, clock.now(), HealthSettings()))

    with database.transaction() as session:
        rows = Counter(m.status for m in session.exec(select(OutboxMessage)).all())
    assert rows == Counter(queued=5, sending=1)
    assert result["sms_ktp_outbox_backlog", "status=queued"] == rows["queued"]
    assert result["sms_ktp_outbox_backlog", "status=sending"] == rows["sending"]
    assert result["sms_ktp_outbox_not_due"] == 2
    assert result["sms_ktp_outbox_oldest_due_age_seconds"] == 42
    assert result["sms_ktp_worker_heartbeat_age_seconds"] == 42
    assert (result["sms_ktp_database_up"], result["sms_ktp_healthy"]) == (1, 1)


def test_an_unreachable_database_is_a_gauge_and_the_counters_are_still_served(tmp_path, clock):
    gone = Database(f"sqlite:///{tmp_path / 'nowhere' / 'x.db'}")
    (tmp_path / "nowhere").rmdir()
    try:
        result = scrape(check(gone, clock.now(), HealthSettings()))
    finally:
        gone.dispose()
    assert (result["sms_ktp_database_up"], result["sms_ktp_healthy"]) == (0, 0)
    assert "sms_ktp_outbox_backlog" not in result
    assert "sms_ktp_worker_heartbeat_age_seconds" not in result
    assert ("sms_ktp_inbound_sms_total", "outcome=accepted") in result.values


PROCESS = textwrap.dedent("""
    import sys
    from sms_ktp.platform import metrics
    metrics.sms_received("accepted", completed=["registration"])
    metrics.dispatched(sent=int(sys.argv[1]), retried=0, failed=0)
    metrics.GATEWAY_SECONDS.observe(0.2)
""")


def test_in_multiprocess_mode_one_scrape_adds_up_every_process(tmp_path, monkeypatch):
    """gunicorn's web processes and the worker count apart; a scrape of any of them sees all."""
    folder = tmp_path / "prometheus"
    folder.mkdir()
    environment = {"PROMETHEUS_MULTIPROC_DIR": str(folder), "PATH": "/usr/bin:/bin"}
    processes = [subprocess.Popen([sys.executable, "-c", PROCESS, str(sent)], env=environment)
                 for sent in (2, 3)]
    assert [process.wait(60) for process in processes] == [0, 0]
    assert sorted(path.name for path in folder.iterdir()) == sorted(
        f"{kind}_{process.pid}.db" for process in processes for kind in ("counter", "histogram"))

    monkeypatch.setenv(metrics.MULTIPROC_ENV, str(folder))
    result = scrape()
    assert result["sms_ktp_inbound_sms_total", "outcome=accepted"] == 2
    assert result["sms_ktp_dialogue_completions_total", "channel=sms,kind=registration"] == 2
    assert result["sms_ktp_outbound_sms_total", "status=sent"] == 5
    assert result["sms_ktp_gateway_send_seconds_count"] == 2
    assert result["sms_ktp_outbound_sms_total", "status=retry"] == 0  # known series, from 0

    # gunicorn replaces a web process: what it counted stays in the sums
    metrics.child_exit(None, SimpleNamespace(pid=processes[0].pid))
    assert scrape()["sms_ktp_outbound_sms_total", "status=sent"] == 5


def test_without_multiprocess_mode_a_dead_process_is_nothing_to_forget(monkeypatch):
    monkeypatch.delenv(metrics.MULTIPROC_ENV, raising=False)
    metrics.child_exit(None, SimpleNamespace(pid=12345))  # no folder: nothing to do, no error
