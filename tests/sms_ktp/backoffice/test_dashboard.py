"""The dashboard's figures on both databases: what is counted, on which Jakarta day, and what
an operator's scope leaves out."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert

from sms_ktp.backoffice.dashboard import (
    STAGE_COLUMNS,
    applications_by_document,
    applications_by_stage,
    channels_over,
    daily_activity,
    dashboard,
    day_span,
    pickups_today,
    print_queue,
    sms_today,
)
from sms_ktp.domain import region
from sms_ktp.models import Application, BlangkoMovement, Family, OutboxMessage, PrintBatch

# The clock fixture: Monday 30 November 2026, 09:00 WIB (02:00 UTC).
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
TODAY = date(2026, 11, 30)
WIB = timedelta(hours=7)


def wib(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    """A wall-clock time in Bogor as the UTC instant the database stores."""
    return datetime(2026, month, day, hour, minute, tzinfo=UTC) - WIB


class Seed:
    """Families and applications written straight into the tables."""

    def __init__(self, database) -> None:
        self.database = database
        self.numbers = itertools.count(1)
        self.families: dict[str, int] = {}

    def family(self, kecamatan: str, phone: str | None = None) -> int:
        serial = next(self.numbers)
        with self.database.connect() as connection:
            family_id = connection.execute(insert(Family.__table__).values(
                kk=f"3271{kecamatan}{serial:010d}", phone=phone or f"+62812{serial:07d}",
                kecamatan_code=kecamatan, created_at=NOW).returning(Family.__table__.c.id)
            ).scalar_one()
        self.families.setdefault(kecamatan, family_id)
        return family_id

    def application(self, kecamatan: str, stage: str, count: int = 1, **values) -> None:
        family_id = self.families.get(kecamatan) or self.family(kecamatan)
        rows = []
        for _ in range(count):
            serial = next(self.numbers)
            rows.append({"reference": f"{serial:09d}", "nik": f"3271014501{serial:06d}",
                         "family_id": family_id, "reason": "hilang", "stage": stage,
                         "language": "id", "channel": "sms", "created_at": NOW,
                         "updated_at": NOW, **values})
        with self.database.connect() as connection:
            connection.execute(insert(Application.__table__), rows)

    def sms(self, status: str, created_at: datetime = NOW, segments: int = 1,
            phone: str = "+6281200000000", **values) -> None:
        serial = next(self.numbers)
        with self.database.connect() as connection:
            connection.execute(insert(OutboxMessage.__table__).values(
                uid=f"uid{serial}", phone=phone, text="Halo", segments=segments,
                status=status, next_attempt_at=created_at, created_at=created_at, **values))


@pytest.fixture
def seed(database) -> Seed:
    return Seed(database)


def read(database, query, *args, **kwargs):
    with database.connect() as connection:
        return query(connection, *args, **kwargs)


def test_a_jakarta_day_starts_at_17_utc_the_day_before():
    assert day_span(TODAY) == (datetime(2026, 11, 29, 17, tzinfo=UTC),
                               datetime(2026, 11, 30, 17, tzinfo=UTC))


@pytest.mark.parametrize(("code", "start_hour"), [("7371", 16), ("9171", 15)])
def test_a_day_of_makassar_or_jayapura_starts_earlier_in_utc(code, start_hour):
    region.configure(region.region(code))
    assert day_span(TODAY) == (datetime(2026, 11, 29, start_hour, tzinfo=UTC),
                               datetime(2026, 11, 30, start_hour, tzinfo=UTC))


def test_today_on_the_dashboard_of_makassar_is_the_wita_day(database, seed):
    """At 00.30 WITA on 1 December (16.30 UTC on 30 November) Makassar's "today" is already
    1 December, while it is still 30 November in Bogor."""
    region.configure(region.region("7371"))
    now = datetime(2026, 11, 30, 16, 30, tzinfo=UTC)
    wita, registered_before = timedelta(hours=8), {"created_at": NOW - timedelta(days=9)}
    seed.application("01", "pickup_scheduled", 2, pickup_office="01", **registered_before,
                     pickup_at=datetime(2026, 12, 1, 8, tzinfo=UTC) - wita)
    seed.application("01", "pickup_scheduled", 1, pickup_office="01", **registered_before,
                     pickup_at=datetime(2026, 11, 30, 15, tzinfo=UTC) - wita)
    seed.application("01", "submitted", 3, created_at=now - timedelta(minutes=20))  # 00.10 WITA
    seed.application("01", "submitted", 1, created_at=now - timedelta(minutes=40))  # 23.50 WITA
    seed.sms("delivered", now - timedelta(minutes=10))
    seed.sms("delivered", now - timedelta(minutes=45))

    pickups = read(database, pickups_today, now, slot_minutes={"01": 30})
    assert pickups.day == date(2026, 12, 1)
    first = {row.office: row for row in pickups.offices}["01"]
    assert (first.booked, first.to_come, first.missed) == (2, 2, 0)
    registered = dict(read(database, daily_activity, now).registrations)
    assert registered[date(2026, 12, 1)] == 3 and registered[date(2026, 11, 30)] == 1
    sms = read(database, sms_today, now)
    assert (sms.day, sms.messages) == (date(2026, 12, 1), 1)


def test_applications_are_counted_per_kecamatan_of_the_kk_and_per_stage(database, seed, clock):
    seed.application("01", "submitted", 3)
    seed.application("01", "print_queue", 2)
    seed.application("06", "collected", 4)
    seed.application("06", "submitted")

    table = read(database, applications_by_stage)

    assert [row.kecamatan for row in table.rows] == ["01", "02", "03", "04", "05", "06"]
    # Every stage of the documents offered (all five by default), in the pipelines' order.
    assert table.stages == STAGE_COLUMNS
    assert table.count("01", "submitted") == 3 and table.count("01", "print_queue") == 2
    assert table.count("06", "collected") == 4 and table.count("06", "submitted") == 1
    assert table.count("03", "submitted") == 0
    assert [row.total for row in table.rows] == [5, 0, 0, 0, 0, 5]
    assert table.totals["submitted"] == 4 and table.totals["collected"] == 4
    assert table.total == 10


def test_an_operator_sees_only_the_applications_of_their_kecamatan(database, seed):
    seed.application("01", "submitted", 3)
    seed.application("06", "printed", 2)

    table = read(database, applications_by_stage, "06")

    assert [row.kecamatan for row in table.rows] == ["06"]
    assert table.count("06", "printed") == 2 and table.totals["submitted"] == 0
    assert table.total == 2


def add_blangko(database, site: str, count: int) -> None:
    with database.connect() as connection:
        connection.execute(insert(BlangkoMovement.__table__).values(
            site=site, delta=count, reason="added", actor="test", at=NOW))


def open_batch(database, site: str, size: int) -> int:
    with database.connect() as connection:
        return connection.execute(insert(PrintBatch.__table__).values(
            site=site, size=size, created_at=NOW).returning(PrintBatch.__table__.c.id)
        ).scalar_one()


def test_the_print_queue_beyond_the_free_blangko_is_a_shortfall(database, seed):
    add_blangko(database, "disdukcapil", 10)
    add_blangko(database, "mpp", 3)
    seed.application("01", "print_queue", 2, print_batch_id=open_batch(database, "disdukcapil", 2))
    seed.application("01", "print_queue", 9)
    seed.application("06", "print_queue", 5)
    seed.application("06", "printed", 7)  # printed cards wait for nothing

    city = read(database, print_queue, ["disdukcapil", "mpp"])

    assert (city.waiting, city.in_batch, city.waiting_city) == (14, 2, 14)
    assert [(s.site, s.total, s.reserved, s.free) for s in city.stocks] == [
        ("disdukcapil", 10, 2, 8), ("mpp", 3, 0, 3)]
    assert city.free == 11 and city.shortfall == 3

    operator = read(database, print_queue, ["disdukcapil", "mpp"], "06")
    assert (operator.waiting, operator.in_batch) == (5, 0)
    assert operator.waiting_city == 14 and operator.shortfall == 3  # blangko are the city's


def test_kia_cards_have_a_queue_and_blangko_of_their_own(database, seed):
    add_blangko(database, "disdukcapil", 10)
    with database.connect() as connection:
        connection.execute(insert(BlangkoMovement.__table__).values(
            site="disdukcapil", card="kia", delta=2, reason="added", actor="test", at=NOW))
    seed.application("01", "print_queue", 4)
    seed.application("01", "print_queue", 3, document="kia", ready_at=NOW - timedelta(days=9))
    seed.application("06", "print_queue", 1, document="kia", ready_at=NOW)

    ktp = read(database, print_queue, ["disdukcapil"])
    kia = read(database, print_queue, ["disdukcapil"], None, "kia")
    assert (ktp.card, ktp.waiting_city, ktp.free, ktp.shortfall) == ("ktp", 4, 10, 0)
    assert (kia.card, kia.waiting_city, kia.free, kia.shortfall) == ("kia", 4, 2, 2)
    assert (kia.for_batch, kia.for_blangko) == (2, 2)
    # Kecamatan 06's KIA is the youngest: the 2 KIA blangko go to 01's older ones.
    operator = read(database, print_queue, ["disdukcapil"], "06", "kia")
    assert (operator.waiting, operator.for_batch, operator.for_blangko) == (1, 0, 1)


def test_enough_blangko_is_no_shortfall(database, seed):
    add_blangko(database, "disdukcapil", 20)
    seed.application("02", "print_queue", 20)

    queue = read(database, print_queue, ["disdukcapil"])

    assert queue.waiting == 20 and queue.free == 20 and queue.shortfall == 0


def test_todays_pickups_per_office(database, seed, clock):
    office = {"pickup_office": "01"}
    # Slots of 30 minutes; it is 09:00: the 08:00 and 08:30 slots are over.
    seed.application("01", "pickup_scheduled", 2, pickup_at=wib(30, 8), **office)
    seed.application("01", "pickup_scheduled", 1, pickup_at=wib(30, 8, 30), **office)
    seed.application("01", "pickup_scheduled", 3, pickup_at=wib(30, 9), **office)
    seed.application("01", "pickup_scheduled", 1, pickup_at=wib(30, 14, 30), **office)
    seed.application("01", "collected", 2, pickup_at=wib(30, 8), collected_at=wib(30, 8, 10),
                     **office)
    # Collected today although booked for Friday; booked for another day; a missed card held.
    seed.application("01", "collected", 1, pickup_at=wib(27, 10), collected_at=wib(30, 8, 5),
                     **office)
    seed.application("01", "pickup_scheduled", 4, pickup_at=wib(1, 8, month=12), **office)
    seed.application("01", "pickup_scheduled", 1, pickup_at=wib(29, 23, 59), **office)
    seed.application("01", "collected", 1, pickup_at=wib(27, 9), collected_at=wib(29, 23, 59),
                     **office)
    seed.application("06", "pickup_scheduled", 2, pickup_at=wib(30, 0, 0), pickup_office="06")

    pickups = read(database, pickups_today, NOW, slot_minutes={"01": 30, "06": 30})

    assert pickups.day == TODAY
    rows = {row.office: row for row in pickups.offices}
    assert [row.office for row in pickups.offices] == ["01", "02", "03", "04", "05", "06"]
    first = rows["01"]
    assert (first.booked, first.collected, first.to_come, first.missed) == (9, 3, 4, 3)
    last = rows["06"]
    assert (last.booked, last.collected, last.to_come, last.missed) == (2, 0, 0, 2)
    assert (rows["03"].booked, rows["03"].collected) == (0, 0)
    assert pickups.total.booked == 11 and pickups.total.missed == 5

    # An hour later the 09:00 slot is over too.
    later = read(database, pickups_today, NOW + timedelta(hours=1), slot_minutes={"01": 30})
    assert {row.office: row.missed for row in later.offices}["01"] == 6

    operator = read(database, pickups_today, NOW, "06", slot_minutes={"06": 30})
    assert [(row.office, row.booked, row.missed) for row in operator.offices] == [("06", 2, 2)]


def test_todays_sms_by_status_with_segments_and_cost(database, seed):
    seed.sms("delivered", segments=1)
    seed.sms("delivered", wib(30, 0, 0), segments=2)
    seed.sms("sent", segments=1)
    seed.sms("buffered", segments=1)
    seed.sms("failed", segments=3)
    seed.sms("undelivered", segments=1)
    seed.sms("queued", segments=1)
    seed.sms("sending", segments=1)
    seed.sms("delivered", wib(29, 23, 59), segments=5)  # yesterday in Bogor
    seed.sms("superseded", segments=2)  # never sent: neither counted as waiting nor billed

    sms = read(database, sms_today, NOW)

    assert sms.day == TODAY
    assert (sms.queued, sms.sent, sms.delivered, sms.failed) == (2, 2, 2, 2)
    assert sms.superseded == 1
    assert sms.messages == 8 and sms.segments == 11
    assert sms.estimated_cost(350) == 3850


def test_todays_messages_per_channel_with_their_cost(database, seed):
    seed.sms("delivered", segments=2)  # an SMS reply: billed per segment
    seed.sms("sent", segments=1, kind="pickup")
    seed.sms("failed", segments=1, kind="pickup")  # an SMS that failed is billed all the same
    whatsapp = {"channel": "whatsapp", "provider": "whatsapp"}
    template = {**whatsapp, "template": "ktp_jadwal_ambil"}
    seed.sms("read", **whatsapp)  # a reply inside the 24-hour window: free
    seed.sms("delivered", kind="notification", **template)  # a notice as a template: billed
    seed.sms("delivered", kind="notification", **whatsapp)  # as a text in the window: free
    seed.sms("queued", channel="whatsapp")  # a reply not sent yet
    seed.sms("failed", kind="notification", **template)  # Meta bills a delivered message only
    seed.sms("superseded", kind="notification", channel="whatsapp")  # never leaves
    # A phone on WhatsApp, its window closed: the notice went, and is counted, as an SMS.
    seed.sms("sent", segments=2, kind="printed", channel="sms", provider="console")
    seed.sms("delivered", wib(29, 23, 59), kind="notification", **template)  # yesterday

    day = read(database, sms_today, NOW)

    sms, wa = day.channel("sms"), day.channel("whatsapp")
    assert (sms.messages, sms.delivered, sms.failed, sms.segments) == (4, 1, 1, 6)
    assert (wa.messages, wa.delivered, wa.failed, wa.billed) == (5, 3, 1, 1)
    assert day.messages == 9 and day.superseded == 1 and day.segments == 6
    assert sms.estimated_cost(350, 320) == 2100 and wa.estimated_cost(350, 320) == 320
    assert day.estimated_cost(350, 320) == 2420
    assert day.estimated_cost(350) == 2100  # WhatsApp at no price: the SMS alone

    span = read(database, channels_over, NOW)
    assert (span.first, span.last) == (TODAY - timedelta(days=29), TODAY)
    assert span.channel("whatsapp").billed == 2 and span.channel("sms").messages == 4
    assert span.estimated_cost(350, 320) == 2100 + 640


def test_an_operator_sees_the_sms_to_families_of_their_kecamatan(database, seed):
    seed.family("06", phone="+6285711112222")
    seed.family("01", phone="+6281234567890")
    seed.sms("delivered", phone="+6285711112222", segments=2)
    seed.sms("failed", phone="+6281234567890")
    seed.sms("queued", phone="+6289999999999")  # a phone with no family yet

    assert read(database, sms_today, NOW, "06").delivered == 1
    mine = read(database, sms_today, NOW, "06")
    assert (mine.messages, mine.segments, mine.failed) == (1, 2, 0)
    assert read(database, sms_today, NOW).messages == 3


def test_activity_per_local_day_over_the_last_30_days(database, seed):
    seed.application("01", "submitted", 2, created_at=wib(30, 8))
    seed.application("01", "submitted", 1, created_at=wib(29, 23, 30))  # 16:30 UTC on the 29th
    seed.application("01", "submitted", 1, created_at=wib(30, 0, 30))  # 17:30 UTC on the 29th
    seed.application("01", "submitted", 1, created_at=wib(1, 0, 0))  # the window's first day
    seed.application("01", "submitted", 4, created_at=wib(31, 23, 59, month=10))  # before it
    seed.application("06", "collected", 3, created_at=wib(2, 8), printed_at=wib(20, 10),
                     collected_at=wib(27, 13), pickup_office="06")
    seed.application("06", "printed", 2, created_at=wib(2, 8), printed_at=wib(30, 8, 30))

    activity = read(database, daily_activity, NOW)

    days = [day for day, _ in activity.registrations]
    assert len(days) == 30 and days[0] == date(2026, 11, 1) and days[-1] == TODAY
    registered = dict(activity.registrations)
    assert registered[TODAY] == 3 and registered[date(2026, 11, 29)] == 1
    assert registered[date(2026, 11, 1)] == 1 and registered[date(2026, 11, 2)] == 5
    assert sum(registered.values()) == 10  # not the 4 of 31 October
    assert dict(activity.printed) == {**dict.fromkeys(days, 0), date(2026, 11, 20): 3,
                                      TODAY: 2}
    assert dict(activity.collected)[date(2026, 11, 27)] == 3
    assert sum(dict(activity.collected).values()) == 3

    operator = read(database, daily_activity, NOW, "01")
    assert sum(count for _, count in operator.registrations) == 5
    assert sum(count for _, count in operator.printed) == 0
    assert sum(count for _, count in operator.collected) == 0


def test_the_whole_dashboard_in_one_call(database, seed):
    add_blangko(database, "disdukcapil", 1)
    seed.application("05", "print_queue", 3)
    seed.sms("delivered", segments=2)

    figures = read(database, dashboard, NOW, sites=["disdukcapil"])

    assert figures.office is None and figures.at == NOW
    assert figures.stages.total == 3 and figures.printing.shortfall == 2
    assert figures.sms.segments == 2
    assert sum(count for _, count in figures.activity.registrations) == 3


def test_applications_are_counted_per_document_and_stage(database, seed):
    seed.application("01", "submitted", 3)
    seed.application("01", "submitted", 2, document="kk", reason="pisah")
    seed.application("06", "signed", 1, document="kk", reason="hilang")
    seed.application("06", "print_queue", 4, document="kia", reason="baru")

    table = read(database, applications_by_document)

    assert [row.document for row in table.rows] == ["ktp", "kk", "akta_lahir", "akta_mati",
                                                    "kia"]
    assert table.count("ktp", "submitted") == 3 and table.count("kk", "submitted") == 2
    assert table.count("kk", "signed") == 1 and table.count("kia", "print_queue") == 4
    assert [row.total for row in table.rows] == [3, 3, 0, 0, 4]
    assert table.totals["submitted"] == 5 and table.total == 10
    kk = next(row for row in table.rows if row.document == "kk")
    assert "signed" in kk.stages and "penunggalan" not in kk.stages
    # One document's stages per kecamatan, in its own columns.
    kk_table = read(database, applications_by_stage, None, "kk")
    assert kk_table.stages == ("submitted", "papers_checked", "signed", "ready", "collected",
                               "rejected", "cancelled")
    assert kk_table.count("01", "submitted") == 2 and kk_table.count("06", "signed") == 1
    assert kk_table.total == 3
    # An operator's kecamatan only.
    assert read(database, applications_by_document, "06").total == 5


def test_a_document_no_longer_offered_keeps_its_row_and_stages_only_offered_ones(database,
                                                                               seed):
    from sms_ktp.domain import documents

    seed.application("01", "submitted", 2)
    seed.application("01", "signed", 1, document="akta_mati", reason="kematian")
    offered = documents.enabled()
    documents.configure(["ktp"])
    try:
        table = read(database, applications_by_document)
        by_stage = read(database, applications_by_stage)
    finally:
        documents.configure(offered)
    assert [row.document for row in table.rows] == ["ktp", "akta_mati"]
    assert table.stages[-1] == "signed" and "papers_checked" not in table.stages
    assert "signed" in by_stage.stages and "papers_checked" not in by_stage.stages


def test_registrations_per_day_and_document(database, seed):
    seed.application("01", "submitted", 2, created_at=wib(30, 8))
    seed.application("01", "submitted", 1, created_at=wib(29, 8), document="kk",
                     reason="tambah")
    seed.application("06", "submitted", 3, created_at=wib(30, 8), document="kia",
                     reason="baru")

    activity = read(database, daily_activity, NOW)
    assert set(activity.by_document) == {"ktp", "kk", "akta_lahir", "akta_mati", "kia"}
    assert dict(activity.by_document["kk"])[date(2026, 11, 29)] == 1
    assert dict(activity.by_document["kia"])[TODAY] == 3
    assert dict(activity.registrations)[TODAY] == 5
    assert sum(count for _, count in activity.by_document["akta_mati"]) == 0

    kia = read(database, daily_activity, NOW, document="kia")
    assert dict(kia.registrations)[TODAY] == 3 and sum(c for _, c in kia.registrations) == 3
    figures = read(database, dashboard, NOW, document="kk")
    assert figures.document == "kk" and figures.stages.total == 1
    assert figures.documents.total == 6


def test_a_signed_pdf_collected_today_is_no_pickup_of_an_office(database, seed):
    seed.application("01", "collected", 1, pickup_office="01", pickup_at=wib(30, 8),
                     collected_at=wib(30, 8, 30))
    seed.application("01", "collected", 2, document="kk", reason="hilang",
                     collected_at=wib(30, 8, 45))

    pickups = read(database, pickups_today, NOW)
    assert [row.office for row in pickups.offices] == ["01", "02", "03", "04", "05", "06"]
    assert pickups.total.collected == 1
    # Handed over all the same: the day's figure counts every document.
    assert dict(read(database, daily_activity, NOW).collected)[TODAY] == 3
