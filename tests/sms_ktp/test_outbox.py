"""The outbox on a real database: leases, crashes, concurrency, requeue."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

from sqlmodel import select

from gateway.message import OutboundSms, SendResult, TemporaryFailure
from sms_ktp.models import OutboxMessage
from sms_ktp.outbox import Dispatcher, RetryPolicy, enqueue, requeue_failed


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
