"""Pickup scheduling on a real database with an injected clock: the calendar, capacity, families,
reminders, missed pickups and the counter."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from sqlalchemy import insert
from sqlmodel import select

from sms_ktp.applications import pickup
from sms_ktp.domain.pickup_calendar import WorkingCalendar, default_offices, local
from sms_ktp.domain.quiet_hours import QuietHours, parse_local_time
from sms_ktp.models import Application, Family, OutboxMessage, PickupSlot

_serials = count(1)


def policy(capacity: int | None = None, quiet: str = "", max_reschedules: int = 2):
    offices = default_offices()
    if capacity is not None:
        from dataclasses import replace

        offices = {code: replace(office, capacity=capacity) for code, office in offices.items()}
    return pickup.PickupPolicy(offices, WorkingCalendar(), QuietHours.parse(quiet),
                               search_days=30, max_reschedules=max_reschedules)


def printed(database, clock, members: int = 1, kecamatan: str = "01",
            phone: str = "+6281234567890") -> list[int]:
    """A family with `members` printed cards."""
    serial = next(_serials)
    with database.connect() as connection:
        family_id = connection.execute(insert(Family.__table__).values(
            kk=f"3271{kecamatan}0101{serial:06d}", phone=phone, kecamatan_code=kecamatan,
            created_at=clock.now()).returning(Family.__table__.c.id)).scalar_one()
        ids = []
        for member in range(members):
            nik = f"32710145019{serial:03d}{member + 1:02d}"
            ids.append(connection.execute(insert(Application.__table__).values(
                reference=f"{serial:06d}{member:03d}", nik=nik, active_nik=nik,
                family_id=family_id, reason="baru", stage="printed", language="id",
                channel="sms", created_at=clock.now(), updated_at=clock.now(),
                printed_at=clock.now()).returning(Application.__table__.c.id)).scalar_one())
    return ids


def applications(database) -> list[Application]:
    with database.transaction() as session:
        return list(session.exec(select(Application).order_by(Application.id)).all())


def sms(database) -> list[OutboxMessage]:
    with database.transaction() as session:
        return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all())


def wib(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC) - timedelta(hours=7)


def test_the_first_slot_is_the_next_working_day_and_the_sms_says_it_all(database, clock):
    clock.set(wib(2026, 11, 27, 10, 0))  # Friday morning
    printed(database, clock)
    assert pickup.allocate(database, clock, policy()) == 1
    [card] = applications(database)
    assert card.stage == "pickup_scheduled" and card.pickup_office == "01"
    assert local(card.pickup_at) == wib(2026, 11, 30, 8, 0).astimezone(local(card.pickup_at).tzinfo)
    assert len(card.pickup_code) == 6 and card.open_code == card.pickup_code
    [message] = sms(database)
    assert message.text == (
        f"KTP-el NIK ***{card.nik[-4:]} siap diambil Senin, 30 November 2026, 08.00 WIB di "
        f"Kantor Kec. Bogor Selatan, Kota Bogor. Kode {card.pickup_code}. Bawa SMS ini.")
    assert card.nik not in message.text
    assert message.kind == "notification" and message.segments == 1
    assert pickup.allocate(database, clock, policy()) == 0  # nothing twice


def test_holidays_and_cuti_bersama_are_skipped(database, clock):
    # Wednesday 23 December 2026: the 24th is cuti bersama, the 25th Christmas, then a weekend.
    clock.set(wib(2026, 12, 23, 9, 0))
    printed(database, clock)
    pickup.allocate(database, clock, policy())
    [card] = applications(database)
    assert local(card.pickup_at).date().isoformat() == "2026-12-28"


def test_capacity_holds_with_two_allocation_runs_at_once(database, clock):
    clock.set(wib(2026, 11, 30, 9, 0))
    for _ in range(45):
        printed(database, clock)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            pickup.allocate(database, clock, policy(capacity=4))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    cards = applications(database)
    assert all(card.stage == "pickup_scheduled" for card in cards)
    per_slot = Counter(card.pickup_at for card in cards)
    assert max(per_slot.values()) == 4 and sum(per_slot.values()) == 45
    with database.transaction() as session:
        slots = {slot.starts_at: slot.booked for slot in session.exec(select(PickupSlot))}
    assert all(slots[start] == booked for start, booked in per_slot.items())
    assert len({card.pickup_code for card in cards}) == 45
    assert len(sms(database)) == 45


def test_a_family_comes_together_when_a_slot_has_room(database, clock):
    clock.set(wib(2026, 11, 30, 9, 0))
    printed(database, clock, members=2)  # takes 2 of the first slot's 3 places
    family = printed(database, clock, members=3)
    pickup.allocate(database, clock, policy(capacity=3))
    cards = {card.id: card for card in applications(database)}
    assert len({cards[i].pickup_at for i in family}) == 1
    assert local(cards[family[0]].pickup_at).hour == 8 and local(
        cards[family[0]].pickup_at).minute == 30  # the second slot: the first had 1 place


def test_reminder_on_the_working_day_before_at_the_configured_time(database, clock):
    clock.set(wib(2026, 11, 25, 9, 0))  # Wednesday: Thursday's 14 slots of 1 fill up first
    for _ in range(15):
        printed(database, clock, kecamatan="02")
    pickup.allocate(database, clock, policy(capacity=1))
    card = applications(database)[-1]
    assert local(card.pickup_at).date().isoformat() == "2026-11-27"  # Friday
    at = parse_local_time("16:00")
    clock.set(wib(2026, 11, 25, 16, 30))  # the day before Thursday's pickups: those only
    assert pickup.remind(database, clock, policy(), at) == 0  # told at allocation already
    clock.set(wib(2026, 11, 26, 15, 59))
    assert pickup.remind(database, clock, policy(), at) == 0
    clock.set(wib(2026, 11, 26, 16, 0))
    assert pickup.remind(database, clock, policy(), at) == 1
    assert pickup.remind(database, clock, policy(), at) == 0  # once
    reminder = sms(database)[-1].text
    assert reminder.startswith("Pengingat: ambil KTP-el NIK ***")
    assert "Jumat, 27 November 2026, 08.00 WIB di Kantor Kec." in reminder


def test_a_pickup_tomorrow_needs_no_extra_reminder(database, clock):
    clock.set(wib(2026, 11, 26, 17, 0))
    printed(database, clock)
    pickup.allocate(database, clock, policy())
    assert pickup.remind(database, clock, policy(), parse_local_time("16:00")) == 0
    assert len(sms(database)) == 1


def test_missed_pickups_are_rescheduled_then_held(database, clock):
    clock.set(wib(2026, 11, 30, 9, 0))
    printed(database, clock)
    pickup.allocate(database, clock, policy())
    [card] = applications(database)
    code, masked = card.pickup_code, f"***{card.nik[-4:]}"
    assert local(card.pickup_at).date().isoformat() == "2026-12-01"
    clock.set(wib(2026, 12, 1, 23, 0))  # still the pickup day: not missed yet
    assert pickup.reschedule_missed(database, clock, policy(max_reschedules=2)) == 0
    for missed_at, next_day in ((wib(2026, 12, 2, 0, 5), "2026-12-03"),
                                (wib(2026, 12, 4, 0, 5), "2026-12-07")):  # over the weekend
        clock.set(missed_at)
        assert pickup.reschedule_missed(database, clock, policy(max_reschedules=2)) == 1
        [card] = applications(database)
        assert local(card.pickup_at).date().isoformat() == next_day
        assert sms(database)[-1].text.startswith(f"Jadwal ambil KTP-el NIK {masked} terlewat.")
        assert code in sms(database)[-1].text
    clock.set(wib(2026, 12, 8, 6, 0))
    assert pickup.reschedule_missed(database, clock, policy(max_reschedules=2)) == 1
    [card] = applications(database)
    assert (card.stage, card.pickup_at, card.open_code) == ("missed_pickup", None, code)
    assert sms(database)[-1].text == (f"KTP-el NIK {masked} disimpan di Kantor Kec. Bogor "
                                      f"Selatan. Ambil pada jam kerja dengan menunjukkan kode "
                                      f"{code}.")
    assert pickup.verify(database, clock, code.lower(), "counter") == card.reference


def test_a_code_is_used_once(database, clock):
    clock.set(wib(2026, 11, 30, 9, 0))
    printed(database, clock)
    pickup.allocate(database, clock, policy())
    [card] = applications(database)
    assert pickup.verify(database, clock, card.pickup_code, "counter:1") == card.reference
    [card] = applications(database)
    assert (card.stage, card.open_code, card.active_nik) == ("collected", None, None)
    with pytest.raises(pickup.VerifyError, match="already used"):
        pickup.verify(database, clock, card.pickup_code, "counter:1")
    with pytest.raises(pickup.VerifyError, match="unknown pickup code XXXXXX"):
        pickup.verify(database, clock, "xxxxxx", "counter:1")


def test_a_pickup_sms_scheduled_at_night_waits_for_morning(database, clock):
    clock.set(wib(2026, 11, 30, 22, 0))
    printed(database, clock)
    pickup.allocate(database, clock, policy(quiet="20:00-07:00"))
    [message] = sms(database)
    assert local(message.next_attempt_at).hour == 7


def test_a_large_batch_takes_the_set_based_path_with_the_same_result(database, clock,
                                                                     monkeypatch):
    from sms_ktp.applications import pipeline
    from sms_ktp.models import ApplicationEvent

    monkeypatch.setattr(pipeline, "SET_BASED_FROM", 2)
    clock.set(wib(2026, 11, 30, 9, 0))
    ids = [card for _ in range(4) for card in printed(database, clock, members=2)]
    assert pickup.allocate(database, clock, policy(capacity=3)) == 8
    cards = applications(database)
    assert all(card.stage == "pickup_scheduled" and card.pickup_code for card in cards)
    assert max(Counter(card.pickup_at for card in cards).values()) <= 3
    with database.transaction() as session:
        events = session.exec(select(ApplicationEvent)).all()
    assert sorted(e.application_id for e in events) == sorted(ids)
    assert {(e.stage, e.actor, e.note) for e in events} == {
        ("pickup_scheduled", "system:pickup", "pickup scheduled")}
    assert all(e.at == clock.now() for e in events)
    texts = [message.text for message in sms(database)]
    assert len(texts) == 8 and all(card.pickup_code in " ".join(texts) for card in cards)


def test_a_reminder_speaks_the_language_the_phone_chose(database, clock):
    from sms_ktp.models import PhoneState

    clock.set(wib(2026, 11, 25, 9, 0))
    for _ in range(15):  # Thursday's 14 slots of 1 fill up: the last card goes to Friday
        printed(database, clock, kecamatan="02", phone="+6285700000000")
    with database.connect() as connection:
        connection.execute(insert(PhoneState.__table__).values(
            phone="+6285700000000", language="en", updated_at=clock.now()))
    pickup.allocate(database, clock, policy(capacity=1))
    clock.set(wib(2026, 11, 26, 16, 0))
    assert pickup.remind(database, clock, policy(), parse_local_time("16:00")) == 1
    assert sms(database)[-1].text.startswith(
        "Reminder: collect KTP-el NIK ***")
    assert "Friday, 27 November 2026, 08:00 WIB at Kantor Kec. Bogor Timur" in (
        sms(database)[-1].text)


# --- the resident moves a pickup (UBAH JADWAL) -------------------------------------------------
def booked(database) -> dict[datetime, int]:
    with database.transaction() as session:
        return {local(slot.starts_at).replace(tzinfo=None): slot.booked
                for slot in session.exec(select(PickupSlot)) if slot.booked}


def resident_move(database, clock, rules, card_id: int, on=None) -> datetime:
    with database.connect() as connection:
        return pickup.move(connection, rules, card_id, clock.now(), "resident:sms", on)


def test_a_resident_move_goes_to_another_day_never_a_later_time_of_the_same_day(database, clock):
    clock.set(wib(2026, 11, 30, 9, 0))  # Monday
    [card_id] = printed(database, clock)
    pickup.allocate(database, clock, policy())
    start = resident_move(database, clock, policy(), card_id)
    assert local(start).replace(tzinfo=None) == datetime(2026, 12, 2, 8, 0)  # Wednesday 08.00
    [card] = applications(database)
    assert (card.pickup_at, card.pickup_changes) == (start, 1)
    # The Tuesday place was given back, the Wednesday one taken.
    assert booked(database) == {datetime(2026, 12, 2, 8, 0): 1}


def test_a_named_day_without_a_free_slot_is_refused_with_the_nearest_and_changes_nothing(
        database, clock):
    from datetime import date

    clock.set(wib(2026, 11, 30, 9, 0))
    rules = policy(capacity=1)
    [card_id] = printed(database, clock)
    pickup.allocate(database, clock, rules)  # Tuesday 08.00
    for _ in range(13 + 14):  # Tuesday's other 13 slots and all of Wednesday's fill up
        printed(database, clock)
    pickup.allocate(database, clock, rules)
    before = booked(database)
    with pytest.raises(pickup.MoveRefused) as refused:
        resident_move(database, clock, rules, card_id, date(2026, 12, 2))
    assert (refused.value.key, refused.value.params) == (
        "pickup.day_unavailable", {"day": date(2026, 12, 3)})
    with pytest.raises(pickup.MoveRefused) as refused:
        resident_move(database, clock, rules, card_id, date(2026, 12, 1))
    assert refused.value.key == "pickup.same_day"
    assert booked(database) == before
    assert applications(database)[0].pickup_changes == 0
    # Without a day: the first day with room, Thursday.
    start = resident_move(database, clock, rules, card_id)
    assert local(start).replace(tzinfo=None) == datetime(2026, 12, 3, 8, 0)


def test_the_number_of_moves_allowed_is_told_when_refused(database, clock):
    from dataclasses import replace

    clock.set(wib(2026, 11, 30, 9, 0))
    rules = replace(policy(), max_resident_changes=2)
    [card_id] = printed(database, clock)
    pickup.allocate(database, clock, rules)
    resident_move(database, clock, rules, card_id)
    resident_move(database, clock, rules, card_id)
    with pytest.raises(pickup.MoveRefused) as refused:
        resident_move(database, clock, rules, card_id)
    assert (refused.value.key, refused.value.params) == ("pickup.no_more_changes", {"n": 2})
    with pytest.raises(pickup.MoveRefused) as refused:
        resident_move(database, clock, replace(rules, max_resident_changes=0), card_id)
    assert refused.value.key == "pickup.no_changes"
