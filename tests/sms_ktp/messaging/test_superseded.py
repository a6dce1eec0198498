"""Notifications superseded by a later change of their application, on a real database: one at a
time and in the set-based path of thousands, never a notice in flight, never a reminder's
pickup SMS, and the worker sending what is left exactly once."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import count

from sqlalchemy import insert
from sqlmodel import select

from gateway.message import OutboundSms, SendResult
from sms_ktp.applications import pipeline
from sms_ktp.applications.pipeline import Move, change_stages
from sms_ktp.domain.quiet_hours import QuietHours
from sms_ktp.domain.stages import Stage
from sms_ktp.messaging.outbox import Dispatcher, RetryPolicy
from sms_ktp.models import Application, ApplicationEvent, Family, OutboxMessage

QUIET = QuietHours.parse("20:00-07:00")
NIGHT = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)  # Monday 21:00 WIB
MORNING = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)  # Tuesday 07:00 WIB
_families = count(1)


class Gateway:
    """The SMS operator at the edge: counts what it is asked to send; `hold` keeps a send
    waiting (in flight) until the test lets it go."""

    name = "counting"

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()
        self.hold: threading.Event | None = None
        self.entered = threading.Event()

    def send(self, sms: OutboundSms) -> SendResult:
        self.entered.set()
        if self.hold is not None:
            assert self.hold.wait(30)
        self.sent[sms.text] += 1
        return SendResult(f"id-{sms.id}")


def family(database, clock, members: int, phone: str = "+6281234567890") -> list[int]:
    """A family with `members` applications in penunggalan."""
    serial = next(_families)
    with database.connect() as connection:
        family_id = connection.execute(insert(Family.__table__).values(
            kk=f"32710101{serial:08d}", phone=phone, kecamatan_code="01",
            created_at=clock.now()).returning(Family.__table__.c.id)).scalar_one()
        niks = [f"3271014501{serial:02d}{member:04d}" for member in range(members)]
        rows = [{"reference": f"{serial:04d}{member:05d}", "nik": nik, "active_nik": nik,
                 "family_id": family_id, "reason": "hilang", "stage": Stage.PENUNGGALAN.value,
                 "language": "id", "channel": "sms", "created_at": clock.now(),
                 "updated_at": clock.now()}
                for member, nik in enumerate(niks)]
        connection.execute(insert(Application.__table__), rows)
        return list(connection.execute(
            select(Application.id).where(Application.family_id == family_id)
            .order_by(Application.id)).scalars())


def move(database, clock, ids: list[int], to: Stage, **options) -> None:
    with database.connect() as connection:
        change_stages(connection, [Move(i) for i in ids], to, actor="operator:test",
                      now=clock.now(), quiet=QUIET, **options)


def notices(database) -> list[OutboxMessage]:
    with database.transaction() as session:
        return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all())


def latest_events(database) -> dict[int, int]:
    with database.transaction() as session:
        events = session.exec(select(ApplicationEvent)).all()
    latest: dict[int, int] = {}
    for event in events:
        latest[event.application_id] = max(latest.get(event.application_id, 0), event.id)
    return latest


def check_superseded(database, ids: list[int], others: list[int]) -> None:
    """Every print-queue notice of `ids` superseded by its own application's cancellation,
    a cancellation notice queued for each; the notices of `others` untouched."""
    latest = latest_events(database)
    rows = notices(database)
    old = [m for m in rows if m.application_id in ids and "antre cetak" in m.text]
    new = [m for m in rows if m.application_id in ids and "dibatalkan petugas" in m.text]
    assert len(old) == len(new) == len(ids)
    assert all(m.status == "superseded" and m.superseded_by == latest[m.application_id]
               for m in old)
    assert all(m.status == "queued" and m.superseded_by is None for m in new)
    assert {m.application_id for m in new} == set(ids)
    # Each notice names what it is (its WhatsApp template), on either path.
    assert {m.notice for m in old} == {"notify.print_queue"}
    assert {m.notice for m in new} == {"notify.cancelled"}
    untouched = [m for m in rows if m.application_id in others]
    assert untouched and all(m.status == "queued" for m in untouched)


def test_a_change_supersedes_its_applications_queued_notices_and_queues_its_own(database, clock):
    clock.set(NIGHT)
    ids, others = family(database, clock, 3), family(database, clock, 2)
    move(database, clock, ids + others, Stage.PRINT_QUEUE)  # "Kini antre cetak", held
    move(database, clock, ids, Stage.CANCELLED)
    check_superseded(database, ids, others)


def test_the_set_based_path_supersedes_thousands_the_same_way(database, clock):
    clock.set(NIGHT)
    ids = family(database, clock, pipeline.SET_BASED_FROM + 50)
    others = family(database, clock, 2)
    move(database, clock, ids + others, Stage.PRINT_QUEUE)
    move(database, clock, ids, Stage.CANCELLED)
    check_superseded(database, ids, others)


def test_a_change_without_a_notice_of_its_own_still_supersedes(database, clock):
    clock.set(NIGHT)
    ids = family(database, clock, 2)
    move(database, clock, ids, Stage.PRINT_QUEUE)
    move(database, clock, ids, Stage.PRINTED)  # "now in the print queue" is no longer true
    assert [m.status for m in notices(database)] == ["superseded", "superseded"]


def test_a_reminder_adds_to_the_pickup_sms_and_supersedes_nothing(database, clock):
    clock.set(NIGHT)
    ids = family(database, clock, 1)
    move(database, clock, ids, Stage.PRINT_QUEUE)
    move(database, clock, ids, Stage.PICKUP_SCHEDULED, notice="", supersedes=False)
    assert [m.status for m in notices(database)] == ["queued"]


def test_what_the_worker_sends_in_the_morning_is_only_what_is_still_true(database, clock):
    clock.set(NIGHT)
    moved, kept = family(database, clock, 2), family(database, clock, 1, "+6285711112222")
    move(database, clock, moved + kept, Stage.PRINT_QUEUE)
    move(database, clock, moved, Stage.CANCELLED)
    gateway = Gateway()
    dispatcher = Dispatcher(database, gateway, clock, RetryPolicy())
    assert dispatcher.drain().claimed == 0  # quiet hours
    clock.set(MORNING)
    dispatcher.drain()
    dispatcher.drain()
    texts = list(gateway.sent.elements())
    assert len(texts) == 3 and set(gateway.sent.values()) == {1}
    assert sum("dibatalkan petugas" in text for text in texts) == 2
    assert sum("antre cetak" in text for text in texts) == 1  # the family that did not move
    assert Counter(m.status for m in notices(database)) == {"sent": 3, "superseded": 2}


def test_a_notice_already_in_flight_is_left_to_finish_and_sent_once(database, clock):
    clock.set(MORNING)
    ids = family(database, clock, 1)
    move(database, clock, ids, Stage.PRINT_QUEUE)  # due at once: it is morning
    gateway = Gateway()
    gateway.hold = threading.Event()
    dispatcher = Dispatcher(database, gateway, clock, RetryPolicy())
    sending = threading.Thread(target=dispatcher.dispatch_once)
    sending.start()
    try:
        assert gateway.entered.wait(30)  # claimed and at the gateway now
        move(database, clock, ids, Stage.CANCELLED)
    finally:
        gateway.hold.set()
        sending.join(30)
    first, second = notices(database)
    assert (first.status, first.superseded_by) == ("sent", None)
    assert second.status == "queued" and "dibatalkan petugas" in second.text
    clock.advance(timedelta(seconds=1))
    gateway.hold = None
    dispatcher.drain()
    assert sorted(gateway.sent.values()) == [1, 1]
    assert [m.status for m in notices(database)] == ["sent", "sent"]
