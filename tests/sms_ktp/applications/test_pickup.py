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
from sms_ktp.models import Application, Family, OutboxMessage, PickupSlot, PickupVisit

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


def visits(database) -> list[PickupVisit]:
    with database.transaction() as session:
        return list(session.exec(select(PickupVisit).order_by(PickupVisit.id)).all())


def visit_of(database, card: Application) -> PickupVisit:
    with database.transaction() as session:
        return session.get(PickupVisit, card.visit_id)


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
    [visit] = visits(database)
    assert len(card.pickup_code) == 6 and visit.open_code == visit.code == card.pickup_code
    assert (card.visit_id, visit.starts_at, visit.office) == (visit.id, card.pickup_at, "01")
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
    assert (card.stage, card.pickup_at) == ("missed_pickup", None)
    assert (visit_of(database, card).starts_at, visit_of(database, card).open_code) == (None, code)
    assert sms(database)[-1].text == (f"KTP-el NIK {masked} disimpan di Kantor Kec. Bogor "
                                      f"Selatan. Ambil pada jam kerja dengan menunjukkan kode "
                                      f"{code}.")
    assert pickup.verify(database, clock, code.lower(), "counter") == pickup.Handover(
        (card.reference,), ())


def test_a_code_is_used_once(database, clock):
    clock.set(wib(2026, 11, 30, 9, 0))
    printed(database, clock)
    pickup.allocate(database, clock, policy())
    [card] = applications(database)
    assert pickup.verify(database, clock, card.pickup_code, "counter:1").handed == (
        card.reference,)
    [card] = applications(database)
    assert (card.stage, card.active_nik) == ("collected", None)
    assert visit_of(database, card).open_code is None
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
    # One SMS per family visit, with the first card, naming both cards and the visit's code.
    messages = sms(database)
    assert len(messages) == 4 and len({card.pickup_code for card in cards}) == 4
    for message in messages:
        family = [card for card in cards if card.pickup_code in message.text]
        assert len(family) == 2 and message.application_id == family[0].id
        assert message.text.startswith(
            f"2 KTP-el (NIK ***{family[0].nik[-4:]}, ***{family[1].nik[-4:]}) siap diambil")


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
    """UBAH JADWAL for the visit of this card."""
    with database.connect() as connection:
        visit_id = connection.execute(select(Application.visit_id).where(
            Application.id == card_id)).scalar_one()
        return pickup.move(connection, rules, visit_id, clock.now(), "resident:sms", on)


def test_a_resident_move_goes_to_another_day_never_a_later_time_of_the_same_day(database, clock):
    clock.set(wib(2026, 11, 30, 9, 0))  # Monday
    [card_id] = printed(database, clock)
    pickup.allocate(database, clock, policy())
    start = resident_move(database, clock, policy(), card_id)
    assert local(start).replace(tzinfo=None) == datetime(2026, 12, 2, 8, 0)  # Wednesday 08.00
    [card] = applications(database)
    assert (card.pickup_at, visit_of(database, card).changes) == (start, 1)
    assert visit_of(database, card).starts_at == start
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
    assert visit_of(database, applications(database)[0]).changes == 0
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


# --- family visits -----------------------------------------------------------------------------
def masked(card: Application) -> str:
    return f"***{card.nik[-4:]}"


def test_a_family_printed_together_gets_one_visit_one_sms_one_reminder(database, clock):
    clock.set(wib(2026, 11, 25, 9, 0))  # Wednesday: Thursday's 14 slots of 3 fill up first
    for _ in range(14):
        printed(database, clock, members=3, kecamatan="02")
    family = printed(database, clock, members=3, kecamatan="02")
    assert pickup.allocate(database, clock, policy(capacity=3)) == 45
    cards = [card for card in applications(database) if card.id in family]
    [visit] = {visit_of(database, card).id: visit_of(database, card)
               for card in cards}.values()
    assert {card.pickup_code for card in cards} == {visit.code}
    assert local(visit.starts_at).date().isoformat() == "2026-11-27"  # Friday
    [message] = [m for m in sms(database) if visit.code in m.text]
    assert message.application_id == cards[0].id and message.segments == 1
    assert message.text == (
        f"3 KTP-el (NIK {masked(cards[0])}, {masked(cards[1])}, {masked(cards[2])}) siap "
        f"diambil Jumat, 27 November 2026, 08.00 WIB di Kantor Kec. Bogor Timur, Kota Bogor. "
        f"Kode {visit.code}. Bawa SMS ini.")
    assert len(sms(database)) == 15  # one per family

    clock.set(wib(2026, 11, 26, 16, 0))
    assert pickup.remind(database, clock, policy(), parse_local_time("16:00")) == 1
    [reminder] = [m for m in sms(database)[15:]]
    assert reminder.text.startswith(
        f"Pengingat: ambil 3 KTP-el (NIK {masked(cards[0])}, {masked(cards[1])}, "
        f"{masked(cards[2])}) Jumat, 27 November 2026, 08.00 WIB")
    assert pickup.remind(database, clock, policy(), parse_local_time("16:00")) == 0

    handover = pickup.verify(database, clock, visit.code, "counter:1")
    assert handover == pickup.Handover(tuple(card.reference for card in cards), ())
    collected = [card for card in applications(database) if card.id in family]
    assert {card.stage for card in collected} == {"collected"}
    assert visit_of(database, collected[0]).open_code is None


def test_a_big_family_is_counted_when_its_nik_do_not_fit(database, clock):
    clock.set(wib(2026, 11, 30, 9, 0))
    family = printed(database, clock, members=9)
    pickup.allocate(database, clock, policy(capacity=10))
    [message] = sms(database)
    cards = applications(database)
    assert message.segments == 1 and len(message.text) <= 160
    assert message.text.startswith(f"9 KTP-el (NIK {masked(cards[0])}, ")
    shown = sum(masked(card) in message.text for card in cards)
    assert 1 <= shown < 9 and f" +{9 - shown})" in message.text
    assert len(family) == 9


def test_a_family_larger_than_a_slot_is_split_over_slots(database, clock):
    clock.set(wib(2026, 11, 30, 9, 0))
    printed(database, clock, members=3)
    pickup.allocate(database, clock, policy(capacity=2))
    cards = applications(database)
    assert len(visits(database)) == 2 and len(sms(database)) == 2
    assert max(Counter(card.pickup_at for card in cards).values()) == 2


def test_a_card_printed_the_working_day_before_the_visit_gets_its_own(database, clock):
    clock.set(wib(2026, 11, 27, 9, 0))  # Friday: the visit is Monday 08.00
    [first, _] = printed(database, clock, members=2)
    pickup.allocate(database, clock, policy())
    # Two hours later, Monday is still the next working day: the visit's cards are in the
    # list for the drawer already, so the new card does not join.
    clock.set(wib(2026, 11, 27, 11, 0))
    third = _another_member(database, clock, first)
    pickup.allocate(database, clock, policy())
    by_id = {card.id: card for card in applications(database)}
    assert by_id[third].visit_id != by_id[first].visit_id  # its own visit, its own SMS
    assert len(sms(database)) == 2


def test_a_card_printed_two_working_days_before_joins_the_visit(database, clock):
    clock.set(wib(2026, 11, 25, 9, 0))  # Wednesday
    for _ in range(14):  # Thursday's 14 slots of 3 fill up: the family goes to Friday
        printed(database, clock, members=3, kecamatan="02")
    family = printed(database, clock, members=2, kecamatan="02")
    pickup.allocate(database, clock, policy(capacity=3))
    visit = visit_of(database, next(c for c in applications(database) if c.id == family[0]))
    assert local(visit.starts_at).date().isoformat() == "2026-11-27"
    before = len(sms(database))
    clock.set(wib(2026, 11, 25, 15, 0))  # still Wednesday: Friday is a working day away
    joining = _another_member(database, clock, family[0])
    assert pickup.allocate(database, clock, policy(capacity=3)) == 1
    card = next(c for c in applications(database) if c.id == joining)
    assert (card.visit_id, card.pickup_at, card.pickup_code) == (
        visit.id, visit.starts_at, visit.code)
    [joined] = sms(database)[before:]
    assert joined.text == (f"KTP-el NIK {masked(card)} juga sudah dicetak: ambil bersama "
                           f"Jumat, 27 November 2026, 08.00 WIB di Kantor Kec. Bogor Timur. "
                           f"Kode sama: {visit.code}.")
    assert booked(database)[datetime(2026, 11, 27, 8, 0)] == 3  # capacity in cards


def test_a_card_does_not_join_a_full_slot(database, clock):
    clock.set(wib(2026, 11, 25, 9, 0))
    for _ in range(14):
        printed(database, clock, members=3, kecamatan="02")
    family = printed(database, clock, members=3, kecamatan="02")
    pickup.allocate(database, clock, policy(capacity=3))
    joining = _another_member(database, clock, family[0])
    pickup.allocate(database, clock, policy(capacity=3))
    by_id = {card.id: card for card in applications(database)}
    assert by_id[joining].visit_id != by_id[family[0]].visit_id


def _another_member(database, clock, sibling_id: int) -> int:
    """A card of the same family printed now."""
    with database.connect() as connection:
        family_id = connection.execute(select(Application.family_id).where(
            Application.id == sibling_id)).scalar_one()
        serial = next(_serials)
        nik = f"32710145019{serial:03d}99"
        return connection.execute(insert(Application.__table__).values(
            reference=f"{serial:06d}999", nik=nik, active_nik=nik, family_id=family_id,
            reason="hilang", stage="printed", language="id", channel="sms",
            created_at=clock.now(), updated_at=clock.now(), printed_at=clock.now())
            .returning(Application.__table__.c.id)).scalar_one()


def test_a_member_who_did_not_come_keeps_a_card_to_collect_in_a_new_visit(database, clock):
    clock.set(wib(2026, 11, 30, 9, 0))
    family = printed(database, clock, members=3)
    pickup.allocate(database, clock, policy())
    cards = applications(database)
    code = cards[0].pickup_code
    handover = pickup.verify(database, clock, code, "counter:1",
                             only={cards[0].reference, cards[2].reference})
    assert handover == pickup.Handover((cards[0].reference, cards[2].reference),
                                       (cards[1].reference,))
    after = {card.id: card for card in applications(database)}
    assert [after[i].stage for i in family] == ["collected", "printed", "collected"]
    assert (after[family[1]].visit_id, after[family[1]].pickup_at) == (None, None)
    assert booked(database) == {datetime(2026, 12, 1, 8, 0): 2}  # the absent card's place back
    with pytest.raises(pickup.VerifyError, match="already used"):
        pickup.verify(database, clock, code, "counter:1")

    assert pickup.allocate(database, clock, policy()) == 1
    card = applications(database)[1]
    assert card.stage == "pickup_scheduled" and card.pickup_code != code
    assert sms(database)[-1].text.startswith(f"KTP-el NIK {masked(card)} siap diambil")


def test_verify_refuses_a_card_of_another_visit_and_changes_nothing(database, clock):
    clock.set(wib(2026, 11, 30, 9, 0))
    printed(database, clock, members=2)
    printed(database, clock, members=1)
    pickup.allocate(database, clock, policy())
    family, stranger = applications(database)[:2], applications(database)[2]
    with pytest.raises(pickup.VerifyError, match=stranger.reference):
        pickup.verify(database, clock, family[0].pickup_code, "counter:1",
                      only={family[0].reference, stranger.reference})
    assert {card.stage for card in applications(database)} == {"pickup_scheduled"}


def test_a_missed_visit_is_rescheduled_as_a_whole(database, clock):
    clock.set(wib(2026, 11, 30, 9, 0))
    printed(database, clock, members=3)
    pickup.allocate(database, clock, policy())
    code = applications(database)[0].pickup_code
    clock.set(wib(2026, 12, 2, 0, 5))
    assert pickup.reschedule_missed(database, clock, policy()) == 1
    cards = applications(database)
    assert len({card.pickup_at for card in cards}) == 1
    assert local(cards[0].pickup_at).date().isoformat() == "2026-12-03"
    assert {card.pickup_code for card in cards} == {code}
    [_, moved] = sms(database)
    assert moved.text.startswith(f"Jadwal ambil 3 KTP-el (NIK {masked(cards[0])}, ")
    assert f"Kode tetap: {code}." in moved.text
    assert booked(database)[datetime(2026, 12, 3, 8, 0)] == 3  # the new slot: all three
    assert visit_of(database, cards[0]).reschedules == 1


def test_a_resident_move_takes_the_whole_visit(database, clock):
    clock.set(wib(2026, 11, 30, 9, 0))
    [card_id, *_] = printed(database, clock, members=3)
    pickup.allocate(database, clock, policy())
    start = resident_move(database, clock, policy(), card_id)
    assert {card.pickup_at for card in applications(database)} == {start}
    assert booked(database) == {local(start).replace(tzinfo=None): 3}


def test_a_card_cancelled_at_night_does_not_take_its_familys_pickup_sms_with_it(database,
                                                                               clock):
    from sms_ktp.applications import decisions

    clock.set(wib(2026, 11, 30, 21, 0))  # quiet hours: the visit's SMS waits for 07.00
    rules = policy(quiet="20:00-07:00")
    printed(database, clock, members=3)
    pickup.allocate(database, clock, rules)
    cards = applications(database)
    [waiting] = sms(database)
    assert waiting.application_id == cards[0].id and waiting.status == "queued"

    decisions.cancel(database, clock, rules.quiet, cards[0].reference, "meninggal",
                     "staff:admin1", rules)

    first, again = [message for message in sms(database) if "siap diambil" in message.text]
    assert first.status == "superseded"
    assert again.status == "queued" and local(again.next_attempt_at).hour == 7
    assert again.text.startswith(
        f"2 KTP-el (NIK {masked(cards[1])}, {masked(cards[2])}) siap diambil Selasa")
    assert f"Kode {cards[0].pickup_code}." in again.text and masked(cards[0]) not in again.text
    assert again.application_id == cards[1].id


def test_a_card_cancelled_after_its_visit_was_told_sends_nothing_more(database, clock):
    from sms_ktp.applications import decisions

    clock.set(wib(2026, 11, 30, 9, 0))
    rules = policy()
    printed(database, clock, members=2)
    pickup.allocate(database, clock, rules)
    cards = applications(database)
    with database.connect() as connection:
        connection.execute(OutboxMessage.__table__.update().values(status="delivered"))
    decisions.cancel(database, clock, rules.quiet, cards[0].reference, "", "staff:admin1",
                     rules)
    assert [message.status for message in sms(database)
            if "dibatalkan" not in message.text] == ["delivered"]


def test_a_pickup_sms_worded_again_keeps_the_offer_of_posting(database, clock):
    from dataclasses import replace

    from sms_ktp.applications import decisions
    from sms_ktp.platform.config import DeliverySettings

    clock.set(wib(2026, 11, 30, 21, 0))
    rules = replace(policy(quiet="20:00-07:00"), delivery=DeliverySettings(post=True))
    printed(database, clock, members=2)
    pickup.allocate(database, clock, rules)
    cards = applications(database)
    decisions.cancel(database, clock, rules.quiet, cards[0].reference, "", "staff:admin1", rules)
    [again] = [m for m in sms(database) if "siap diambil" in m.text and m.status == "queued"]
    assert again.text.startswith(f"KTP-el NIK {masked(cards[1])} siap diambil")
    assert again.text.endswith(" Dikirim pos? Balas KIRIM") and len(again.text) <= 160


# --- staff choose the slot (the counter's move) -------------------------------------------------

def free(database, clock, rules, visit_id: int, days: int = 6) -> list[datetime]:
    with database.connect() as connection:
        return [local(slot.starts_at).replace(tzinfo=None) for slot in
                pickup.free_slots(connection, rules, visit_id, clock.now(), days)]


def test_free_slots_have_room_for_the_whole_visit_on_open_days(database, clock):
    clock.set(wib(2026, 11, 30, 9, 0))  # Monday
    rules = policy(capacity=2)
    printed(database, clock, members=2)  # Tuesday 08.00, full
    printed(database, clock, members=1)  # Tuesday 08.30, one place left
    pickup.allocate(database, clock, rules)
    family, alone = visits(database)
    offered = free(database, clock, rules, family.id, days=2)
    assert offered[0] == datetime(2026, 12, 1, 9, 0)  # 08.30 has one place, not two
    assert {moment.date() for moment in offered} == {datetime(2026, 12, d).date() for d in (1, 2)}
    assert datetime(2026, 12, 1, 8, 0) not in offered  # its own slot
    offered = free(database, clock, rules, alone.id, days=1)
    assert offered[0] == datetime(2026, 12, 1, 9, 0) and datetime(2026, 12, 1, 8, 30) \
        not in offered and datetime(2026, 12, 1, 8, 0) not in offered


def test_free_slots_skip_holidays_and_the_familys_other_visits(database, clock):
    clock.set(wib(2026, 12, 23, 9, 0))  # the 24th is cuti bersama, the 25th Christmas
    rules = policy(capacity=1)
    printed(database, clock, members=2)  # no slot for two: two visits on Monday the 28th
    pickup.allocate(database, clock, rules)
    first, second = visits(database)
    assert local(second.starts_at).date() == local(first.starts_at).date()
    offered = free(database, clock, rules, first.id, days=2)
    # Not Monday: the family comes that day anyway for its other visit.
    assert {moment.date() for moment in offered} == {datetime(2026, 12, d).date()
                                                      for d in (29, 30)}


def test_staff_move_a_visit_to_the_slot_they_chose_with_one_sms(database, clock):
    clock.set(wib(2026, 11, 30, 9, 0))
    rules = policy()
    printed(database, clock, members=2)
    pickup.allocate(database, clock, rules)
    [visit] = visits(database)
    chosen = wib(2026, 12, 2, 10, 0)
    with database.connect() as connection:
        preview = pickup.move_notice(connection, rules, visit.id, chosen, clock.now())
    sent_before = len(sms(database))
    text = pickup.move_to(database, clock, rules, visit.id, chosen, "staff:op")
    assert text == preview and text.startswith("Jadwal baru 2 KTP-el (NIK ")
    assert "Rabu, 2 Desember 2026, 10.00 WIB" in text and f"Kode {visit.code}" in text
    [message] = sms(database)[sent_before:]  # exactly one SMS, with the first card
    assert message.text == text and message.segments == 1
    assert [card.pickup_at for card in applications(database)] == [chosen] * 2
    assert booked(database) == {datetime(2026, 12, 2, 10, 0): 2}  # the old places given back
    [moved] = visits(database)
    assert moved.starts_at == chosen and moved.changes == 0  # not the resident's change


def test_a_move_staff_may_not_make_changes_nothing(database, clock):
    clock.set(wib(2026, 11, 30, 9, 0))
    rules = policy(capacity=2)
    printed(database, clock, members=2)
    printed(database, clock, members=1)
    pickup.allocate(database, clock, rules)
    family, alone = visits(database)
    before = (booked(database), len(sms(database)))
    for start, key in ((family.starts_at, "pickup.same_slot"),
                       (alone.starts_at, "pickup.full"),  # one place left, two cards
                       (wib(2026, 12, 5, 10, 0), "pickup.day_unavailable"),  # Saturday
                       (wib(2026, 12, 1, 8, 10), "pickup.day_unavailable")):  # not a slot
        with pytest.raises(pickup.MoveRefused) as refused:
            pickup.move_to(database, clock, rules, family.id, start, "staff:op")
        assert refused.value.key == key
    assert (booked(database), len(sms(database))) == before
    pickup.verify(database, clock, family.code, "counter:1")
    with pytest.raises(pickup.MoveRefused, match=r"pickup\.none"):
        pickup.move_to(database, clock, rules, family.id, wib(2026, 12, 2, 10, 0), "staff:op")


def test_a_visit_is_not_moved_onto_a_day_the_family_comes_anyway(database, clock):
    clock.set(wib(2026, 11, 30, 9, 0))
    rules = policy(capacity=1)
    printed(database, clock, members=2)  # two visits on Tuesday
    pickup.allocate(database, clock, rules)
    first, _ = visits(database)
    with pytest.raises(pickup.MoveRefused, match=r"pickup\.family_day"):
        pickup.move_to(database, clock, rules, first.id, wib(2026, 12, 1, 14, 0), "staff:op")


def test_a_hand_over_by_visit_needs_the_proof_of_its_open_code(database, clock):
    clock.set(wib(2026, 11, 30, 9, 0))
    printed(database, clock, members=2)
    pickup.allocate(database, clock, policy())
    [visit] = visits(database)
    with pytest.raises(pickup.VerifyError):
        pickup.hand_over(database, clock, visit.id, lambda code: False, "counter:1")
    assert {card.stage for card in applications(database)} == {"pickup_scheduled"}
    handover = pickup.hand_over(database, clock, visit.id, lambda code: code == visit.code,
                                "counter:1")
    assert len(handover.handed) == 2 and handover.kept == ()
    with pytest.raises(pickup.VerifyError):  # the code is used up
        pickup.hand_over(database, clock, visit.id, lambda code: True, "counter:1")


def printed_kia(database, clock, card_id: int, born: str) -> int:
    """A child's KIA printed for the family of the card `card_id`: its application carries the
    parent's NIK (that card's) and the child's birth date."""
    serial = next(_serials)
    with database.connect() as connection:
        table = Application.__table__
        family_id, nik = connection.execute(
            table.select().with_only_columns(table.c.family_id, table.c.nik)
            .where(table.c.id == card_id)).one()
        return connection.execute(insert(Application.__table__).values(
            reference=f"{serial:06d}900", nik=nik, family_id=family_id,
            document="kia", details={"birth_date": born, "sex": "P"}, reason="baru",
            stage="printed", language="id", channel="sms", created_at=clock.now(),
            updated_at=clock.now(), printed_at=clock.now()
        ).returning(Application.__table__.c.id)).scalar_one()


def test_a_familys_kia_cards_are_named_by_the_childrens_birth_dates(database, clock):
    clock.set(wib(2026, 11, 25, 9, 0))  # Wednesday
    [parent] = printed(database, clock, kecamatan="02")
    printed_kia(database, clock, parent, "2019-03-12")
    printed_kia(database, clock, parent, "2021-07-01")
    assert pickup.allocate(database, clock, policy()) == 3
    nik = applications(database)[0].nik
    [visit] = visits(database)
    [message] = sms(database)
    assert message.application_id == parent and message.segments == 1
    # The parent's NIK names the parent's own KTP-el only, never a child's KIA; where the
    # NIK and both dates do not fit, the KTP-el is counted and the years shortened.
    assert message.text == (
        f"1 KTP-el dan 2 KIA (lhr 12-03-19, 01-07-21) siap diambil Kamis, 26 November 2026, "
        f"08.00 WIB di Kantor Kec. Bogor Timur, Kota Bogor. Kode {visit.code}. Bawa SMS ini.")
    # Missed: the whole visit moves, its SMS naming the children the same way.
    clock.set(wib(2026, 11, 27, 0, 5))
    assert pickup.reschedule_missed(database, clock, policy()) == 1
    moved = sms(database)[-1].text
    assert "KIA (lhr 12-03-19" in moved and len(moved) <= 160 and nik not in moved


def test_a_lone_kia_is_named_by_the_childs_birth_date(database, clock):
    clock.set(wib(2026, 11, 25, 9, 0))
    [parent] = printed(database, clock, kecamatan="02")
    kia = printed_kia(database, clock, parent, "2019-03-12")
    with database.connect() as connection:  # the parent's KTP-el collected before
        connection.execute(Application.__table__.update().where(Application.id == parent)
                           .values(stage="collected"))
    assert pickup.allocate(database, clock, policy()) == 1
    [visit] = visits(database)
    [message] = sms(database)
    assert message.application_id == kia
    assert message.text == (
        f"KIA lhr 12-03-2019 siap diambil Kamis, 26 November 2026, 08.00 WIB di Kantor Kec. "
        f"Bogor Timur, Kota Bogor. Kode {visit.code}. Bawa SMS ini.")


def test_a_new_visit_s_code_differs_from_every_open_code_and_recent_papers_code(database,
                                                                               clock):
    """A code typed at the counter names one visit: a pickup is never given the code of a
    papers visit whose papers may still come, as a papers visit never takes an open one."""
    now = clock.now()
    printed(database, clock)
    [family_id] = {card.family_id for card in applications(database)}
    rows = [("pickup", "AAAAAA", "AAAAAA", now),  # open: taken
            ("pickup", "BBBBBB", None, now),  # handed over: free again
            ("papers", "CCCCCC", "CCCCCC", now),  # papers still to come
            ("papers", "DDDDDD", None, now - timedelta(days=30)),  # papers in, a month ago
            ("papers", "EEEEEE", None, now - timedelta(days=91))]  # long ago: free again
    with database.connect() as connection:
        connection.execute(insert(PickupVisit.__table__), [
            {"family_id": family_id, "purpose": purpose, "office": "01", "starts_at": when,
             "code": code, "open_code": open_code, "created_at": when}
            for purpose, code, open_code, when in rows])
        taken = pickup.taken_codes(connection, now)
    assert taken == {"AAAAAA", "CCCCCC", "DDDDDD"}
    drawn = pickup.new_codes(set(taken), batch=64)
    assert taken.isdisjoint(next(drawn) for _ in range(2000))


def test_verify_tells_a_papers_visit_s_code_from_a_used_pickup_code(database, clock):
    printed(database, clock)
    [family_id] = {card.family_id for card in applications(database)}
    with database.connect() as connection:
        connection.execute(insert(PickupVisit.__table__).values(
            family_id=family_id, purpose="papers", office="01", starts_at=clock.now(),
            code="CCCCCC", open_code="CCCCCC", created_at=clock.now()))
    with pytest.raises(pickup.VerifyError, match="code CCCCCC is a papers visit's"):
        pickup.verify(database, clock, "CCCCCC", "counter:1")
