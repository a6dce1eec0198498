"""The runtime's pickup policy: the configuration's offices with the back office's changes over
them, and a change made by another process used within `office_check_seconds`, with no query
per SMS in between."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import event

from sms_ktp.applications import office_settings
from sms_ktp.platform.clock import FixedClock
from sms_ktp.platform.config import Settings
from sms_ktp.runtime import OFFICE_CHECK_SECONDS, Runtime

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


def runtime(database, ticks: Ticks) -> Runtime:
    settings = Settings()
    settings.database.url = database.url
    settings.pickup.offices = [{"code": "03", "address": "Jl. Juanda", "capacity": 15}]
    return Runtime(settings, database, FixedClock(NOW), monotonic=ticks)


def save(database, code: str, **values) -> None:
    with database.connect() as connection:
        office_settings.save(connection, code, values, [{"code": "03", "address": "Jl. Juanda",
                                                         "capacity": 15}], "staff:a", NOW)


def count_queries(database) -> list[str]:
    seen: list[str] = []
    event.listen(database.engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_: seen.append(statement))
    return seen


def test_the_offices_are_the_file_with_the_stored_changes_over_it(database):
    save(database, "03", capacity=25)
    policy = runtime(database, Ticks()).pickup_policy()
    assert policy.offices["03"].capacity == 25
    assert policy.offices["03"].address == "Jl. Juanda"
    assert policy.offices["01"].capacity == 10


def test_another_process_sees_a_change_within_the_check_interval(database):
    ticks = Ticks()
    worker = runtime(database, ticks)  # e.g. the worker process
    first = worker.pickup_policy()
    assert first.offices["03"].capacity == 15
    save(database, "03", capacity=30)  # the web process saves a change
    ticks.value += OFFICE_CHECK_SECONDS - 0.5
    assert worker.pickup_policy() is first  # not yet: no query before the interval
    ticks.value += 1
    changed = worker.pickup_policy()
    assert changed.offices["03"].capacity == 30
    assert changed.calendar is first.calendar  # holidays are not loaded again
    ticks.value += OFFICE_CHECK_SECONDS
    assert worker.pickup_policy() is changed  # read again, nothing new: the same policy


def test_the_per_sms_path_queries_at_most_once_per_interval(database):
    ticks = Ticks()
    web = runtime(database, ticks)
    web.pickup_policy()
    queries = count_queries(database)
    for _ in range(100):  # a burst of SMS within a second
        web.pickup_policy()
        ticks.value += 0.01
    assert queries == []
    ticks.value += OFFICE_CHECK_SECONDS
    web.pickup_policy()
    assert len([q for q in queries if "office_setting" in q]) == 1


def test_the_saving_process_uses_its_change_at_once(database):
    ticks = Ticks()
    web = runtime(database, ticks)
    web.pickup_policy()
    save(database, "01", slot_minutes=15)
    web.refresh_pickup_policy()
    assert web.pickup_policy().offices["01"].slot_minutes == 15


def test_a_reset_office_follows_the_file_again(database):
    ticks = Ticks()
    worker = runtime(database, ticks)
    save(database, "03", capacity=30)
    assert worker.pickup_policy().offices["03"].capacity == 30
    with database.connect() as connection:
        office_settings.reset(connection, "03")
    ticks.value += OFFICE_CHECK_SECONDS
    assert worker.pickup_policy().offices["03"].capacity == 15


def test_no_sms_waits_while_another_thread_checks(database):
    ticks = Ticks()
    web = runtime(database, ticks)
    first = web.pickup_policy()
    save(database, "03", capacity=30)
    ticks.value += OFFICE_CHECK_SECONDS
    with web._policy_lock:  # another thread is reading the changes right now
        assert web.pickup_policy() is first
    assert web.pickup_policy().offices["03"].capacity == 30


def test_a_database_error_keeps_the_offices_it_has(database, monkeypatch, caplog):
    from sqlalchemy.exc import OperationalError

    ticks = Ticks()
    worker = runtime(database, ticks)
    save(database, "03", capacity=30)
    assert worker.pickup_policy().offices["03"].capacity == 30

    def down(_connection):
        raise OperationalError("SELECT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(office_settings, "stored", down)
    ticks.value += OFFICE_CHECK_SECONDS
    assert worker.pickup_policy().offices["03"].capacity == 30
    assert "changes from the back office not read" in caplog.text


def test_a_check_due_inside_a_transaction_reads_at_once(database):
    """A page that reads the offices in the middle of its transaction (an application moved on
    at the back office) gets them at once, changes included: on SQLite a second writing
    transaction of the same thread would wait for the first for the whole busy timeout."""
    ticks = Ticks()
    web = runtime(database, ticks)
    web.pickup_policy()
    save(database, "03", capacity=30)
    ticks.value += OFFICE_CHECK_SECONDS
    with database.connect() as connection:
        connection.exec_driver_sql("SELECT 1")
        assert web.pickup_policy().offices["03"].capacity == 30
