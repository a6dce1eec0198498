"""Pickup by family visit, the whole way: a family's cards printed together are collected in one
visit (one slot, one code, one SMS, one reminder); a card printed later joins it or gets a visit
of its own; a member who does not come gets a visit of their own; a missed visit, `JADWAL` and
`UBAH JADWAL` treat the visit as a whole. Residents through the real webhook, the counter through
the real `sms-ktp pickup verify`."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cli_runner import run
from live_service import (
    DATA_KEY,
    KK,
    LOOKUP_KEY,
    NIK,
    NIK_2,
    PHONE,
    PHONE_2,
    LiveService,
    start_service,
)
from sqlalchemy import select

from gsm7.encoding import GSM7_SINGLE, is_gsm7, septets
from sms_ktp.applications import pickup
from sms_ktp.messaging.whatsapp_templates import notice_parameters
from sms_ktp.models import Application, Family, OutboxMessage, PickupSlot, PickupVisit
from sms_ktp.platform.clock import FixedClock
from sms_ktp.platform.config import Settings
from sms_ktp.platform.db import Database

NIK_3 = "3271015507880003"  # a third member of the family (KK), a woman born 15 July 1988
# The neighbours: another family of the same kecamatan (the same office), two cards.
NEIGHBOUR_KK = "3271010202190004"
NEIGHBOUR_NIKS = ("3271024501900004", "3271016208920005")
REF = re.compile(r"ref (\d{9})")
CODE = re.compile(r"Kode (?:tetap: |sama: )?([A-Z0-9]{6})\b")
CARDS = "3 KTP-el (NIK ***0001, ***0002, ***0003)"
OFFICE = "Kantor Kec. Bogor Selatan"
MONDAY_0900 = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # 09:00 WIB
TUESDAY = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 09:00 WIB
WEDNESDAY_0800 = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)  # the family's visit
THURSDAY_0800 = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)
FRIDAY_0800 = datetime(2026, 12, 4, 1, 0, tzinfo=UTC)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")


def one_slot_a_day(settings: Settings) -> None:
    """The family's office has one slot a working day, 08.00 WIB, of three cards: small enough
    that the neighbours' two cards on Tuesday leave no room there for the family."""
    settings.pickup.offices = [{"code": "01", "hours": dict.fromkeys(WEEKDAYS, "08:00-09:00"),
                                "slot_minutes": 60, "capacity": 3}]


@pytest.fixture
def service(database: Database, clock: FixedClock, tmp_path: Path) -> Iterator[LiveService]:
    """The whole service (tests/support/live_service.py) with the office of `one_slot_a_day`."""
    yield from start_service(database, clock, tmp_path / "service", configure=one_slot_a_day)


@pytest.fixture
def counter(database: Database, tmp_path: Path) -> Path:
    """The folder of `sms-ktp` as staff at the counter run it: the service's database and keys
    in its configuration file."""
    folder = tmp_path / "counter"
    folder.mkdir()
    (folder / "sms-ktp.toml").write_text("\n".join([
        f"data_dir = {json.dumps(str(folder / 'var'))}",
        "[database]", f"url = {json.dumps(database.url)}",
        "[gateway]", 'provider = "console"',
        "[gateway.console]", f"outbox_file = {json.dumps(str(folder / 'outbox.jsonl'))}",
        "[privacy]", f'data_key = "{DATA_KEY}"', f'lookup_key = "{LOOKUP_KEY}"']) + "\n",
        "utf-8")
    return folder


def register(service: LiveService, phone: str, kk: str, *niks: str) -> list[str]:
    """The references of `niks`, registered by SMS from the family's phone."""
    references = []
    for nik in niks:
        service.sms(phone, f"DAFTAR {nik}#{kk}#2")
        references.append(REF.search(service.sms(phone, "YA")[0]).group(1))
    service.received(phone)
    return references


def neighbours_on_tuesday(service: LiveService, clock: FixedClock) -> str:
    """Monday 09.00: the neighbours' two cards printed and given Tuesday's slot (one place
    left there); their code."""
    clock.set(MONDAY_0900)
    register(service, PHONE_2, NEIGHBOUR_KK, *NEIGHBOUR_NIKS)
    service.print_cards(*NEIGHBOUR_NIKS)
    service.worker.run_once()
    [ticket] = service.received(PHONE_2)
    assert ticket.startswith("2 KTP-el (NIK ***0004, ***0005) siap diambil Selasa, 1 Desember")
    return CODE.search(ticket).group(1)


def printed(service: LiveService, *niks: str) -> list[str]:
    """The cards of `niks` printed together and allocated: the SMS the family then receives."""
    service.print_cards(*niks)
    service.worker.run_once()
    return service.received(PHONE)


def family_visit(service: LiveService, clock: FixedClock) -> tuple[list[str], str, str]:
    """The family's three cards printed together on Monday: their references, the one pickup
    SMS and its code (the visit is on Wednesday, Tuesday having no room for three). The
    neighbours collect theirs on Tuesday."""
    neighbours = neighbours_on_tuesday(service, clock)
    references = register(service, PHONE, KK, NIK, NIK_2, NIK_3)
    [ticket] = printed(service, NIK, NIK_2, NIK_3)
    pickup.verify(service.runtime.db, FixedClock(TUESDAY), neighbours, "counter")
    return references, ticket, CODE.search(ticket).group(1)


def cards(service: LiveService) -> dict[str, Any]:
    """The family's applications by reference (the neighbours' left out)."""
    table, family = Application.__table__, Family.__table__
    with service.runtime.db.connect() as connection:
        rows = connection.execute(select(table).join(family, family.c.id == table.c.family_id)
                                  .where(family.c.phone == PHONE).order_by(table.c.id)).all()
    return {row.reference: row for row in rows}


def visits(service: LiveService) -> list[Any]:
    """Every family's visits, oldest first."""
    table = PickupVisit.__table__
    with service.runtime.db.connect() as connection:
        return list(connection.execute(select(table).order_by(table.c.id)).all())


def notifications(service: LiveService, phone: str = PHONE) -> list[Any]:
    """The outbox rows of the notifications to `phone` (replies left out), with the card each
    was sent with."""
    table = OutboxMessage.__table__
    with service.runtime.db.connect() as connection:
        return list(connection.execute(select(table).where(
            table.c.phone == phone, table.c.kind == "notification").order_by(table.c.id)))


def booked(service: LiveService) -> dict[datetime, int]:
    """The places booked in the family's office's slots, by slot."""
    table = PickupSlot.__table__
    with service.runtime.db.connect() as connection:
        return {row.starts_at: row.booked for row in connection.execute(
            select(table).where(table.c.office == "01", table.c.booked > 0))}


def one_sms(text: str) -> bool:
    """Whether `text` leaves as one GSM-7 SMS, as a feature phone shows it."""
    return is_gsm7(text) and (septets(text) or GSM7_SINGLE + 1) <= GSM7_SINGLE


def test_a_family_printed_together_gets_one_sms_one_reminder_and_one_handover(
        service, clock, counter):
    references, ticket, code = family_visit(service, clock)
    assert ticket == (f"{CARDS} siap diambil Rabu, 2 Desember 2026, 08.00 WIB di {OFFICE}, "
                      f"Kota Bogor. Kode {code}. Bawa SMS ini.")
    assert one_sms(ticket)
    family = cards(service)
    assert list(family) == references
    [visit] = [v for v in visits(service) if v.family_id == family[references[0]].family_id]
    assert (visit.starts_at, visit.code, visit.open_code) == (WEDNESDAY_0800, code, code)
    assert {(c.stage, c.visit_id, c.pickup_at, c.pickup_code) for c in family.values()} == {
        ("pickup_scheduled", visit.id, WEDNESDAY_0800, code)}
    # One SMS row, sent with the first card; the slot booked for three.
    assert [(m.application_id, m.text) for m in notifications(service)
            if "siap diambil" in m.text] == [(family[references[0]].id, ticket)]
    assert booked(service)[WEDNESDAY_0800] == 3

    # The working day before: nothing before the reminder's time, then one reminder.
    clock.set(TUESDAY + timedelta(hours=6, minutes=59))  # 15.59 WIB
    service.worker.run_once()
    assert service.received(PHONE) == []
    clock.set(TUESDAY + timedelta(hours=7))  # 16.00 WIB
    service.worker.run_once()
    [reminder] = service.received(PHONE)
    assert reminder == (f"Pengingat: ambil {CARDS} Rabu, 2 Desember 2026, 08.00 WIB di "
                        f"{OFFICE}. Kode {code}. Bawa SMS ini.")
    assert one_sms(reminder)
    clock.advance(timedelta(hours=1))
    service.worker.run_once()
    assert service.received(PHONE) == []

    # At the counter: the three cards handed over with the one code.
    clock.set(WEDNESDAY_0800)
    handed = run(counter, "pickup", "verify", code)
    assert handed.returncode == 0, handed.stderr
    assert handed.stdout.splitlines() == [
        f"visit {code}: 3 card(s)",
        *(f"  ref {ref}  NIK ***000{n}" for n, ref in enumerate(references, 1)),
        *(f"collected: ref {ref}" for ref in references)]
    assert {card.stage for card in cards(service).values()} == {"collected"}
    assert [v.open_code for v in visits(service) if v.code == code] == [None]
    again = run(counter, "pickup", "verify", code)
    assert again.returncode == 1 and f"pickup code {code} was already used" in again.stderr
    service.worker.run_once()
    assert service.received(PHONE) == []  # nothing to tell: the family was there
    assert service.sms(PHONE, "JADWAL")[0].startswith("Belum ada KTP-el yang siap diambil")
    # Each notice names what it is, and reads as that notice's WhatsApp template.
    told = notifications(service)
    assert [m.notice for m in told if m.status != "superseded"] == [
        "notify.pickup_scheduled", "notify.reminder"]
    assert all(notice_parameters(m.notice, "id", m.text) is not None for m in told)


def test_a_card_printed_at_least_a_working_day_before_the_visit_joins_it(service, clock):
    neighbours_on_tuesday(service, clock)
    references = register(service, PHONE, KK, NIK, NIK_2, NIK_3)
    [ticket] = printed(service, NIK, NIK_2)
    code = CODE.search(ticket).group(1)
    assert ticket.startswith("2 KTP-el (NIK ***0001, ***0002) siap diambil Rabu, 2 Desember")

    clock.advance(timedelta(hours=5))  # Monday afternoon: Wednesday is a working day away
    [joined] = printed(service, NIK_3)
    assert joined == ("KTP-el NIK ***0003 juga sudah dicetak: ambil bersama Rabu, 2 Desember "
                      f"2026, 08.00 WIB di {OFFICE}. Kode sama: {code}.")
    assert one_sms(joined)
    family = cards(service)
    [visit] = [v for v in visits(service) if v.family_id == family[references[0]].family_id]
    assert {(c.visit_id, c.pickup_at, c.pickup_code) for c in family.values()} == {
        (visit.id, WEDNESDAY_0800, code)}
    assert booked(service)[WEDNESDAY_0800] == 3
    # The joined card's SMS went with it; the visit's own SMS with the first card.
    assert [m.application_id for m in notifications(service)
            if "siap diambil" in m.text or "juga sudah dicetak" in m.text] == [
        family[references[0]].id, family[references[2]].id]
    # JADWAL: the visit, one SMS naming the three cards.
    assert service.sms(PHONE, "JADWAL") == [
        f"{CARDS} siap diambil Rabu, 2 Desember 2026, 08.00 WIB di {OFFICE}, Kota Bogor. "
        f"Kode {code}. Bawa SMS ini."]


def test_a_card_printed_on_the_working_day_before_the_visit_gets_a_visit_of_its_own(
        service, clock):
    neighbours_on_tuesday(service, clock)
    references = register(service, PHONE, KK, NIK, NIK_2, NIK_3)
    [ticket] = printed(service, NIK, NIK_2)
    code = CODE.search(ticket).group(1)

    clock.set(TUESDAY)  # the working day before the visit: its cards are being laid out
    [own] = printed(service, NIK_3)
    own_code = CODE.search(own).group(1)
    assert own_code != code
    assert own == (f"KTP-el NIK ***0003 siap diambil Rabu, 2 Desember 2026, 08.00 WIB di "
                   f"{OFFICE}, Kota Bogor. Kode {own_code}. Bawa SMS ini.")
    family = cards(service)
    first, third = family[references[0]], family[references[2]]
    assert len({first.visit_id, third.visit_id}) == 2
    assert family[references[1]].visit_id == first.visit_id
    assert [(v.id, v.code) for v in visits(service) if v.family_id == first.family_id] == [
        (first.visit_id, code), (third.visit_id, own_code)]
    assert (third.pickup_code, first.pickup_code) == (own_code, code)
    # JADWAL: one SMS a visit, each naming its own cards and code.
    assert service.sms(PHONE, "JADWAL") == [ticket, own]


def test_a_member_who_did_not_come_gets_a_visit_of_their_own(service, clock, counter):
    references, _, code = family_visit(service, clock)
    first, second, third = references
    clock.set(WEDNESDAY_0800 + timedelta(minutes=20))
    handed = run(counter, "pickup", "verify", code, "--only", first, "--only", second)
    assert handed.returncode == 0, handed.stderr
    assert handed.stdout.splitlines() == [
        f"visit {code}: 3 card(s)", f"  ref {first}  NIK ***0001", f"  ref {second}  NIK ***0002",
        f"  ref {third}  NIK ***0003", f"collected: ref {first}", f"collected: ref {second}",
        f"kept for a new visit: ref {third}"]
    family = cards(service)
    assert [family[ref].stage for ref in references] == ["collected", "collected", "printed"]
    assert (family[third].visit_id, family[third].pickup_at) == (None, None)
    assert [v.open_code for v in visits(service) if v.code == code] == [None]
    assert booked(service)[WEDNESDAY_0800] == 2  # the kept card's place given back

    # The next allocation: a visit of its own, a new code, an SMS.
    service.worker.run_once()
    [ticket] = service.received(PHONE)
    new_code = CODE.search(ticket).group(1)
    assert new_code != code
    assert ticket == (f"KTP-el NIK ***0003 siap diambil Kamis, 3 Desember 2026, 08.00 WIB di "
                      f"{OFFICE}, Kota Bogor. Kode {new_code}. Bawa SMS ini.")
    kept = cards(service)[third]
    assert (kept.stage, kept.pickup_at, kept.pickup_code) == (
        "pickup_scheduled", THURSDAY_0800, new_code)
    assert service.sms(PHONE, "JADWAL") == [ticket]
    used = run(counter, "pickup", "verify", code)
    assert used.returncode == 1 and f"pickup code {code} was already used" in used.stderr

    clock.set(THURSDAY_0800)
    last = run(counter, "pickup", "verify", new_code)
    assert last.returncode == 0, last.stderr
    assert last.stdout.splitlines() == [f"visit {new_code}: 1 card(s)",
                                        f"  ref {third}  NIK ***0003", f"collected: ref {third}"]
    assert {card.stage for card in cards(service).values()} == {"collected"}


def test_a_missed_visit_moves_whole_then_is_held_whole(service, clock, counter):
    references, _, code = family_visit(service, clock)
    clock.set(THURSDAY_0800 - timedelta(hours=1))  # 07.00 WIB: Wednesday's visit was missed
    service.worker.run_once()
    [moved] = service.received(PHONE)
    assert moved == (f"Jadwal ambil {CARDS} terlewat. Jadwal baru: Jumat, 4 Desember 2026, "
                     f"08.00 WIB di {OFFICE}. Kode tetap: {code}.")
    assert one_sms(moved)
    family = cards(service)
    [visit] = [v for v in visits(service) if v.code == code]
    assert (visit.starts_at, visit.open_code, visit.reschedules) == (FRIDAY_0800, code, 1)
    assert {(c.stage, c.visit_id, c.pickup_at, c.pickup_code) for c in family.values()} == {
        ("pickup_scheduled", visit.id, FRIDAY_0800, code)}
    assert booked(service)[FRIDAY_0800] == 3
    assert len([m for m in notifications(service) if "terlewat" in m.text]) == 1
    # The reminder of the new day: one, for the three cards.
    clock.set(THURSDAY_0800 + timedelta(hours=8))  # 16.00 WIB
    service.worker.run_once()
    assert service.received(PHONE) == [
        f"Pengingat: ambil {CARDS} Jumat, 4 Desember 2026, 08.00 WIB di {OFFICE}. "
        f"Kode {code}. Bawa SMS ini."]

    # Missed again (Friday, then Monday): held at the office, all three, told once.
    clock.set(datetime(2026, 12, 5, 0, 0, tzinfo=UTC))  # Saturday 07.00 WIB
    service.worker.run_once()
    [again] = service.received(PHONE)
    assert again.startswith(f"Jadwal ambil {CARDS} terlewat. Jadwal baru: Senin, 7 Desember")
    clock.set(datetime(2026, 12, 8, 0, 0, tzinfo=UTC))  # Tuesday 07.00 WIB
    service.worker.run_once()
    [held] = service.received(PHONE)
    assert held == (f"{CARDS} disimpan di {OFFICE}. Ambil pada jam kerja dengan menunjukkan "
                    f"kode {code}.")
    assert {(c.stage, c.pickup_at) for c in cards(service).values()} == {("missed_pickup", None)}
    assert service.sms(PHONE, "JADWAL") == [held]
    handed = run(counter, "pickup", "verify", code)
    assert handed.returncode == 0, handed.stderr
    assert handed.stdout.splitlines()[4:] == [f"collected: ref {ref}" for ref in references]


def test_jadwal_answers_the_visit_and_ubah_jadwal_moves_it_whole(service, clock):
    references, ticket, code = family_visit(service, clock)
    assert service.sms(PHONE, "JADWAL") == [ticket]
    assert service.sms(PHONE, "UBAH JADWAL 2/12") == [
        f"Jadwal ambil {CARDS} memang Rabu, 2 Desember 2026, 08.00 WIB. Untuk hari lain, kirim "
        "UBAH JADWAL dan nama hari atau tanggal."]

    # Named by its third card, the visit moves with all three: one reply.
    assert service.sms(PHONE, f"UBAH JADWAL {references[2]} KAMIS") == [
        f"Jadwal baru {CARDS}: Kamis, 3 Desember 2026, 08.00 WIB di {OFFICE}, Kota Bogor. "
        f"Kode {code}. Bawa SMS ini."]
    family = cards(service)
    [visit] = [v for v in visits(service) if v.code == code]
    assert (visit.starts_at, visit.open_code, visit.changes) == (THURSDAY_0800, code, 1)
    assert {(c.visit_id, c.pickup_at, c.pickup_code) for c in family.values()} == {
        (visit.id, THURSDAY_0800, code)}
    assert WEDNESDAY_0800 not in booked(service) and booked(service)[THURSDAY_0800] == 3
    [moved_ticket] = service.sms(PHONE, "JADWAL")
    assert moved_ticket.startswith(f"{CARDS} siap diambil Kamis, 3 Desember 2026, 08.00 WIB")
    # The visit's one change is used, whichever card names it; a refusal moves nothing.
    assert service.sms(PHONE, f"UBAH JADWAL {references[0]} JUMAT")[0].startswith(
        "Jadwal ambil hanya bisa diubah 1 kali lewat SMS dan sudah diubah.")
    assert {c.pickup_at for c in cards(service).values()} == {THURSDAY_0800}

    # The reminder comes the day before the new day, once, for the three cards.
    clock.set(datetime(2026, 12, 2, 9, 0, tzinfo=UTC))  # Wednesday 16.00 WIB
    service.worker.run_once()
    assert service.received(PHONE) == [
        f"Pengingat: ambil {CARDS} Kamis, 3 Desember 2026, 08.00 WIB di {OFFICE}. "
        f"Kode {code}. Bawa SMS ini."]
