"""The papers visit of a KK, akta or KIA application on a real database with an injected clock:
booked in the pickup slots (capacity shared with pickups), joined by the family's next
application, reminded, moved, and closed by staff."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from itertools import count

from live_service import KK, NIK, PHONE
from sqlalchemy import insert, select, update

from flows.papers import document_name
from sms_ktp.applications import papers_visit
from sms_ktp.applications.pickup import PickupPolicy
from sms_ktp.domain.pickup_calendar import (
    WorkingCalendar,
    default_offices,
    local,
    slot_starts,
)
from sms_ktp.domain.quiet_hours import QuietHours, parse_local_time
from sms_ktp.models import (
    Application,
    ApplicationEvent,
    Family,
    OutboxMessage,
    PickupSlot,
    PickupVisit,
)

_serials = count(1)
_APPLICATION = Application.__table__
_VISIT = PickupVisit.__table__


def policy(capacity: int | None = None) -> PickupPolicy:
    offices = default_offices()
    if capacity is not None:
        offices = {code: replace(office, capacity=capacity) for code, office in offices.items()}
    return PickupPolicy(offices, WorkingCalendar(), QuietHours.parse(""), search_days=30)


def wib(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC) - timedelta(hours=7)


def family(database, clock, kecamatan: str = "01", phone: str = "+6281234567890") -> int:
    serial = next(_serials)
    with database.connect() as connection:
        return connection.execute(insert(Family.__table__).values(
            kk=f"3271{kecamatan}0101{serial:06d}", phone=phone, kecamatan_code=kecamatan,
            created_at=clock.now()).returning(Family.__table__.c.id)).scalar_one()


def apply(database, clock, family_id: int, document: str = "kk", kecamatan: str = "01",
          the_policy: PickupPolicy | None = None) -> tuple[int, papers_visit.PapersVisit | None]:
    """An application of the family with its papers visit booked, as registration does."""
    serial = next(_serials)
    with database.connect() as connection:
        visit = papers_visit.book(connection, the_policy or policy(), family_id, kecamatan,
                                  clock.now())
        application_id = connection.execute(insert(_APPLICATION).values(
            reference=f"P{serial:05d}", document=document, nik=f"3271014501{serial:06d}",
            family_id=family_id, reason="hilang", stage="submitted", language="id",
            channel="sms", created_at=clock.now(), updated_at=clock.now(),
            papers_visit_id=visit.id if visit else None,
        ).returning(_APPLICATION.c.id)).scalar_one()
    return application_id, visit


def booked(database, office: str = "01") -> dict[datetime, int]:
    with database.connect() as connection:
        return {row.starts_at: row.booked for row in connection.execute(
            select(PickupSlot.__table__).where(PickupSlot.__table__.c.office == office))
            if row.booked}


def visit_rows(database) -> list:
    with database.connect() as connection:
        return connection.execute(select(_VISIT).order_by(_VISIT.c.id)).all()


def test_booked_in_the_first_slot_of_the_next_working_day(database, clock):
    clock.set(wib(2026, 11, 27, 10, 0))  # Friday
    _, visit = apply(database, clock, family(database, clock))
    assert visit is not None
    assert visit.at == local(wib(2026, 11, 30, 8, 0))
    assert visit.office == "Kantor Kec. Bogor Selatan" and visit.address
    assert len(visit.code) == 6
    [row] = visit_rows(database)
    assert (row.purpose, row.open_code, row.code, row.office) == ("papers", None, visit.code, "01")
    assert row.reminded_at == clock.now()  # the reference SMS tells the next working day
    assert booked(database) == {wib(2026, 11, 30, 8, 0): 1}
    with database.connect() as connection:
        assert papers_visit.view(connection, policy(), visit.id) == visit


def test_the_familys_next_application_joins_its_open_visit(database, clock):
    clock.set(wib(2026, 11, 27, 10, 0))
    family_id = family(database, clock)
    _, first = apply(database, clock, family_id, "kk")
    _, second = apply(database, clock, family_id, "akta_lahir")
    assert second == first
    assert len(visit_rows(database)) == 1
    assert booked(database) == {wib(2026, 11, 30, 8, 0): 2}
    # Another family gets its own visit in the same slot.
    _, other = apply(database, clock, family(database, clock))
    assert other.id != first.id and other.at == first.at and other.code != first.code


def test_a_full_slot_is_skipped_and_pickups_share_the_capacity(database, clock):
    clock.set(wib(2026, 11, 27, 10, 0))
    with database.connect() as connection:
        connection.execute(insert(PickupSlot.__table__).values(
            office="01", starts_at=wib(2026, 11, 30, 8, 0), capacity=2, booked=2))
    _, visit = apply(database, clock, family(database, clock), the_policy=policy(capacity=2))
    assert visit.at == local(wib(2026, 11, 30, 8, 30))
    # The family's open visit is full: its next application gets a visit of its own, on
    # another day (one visit per family per day), though 09.00 that day has room.
    family_id = family(database, clock)
    _, first = apply(database, clock, family_id, the_policy=policy(capacity=2))
    assert first.at == local(wib(2026, 11, 30, 8, 30))
    _, second = apply(database, clock, family_id, the_policy=policy(capacity=2))
    assert second.id != first.id and second.at == local(wib(2026, 12, 1, 8, 0))


def test_a_family_coming_for_its_cards_hands_in_the_papers_in_the_same_slot(database, clock):
    clock.set(wib(2026, 11, 27, 10, 0))
    family_id = family(database, clock)
    with database.connect() as connection:
        connection.execute(insert(_VISIT).values(
            family_id=family_id, purpose="pickup", office="01",
            starts_at=wib(2026, 11, 30, 10, 30), code="ACDEFH", open_code="ACDEFH",
            reschedules=0, changes=0, created_at=clock.now()))
        connection.execute(insert(PickupSlot.__table__).values(
            office="01", starts_at=wib(2026, 11, 30, 10, 30), capacity=10, booked=1))
    _, visit = apply(database, clock, family_id)
    assert visit.at == local(wib(2026, 11, 30, 10, 30))
    assert booked(database) == {wib(2026, 11, 30, 10, 30): 2}


def test_a_visit_whose_papers_were_handed_in_is_not_joined(database, clock):
    clock.set(wib(2026, 11, 27, 10, 0))
    family_id = family(database, clock)
    application_id, first = apply(database, clock, family_id)
    with database.connect() as connection:
        connection.execute(update(_APPLICATION).where(_APPLICATION.c.id == application_id)
                           .values(stage="papers_checked"))
    _, second = apply(database, clock, family_id)
    assert second.id != first.id


def test_no_office_no_visit(database, clock):
    clock.set(wib(2026, 11, 27, 10, 0))
    family_id = family(database, clock, "99")
    with database.connect() as connection:
        assert papers_visit.book(connection, policy(), family_id, "99", clock.now()) is None
    assert visit_rows(database) == []


def test_a_visit_two_working_days_ahead_waits_for_its_reminder(database, clock):
    clock.set(wib(2026, 11, 26, 10, 0))  # Thursday; Friday has one slot, 08.00-08.30
    one_slot = {code: replace(office, hours={4: office.hours[4]}, slot_minutes=180, capacity=1)
                for code, office in default_offices().items()}
    the_policy = replace(policy(), offices=one_slot)
    apply(database, clock, family(database, clock), the_policy=the_policy)
    _, visit = apply(database, clock, family(database, clock), the_policy=the_policy)
    assert visit.at == local(wib(2026, 12, 4, 8, 0))
    assert visit_rows(database)[-1].reminded_at is None


# --- the reminder -------------------------------------------------------------------------------
def outbox(database) -> list:
    with database.connect() as connection:
        return connection.execute(select(OutboxMessage.__table__)
                                  .order_by(OutboxMessage.__table__.c.id)).all()


def timeline(database, application_id: int) -> list[tuple[str, str]]:
    table = ApplicationEvent.__table__
    with database.connect() as connection:
        return [(row.stage, row.note) for row in connection.execute(
            select(table).where(table.c.application_id == application_id)
            .order_by(table.c.id))]


def test_one_reminder_per_visit_on_the_working_day_before_naming_its_documents(database, clock):
    clock.set(wib(2026, 11, 25, 10, 0))  # Wednesday; Thursday's slots are full
    full = {code: replace(office, capacity=2) for code, office in default_offices().items()}
    the_policy = replace(policy(), offices=full)
    with database.connect() as connection:
        connection.execute(insert(PickupSlot.__table__), [
            {"office": "01", "starts_at": start, "capacity": 2, "booked": 2}
            for start in (wib(2026, 11, 26, 8, 0) + timedelta(minutes=30 * n)
                          for n in range(14))])
    family_id = family(database, clock)
    first, visit = apply(database, clock, family_id, "kk", the_policy=the_policy)
    second, _ = apply(database, clock, family_id, "akta_lahir", the_policy=the_policy)
    assert visit.at == local(wib(2026, 11, 27, 8, 0))  # Friday
    at = parse_local_time("16:00")
    assert papers_visit.remind(database, clock, the_policy, at) == 0  # not the day before yet
    clock.set(wib(2026, 11, 26, 15, 59))
    assert papers_visit.remind(database, clock, the_policy, at) == 0  # not the time yet
    clock.set(wib(2026, 11, 26, 16, 0))
    assert papers_visit.remind(database, clock, the_policy, at) == 1
    assert papers_visit.remind(database, clock, the_policy, at) == 0  # once
    with database.connect() as connection:
        references = dict(connection.execute(
            select(_APPLICATION.c.id, _APPLICATION.c.reference)).all())
    [message] = outbox(database)
    assert message.text == (
        f"Pengingat: serahkan berkas {document_name('id', 'kk')} ref {references[first]}, "
        f"{document_name('id', 'akta_lahir')} ref {references[second]} Jumat, 27 November 2026, "
        f"08.00 WIB di Kantor Kec. Bogor Selatan. Kode {visit.code}.")
    assert (message.phone, message.kind, message.segments) == (
        "+6281234567890", "notification", 1)
    assert timeline(database, first)[-1] == ("submitted", "papers visit reminder sent")


def test_no_reminder_for_papers_already_handed_in_or_a_pickup(database, clock):
    clock.set(wib(2026, 11, 25, 10, 0))
    one_slot = {code: replace(office, capacity=1) for code, office in default_offices().items()}
    the_policy = replace(policy(), offices=one_slot)
    with database.connect() as connection:
        connection.execute(insert(PickupSlot.__table__), [
            {"office": "01", "starts_at": wib(2026, 11, 26, 8, 0) + timedelta(minutes=30 * n),
             "capacity": 1, "booked": 1} for n in range(14)])
    application_id, visit = apply(database, clock, family(database, clock), the_policy=the_policy)
    assert visit.at.date().isoformat() == "2026-11-27"
    with database.connect() as connection:
        connection.execute(update(_APPLICATION).where(_APPLICATION.c.id == application_id)
                           .values(stage="papers_checked"))
    clock.set(wib(2026, 11, 26, 16, 0))
    assert papers_visit.remind(database, clock, the_policy, parse_local_time("16:00")) == 0
    assert outbox(database) == []


# --- over the webhook: the reference SMS, JADWAL, UBAH JADWAL, the reminder -------------------
REF = re.compile(r"ref (\d{9})")


def test_a_kk_applicant_moves_the_papers_visit_once_and_is_reminded(service, clock):
    clock.set(wib(2026, 11, 30, 9, 0))  # Monday
    service.sms(PHONE, f"KK {NIK}#{KK}#5")
    done, _bring = service.sms(PHONE, "YA")
    reference = REF.search(done).group(1)
    assert "Selasa, 1 Desember 2026, 08.00 WIB di Kantor Kec. Bogor Selatan" in done
    [ticket] = service.sms(PHONE, "JADWAL")
    code = ticket.rsplit("Kode ", 1)[1].rstrip(".")
    assert ticket == (f"Serahkan berkas KK ref {reference} Selasa, 1 Desember 2026, 08.00 WIB "
                      f"di Kantor Kec. Bogor Selatan. Kode {code}.")
    [moved] = service.sms(PHONE, "ubah jadwal kamis")
    assert moved == (f"Jadwal baru serahkan berkas KK ref {reference}: Kamis, 3 Desember 2026, "
                     f"08.00 WIB di Kantor Kec. Bogor Selatan. Kode {code}.")
    [refused] = service.sms(PHONE, "UBAH JADWAL JUMAT")
    assert refused.startswith("Jadwal serahkan berkas hanya bisa diubah 1 kali lewat SMS")
    # Tuesday at 16.00, the working day before Thursday: one reminder, then none.
    clock.set(wib(2026, 12, 1, 15, 0))
    service.worker.run_once()
    assert service.received(PHONE) == []
    clock.set(wib(2026, 12, 2, 16, 0))
    service.worker.run_once()
    assert service.received(PHONE) == [
        f"Pengingat: serahkan berkas KK ref {reference} Kamis, 3 Desember 2026, 08.00 WIB di "
        f"Kantor Kec. Bogor Selatan. Kode {code}."]
    service.worker.run_once()
    assert service.received(PHONE) == []
    with service.runtime.db.connect() as connection:
        slots = {row.starts_at: row.booked for row in connection.execute(
            select(PickupSlot.__table__)) if row.booked}
    assert slots == {wib(2026, 12, 3, 8, 0): 1}  # Tuesday's place given back


def test_ubah_jadwal_names_the_day_it_cannot_move_to(service, clock):
    clock.set(wib(2026, 11, 30, 9, 0))
    service.sms(PHONE, f"KK {NIK}#{KK}#5")
    service.sms(PHONE, "YA")
    [same] = service.sms(PHONE, "UBAH JADWAL 1/12")
    assert same.startswith("Jadwal berkas KK ref ") and " memang Selasa, 1 Desember 2026" in same
    [sunday] = service.sms(PHONE, "UBAH JADWAL MINGGU")
    assert sunday.startswith("Hari itu tidak ada jadwal kosong") and "Senin, 7 Desember" in sunday


def test_a_papers_visit_gone_by_is_no_longer_offered(service, clock):
    clock.set(wib(2026, 11, 30, 9, 0))
    service.sms(PHONE, f"KK {NIK}#{KK}#5")
    service.sms(PHONE, "YA")
    clock.set(wib(2026, 12, 1, 7, 0))  # the visit's own day: still told
    assert service.sms(PHONE, "JADWAL")[0].startswith("Serahkan berkas KK ref ")
    clock.set(wib(2026, 12, 2, 9, 0))  # the day after: papers any day in office hours
    assert service.sms(PHONE, "JADWAL")[0].startswith("Belum ada KTP-el yang siap diambil")
    assert service.sms(PHONE, "UBAH JADWAL")[0].startswith("Belum ada KTP-el yang siap")


def _fill(database, office, days) -> None:
    """Every slot of these days booked to the office's capacity."""
    with database.connect() as connection:
        connection.execute(insert(PickupSlot.__table__), [
            {"office": office.code, "starts_at": start, "capacity": office.capacity,
             "booked": office.capacity}
            for day in days for start in slot_starts(office, day)])


def test_full_days_are_passed_over_to_the_first_slot_with_room(database, clock):
    clock.set(wib(2026, 11, 27, 10, 0))  # Friday
    the_policy = policy(capacity=2)
    office = the_policy.offices["01"]
    days = the_policy.calendar.open_days(office, date(2026, 11, 30), 12)
    _fill(database, office, days[:11])  # more full days than one look at the slots takes
    _, visit = apply(database, clock, family(database, clock), the_policy=the_policy)
    assert visit.at == local(slot_starts(office, days[11])[0])
    assert booked(database)[slot_starts(office, days[11])[0]] == 1


def test_a_full_search_window_books_a_visit_without_a_slot(database, clock):
    clock.set(wib(2026, 11, 27, 10, 0))
    the_policy = policy(capacity=1)
    office = the_policy.offices["01"]
    _fill(database, office, the_policy.calendar.open_days(office, date(2026, 11, 30), 30))
    before = booked(database)
    _, visit = apply(database, clock, family(database, clock), the_policy=the_policy)
    assert visit is not None and visit.at is None and len(visit.code) == 6
    assert booked(database) == before
    [row] = visit_rows(database)
    assert row.starts_at is None and row.code == visit.code
