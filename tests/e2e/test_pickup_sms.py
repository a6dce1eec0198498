"""The whole way by SMS: register, penunggalan, print, pickup SMS, JADWAL, UBAH JADWAL."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

import pytest
from live_service import KK, NIK, NIK_2, PHONE, LiveService

from flows.keywords import parse_command
from sms_ktp.applications import pickup
from sms_ktp.domain.reference import new_reference

REF = re.compile(r"ref (\d{9})")
CODE = re.compile(r"Kode ([A-Z0-9]{6})")
MONDAY_0900 = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
# The card printed on Monday 30 November is to be collected on the next working day.
TICKET = ("KTP-el NIK ***0001 siap diambil Selasa, 1 Desember 2026, 08.00 WIB di Kantor Kec. "
          "Bogor Selatan, Kota Bogor.")


def printed_card(service: LiveService, nik: str) -> str:
    service.sms(PHONE, f"DAFTAR {nik}#{KK}#2")
    reference = REF.search(service.sms(PHONE, "YA")[0]).group(1)
    service.print_cards(nik)
    return reference


def scheduled(service: LiveService, clock, *niks: str) -> list[str]:
    """Cards printed one after the other on Monday morning and given their pickups; the SMS
    so far read. Each SMS of the next card's registration runs the worker, which gives the
    card printed before it a visit on Tuesday, the next working day: a card printed on the
    working day before its family's visit cannot join it, so every card has a visit (a code,
    an SMS) of its own."""
    clock.set(MONDAY_0900)
    references = []
    for nik in niks:
        references.append(printed_card(service, nik))
        clock.advance(timedelta(minutes=5))
    service.worker.run_once()  # allocation, then the outbox
    service.received(PHONE)
    return references


def test_from_printed_card_to_collected(service, clock):
    clock.set(MONDAY_0900)
    reference = printed_card(service, NIK)
    service.worker.run_once()  # allocation, then the outbox
    # "Now in the print queue" was queued, but the card was printed and scheduled before the
    # worker sent it: only the pickup SMS, which is true, leaves.
    [pickup_sms] = service.received(PHONE)
    assert pickup_sms.startswith(TICKET)
    code = CODE.search(pickup_sms).group(1)
    assert service.sms(PHONE, "jadwal") == [pickup_sms]  # the same ticket, again
    [status] = service.sms(PHONE, f"STATUS {reference}")
    assert "siap diambil Selasa, 1 Desember 2026, 08.00 WIB" in status
    [moved] = service.sms(PHONE, "UBAH JADWAL")
    # Not a later time of the same day: the next working day after the pickup's own.
    assert moved.startswith("Jadwal baru KTP-el NIK ***0001: Rabu, 2 Desember 2026, "
                            "08.00 WIB") and f"Kode {code}" in moved
    [refused] = service.sms(PHONE, "ubah jadwal kamis")  # once only, by default: and says so
    assert refused.startswith("Jadwal ambil hanya bisa diubah 1 kali lewat SMS dan sudah diubah.")
    assert pickup.verify(service.runtime.db, clock, code, "counter") == pickup.Handover(
        handed=(reference,), kept=())
    assert service.sms(PHONE, "JADWAL")[0].startswith("Belum ada KTP-el yang siap diambil")
    assert service.sms(PHONE, "STATUS")[0].endswith("KTP-el sudah diambil. Terima kasih.")


def test_a_family_with_two_visits_gets_two_tickets(service, clock):
    scheduled(service, clock, NIK, NIK_2)
    tickets = service.sms(PHONE, "JADWAL")
    assert len(tickets) == 2 and len({CODE.search(t).group(1) for t in tickets}) == 2
    # One ticket a visit, naming its own card only.
    assert sorted(ticket.split(" siap diambil ")[0] for ticket in tickets) == [
        "KTP-el NIK ***0001", "KTP-el NIK ***0002"]
    assert service.sms(PHONE, "UBAH JADWAL")[0].startswith("Ada 2 jadwal ambil.")
    assert service.sms(PHONE, "UBAH JADWAL RABU")[0].startswith(
        "Ada 2 jadwal ambil. Kirim UBAH JADWAL <ref> dan hari, misalnya UBAH JADWAL <ref> RABU")


def test_the_command_gives_the_reference_and_the_day_apart():
    assert parse_command("UBAH JADWAL 123456789 RABU").args == ("123456789", "RABU")
    assert parse_command("ubah jadwal 123 456 789 rabu").args == ("123456789", "rabu")


@pytest.mark.parametrize(("text", "moved"), [
    ("UBAH JADWAL {ref} RABU", "Jadwal baru KTP-el NIK ***0002: Rabu, 2 Desember 2026, "
                               "08.00 WIB"),
    ("ubah jadwal {ref} hari kamis", "Jadwal baru KTP-el NIK ***0002: Kamis, 3 Desember "
                                     "2026, 08.00 WIB"),
    ("UBAH JADWAL {ref} 15/12", "Jadwal baru KTP-el NIK ***0002: Selasa, 15 Desember "
                                "2026, 08.00 WIB"),
    ("UBAH JADWAL {ref} SELASA", "Jadwal baru KTP-el NIK ***0002: Selasa, 8 Desember "
                                 "2026, 08.00 WIB"),  # not the Tuesday it is already on
    # Sundanese and English day names (the reply is in the language the phone registered in).
    ("GENTOS JADWAL {ref} REBO", "Jadwal baru KTP-el NIK ***0002: Rabu, 2 Desember 2026"),
    ("CHANGE PICKUP {ref} WEDNESDAY", "Jadwal baru KTP-el NIK ***0002: Rabu, 2 Desember"),
    ("UBAH JADWAL {ref} JUMAAH", "Jadwal baru KTP-el NIK ***0002: Jumat, 4 Desember 2026"),
    ("UBAH JADWAL {ref} 3 DES", "Jadwal baru KTP-el NIK ***0002: Kamis, 3 Desember 2026"),
])
def test_a_day_named_in_the_message_is_honoured(service, clock, text, moved):
    _, second = scheduled(service, clock, NIK, NIK_2)
    [reply] = service.sms(PHONE, text.format(ref=second))
    assert reply.startswith(moved)
    tickets = service.sms(PHONE, "JADWAL")  # the other card's visit stays where it was
    assert any(ticket.startswith(TICKET) for ticket in tickets)


def test_an_unknown_or_mistyped_reference_is_said_so(service, clock):
    [reference] = scheduled(service, clock, NIK)
    stranger = next(ref for ref in (new_reference(random.Random(seed)) for seed in range(9))
                    if ref != reference)
    assert service.sms(PHONE, f"UBAH JADWAL {stranger}") == [
        f"Ref {stranger} tidak ditemukan di jadwal ambil nomor HP ini. Ketik JADWAL untuk "
        "melihat jadwal dan ref-nya."]
    assert service.sms(PHONE, f"UBAH JADWAL {stranger} RABU")[0].startswith(
        f"Ref {stranger} tidak ditemukan")
    typo = reference[:-1] + str((int(reference[-1]) + 1) % 10)
    assert service.sms(PHONE, f"UBAH JADWAL {typo}")[0].startswith("Nomor ref tidak cocok.")
    # None of these used the card's one change.
    assert service.sms(PHONE, f"UBAH JADWAL {reference} RABU")[0].startswith(
        "Jadwal baru KTP-el NIK ***0001: Rabu, 2 Desember 2026")


def test_a_day_without_a_free_slot_is_refused_with_the_nearest_one_and_changes_nothing(
        service, clock):
    scheduled(service, clock, NIK)
    assert service.sms(PHONE, "UBAH JADWAL SABTU") == [
        "Hari itu tidak ada jadwal ambil kosong (kantor tutup atau penuh). Terdekat: Jumat, 4 "
        "Desember 2026. Jadwal belum diubah; kirim UBAH JADWAL dan hari lain."]
    # Christmas cuti bersama, then Christmas: the nearest open day is the day before.
    assert "Terdekat: Rabu, 23 Desember 2026." in service.sms(PHONE, "UBAH JADWAL 24/12")[0]
    assert service.sms(PHONE, "UBAH JADWAL 1/12")[0] == (
        "Jadwal ambil KTP-el NIK ***0001 memang Selasa, 1 Desember 2026, 08.00 WIB. Untuk hari "
        "lain, kirim UBAH JADWAL dan nama hari atau tanggal.")
    assert service.sms(PHONE, "JADWAL")[0].startswith(TICKET)
    assert service.sms(PHONE, "UBAH JADWAL JUMAT")[0].startswith(
        "Jadwal baru KTP-el NIK ***0001: Jumat, 4 Desember 2026, 08.00 WIB")


def test_a_day_that_cannot_be_read_moves_nothing(service, clock):
    scheduled(service, clock, NIK)
    assert service.sms(PHONE, "UBAH JADWAL KAPAN SAJA") == [
        "Hari tidak terbaca, jadwal belum diubah. Kirim UBAH JADWAL dan nama hari atau tanggal, "
        "misalnya UBAH JADWAL RABU atau UBAH JADWAL 15/12."]
    assert service.sms(PHONE, "UBAH JADWAL RABU KAMIS")[0].startswith("Hari tidak terbaca")
    assert service.sms(PHONE, "UBAH JADWAL 31/02")[0].startswith("Hari tidak terbaca")
    assert service.sms(PHONE, "JADWAL")[0].startswith(TICKET)
