"""The health report, read from a real database: heartbeats, the outbox, and a database that is
not there."""

from __future__ import annotations

import logging
import shutil
import socket
from datetime import timedelta

import pytest

from gateway.message import OutboundSms, SendResult
from sms_ktp.messaging.outbox import Dispatcher, RetryPolicy, enqueue
from sms_ktp.platform import heartbeat
from sms_ktp.platform.config import HealthSettings
from sms_ktp.platform.db import Database
from sms_ktp.platform.health import check

LIMITS = HealthSettings(max_heartbeat_age_seconds=60, max_oldest_queued_seconds=300)
PHONE = "+6281234567890"


class AcceptingGateway:
    name = "accepting"

    def send(self, sms: OutboundSms) -> SendResult:
        return SendResult(f"id-{sms.id}")


def beat(database: Database, clock, worker: str = "host:1:0000") -> None:
    with database.connect() as connection:
        heartbeat.beat(connection, worker, clock.now())


def queue(database: Database, clock, text: str = "halo", **kwargs) -> None:
    with database.connect() as connection:
        enqueue(connection, PHONE, text, clock.now(), **kwargs)


def test_a_beating_worker_and_an_empty_outbox_are_healthy(database, clock):
    beat(database, clock)
    report = check(database, clock.now(), LIMITS)
    assert report.healthy and report.problems == ()
    assert report.as_json() == {
        "healthy": True, "problems": [], "database": True, "worker_heartbeat_age_seconds": 0.0,
        "outbox_backlog": 0, "outbox_not_due": 0, "oldest_queued_age_seconds": None,
        "gateways": [], "checked_at": clock.now().isoformat()}


def test_a_worker_on_the_fallback_gateway_is_a_problem_the_others_are_not(database, clock):
    with database.connect() as connection:
        heartbeat.beat(connection, "a:1:0000", clock.now(), "gammu")
        heartbeat.beat(connection, "b:2:0000", clock.now(), "gammu")
    report = check(database, clock.now(), LIMITS, primary="gammu", fallback="http")
    assert report.healthy and report.as_json()["gateways"] == ["gammu"]
    with database.connect() as connection:
        heartbeat.beat(connection, "b:2:0000", clock.now(), "http")
    report = check(database, clock.now(), LIMITS, primary="gammu", fallback="http")
    assert report.gateways == ("gammu", "http")
    assert report.problems == ("SMS go through the fallback gateway http: gammu keeps failing",)
    # a worker that stopped beating long ago says nothing about now
    clock.advance(timedelta(seconds=61))
    with database.connect() as connection:
        heartbeat.beat(connection, "a:1:0000", clock.now(), "gammu")
    assert check(database, clock.now(), LIMITS, primary="gammu", fallback="http").problems == ()


def test_no_worker_ever_beating_is_a_problem(database, clock):
    report = check(database, clock.now(), LIMITS)
    assert report.worker_heartbeat_age_seconds is None
    assert report.problems == ("no worker heartbeat",)


def test_the_freshest_heartbeat_counts_and_a_stale_one_is_a_problem(database, clock):
    beat(database, clock, "old:1:0000")
    clock.advance(timedelta(seconds=50))
    beat(database, clock, "new:2:0000")
    clock.advance(timedelta(seconds=60))
    assert check(database, clock.now(), LIMITS).healthy  # 60 s: at the limit, not past it
    clock.advance(timedelta(seconds=1))
    report = check(database, clock.now(), LIMITS)
    assert report.worker_heartbeat_age_seconds == 61
    assert report.problems == ("worker heartbeat 61 s old",)


def test_an_sms_due_longer_than_the_limit_is_a_problem(database, clock):
    queue(database, clock)
    clock.advance(timedelta(seconds=300))
    beat(database, clock)
    report = check(database, clock.now(), LIMITS)
    assert (report.healthy, report.outbox_backlog, report.oldest_queued_age_seconds) == (
        True, 1, 300)
    clock.advance(timedelta(seconds=1))
    beat(database, clock)
    report = check(database, clock.now(), LIMITS)
    assert report.problems == ("an SMS due 301 s ago is not sent",)

    Dispatcher(database, AcceptingGateway(), clock, RetryPolicy()).drain()
    report = check(database, clock.now(), LIMITS)
    assert (report.healthy, report.outbox_backlog, report.oldest_queued_age_seconds) == (
        True, 0, None)


def test_an_sms_held_back_on_purpose_is_late_only_from_the_moment_it_is_due(database, clock):
    """Quiet hours: written at 09:00, held until 07:00 tomorrow. At 2 a.m. it is waiting as
    it should; at 07:06 the worker should have sent it."""
    release = clock.now() + timedelta(hours=22)
    queue(database, clock, "jadwal ambil", kind="notification", not_before=release)
    clock.set(release - timedelta(hours=5))
    beat(database, clock)
    report = check(database, clock.now(), LIMITS)
    assert report.healthy
    assert (report.outbox_backlog, report.outbox_not_due, report.oldest_queued_age_seconds) == (
        1, 1, None)

    clock.set(release + timedelta(minutes=6))
    beat(database, clock)
    report = check(database, clock.now(), LIMITS)
    assert (report.outbox_backlog, report.outbox_not_due, report.oldest_queued_age_seconds) == (
        1, 0, 360)
    assert report.problems == ("an SMS due 360 s ago is not sent",)


def test_messages_claimed_by_a_worker_are_backlog_until_the_gateway_answers(database, clock):
    for text in ("satu", "dua", "tiga"):
        queue(database, clock, text)
    Dispatcher(database, AcceptingGateway(), clock, RetryPolicy(), batch_size=1)._claim()
    clock.advance(timedelta(seconds=30))
    report = check(database, clock.now(), LIMITS)
    assert (report.outbox_queued, report.outbox_sending, report.outbox_backlog,
            report.oldest_queued_age_seconds) == (2, 1, 3, 30)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("where", ["sqlite-file-removed", "postgresql-closed-port"])
def test_an_unreachable_database_is_a_finding_not_an_error(where, tmp_path, clock, caplog):
    if where == "sqlite-file-removed":
        gone = Database(f"sqlite:///{tmp_path / 'gone' / 'sms-ktp.db'}")
        shutil.rmtree(tmp_path / "gone")
    else:
        gone = Database(f"postgresql+psycopg://sms_ktp:s3cret-pw@127.0.0.1:{_closed_port()}/x")
    try:
        with caplog.at_level(logging.WARNING, logger="sms_ktp.platform.health"):
            report = check(gone, clock.now(), LIMITS)
    finally:
        gone.dispose()
    assert (report.database, report.healthy, report.problems) == (
        False, False, ("database unreachable",))
    assert report.as_json()["outbox_backlog"] is None
    assert "database unreachable" in caplog.text and "s3cret" not in caplog.text


def test_a_database_without_the_tables_is_unreachable_too(tmp_path, clock):
    empty = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        assert check(empty, clock.now(), LIMITS).problems == ("database unreachable",)
    finally:
        empty.dispose()
