"""The database layer: what survives a database restart, and the SQLite write queue."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from sqlalchemy import create_engine, text
from sqlmodel import select

from gateway.message import InboundSms
from sms_ktp.applications.pickup import PickupPolicy
from sms_ktp.channels.sms import receive_sms
from sms_ktp.domain.pickup_calendar import WorkingCalendar, default_offices
from sms_ktp.domain.quiet_hours import QuietHours
from sms_ktp.models import InboundMessage, OutboxMessage
from sms_ktp.platform.db import Database

POLICY = PickupPolicy(default_offices(), WorkingCalendar(), QuietHours())
TTL = timedelta(minutes=30)


def sms(number: int) -> InboundSms:
    return InboundSms("africastalking", f"ATXid_{number}", "+6281234567890", "98765", "STATUS",
                      None, None, None)


def test_an_sms_arriving_after_a_database_restart_is_handled(postgres_database, clock,
                                                             postgres_url):
    database = postgres_database
    receive_sms(database, clock, sms(1), TTL, POLICY)  # the pool holds a connection
    with database.engine.connect() as connection:
        pooled = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    admin = create_engine(postgres_url)
    with admin.begin() as connection:  # what a restart does to every open connection
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pooled})
    admin.dispose()
    received = receive_sms(database, clock, sms(2), TTL, POLICY)
    assert received.replies == 1 and not received.duplicate
    with database.transaction() as session:
        assert len(session.exec(select(InboundMessage)).all()) == 2
        assert len(session.exec(select(OutboxMessage)).all()) == 2


def test_sqlite_writers_of_one_process_queue_instead_of_failing(tmp_path, clock):
    database = Database(f"sqlite:///{tmp_path / 'queue.db'}")
    database.create_schema()
    errors: list[BaseException] = []

    def send(first: int) -> None:
        try:
            for number in range(first, first + 50):
                receive_sms(database, clock, sms(number), TTL, POLICY)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=send, args=(n * 1000,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with database.transaction() as session:
        assert len(session.exec(select(OutboxMessage)).all()) == 300


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'wal.db'}")
    try:
        with database.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        database.dispose()


def test_a_sqlite_writer_of_another_process_waits_for_the_lock_instead_of_failing(tmp_path, clock):
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    holder, waiter = Database(url), Database(url)  # two engines: as two processes
    holder.create_schema()
    waited: list[float] = []

    def write() -> None:
        began = time.monotonic()
        receive_sms(waiter, clock, sms(1), TTL, POLICY)
        waited.append(time.monotonic() - began)

    try:
        with holder.connect():  # BEGIN IMMEDIATE: the file's write lock, held for a moment
            thread = threading.Thread(target=write)
            thread.start()
            time.sleep(0.5)
            assert waited == []
        thread.join(30)
        assert len(waited) == 1 and waited[0] >= 0.4
    finally:
        holder.dispose()
        waiter.dispose()
