"""Broadcasts on a real database: who they reach and on which channel, how fast they are queued,
what a crash, quiet hours and a cancel do, and the progress counted from the outbox."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select, update

from gateway.message import DeliveryReport, OutboundSms, PermanentFailure, SendResult
from sms_ktp.domain.quiet_hours import QuietHours
from sms_ktp.messaging import broadcasts
from sms_ktp.messaging.broadcasts import Audience, BroadcastError
from sms_ktp.messaging.outbox import Dispatcher, RetryPolicy, apply_delivery_report, enqueue
from sms_ktp.messaging.phone_state import purge_expired
from sms_ktp.messaging.whatsapp_window import note_contact
from sms_ktp.models import (
    Application,
    Broadcast,
    Family,
    InboundMessage,
    OutboxMessage,
    PhoneState,
)

NO_QUIET = QuietHours()
QUIET = QuietHours.parse("20:00-07:00")
EVERYONE = Audience("all")
_FAMILY = Family.__table__
_APPLICATION = Application.__table__
_OUTBOX = OutboxMessage.__table__
_BROADCAST = Broadcast.__table__
_STATE = PhoneState.__table__
_INBOUND = InboundMessage.__table__


def phone(number: int) -> str:
    return f"+62812{number:08d}"


class Families:
    """Families, their applications and opt-outs, written straight into the tables."""

    def __init__(self, database, clock) -> None:
        self.database = database
        self.clock = clock
        self.count = 0

    def add(self, number: int, kecamatan: str = "01", *stages: str) -> str:
        self.count += 1
        with self.database.connect() as connection:
            family_id = connection.execute(insert(_FAMILY).values(
                kk=f"3271{kecamatan}01012{self.count:05d}", phone=phone(number),
                kecamatan_code=kecamatan, created_at=self.clock.now()
            ).returning(_FAMILY.c.id)).scalar_one()
            for index, stage in enumerate(stages):
                nik = f"3271014501{self.count:02d}{index:04d}"
                connection.execute(insert(_APPLICATION).values(
                    reference=f"{self.count:05d}{index:04d}", nik=nik, active_nik=None,
                    family_id=family_id, reason="hilang", stage=stage, language="id",
                    channel="sms", created_at=self.clock.now(), updated_at=self.clock.now()))
        return phone(number)

    def many(self, count: int, kecamatan: str = "01") -> list[str]:
        return [self.add(number, kecamatan) for number in range(1, count + 1)]

    def opt_out(self, number: int, out: bool = True) -> None:
        values = {"broadcast_opt_out_at": self.clock.now() if out else None,
                  "updated_at": self.clock.now()}
        with self.database.connect() as connection:
            if connection.execute(update(_STATE).where(_STATE.c.phone == phone(number))
                                  .values(**values)).rowcount == 0:
                connection.execute(insert(_STATE).values(phone=phone(number), **values))


@pytest.fixture
def families(database, clock) -> Families:
    return Families(database, clock)


def create(database, clock, text: str = "Kantor Disdukcapil tutup Jumat 4 Desember.",
           audience: Audience = EVERYONE, send_at: datetime | None = None) -> int:
    with database.connect() as connection:
        return broadcasts.create(connection, text, audience, send_at or clock.now(),
                                 "staff:admin", clock.now())


def run(database, clock, rate: float = 2.0, interval: float = 5.0,
        quiet: QuietHours = NO_QUIET) -> int:
    return broadcasts.queue_due(database, clock, rate, quiet, interval)


def outbox(database) -> list:
    with database.connect() as connection:
        return connection.execute(select(_OUTBOX).order_by(_OUTBOX.c.id)).all()


def broadcast_row(database, broadcast_id: int):
    with database.connect() as connection:
        return connection.execute(select(_BROADCAST).where(_BROADCAST.c.id == broadcast_id)
                                  ).one()


def count(database, audience: str) -> int:
    with database.connect() as connection:
        return broadcasts.count_audience(connection, Audience.parse(audience))


class Gateway:
    name = "counting"

    def __init__(self, refuse: frozenset[str] = frozenset()) -> None:
        self.sent: list[tuple[str, str]] = []
        self.refuse = refuse

    def send(self, sms: OutboundSms) -> SendResult:
        if sms.to in self.refuse:
            raise PermanentFailure("absent subscriber")
        self.sent.append((sms.to, sms.text))
        return SendResult(f"gw-{sms.id}")


def dispatcher(database, clock, gateway: Gateway) -> Dispatcher:
    return Dispatcher(database, gateway, clock, RetryPolicy())


# --- the audience ------------------------------------------------------------------------------
def test_audience_by_each_kind_counts_distinct_phones_without_opted_out(database, families):
    families.add(1, "01", "submitted")
    families.add(2, "01", "print_queue")
    families.add(3, "06", "print_queue", "collected")
    families.add(1, "06")  # one phone speaking for a second family: counted once
    families.add(4, "02", "submitted")
    families.opt_out(4)
    assert count(database, "all") == 3
    assert count(database, "kecamatan:01") == 2
    assert count(database, "kecamatan:06") == 2
    assert count(database, "kecamatan:02") == 0
    assert count(database, "stage:print_queue") == 2
    assert count(database, "stage:submitted") == 1
    assert count(database, "stage:collected") == 1
    assert count(database, "stage:printed") == 0
    families.opt_out(4, out=False)  # MULAI
    assert count(database, "kecamatan:02") == 1
    assert count(database, "all") == 4


def test_a_family_without_a_phone_is_not_in_any_audience(database, clock, families):
    """Its kelurahan is its address: an announcement is not one family's news for the list."""
    families.add(1, "01", "print_queue")
    with database.connect() as connection:
        connection.execute(insert(_FAMILY).values(
            kk="3271010101299999", phone="kel:3271011001", kecamatan_code="01",
            created_at=clock.now()))
    assert [count(database, audience) for audience in ("all", "kecamatan:01")] == [1, 1]
    broadcast = create(database, clock)
    run(database, clock, rate=100.0)
    assert [row.phone for row in outbox(database)] == [phone(1)]
    assert broadcast_row(database, broadcast).status == "done"


@pytest.mark.parametrize("text", ["", "everyone", "kecamatan", "kecamatan:07", "kecamatan:1",
                                  "stage:nonsense", "all:01", "stage"])
def test_an_unknown_audience_is_refused(text):
    with pytest.raises(BroadcastError):
        Audience.parse(text)


# --- creating ----------------------------------------------------------------------------------
def test_create_keeps_the_text_gsm7_and_schedules_it(database, clock, families):
    families.many(3)
    broadcast_id = create(database, clock, "\u201cLayanan\u201d libur \u2013 buka lagi Senin\r\n"
                                           "Disdukcapil Kota Bogor  ")
    row = broadcast_row(database, broadcast_id)
    assert row.text == '"Layanan" libur - buka lagi Senin\nDisdukcapil Kota Bogor'
    assert (row.status, row.recipients, row.queued, row.last_phone) == ("scheduled", 3, 0, None)
    assert (row.audience, row.audience_value, row.created_by) == ("all", None, "staff:admin")
    assert outbox(database) == []  # nothing is queued before the worker's run


def test_create_refuses_an_empty_or_too_long_text_and_an_empty_audience(database, clock,
                                                                        families):
    families.add(1, "01")
    with pytest.raises(BroadcastError, match="Tulis isi"):
        create(database, clock, "   \r\n ")
    with pytest.raises(BroadcastError, match="terlalu panjang"):
        create(database, clock, "x" * (153 * broadcasts.MAX_SEGMENTS + 1))
    create(database, clock, "x" * (153 * broadcasts.MAX_SEGMENTS))  # at the limit
    with pytest.raises(BroadcastError, match="Tidak ada penerima"):
        create(database, clock, "halo", Audience.parse("kecamatan:05"))


def test_cost_is_every_part_of_every_sms():
    assert broadcasts.cost("x" * 160, 1000, 350) == 350_000
    assert broadcasts.cost("x" * 161, 1000, 350) == 700_000


# --- the channels --------------------------------------------------------------------------------
def whatsapp_families(database, clock, families: Families) -> dict[str, str]:
    """Families of Bogor Selatan, by the channel they last used, and one elsewhere."""
    now = clock.now()
    named = {"open": families.add(1), "closed": families.add(2), "sms_since": families.add(3),
             "never": families.add(4), "opted_out": families.add(5),
             "elsewhere": families.add(6, "02")}
    families.opt_out(5)
    with database.connect() as connection:
        for name, hours in (("open", 1), ("closed", 30), ("sms_since", 2), ("opted_out", 1),
                            ("elsewhere", 1)):
            note_contact(connection, named[name], (now - timedelta(hours=hours)).isoformat(), now)
        note_contact(connection, "+6281399999999", now.isoformat(), now)  # not a family's
        connection.execute(insert(_INBOUND).values(
            provider="africastalking", provider_id="ATXid_1", sender=named["sms_since"],
            text="STATUS", received_at=now - timedelta(hours=1)))
    return named


def split(database, audience: str, at: datetime, *, whatsapp: bool = True,
          template: bool = True) -> broadcasts.ChannelSplit:
    with database.read() as connection:
        return broadcasts.channel_split(connection, Audience.parse(audience), at,
                                        whatsapp=whatsapp, template=template)


def test_the_audience_split_by_the_channel_each_family_last_used(database, clock, families):
    whatsapp_families(database, clock, families)
    now = clock.now()
    # By WhatsApp while the window is open (free), the template after it, SMS for the family
    # that wrote by SMS since, or never on WhatsApp; the opted out is in no channel.
    assert split(database, "kecamatan:01", now) == broadcasts.ChannelSplit(
        sms=2, whatsapp_free=1, whatsapp_template=1)
    assert split(database, "all", now) == broadcasts.ChannelSplit(
        sms=2, whatsapp_free=2, whatsapp_template=1)
    # Without a broadcast template, outside the window is SMS; with the channel off, all.
    assert split(database, "kecamatan:01", now, template=False) == broadcasts.ChannelSplit(
        sms=3, whatsapp_free=1)
    assert split(database, "kecamatan:01", now, whatsapp=False) == broadcasts.ChannelSplit(
        sms=4)
    # The window is 24 hours from the message: open one microsecond before, closed at it.
    assert split(database, "kecamatan:01", now + timedelta(hours=23, microseconds=-1)
                 ).whatsapp_free == 1
    assert split(database, "kecamatan:01", now + timedelta(hours=23)) == broadcasts.ChannelSplit(
        sms=2, whatsapp_template=2)
    assert split(database, "stage:submitted", now) == broadcasts.ChannelSplit()
    for audience in ("all", "kecamatan:01", "kecamatan:02"):
        assert split(database, audience, now).recipients == count(database, audience)


def test_the_split_costs_every_sms_part_and_every_template():
    three = broadcasts.ChannelSplit(sms=3, whatsapp_free=5, whatsapp_template=2)
    assert three.recipients == 10
    assert three.cost("x" * 161, 350, 320) == 3 * 2 * 350 + 2 * 320
    assert (three.sms_cost("x" * 161, 350), three.template_cost(320)) == (2100, 640)


def test_the_split_is_what_the_dispatcher_does(database, clock, families):
    """The estimate and the sending read the same rule: the broadcast's rows go as counted."""
    from fake_graph import FakeGraph

    from gateway.whatsapp import WhatsAppGateway, WhatsAppOrSms

    named = whatsapp_families(database, clock, families)
    expected = split(database, "kecamatan:01", clock.now())
    create(database, clock, "Kantor tutup Jumat.", Audience.parse("kecamatan:01"))
    run(database, clock, rate=100.0, interval=1.0)
    clock.advance(timedelta(seconds=1))
    sms = Gateway()
    with FakeGraph() as graph:
        whatsapp = WhatsAppOrSms(WhatsAppGateway(graph.settings()), sms)
        Dispatcher(database, sms, clock, RetryPolicy(), whatsapp=whatsapp,
                   templates={"broadcast": {"name": "pengumuman", "language": "id"}}).drain()
        kinds = Counter(accepted.type for accepted in graph.accepted)
        assert graph.texts_to(named["open"]) == ["Kantor tutup Jumat."]
        [template] = graph.sent_to(named["closed"])
    assert template.body["template"]["name"] == "pengumuman"
    assert sorted(to for to, _ in sms.sent) == [named["sms_since"], named["never"]]
    assert (len(sms.sent), kinds["text"], kinds["template"]) == (
        expected.sms, expected.whatsapp_free, expected.whatsapp_template)
    with database.connect() as connection:
        # The resident opened the WhatsApp text: delivered, and still sent.
        connection.execute(update(_OUTBOX).where(_OUTBOX.c.phone == named["open"])
                           .values(status="read"))
        [mine] = broadcasts.progress(connection, [1]).values()
    assert (mine.queued, mine.waiting, mine.sent, mine.delivered, mine.sent_whatsapp) == (
        4, 0, 4, 1, 2)


# --- queueing ------------------------------------------------------------------------------------
def test_a_run_queues_at_most_the_rate_times_the_interval_in_phone_order(database, clock,
                                                                         families):
    phones = families.many(25)
    broadcast_id = create(database, clock)
    assert run(database, clock, rate=2.0, interval=5.0) == 10
    rows = outbox(database)
    assert [r.phone for r in rows] == phones[:10]
    assert {(r.kind, r.broadcast_id, r.status, r.segments) for r in rows} == {
        ("broadcast", broadcast_id, "queued", 1)}
    # spread over the interval at the gateway's rate: replies written meanwhile go first
    assert [r.next_attempt_at - clock.now() for r in rows] == [
        timedelta(seconds=index / 2) for index in range(10)]
    row = broadcast_row(database, broadcast_id)
    assert (row.status, row.queued, row.last_phone, row.recipients) == (
        "sending", 10, phones[9], 25)

    assert run(database, clock, rate=2.0, interval=5.0) == 10  # running again: the next slice
    assert run(database, clock, rate=2.0, interval=5.0) == 5
    assert [r.phone for r in outbox(database)] == phones  # each phone once, in order
    row = broadcast_row(database, broadcast_id)
    assert (row.status, row.queued, row.finished_at) == ("done", 25, clock.now())
    assert run(database, clock) == 0


def test_a_slice_that_ends_exactly_at_the_last_phone_is_done_at_the_next_run(database, clock,
                                                                             families):
    families.many(10)
    broadcast_id = create(database, clock)
    assert run(database, clock, rate=2.0, interval=5.0) == 10
    assert broadcast_row(database, broadcast_id).status == "sending"
    assert run(database, clock, rate=2.0, interval=5.0) == 0
    assert broadcast_row(database, broadcast_id).status == "done"


def test_broadcasts_due_share_one_budget_oldest_first(database, clock, families):
    families.many(3, "01")
    families.add(50, "02")
    families.add(51, "02")
    first = create(database, clock, "satu", Audience.parse("kecamatan:01"))
    second = create(database, clock, "dua", Audience.parse("kecamatan:02"))
    assert run(database, clock, rate=1.0, interval=4.0) == 4
    rows = outbox(database)
    assert [(r.broadcast_id, r.text) for r in rows] == [(first, "satu")] * 3 + [(second, "dua")]
    # the second broadcast's SMS continue the spacing of the first's
    assert rows[3].next_attempt_at == clock.now() + timedelta(seconds=3)
    assert broadcast_row(database, first).status == "done"
    assert broadcast_row(database, second).status == "sending"


def test_a_broadcast_for_later_waits_until_its_time(database, clock, families):
    families.many(2)
    broadcast_id = create(database, clock, send_at=clock.now() + timedelta(hours=2))
    assert run(database, clock) == 0
    clock.advance(timedelta(hours=2))
    assert run(database, clock) == 2
    assert broadcast_row(database, broadcast_id).status == "done"


def test_a_phone_that_opts_out_while_sending_gets_no_later_slice(database, clock, families):
    phones = families.many(6)
    create(database, clock)
    assert run(database, clock, rate=1.0, interval=3.0) == 3
    families.opt_out(5)
    assert run(database, clock, rate=1.0, interval=3.0) == 2
    assert [r.phone for r in outbox(database)] == phones[:4] + phones[5:]


def test_a_crash_between_slices_resumes_without_duplicates(database, clock, families,
                                                           monkeypatch):
    phones = families.many(12)
    broadcast_id = create(database, clock)
    assert run(database, clock, rate=1.0, interval=5.0) == 5

    real_enqueue = broadcasts.enqueue_many

    def enqueue_then_die(*args, **kwargs):
        real_enqueue(*args, **kwargs)
        raise RuntimeError("worker killed after writing the SMS, before moving on")

    monkeypatch.setattr(broadcasts, "enqueue_many", enqueue_then_die)
    with pytest.raises(RuntimeError):
        run(database, clock, rate=1.0, interval=5.0)
    monkeypatch.undo()
    assert len(outbox(database)) == 5  # the slice and its bookmark rolled back together
    assert broadcast_row(database, broadcast_id).last_phone == phones[4]

    while run(database, clock, rate=1.0, interval=5.0):
        pass
    assert [r.phone for r in outbox(database)] == phones
    assert broadcast_row(database, broadcast_id).queued == 12


def test_a_lost_bookmark_still_queues_no_phone_twice(database, clock, families):
    """The keyset is the plan; the outbox is the proof: a phone with this broadcast is skipped."""
    phones = families.many(6)
    broadcast_id = create(database, clock)
    assert run(database, clock, rate=1.0, interval=4.0) == 4
    with database.connect() as connection:
        connection.execute(update(_BROADCAST).where(_BROADCAST.c.id == broadcast_id)
                           .values(last_phone=None))
    assert run(database, clock, rate=1.0, interval=4.0) == 2
    assert sorted(r.phone for r in outbox(database)) == phones


def test_two_workers_at_once_queue_every_phone_once(database, clock, families):
    phones = families.many(40)
    create(database, clock)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(30):
                run(database, clock, rate=1.0, interval=3.0)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    # On a loaded machine one worker may spend its runs skipping the slice the other holds:
    # what is left is queued now; no phone may have been queued twice either way.
    for _ in range(len(phones)):
        if run(database, clock, rate=1.0, interval=3.0) == 0:
            break
    assert Counter(r.phone for r in outbox(database)) == Counter(phones)


# --- quiet hours -----------------------------------------------------------------------------
def wib(hour: int, minute: int = 0, second: int = 0, day: int = 30) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC) - timedelta(hours=7)


def test_nothing_is_queued_during_quiet_hours_the_broadcast_waits(database, clock, families):
    families.many(4)
    clock.set(wib(21))
    broadcast_id = create(database, clock)
    assert run(database, clock, quiet=QUIET) == 0
    clock.set(wib(6, 59) + timedelta(days=1))  # 06:59 the next morning
    assert run(database, clock, quiet=QUIET) == 0
    assert broadcast_row(database, broadcast_id).status == "scheduled"
    clock.advance(timedelta(minutes=1))  # 07:00
    assert run(database, clock, quiet=QUIET) == 4


def test_a_slice_just_before_quiet_hours_ends_before_they_begin(database, clock, families):
    families.many(30)
    clock.set(wib(19, 59, 50))
    create(database, clock)
    assert run(database, clock, rate=2.0, interval=60.0, quiet=QUIET) == 20  # 10 s left
    assert max(r.next_attempt_at for r in outbox(database)) < wib(20)
    clock.set(wib(20, 0, 5))
    assert run(database, clock, rate=2.0, interval=60.0, quiet=QUIET) == 0


# --- cancelling --------------------------------------------------------------------------------
def test_cancel_stops_queueing_and_never_sends_the_rest(database, clock, families):
    phones = families.many(10)
    broadcast_id = create(database, clock)
    assert run(database, clock, rate=1.0, interval=6.0) == 6  # due at +0 s ... +5 s
    with database.connect() as connection:  # a reply to a resident, waiting in the same outbox
        enqueue(connection, phones[3], "Balasan untuk warga", clock.now())
    gateway = Gateway()
    clock.advance(timedelta(seconds=1))
    assert dispatcher(database, clock, gateway).drain().sent == 3  # +0 s, +1 s and the reply

    with database.connect() as connection:
        assert broadcasts.cancel(connection, broadcast_id, clock.now()) == 4
    row = broadcast_row(database, broadcast_id)
    assert (row.status, row.cancelled_at, row.queued) == ("cancelled", clock.now(), 2)
    with database.connect() as connection, pytest.raises(BroadcastError):
        broadcasts.cancel(connection, broadcast_id, clock.now())

    clock.advance(timedelta(minutes=10))
    assert run(database, clock, rate=1.0, interval=6.0) == 0
    assert dispatcher(database, clock, gateway).drain().sent == 0
    assert gateway.sent == [(phones[0], row.text), (phones[1], row.text),
                            (phones[3], "Balasan untuk warga")]
    with database.connect() as connection:
        progress = broadcasts.progress(connection, [broadcast_id])[broadcast_id]
    assert (progress.queued, progress.sent, progress.waiting) == (2, 2, 0)


def test_cancel_removes_only_the_broadcasts_unsent_sms(database, clock, families):
    phones = families.many(3)
    keep = create(database, clock, "lain")
    run(database, clock, rate=10.0, interval=1.0)
    clock.advance(timedelta(seconds=1))
    doomed = create(database, clock, "batal")
    with database.connect() as connection:
        enqueue(connection, phones[0], "notifikasi", clock.now(), kind="notification")
    clock.advance(timedelta(seconds=1))
    run(database, clock, rate=10.0, interval=1.0)
    with database.connect() as connection:
        assert broadcasts.cancel(connection, doomed, clock.now()) == 3
    assert Counter((r.broadcast_id, r.kind) for r in outbox(database)) == Counter(
        {(keep, "broadcast"): 3, (None, "notification"): 1})


def test_a_broadcast_fully_handed_to_the_gateway_cannot_be_cancelled(database, clock, families):
    families.many(2)
    broadcast_id = create(database, clock)
    run(database, clock, rate=10.0, interval=1.0)
    clock.advance(timedelta(seconds=1))
    dispatcher(database, clock, Gateway()).drain()
    with database.connect() as connection, pytest.raises(BroadcastError, match="selesai"):
        broadcasts.cancel(connection, broadcast_id, clock.now())
    assert broadcast_row(database, broadcast_id).status == "done"


def test_a_scheduled_broadcast_cancelled_before_its_time_never_starts(database, clock,
                                                                      families):
    families.many(2)
    broadcast_id = create(database, clock, send_at=clock.now() + timedelta(hours=1))
    with database.connect() as connection:
        assert broadcasts.cancel(connection, broadcast_id, clock.now()) == 0
    clock.advance(timedelta(hours=2))
    assert run(database, clock) == 0
    assert outbox(database) == []


# --- progress ----------------------------------------------------------------------------------
def test_progress_counts_sent_delivered_and_failed(database, clock, families):
    phones = families.many(5)
    broadcast_id = create(database, clock)
    run(database, clock, rate=100.0, interval=1.0)
    clock.advance(timedelta(seconds=1))
    gateway = Gateway(refuse=frozenset({phones[4]}))
    assert dispatcher(database, clock, gateway).drain().sent == 4
    rows = {r.phone: r for r in outbox(database)}
    with database.transaction() as session:
        for number, status in ((0, "delivered"), (1, "delivered"), (2, "undelivered")):
            report = DeliveryReport("counting", rows[phones[number]].provider_message_id,
                                    status, status, None)
            assert apply_delivery_report(session, report, clock.now())
    with database.connect() as connection:
        progress = broadcasts.progress(connection, [broadcast_id, 999])
    assert progress[999] == broadcasts.Progress()
    mine = progress[broadcast_id]
    assert (mine.recipients, mine.queued, mine.waiting, mine.sent, mine.delivered,
            mine.failed) == (5, 5, 0, 4, 2, 2)
    assert (mine.total, mine.processed) == (5, 5)


# --- the worker --------------------------------------------------------------------------------
def test_the_worker_queues_broadcasts_and_sends_them_at_the_gateways_pace(database, clock,
                                                                          families, tmp_path):
    from apscheduler.schedulers.background import BackgroundScheduler

    from gateway.console import ConsoleGateway
    from sms_ktp.platform.config import Settings
    from sms_ktp.runtime import Runtime
    from sms_ktp.worker import Worker

    phones = families.many(3)
    settings = Settings(data_dir=str(tmp_path))
    settings.broadcasts.rate_per_second = 0.25  # one SMS every 4 s: 2 in a 10 s slice
    worker = Worker(Runtime(settings, database, clock, ConsoleGateway(tmp_path / "out.jsonl")))
    assert worker.broadcast_interval == 10.0
    create(database, clock, "Siaran uji")
    done = worker.run_once()
    assert (done["broadcast"], done["sent"]) == (2, 1)  # the second one is due in 4 s
    clock.advance(timedelta(seconds=10))
    done = worker.run_once()
    assert (done["broadcast"], done["sent"]) == (1, 2)
    assert sorted(r.phone for r in outbox(database) if r.status == "sent") == phones

    scheduler = BackgroundScheduler()
    worker._add_jobs(scheduler)
    job = scheduler.get_job("queue_broadcasts")
    assert job is not None and job.trigger.interval == timedelta(seconds=10)
    settings.broadcasts.rate_per_second = 0.05  # slower than one per slice: longer slices
    assert worker.broadcast_interval == 20.0


# --- the opt-out is kept -------------------------------------------------------------------------
def test_purging_old_dialogues_keeps_an_opt_out(database, clock, families):
    families.add(1, "01")
    families.opt_out(1)
    with database.connect() as connection:
        purge_expired(connection, clock.now() + timedelta(days=2))
    assert count(database, "all") == 0
