"""Delivery by post instead of a visit, on a real database through the SMS path: what the family
reads (KIRIM, the pickup SMS's offer, the tracking SMS, STATUS, INFO AMBIL) and the rows that
exist (slots given back, the visit's code closed at the counter, the cards' stages)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from sqlalchemy import insert, select

from gateway.message import InboundSms
from gsm7.encoding import septets
from sms_ktp.applications import delivery, pickup
from sms_ktp.channels.sms import receive_sms
from sms_ktp.domain.pickup_calendar import WorkingCalendar, default_offices
from sms_ktp.domain.quiet_hours import QuietHours
from sms_ktp.domain.reference import new_reference
from sms_ktp.models import Application, Family, OutboxMessage, PickupSlot, PickupVisit
from sms_ktp.platform.config import DeliverySettings

PHONE = "+6281234567890"
TTL = timedelta(minutes=30)
KK = "3271010101200003"
NIKS = ("3271014501900001", "3271015507880003", "3271012808750007")
_ids = count(1)
_APPLICATION = Application.__table__


def wib(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC) - timedelta(hours=7)


MONDAY_0900 = wib(2026, 11, 30, 9, 0)  # the pickups are on Tuesday 1 December
TUESDAY_0730 = wib(2026, 12, 1, 7, 30)


def policy(post: bool = True, fee: int = 9000, max_reschedules: int = 2,
           office_name: str | None = None) -> pickup.PickupPolicy:
    offices = default_offices()
    if office_name is not None:
        offices = {code: replace(office, name=office_name) for code, office in offices.items()}
    return pickup.PickupPolicy(offices, WorkingCalendar(), QuietHours(), search_days=30,
                               max_reschedules=max_reschedules,
                               delivery=DeliverySettings(post=post, fee=fee))


def printed(database, clock, *niks: str) -> list[str]:
    """The family's cards of `niks` printed (one family, one KK, the phone's); references."""
    now = clock.now()
    with database.connect() as connection:
        family_id = connection.execute(select(Family.__table__.c.id)
                                       .where(Family.__table__.c.kk_hash == KK)).scalar()
        if family_id is None:
            family_id = connection.execute(insert(Family.__table__).values(
                kk=KK, phone=PHONE, kecamatan_code="01", created_at=now)
                .returning(Family.__table__.c.id)).scalar_one()
        references = []
        for nik in niks:
            reference = new_reference()
            connection.execute(insert(_APPLICATION).values(
                reference=reference, nik=nik, active_nik=nik, family_id=family_id,
                reason="hilang", stage="printed", language="id", channel="sms",
                created_at=now, updated_at=now, printed_at=now))
            references.append(reference)
    return references


def sms(database, clock, rules: pickup.PickupPolicy, text: str) -> str:
    """The reply to one SMS from the family's phone."""
    receive_sms(database, clock, InboundSms("africastalking", f"ATXid_{next(_ids)}", PHONE,
                                            "98765", text, None, None, None), TTL, rules)
    with database.connect() as connection:
        return connection.execute(select(OutboxMessage.text)
                                  .where(OutboxMessage.kind != "notification")
                                  .order_by(OutboxMessage.id.desc()).limit(1)).scalar_one()


QUESTION_ENDS = ("Balas YA untuk kirim pos, TIDAK untuk tetap ambil.",
                 "Reply YES to post, NO to keep the pickup.")


def kirim(database, clock, rules: pickup.PickupPolicy, text: str = "KIRIM") -> str:
    """KIRIM (or another way of asking), which only asks, then YA: the reply to YA."""
    before = [(card.stage, card.pickup_at) for card in cards(database)]
    question = sms(database, clock, rules, text)
    assert question.endswith(QUESTION_ENDS), question
    assert [(card.stage, card.pickup_at) for card in cards(database)] == before
    return sms(database, clock, rules, "YA")


def notifications(database) -> list[OutboxMessage]:
    with database.transaction() as session:
        return list(session.exec(select(OutboxMessage)
                                 .where(OutboxMessage.kind == "notification")
                                 .order_by(OutboxMessage.id)).scalars())


def cards(database) -> list[Application]:
    with database.transaction() as session:
        return list(session.exec(select(Application).order_by(Application.id)).scalars())


def visits(database) -> list[PickupVisit]:
    with database.transaction() as session:
        return list(session.exec(select(PickupVisit).order_by(PickupVisit.id)).scalars())


def booked(database) -> int:
    with database.connect() as connection:
        return sum(connection.execute(select(PickupSlot.__table__.c.booked)).scalars())


def scheduled(database, clock, rules: pickup.PickupPolicy, *niks: str) -> list[str]:
    """Cards printed on Monday morning and given their visit (Tuesday 08.00)."""
    clock.set(MONDAY_0900)
    references = printed(database, clock, *niks)
    pickup.allocate(database, clock, rules)
    return references


# --- the family asks ---------------------------------------------------------------------------
def test_kirim_before_the_visit_posts_the_cards_gives_the_places_back_and_closes_the_code(
        database, clock):
    rules = policy()
    scheduled(database, clock, rules, *NIKS[:2])
    assert len(notifications(database)) == 1 and booked(database) == 2  # one pickup SMS
    code = visits(database)[0].code

    assert kirim(database, clock, rules, "kirim") == (
        "2 KTP-el (NIK ***0001, ***0003) akan dikirim Pos Indonesia ke alamat di KK, tidak "
        "perlu ke kantor. Bayar Rp 9.000 ke kurir. Nomor kiriman menyusul lewat SMS.")

    [visit] = visits(database)
    assert (visit.starts_at, visit.open_code, visit.code) == (None, None, code)
    assert visit.post_requested_at == clock.now()
    assert [(card.stage, card.pickup_at) for card in cards(database)] == [
        ("post_requested", None)] * 2
    assert booked(database) == 0  # both places back in Tuesday's slot
    with pytest.raises(pickup.VerifyError, match="already used"):
        pickup.verify(database, clock, code, "counter")
    assert sms(database, clock, rules, "JADWAL").startswith("Belum ada KTP-el yang siap diambil")
    # Neither a reminder nor a missed visit touches a parcel.
    clock.set(wib(2026, 12, 3, 17, 0))
    assert pickup.remind(database, clock, rules, datetime.min.time()) == 0
    assert pickup.reschedule_missed(database, clock, rules) == 0
    assert {card.stage for card in cards(database)} == {"post_requested"}


def test_the_pickup_sms_offers_posting_where_it_stays_one_sms(database, clock):
    rules = policy()
    scheduled(database, clock, rules, NIKS[0])
    [ticket] = notifications(database)
    assert ticket.text == (
        "KTP-el NIK ***0001 siap diambil Selasa, 1 Desember 2026, 08.00 WIB di Kantor Kec. Bogor "
        f"Selatan, Kota Bogor. Kode {visits(database)[0].code}. Bawa SMS ini. Dikirim pos? "
        "Balas KIRIM")
    assert septets(ticket.text) <= 160
    assert sms(database, clock, rules, "JADWAL") == ticket.text  # JADWAL says it the same way


def test_a_family_visit_listing_its_cards_has_no_room_for_the_offer(database, clock):
    rules = policy()
    scheduled(database, clock, rules, *NIKS[:2])
    [ticket] = notifications(database)
    assert ticket.text.startswith("2 KTP-el (NIK ***0001, ***0003) siap diambil")
    assert ticket.text.endswith("Bawa SMS ini.")


@pytest.mark.parametrize("text", ["KIRIM", "Kirim pos", "antar ke rumah", "POS", "dikirim",
                                  "tolong kirim ktp", "KIRIN", "SEND BY POST"])
def test_the_ways_residents_ask(database, clock, text):
    rules = policy()
    scheduled(database, clock, rules, NIKS[0])
    reply = kirim(database, clock, rules, text)
    assert "akan dikirim Pos Indonesia" in reply or "will be posted by Pos Indonesia" in reply
    assert cards(database)[0].stage == "post_requested"


def test_tidak_keeps_the_pickup_and_nothing_changes(database, clock):
    rules = policy()
    scheduled(database, clock, rules, NIKS[0])
    code = visits(database)[0].open_code
    question = sms(database, clock, rules, "dikirim kapan?")  # a question, not a request
    assert question == ("KTP-el NIK ***0001 dikirim Pos Indonesia ke alamat KK, jadwal ambil "
                        "batal. Bayar Rp 9.000 ke kurir. Balas YA untuk kirim pos, TIDAK untuk "
                        "tetap ambil.")
    assert sms(database, clock, rules, "tidak") == (
        "Baik, tidak dikirim pos: jadwal ambil tetap. Ketik JADWAL untuk hari, jam dan kode "
        "ambil.")
    assert cards(database)[0].stage == "pickup_scheduled" and booked(database) == 1
    assert visits(database)[0].open_code == code


def test_kirim_before_another_keyword_is_that_keyword(database, clock):
    rules = policy()
    scheduled(database, clock, rules, NIKS[0])
    assert sms(database, clock, rules, "Kirim JADWAL").startswith("KTP-el NIK ***0001 siap")
    assert cards(database)[0].stage == "pickup_scheduled"


def test_refused_on_the_visits_own_day(database, clock):
    rules = policy()
    scheduled(database, clock, rules, NIKS[0])
    clock.set(TUESDAY_0730)
    assert sms(database, clock, rules, "KIRIM") == (
        "KTP-el NIK ***0001 sudah disiapkan untuk diambil hari ini, jadi tidak bisa dikirim pos. "
        "Bila tidak sempat datang, ketik KIRIM lagi besok.")
    [visit] = visits(database)
    assert visit.open_code is not None and visit.post_requested_at is None
    assert cards(database)[0].stage == "pickup_scheduled"


def test_off_by_default_the_family_is_told_how_to_collect(database, clock):
    rules = policy(post=False)
    assert rules.delivery == DeliverySettings() and not DeliverySettings().post
    scheduled(database, clock, rules, NIKS[0])
    [ticket] = notifications(database)
    assert ticket.text.endswith("Bawa SMS ini.")  # no offer of posting
    assert sms(database, clock, rules, "KIRIM") == (
        "Maaf, KTP-el belum bisa dikirim lewat pos di daerah ini. Ambil di kantor kecamatan; "
        "ketik JADWAL untuk hari, jam dan kode ambil.")
    assert cards(database)[0].stage == "pickup_scheduled" and booked(database) == 1
    assert sms(database, clock, rules, "INFO AMBIL").startswith(
        "KTP-el diambil di kantor kecamatan sesuai KK")


def test_info_ambil_explains_posting_where_it_is_offered(database, clock):
    assert sms(database, clock, policy(fee=0), "INFO AMBIL") == (
        "Ambil KTP-el di kantor kecamatan sesuai SMS jadwal, atau balas KIRIM sebelum harinya: "
        "dikirim Pos Indonesia ke alamat KK. Tanpa biaya.")


def test_no_card_to_collect_is_said_so(database, clock):
    assert sms(database, clock, policy(), "KIRIM").startswith(
        "Belum ada KTP-el yang bisa dikirim untuk nomor HP ini")


def test_asking_twice_is_answered_with_the_parcel(database, clock):
    rules = policy()
    scheduled(database, clock, rules, NIKS[0])
    kirim(database, clock, rules)
    assert sms(database, clock, rules, "KIRIM") == (
        "KTP-el NIK ***0001 sudah diminta dikirim Pos Indonesia ke alamat di KK. Ketik STATUS "
        "untuk melihat pengiriman dan nomor kirimannya.")


def test_a_family_with_several_visits_gets_them_all_posted_in_one_reply(database, clock):
    rules = policy()
    scheduled(database, clock, rules, NIKS[0])
    # Printed later the same day: too late to join Tuesday's visit, a visit of its own.
    clock.advance(timedelta(hours=2))
    printed(database, clock, NIKS[1])
    pickup.allocate(database, clock, rules)
    assert len(visits(database)) == 2 and booked(database) == 2

    assert kirim(database, clock, rules).startswith(
        "2 KTP-el (NIK ***0001, ***0003) akan dikirim Pos Indonesia")
    assert all(visit.open_code is None and visit.post_requested_at is not None
               for visit in visits(database))
    assert booked(database) == 0
    with database.connect() as connection:
        to_post, on_its_way = delivery.parcels(connection)
    assert [parcel.cards for parcel in to_post] == [
        ((cards(database)[0].reference, "***0001"),), ((cards(database)[1].reference, "***0003"),)]
    assert on_its_way == []


def test_cards_held_at_the_office_after_missed_visits_may_be_posted(database, clock):
    rules = policy(max_reschedules=0)
    scheduled(database, clock, rules, NIKS[0])
    clock.set(wib(2026, 12, 2, 9, 0))  # Tuesday's visit missed
    assert pickup.reschedule_missed(database, clock, rules) == 1
    assert cards(database)[0].stage == "missed_pickup"

    assert kirim(database, clock, rules).startswith("KTP-el NIK ***0001 akan dikirim")
    [visit] = visits(database)
    assert (cards(database)[0].stage, visit.open_code) == ("post_requested", None)


def test_the_offer_is_left_out_where_the_pickup_sms_would_not_stay_one_sms(database, clock):
    rules = policy(office_name="Kantor Kec. Buay Pematang Ribu Ranau Tengah")  # the longest
    scheduled(database, clock, rules, NIKS[0])
    [ticket] = notifications(database)
    assert "KIRIM" not in ticket.text and septets(ticket.text) <= 160


# --- staff: handed to the courier, delivered --------------------------------------------------
def test_the_tracking_number_reaches_the_family_in_one_sms(database, clock):
    rules = policy()
    first, second = scheduled(database, clock, rules, *NIKS[:2])
    kirim(database, clock, rules)
    clock.advance(timedelta(hours=3))

    assert delivery.sent(database, clock, rules, second, " p2212-0100 1234 ", "staff:op") == (
        first, second)

    [visit] = visits(database)
    assert (visit.tracking, visit.posted_at) == ("P2212-01001234", clock.now())
    assert {card.stage for card in cards(database)} == {"posted"}
    [_, posted] = notifications(database)
    assert posted.text == (
        "2 KTP-el (NIK ***0001, ***0003) sudah diserahkan ke Pos Indonesia untuk dikirim ke "
        "alamat di KK. Nomor kiriman: P2212-01001234. Bayar Rp 9.000 ke kurir.")
    assert posted.application_id == cards(database)[0].id and posted.segments == 1
    with pytest.raises(delivery.DeliveryError, match="already"):
        delivery.sent(database, clock, rules, first, "P999999", "staff:op")


@pytest.mark.parametrize("typed", ["", "P12", "P" * 21, "RESI #1", NIKS[0], "3271 0145 0190 0001"])
def test_a_tracking_number_that_is_none_is_refused(database, clock, typed):
    rules = policy()
    [reference] = scheduled(database, clock, rules, NIKS[0])
    kirim(database, clock, rules)
    with pytest.raises(delivery.DeliveryError) as refused:
        delivery.sent(database, clock, rules, reference, typed, "staff:op")
    assert refused.value.why == "tracking"
    assert cards(database)[0].stage == "post_requested"


def test_an_unknown_parcel_is_refused(database, clock):
    rules = policy()
    [reference] = scheduled(database, clock, rules, NIKS[0])  # to collect, not to post
    with pytest.raises(delivery.DeliveryError) as refused:
        delivery.sent(database, clock, rules, reference, "P22120100123", "staff:op")
    assert refused.value.why == "unknown"
    with pytest.raises(delivery.DeliveryError):
        delivery.delivered(database, clock, rules, reference, "staff:op")


def test_delivered_closes_the_cards_and_the_nik_may_apply_again(database, clock):
    rules = policy()
    [reference] = scheduled(database, clock, rules, NIKS[0])
    kirim(database, clock, rules)
    delivery.sent(database, clock, rules, reference, "P22120100123", "staff:op")
    clock.advance(timedelta(days=2))
    before = len(notifications(database))

    assert delivery.delivered(database, clock, rules, reference, "staff:op") == (reference,)

    [card] = cards(database)
    assert (card.stage, card.collected_at, card.active_nik) == ("delivered", clock.now(), None)
    assert visits(database)[0].delivered_at == clock.now()
    assert len(notifications(database)) == before  # no SMS: the family holds the card
    with database.connect() as connection:
        assert delivery.parcels(connection) == ([], [])
    assert sms(database, clock, rules, f"DAFTAR {NIKS[0]}#{KK}#2").startswith("Periksa:")
    assert sms(database, clock, rules, "YA").startswith("Pendaftaran diterima, no ref")


def test_status_says_where_the_card_is(database, clock):
    rules = policy()
    [reference] = scheduled(database, clock, rules, NIKS[0])
    kirim(database, clock, rules)
    assert sms(database, clock, rules, "STATUS") == (
        f"Ref {reference} NIK ***0001: akan dikirim Pos Indonesia ke alamat di KK, menunggu "
        "diserahkan ke kurir. Nomor kiriman dikirim lewat SMS.")
    delivery.sent(database, clock, rules, reference, "P22120100123", "staff:op")
    assert sms(database, clock, rules, f"STATUS {reference}") == (
        f"Ref {reference} NIK ***0001: sudah dikirim Pos Indonesia ke alamat di KK, nomor "
        "kiriman P22120100123.")
    delivery.delivered(database, clock, rules, reference, "staff:op")
    assert sms(database, clock, rules, "STATUS") == (
        f"Ref {reference} NIK ***0001: KTP-el sudah diantar ke alamat di KK. Terima kasih.")


def test_an_english_phone_reads_it_in_english(database, clock):
    rules = policy()
    [reference] = scheduled(database, clock, rules, NIKS[0])
    sms(database, clock, rules, "LANG EN")
    assert kirim(database, clock, rules, "DELIVER") == (
        "KTP-el NIK ***0001 will be posted by Pos Indonesia to your KK address; no need to "
        "come. Pay Rp 9.000 on delivery. The tracking number follows by SMS.")
    delivery.sent(database, clock, rules, reference, "P22120100123", "staff:op")
    assert notifications(database)[-1].text == (
        "KTP-el NIK ***0001 handed to Pos Indonesia for the address on your KK. Tracking "
        "number: P22120100123. Pay Rp 9.000 on delivery.")


def test_a_childs_kia_posted_with_the_parents_ktp_el_is_named_by_its_birth_date(database,
                                                                                  clock):
    rules = policy()
    clock.set(MONDAY_0900)
    [parent] = printed(database, clock, NIKS[0])
    with database.connect() as connection:
        family_id, now = connection.execute(select(_APPLICATION.c.family_id)
                                            .where(_APPLICATION.c.reference == parent)
                                            ).scalar_one(), clock.now()
        connection.execute(insert(_APPLICATION).values(
            reference=new_reference(), nik=NIKS[0], family_id=family_id, document="kia",
            details={"birth_date": "2019-03-12"}, reason="baru", stage="printed",
            language="id", channel="sms", created_at=now, updated_at=now, printed_at=now))
    pickup.allocate(database, clock, rules)
    done = kirim(database, clock, rules)
    # The NIK and the date would make two SMS: the KTP-el is counted, the child still named.
    assert done == ("1 KTP-el dan KIA lhr 12-03-2019 akan dikirim Pos Indonesia ke alamat di "
                    "KK, tidak perlu ke kantor. Bayar Rp 9.000 ke kurir. Nomor kiriman menyusul "
                    "lewat SMS.")
    reference = cards(database)[0].reference
    delivery.sent(database, clock, rules, reference, "PI123456789", "staff:op")
    posted = notifications(database)[-1].text
    assert "KIA lhr 12-03-2019" in posted and septets(posted) <= 160
