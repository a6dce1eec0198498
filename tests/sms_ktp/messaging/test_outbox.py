"""The outbox on a real database: leases, crashes, concurrency, requeue."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

from sqlalchemy import Column, Integer, MetaData, String, Table, insert
from sqlmodel import select

from gateway.message import OutboundSms, SendResult, TemporaryFailure
from sms_ktp.messaging.outbox import (
    Dispatcher,
    RetryPolicy,
    enqueue,
    enqueue_many,
    enqueue_selected,
    outgoing,
    requeue_failed,
)
from sms_ktp.models import OutboxMessage


class CountingGateway:
    """The SMS operator at the edge: counts what it is asked to send."""

    name = "counting"

    def __init__(self, fail: bool = False) -> None:
        self.sent: Counter[str] = Counter()
        self.texts: list[tuple[str, str]] = []
        self.fail = fail
        self._lock = threading.Lock()

    def send(self, sms: OutboundSms) -> SendResult:
        if self.fail:
            raise TemporaryFailure("gateway down")
        with self._lock:
            self.sent[sms.id] += 1
            self.texts.append((sms.to, sms.text))
        return SendResult(f"id-{sms.id}")


def queue(database, clock, count: int, phones: int = 0) -> None:
    with database.connect() as connection:
        for i in range(count):
            phone = f"+62812{(i % phones if phones else i):08d}"
            enqueue(connection, phone, f"pesan {i}", clock.now())


def statuses(database) -> Counter[str]:
    with database.transaction() as session:
        return Counter(m.status for m in session.exec(select(OutboxMessage)).all())


def test_enqueue_keeps_text_gsm7_and_counts_segments(database, clock):
    with database.connect() as connection:
        uid = enqueue(connection, "+6281200000001", "\u201cYA\u201d \u2013 oke\u2026", clock.now())
    with database.transaction() as session:
        message = session.exec(select(OutboxMessage).where(OutboxMessage.uid == uid)).one()
    assert (message.text, message.segments, message.status) == ('"YA" - oke...', 1, "queued")


def test_a_worker_that_dies_mid_send_leaves_a_lease_that_expires(database, clock):
    queue(database, clock, 3)
    gateway = CountingGateway()
    policy = RetryPolicy(lease_seconds=60)
    crashed = Dispatcher(database, gateway, clock, policy)
    claimed = crashed._claim()  # claimed, then the process is killed before sending
    assert len(claimed) == 3 and statuses(database) == Counter(sending=3)

    survivor = Dispatcher(database, gateway, clock, policy)
    assert survivor.drain().claimed == 0  # leases still held
    clock.advance(timedelta(seconds=61))
    assert survivor.drain().sent == 3
    assert set(gateway.sent.values()) == {1} and len(gateway.sent) == 3
    assert statuses(database) == Counter(sent=3)


def test_two_dispatchers_at_once_send_every_message_exactly_once(database, clock):
    queue(database, clock, 300, phones=120)
    gateway = CountingGateway()
    dispatchers = [Dispatcher(database, gateway, clock, RetryPolicy(), batch_size=25)
                   for _ in range(2)]
    threads = [threading.Thread(target=d.drain) for d in dispatchers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(gateway.sent) == 300 and set(gateway.sent.values()) == {1}
    assert statuses(database) == Counter(sent=300)
    by_phone: dict[str, list[int]] = {}
    for phone, text in gateway.texts:
        by_phone.setdefault(phone, []).append(int(text.split()[1]))
    assert all(numbers == sorted(numbers) for numbers in by_phone.values())


def test_failed_messages_can_be_requeued_after_an_outage(database, clock):
    queue(database, clock, 2)
    down = Dispatcher(database, CountingGateway(fail=True), clock,
                      RetryPolicy(max_attempts=2, base_seconds=1, max_seconds=1))
    for _ in range(3):
        down.drain()
        clock.advance(timedelta(seconds=5))
    assert statuses(database) == Counter(failed=2)

    with database.transaction() as session:
        assert requeue_failed(session, clock.now()) == 2
    gateway = CountingGateway()
    assert Dispatcher(database, gateway, clock, RetryPolicy()).drain().sent == 2
    assert statuses(database) == Counter(sent=2)


def test_backoff_grows_and_is_capped_with_jitter():
    policy = RetryPolicy(base_seconds=30, max_seconds=3600)
    delays = [policy.delay(n).total_seconds() for n in range(1, 12)]
    assert 15 <= delays[0] <= 30 and 30 <= delays[1] <= 60 and 60 <= delays[2] <= 120
    assert all(1800 <= d <= 3600 for d in delays[7:])
    assert len({policy.delay(3).total_seconds() for _ in range(20)}) > 1


def test_a_batch_queued_at_once_or_from_a_table_leaves_in_order_with_distinct_uids(
        database, clock):
    later = clock.now() + timedelta(hours=1)
    texts = [f"pesan \u201c{i}\u201d" for i in range(300)]
    staged = Table("staged_sms", MetaData(), Column("n", Integer, primary_key=True),
                   Column("phone", String(20)), Column("text", String(1000)),
                   Column("segments", Integer), prefixes=["TEMPORARY"])
    with database.connect() as connection:
        enqueue_many(connection, [("+6281200000001", text) for text in texts[:150]],
                     clock.now(), kind="notification")
        staged.create(connection)
        connection.execute(insert(staged), [
            {"n": 1000 - i, **outgoing("+6281200000002", text)}
            for i, text in enumerate(texts[150:])])
        enqueue_selected(connection, select(staged.c.phone, staged.c.text, staged.c.segments)
                         .order_by(staged.c.n.desc()), clock.now(), kind="notification",
                         not_before=later)
        staged.drop(connection)
    with database.transaction() as session:
        rows = session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [row.text for row in rows] == [text.replace("\u201c", '"').replace("\u201d", '"')
                                          for text in texts]
    assert len({row.uid for row in rows}) == 300
    assert all(len(row.uid) == 32 and int(row.uid, 16) >= 0 for row in rows)
    assert {(row.kind, row.status, row.segments, row.attempts) for row in rows} == {
        ("notification", "queued", 1, 0)}
    assert {row.next_attempt_at for row in rows[:150]} == {clock.now()}
    assert {row.next_attempt_at for row in rows[150:]} == {later}
    assert {row.created_at for row in rows} == {clock.now()}

    gateway = CountingGateway()
    Dispatcher(database, gateway, clock, RetryPolicy()).drain()
    assert [text for _, text in gateway.texts] == [row.text for row in rows[:150]]
    clock.advance(timedelta(hours=1))
    Dispatcher(database, gateway, clock, RetryPolicy()).drain()
    assert [text for _, text in gateway.texts] == [row.text for row in rows]
