"""The back office's look-ups (search by reference, NIK or family phone; the detail with its
timeline, masked unless revealed) and the staff's pickup move, on each database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from sqlalchemy import insert, select

from sms_ktp.applications import pickup
from sms_ktp.backoffice.search import (
    PAGE_SIZE,
    Key,
    detail,
    parse_query,
    read_code,
    search,
    visit_by_code,
)
from sms_ktp.domain.pickup_calendar import WorkingCalendar, default_offices, local
from sms_ktp.domain.quiet_hours import QuietHours
from sms_ktp.models import (
    Application,
    ApplicationEvent,
    Family,
    OutboxMessage,
    PickupSlot,
    PickupVisit,
)

_FAMILY = Family.__table__
_APPLICATION = Application.__table__
_VISIT = PickupVisit.__table__
NIK = "3271014501900001"
KK = "3271010101200003"
PHONE = "+6281234567890"
_numbers = count(1)


def family(connection, clock, kk: str = KK, phone: str = PHONE, kecamatan: str = "01") -> int:
    return connection.execute(insert(_FAMILY).values(
        kk=kk, phone=phone, kecamatan_code=kecamatan, created_at=clock.now())
        .returning(_FAMILY.c.id)).scalar_one()


def application(connection, clock, family_id: int, nik: str, reference: str | None = None,
                stage: str = "submitted", **values) -> str:
    reference = reference or f"{100000000 + next(_numbers)}"
    application_id = connection.execute(insert(_APPLICATION).values(
        reference=reference, nik=nik, active_nik=None if stage in {"collected", "cancelled",
                                                                   "rejected"} else nik,
        family_id=family_id, reason="hilang", stage=stage, language="id", channel="sms",
        created_at=clock.now(), updated_at=clock.now(), **values)
        .returning(_APPLICATION.c.id)).scalar_one()
    connection.execute(insert(ApplicationEvent.__table__).values(
        application_id=application_id, at=clock.now(), stage="submitted",
        actor="resident:sms", note="registered by the family phone"))
    return reference


@pytest.mark.parametrize(("typed", "key", "value", "shown"), [
    ("", Key.RECENT, "", ""),
    ("  ", Key.RECENT, "", ""),
    ("123 456 789", Key.REFERENCE, "123456789", "123456789"),
    ("3271.0145.0190.0001", Key.NIK, NIK, "***0001"),
    ("3271 0145 0190 0001", Key.NIK, NIK, "***0001"),
    ("0812-3456-7890", Key.PHONE, PHONE, PHONE),
    ("+62 812 3456 7890", Key.PHONE, PHONE, PHONE),
    ("6281234567890", Key.PHONE, PHONE, PHONE),
    ("0251 8321075", Key.UNKNOWN, "", "***1075"),  # a landline: no family has it
    ("3271 0145 0190 001", Key.UNKNOWN, "", "***0001"),  # a NIK short of a digit: masked
    ("budi", Key.UNKNOWN, "", "budi"),
    # A visit's code as the SMS gives it, never shown back.
    ("akd 3-4f", Key.CODE, "AKD34F", "kode kunjungan"),
    ("Kode: AKD34F.", Key.CODE, "AKD34F", "kode kunjungan"),
    ("346797", Key.CODE, "346797", "kode kunjungan"),
])
def test_what_was_typed_decides_the_search(typed, key, value, shown):
    query = parse_query(typed)
    assert (query.key, query.value, query.shown) == (key, value, shown)


def test_a_search_finds_by_reference_nik_and_family_phone(database, clock):
    with database.connect() as connection:
        home = family(connection, clock)
        first = application(connection, clock, home, NIK, stage="rejected")
        clock.advance(timedelta(minutes=1))
        second = application(connection, clock, home, NIK, stage="pickup_scheduled",
                             pickup_office="01", pickup_at=clock.now() + timedelta(days=1))
        sibling = application(connection, clock, home, "3173021208850002")
        other = application(connection, clock, family(connection, clock, "3271060202190004",
                                                      "+6285711112222", "06"),
                            "3271015507880003")
    with database.connect() as connection:
        by_reference = search(connection, f"{second[:3]} {second[3:]}")
        by_nik = search(connection, "3271 0145 0190 0001")
        by_phone = search(connection, "0812.3456.7890")
        by_e164 = search(connection, "+6285711112222")
        nothing = search(connection, "081299998888")
    assert [row.reference for row in by_reference.rows] == [second]
    [row] = by_reference.rows
    assert (row.nik, row.stage, row.kecamatan, row.channel, row.pickup_office) == (
        "***0001", "pickup_scheduled", "Bogor Selatan", "sms", "01")
    assert [row.reference for row in by_nik.rows] == [second, first]  # newest first
    assert [row.reference for row in by_phone.rows] == [sibling, second, first]
    assert [row.reference for row in by_e164.rows] == [other]
    assert nothing.rows == [] and nothing.query.key is Key.PHONE
    for result in (by_reference, by_nik, by_phone):
        assert all(NIK not in repr(row) for row in result.rows)


def test_the_newest_applications_come_a_page_at_a_time(database, clock):
    with database.connect() as connection:
        home = family(connection, clock)
        references = [application(connection, clock, home, f"32710145019{n:05d}")
                      for n in range(1, PAGE_SIZE + 3)]
    with database.connect() as connection:
        first = search(connection, "")
        second = search(connection, "", page=2)
    assert [row.reference for row in first.rows] == references[::-1][:PAGE_SIZE]
    assert first.more and not second.more
    assert [row.reference for row in second.rows] == references[::-1][PAGE_SIZE:]


def test_an_operator_sees_only_the_applications_of_their_kecamatan(database, clock):
    with database.connect() as connection:
        ours = application(connection, clock, family(connection, clock), NIK)
        theirs = application(connection, clock, family(connection, clock, "3271060202190004",
                                                       "+6285711112222", "06"),
                             "3173021208850002")
    with database.connect() as connection:
        assert [row.reference for row in search(connection, "", office="01").rows] == [ours]
        assert search(connection, theirs, office="01").rows == []
        assert search(connection, "3173021208850002", office="01").rows == []
        assert [row.reference for row in search(connection, theirs, office="06").rows] == [
            theirs]


def test_the_detail_is_masked_unless_revealed(database, clock):
    with database.connect() as connection:
        reference = application(connection, clock, family(connection, clock), NIK,
                                suket_number="474/12/2026", stage_note=f"salah NIK {NIK}")
        connection.execute(insert(ApplicationEvent.__table__).values(
            application_id=connection.execute(select(_APPLICATION.c.id)).scalar_one(),
            at=clock.now() + timedelta(minutes=5), stage="penunggalan", actor="staff:ani",
            note=f"dicek dengan KK {KK}"))
    with database.connect() as connection:
        masked = detail(connection, reference)
        revealed = detail(connection, reference, reveal=True)
        assert detail(connection, "999999999") is None
        assert detail(connection, "../etc") is None
    assert (masked.nik, masked.kk, masked.phone, masked.revealed) == (
        "***0001", "***0003", "+62***890", False)
    assert NIK not in repr(masked) and KK not in repr(masked) and PHONE not in repr(masked)
    assert masked.kecamatan == "Bogor Selatan" and masked.suket_number == "474/12/2026"
    assert [(e.stage, e.actor, e.note) for e in masked.events] == [
        ("submitted", "resident:sms", "registered by the family phone"),
        ("penunggalan", "staff:ani", "dicek dengan KK ***0003")]
    assert masked.stage_note == "salah NIK ***0001"
    assert (revealed.nik, revealed.kk, revealed.revealed) == (NIK, KK, True)
    assert revealed.phone == "+62***890"  # the phone is never needed in full


def visit(connection, clock, family_id: int, code: str, open_code: str | None = None,
          office: str = "01") -> int:
    """A family visit (`open_code` None: over) in tomorrow's first slot."""
    return connection.execute(insert(_VISIT).values(
        family_id=family_id, office=office, starts_at=clock.now() + timedelta(days=1),
        code=code, open_code=open_code, reschedules=0, changes=0, created_at=clock.now())
        .returning(_VISIT.c.id)).scalar_one()


@pytest.mark.parametrize(("stage", "open_code", "actions"), [
    ("submitted", None, {"reject", "cancel"}),
    ("print_queue", None, {"reject", "cancel"}),
    ("printed", None, {"cancel"}),
    ("pickup_scheduled", "ABC234", {"cancel", "reschedule", "collect"}),
    ("missed_pickup", "ABC234", {"cancel", "reschedule", "collect"}),
    ("collected", None, set()),
    ("rejected", None, set()),
    # cancelled while the family's visit stays open for its other cards
    ("cancelled", "ABC234", set()),
])
def test_each_stage_allows_its_decisions(database, clock, stage, open_code, actions):
    with database.connect() as connection:
        home = family(connection, clock)
        visit_id = visit(connection, clock, home, open_code, open_code) if open_code else None
        reference = application(connection, clock, home, NIK, stage=stage, visit_id=visit_id,
                                pickup_code=open_code)
    with database.connect() as connection:
        assert detail(connection, reference).actions == actions


def test_the_detail_lists_the_cards_of_the_family_visit(database, clock):
    """Every card's page hands over the whole visit with its one code: the cards still to
    collect, masked; a card of the visit cancelled since is not among them."""
    with database.connect() as connection:
        home = family(connection, clock)
        visit_id = visit(connection, clock, home, "ABC234", "ABC234")
        first, second, cancelled = (
            application(connection, clock, home, nik, stage=stage, visit_id=visit_id,
                        pickup_code="ABC234")
            for nik, stage in ((NIK, "pickup_scheduled"), ("3173021208850002", "missed_pickup"),
                               ("3271015507880003", "cancelled")))
        over = application(connection, clock, home, "3271011203800006", stage="collected",
                           visit_id=visit(connection, clock, home, "XYZ789"),
                           pickup_code="XYZ789")
    with database.connect() as connection:
        found = {ref: detail(connection, ref) for ref in (first, second, cancelled, over)}
    cards = ((first, "***0001"), (second, "***0002"))
    assert found[first].visit_cards == found[second].visit_cards == cards
    assert found[first].accepts("ABC234") and found[second].accepts("ABC234")
    assert not found[first].accepts("XYZ789") and not found[first].accepts("abc234")
    assert found[cancelled].actions == frozenset()
    assert found[over].visit_cards == () and not found[over].accepts("XYZ789")
    assert "ABC234" not in repr(found[first])  # the code is for the counter, not the page


# --- the staff's pickup move ------------------------------------------------------------------

def wib(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC) - timedelta(hours=7)


def policy(max_reschedules: int = 2, capacity: int = 10, search_days: int = 30):
    from dataclasses import replace

    offices = {code: replace(office, capacity=capacity)
               for code, office in default_offices().items()}
    return pickup.PickupPolicy(offices, WorkingCalendar(), QuietHours(), search_days=search_days,
                               max_reschedules=max_reschedules)


def scheduled(database, clock, rules) -> str:
    [reference] = family_scheduled(database, clock, rules, NIK)
    return reference


def family_scheduled(database, clock, rules, *niks: str) -> list[str]:
    """Printed cards of one family, allocated: one family visit for them all."""
    with database.connect() as connection:
        home = family(connection, clock)
        references = [application(connection, clock, home, nik, stage="printed",
                                  printed_at=clock.now()) for nik in niks]
    assert pickup.allocate(database, clock, rules) == len(niks)
    return references


def card(database, reference: str):
    with database.connect() as connection:
        return connection.execute(select(_APPLICATION)
                                  .where(_APPLICATION.c.reference == reference)).one()


def visit_of(database, reference: str):
    with database.connect() as connection:
        return connection.execute(select(_VISIT).join(
            _APPLICATION, _APPLICATION.c.visit_id == _VISIT.c.id)
            .where(_APPLICATION.c.reference == reference)).one()


def slots(database) -> dict[datetime, int]:
    with database.connect() as connection:
        return {row.starts_at: row.booked
                for row in connection.execute(select(PickupSlot.__table__)) if row.booked}


def outbox(database) -> list[str]:
    with database.connect() as connection:
        return list(connection.execute(select(OutboxMessage.__table__.c.text)
                                       .order_by(OutboxMessage.__table__.c.id)).scalars())


def test_staff_move_a_pickup_beyond_the_residents_limit_and_free_its_slot(database, clock):
    clock.set(wib(2026, 11, 30, 9, 0))  # Monday
    rules = policy()
    reference = scheduled(database, clock, rules)
    before, visit = card(database, reference), visit_of(database, reference)
    assert local(before.pickup_at).strftime("%d %H:%M") == "01 08:00"
    with database.connect() as connection:  # the resident used up their own change
        connection.execute(_VISIT.update().values(changes=5))
    sent = len(outbox(database))
    start = pickup.reschedule_by_staff(database, clock, rules, reference, "staff:ani")
    after, moved = card(database, reference), visit_of(database, reference)
    assert start == after.pickup_at == moved.starts_at == before.pickup_at + timedelta(
        minutes=30)
    assert (after.stage, after.visit_id, after.pickup_code) == (
        "pickup_scheduled", visit.id, before.pickup_code)
    assert (moved.open_code, moved.changes) == (visit.open_code, 5)
    assert slots(database) == {start: 1}  # the old place is free again
    assert outbox(database)[sent:] == [
        f"Jadwal baru KTP-el NIK ***0001: Selasa, 1 Desember 2026, 08.30 WIB di Kantor "
        f"Kec. Bogor Selatan, Kota Bogor. Kode {before.pickup_code}. Bawa SMS ini."]
    with database.connect() as connection:
        last = connection.execute(select(ApplicationEvent.__table__)
                                  .order_by(ApplicationEvent.__table__.c.id.desc())).first()
    assert (last.stage, last.actor, last.note) == (
        "pickup_scheduled", "staff:ani", "pickup moved by staff")


def test_staff_give_a_held_card_a_new_pickup(database, clock):
    clock.set(wib(2026, 11, 30, 9, 0))
    rules = policy(max_reschedules=0)
    reference = scheduled(database, clock, rules)
    code = card(database, reference).pickup_code
    clock.set(wib(2026, 12, 2, 9, 0))  # Wednesday: Tuesday's pickup was missed
    assert pickup.reschedule_missed(database, clock, rules) == 1
    assert (card(database, reference).stage, card(database, reference).pickup_at) == (
        "missed_pickup", None)
    sent = len(outbox(database))
    start = pickup.reschedule_by_staff(database, clock, rules, reference, "staff:ani")
    after = card(database, reference)
    assert (after.stage, after.pickup_at) == ("pickup_scheduled", start)
    assert (visit_of(database, reference).starts_at,
            visit_of(database, reference).open_code) == (start, code)
    assert local(start).strftime("%Y-%m-%d %H:%M") == "2026-12-03 08:00"
    assert outbox(database)[sent:] == [
        f"Jadwal ambil KTP-el NIK ***0001 terlewat. Jadwal baru: Kamis, 3 Desember 2026, 08.00 "
        f"WIB di Kantor Kec. Bogor Selatan. Kode tetap: {code}."]


def test_staff_move_the_whole_family_visit_with_one_sms(database, clock):
    clock.set(wib(2026, 11, 30, 9, 0))  # Monday
    rules = policy()
    first, second = family_scheduled(database, clock, rules, NIK, "3173021208850002")
    code = visit_of(database, first).open_code
    assert visit_of(database, second).open_code == code
    sent = len(outbox(database))
    start = pickup.reschedule_by_staff(database, clock, rules, second, "staff:ani")
    assert local(start).strftime("%d %H:%M") == "01 08:30"
    assert card(database, first).pickup_at == card(database, second).pickup_at == start
    assert visit_of(database, first).starts_at == start
    assert slots(database) == {start: 2}  # both places of the old slot are free again
    assert outbox(database)[sent:] == [
        "Jadwal baru 2 KTP-el (NIK ***0001, ***0002): Selasa, 1 Desember 2026, 08.30 WIB di "
        f"Kantor Kec. Bogor Selatan, Kota Bogor. Kode {code}. Bawa SMS ini."]


def test_staff_cannot_move_what_has_no_open_pickup_or_no_free_slot(database, clock):
    clock.set(wib(2026, 11, 30, 9, 0))
    rules = policy(capacity=1, search_days=1)
    with database.connect() as connection:
        waiting = application(connection, clock, family(connection, clock), NIK)
    with pytest.raises(pickup.MoveRefused) as refused:
        pickup.reschedule_by_staff(database, clock, rules, waiting, "staff:ani")
    assert refused.value.key == "pickup.none"
    with pytest.raises(pickup.MoveRefused):
        pickup.reschedule_by_staff(database, clock, rules, "999999999", "staff:ani")
    with database.connect() as connection:  # fill Tuesday's other slots
        last = application(connection, clock, family(connection, clock, "3271010101200099",
                                                     "+6281299990000"),
                           "3173021208850002", stage="printed", printed_at=clock.now())
    with database.connect() as connection:
        connection.execute(_APPLICATION.update().where(_APPLICATION.c.reference == waiting)
                           .values(stage="printed", printed_at=clock.now()))
    assert pickup.allocate(database, clock, rules) == 2
    booked = slots(database)
    with database.connect() as connection:
        connection.execute(PickupSlot.__table__.update().values(booked=1))
    with pytest.raises(pickup.MoveRefused) as refused:
        pickup.reschedule_by_staff(database, clock, rules, last, "staff:ani")
    assert refused.value.key == "pickup.full"
    assert card(database, last).pickup_at in booked  # unchanged


def test_a_family_phone_finds_every_document_of_the_family_by_name(database, clock):
    with database.connect() as connection:
        home = family(connection, clock)
        card = application(connection, clock, home, NIK)
        kk = application(connection, clock, home, "3173021208850002", document="kk")
        child = application(connection, clock, home, "3173025208850003", document="kia")
        found = search(connection, PHONE)
    assert [(row.reference, row.document) for row in found.rows] == [
        (child, "kia"), (kk, "kk"), (card, "ktp")]


@pytest.mark.parametrize(("typed", "code"), [
    ("AKD34F", "AKD34F"), ("akd34f", "AKD34F"), (" akd 34f ", "AKD34F"), ("AKD-34F", "AKD34F"),
    ("Kode AKD34F", "AKD34F"), ("kode: akd34f.", "AKD34F"), ("KODEAKD34F", "AKD34F"),
    ("Kode tetap: AKD34F", "AKD34F"), ("kode sama AKD34F", "AKD34F"),
    ("Code AKD34F", "AKD34F"),
    ("kode TETAP3", "TETAP3"),  # a code that starts like a word of the SMS is still the code
    ("AKD34", None), ("AKD34FF", None), ("AKO34F", None),  # no O in a code
    ("kode", None), ("123456789", None), ("kode ambil", None),
])
def test_a_code_is_read_as_the_family_copies_it(typed, code):
    assert read_code(typed) == code


def visit_row(connection, clock, family_id: int, code: str, *, purpose: str = "pickup",
              open_: bool = False, **values) -> int:
    return connection.execute(insert(_VISIT).values(
        family_id=family_id, purpose=purpose, office="01", code=code,
        open_code=code if open_ else None, starts_at=clock.now() + timedelta(days=1),
        created_at=clock.now(), **values).returning(_VISIT.c.id)).scalar_one()


def moved(connection, clock, reference: str, stage: str, **values) -> None:
    """The application moved on to `stage` now, with its timeline entry."""
    application_id = connection.execute(
        _APPLICATION.update().where(_APPLICATION.c.reference == reference)
        .values(stage=stage, **values).returning(_APPLICATION.c.id)).scalar_one()
    connection.execute(insert(ApplicationEvent.__table__).values(
        application_id=application_id, at=clock.now(), stage=stage, actor="staff:op",
        note=""))


def test_a_code_names_its_open_visit_before_the_old_ones_that_had_it(database, clock):
    """A code is drawn again once its visit is over: the open visit wins, a used one is told
    as used with when, a code of another kecamatan is not found for its operator."""
    code = "AKD34F"
    with database.connect() as connection:
        home = family(connection, clock)
        old = visit_row(connection, clock, home, code)
        collected = application(connection, clock, home, NIK, stage="pickup_scheduled",
                                visit_id=old)
        clock.advance(timedelta(hours=2))
        moved(connection, clock, collected, "collected", collected_at=clock.now())
        handed_at = clock.now()
    with database.connect() as connection:
        used = visit_by_code(connection, code)
    assert (used.id, used.purpose, used.open, used.closed, used.closed_at) == (
        old, "pickup", False, "used", handed_at)
    assert [(row.reference, row.nik, row.waiting) for row in used.applications] == [
        (collected, "***0001", False)]

    with database.connect() as connection:
        papers = visit_row(connection, clock, home, code, purpose="papers")
        kk = application(connection, clock, home, "3271015507880003", document="kk",
                         papers_visit_id=papers)
    with database.connect() as connection:
        waiting = visit_by_code(connection, code)
        found = search(connection, "kode akd 34f")
        elsewhere = visit_by_code(connection, code, office="06")
    assert (waiting.id, waiting.papers, waiting.open) == (papers, True, True)
    assert [(row.reference, row.document, row.nik, row.stage, row.waiting)
            for row in waiting.applications] == [(kk, "kk", "***0003", "submitted", True)]
    assert found.query.key is Key.CODE and found.visit == waiting
    assert [row.reference for row in found.rows] == [kk]
    assert elsewhere is None

    with database.connect() as connection:
        pickup = visit_row(connection, clock, home, code, open_=True)
        card = application(connection, clock, home, "3171014501900009",
                           stage="pickup_scheduled", visit_id=pickup)
    with database.connect() as connection:
        opened = visit_by_code(connection, code)
    assert (opened.id, opened.open, [row.reference for row in opened.waiting]) == (
        pickup, True, [card])

    with database.connect() as connection:  # the papers received; the pickup given up
        clock.advance(timedelta(days=1))
        moved(connection, clock, kk, "papers_checked")
        received_at = clock.now()
        clock.advance(timedelta(hours=1))
        moved(connection, clock, kk, "signed")  # a later change is not when papers came
        connection.execute(_VISIT.update().where(_VISIT.c.id == pickup)
                           .values(open_code=None, post_requested_at=clock.now()))
        moved(connection, clock, card, "post_requested")
        posted_at = clock.now()
    with database.connect() as connection:
        newest = visit_by_code(connection, code)
        received = search(connection, code).visit
    assert (newest.id, newest.closed, newest.closed_at) == (pickup, "post", posted_at)
    assert received is not None and received.id == pickup
    with database.connect() as connection:
        connection.execute(_APPLICATION.update().where(_APPLICATION.c.reference == card)
                           .values(visit_id=None))
        connection.execute(_VISIT.update().where(_VISIT.c.id == pickup).values(code="UUUUUU"))
        papers_closed = visit_by_code(connection, code)
    assert (papers_closed.id, papers_closed.closed, papers_closed.closed_at) == (
        papers, "used", received_at)


def test_a_papers_visit_whose_applications_were_cancelled_is_closed_not_used(database, clock):
    with database.connect() as connection:
        home = family(connection, clock)
        papers = visit_row(connection, clock, home, "346797", purpose="papers")
        kk = application(connection, clock, home, NIK, document="kk", papers_visit_id=papers)
        clock.advance(timedelta(minutes=5))
        moved(connection, clock, kk, "cancelled")
    with database.connect() as connection:
        closed = visit_by_code(connection, "346797")
        nothing = visit_by_code(connection, "346799")
    assert (closed.closed, closed.closed_at, closed.waiting) == ("closed", clock.now(), ())
    assert nothing is None
