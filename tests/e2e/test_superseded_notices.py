"""Notifications waiting for the end of quiet hours while their application moves on: the one
made untrue or replaced never leaves, the one still true always does, and none leaves twice."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta

from live_service import KK, KK_2, NIK, NIK_2, PHONE, PHONE_2, LiveService
from sqlmodel import select

from sms_ktp.applications import penunggalan, pickup
from sms_ktp.models import OutboxMessage

REF = re.compile(r"ref (\d{9})")
CODE = re.compile(r"Kode (?:ambil: |tetap: )?([A-Z0-9]{6})\b")
NIK_3 = "3271024107850002"
MONDAY_2100 = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)  # quiet hours: 20:00-07:00 WIB
TUESDAY_0700 = datetime(2026, 11, 30, 23, 59, tzinfo=UTC) + timedelta(minutes=1)


def register(service: LiveService, phone: str, nik: str, kk: str) -> str:
    service.sms(phone, f"DAFTAR {nik}#{kk}#2")
    return REF.search(service.sms(phone, "YA")[0]).group(1)


def printed_at_night(service: LiveService, *niks: str) -> None:
    """Penunggalan results, blangko and a print run in the evening, then the worker's
    allocation: each card's "now in the print queue" and pickup SMS wait for the morning."""
    service.print_cards(*niks)
    service.worker.run_once()


def outbox(service: LiveService, kind: str = "notification") -> list[OutboxMessage]:
    with service.runtime.db.transaction() as session:
        return list(session.exec(select(OutboxMessage).where(OutboxMessage.kind == kind)
                                 .order_by(OutboxMessage.id)).all())


def test_a_family_whose_pickups_moved_at_night_gets_no_out_of_date_sms_in_the_morning(
        service, clock):
    clock.set(MONDAY_2100 - timedelta(hours=3))
    first, second = register(service, PHONE, NIK, KK), register(service, PHONE, NIK_2, KK)
    register(service, PHONE_2, NIK_3, KK_2)  # a neighbour, whose card does not move
    clock.set(MONDAY_2100)
    printed_at_night(service, NIK, NIK_2, NIK_3)
    assert service.received(PHONE) == [] and service.received(PHONE_2) == []
    waiting = outbox(service)
    # Print queue for each card, and one pickup SMS for the family's visit with both cards.
    assert Counter(m.text.split(" ")[0] for m in waiting if m.phone == PHONE) == {
        "Kabar": 2, "2": 1}
    [ticket] = [m.text for m in waiting if m.phone == PHONE and "siap diambil" in m.text]
    assert ticket.startswith("2 KTP-el (NIK ***0001, ***0002) siap diambil Selasa, 1 Desember")
    assert all(m.status == "queued" for m in waiting if "siap diambil" in m.text)

    # The visit moved that evening by the resident, named by its second card: both cards
    # move, the answer comes at once; the visit's one change is used up, by either card.
    [moved] = service.sms(PHONE, f"UBAH JADWAL {second} KAMIS")
    assert moved.startswith("Jadwal baru 2 KTP-el (NIK ***0001, ***0002): Kamis, 3 Desember")
    assert service.sms(PHONE, f"UBAH JADWAL {first}")[0].startswith(
        "Jadwal ambil hanya bisa diubah 1 kali lewat SMS dan sudah diubah.")

    clock.set(TUESDAY_0700)
    before = len(service.sent())
    service.worker.run_once()
    morning = service.sent()[before:]
    # The family's morning: nothing, for every notice waiting was out of date. The neighbour,
    # whose card did not move, gets the pickup SMS (and only it: "now in the print queue" was
    # made untrue by the printing).
    assert [sms for sms in morning if sms["to"] == PHONE] == []
    [neighbour] = [sms["text"] for sms in morning if sms["to"] == PHONE_2]
    assert neighbour.startswith(
        "KTP-el NIK ***0002 siap diambil Selasa, 1 Desember 2026, 08.00 WIB")
    mine = [m for m in outbox(service) if m.phone == PHONE]
    assert [m.status for m in mine] == ["superseded"] * 3
    assert not any(m.status == "queued" for m in outbox(service))

    # Both cards collected on the new day with the code of the answer: nothing more is sent.
    clock.set(datetime(2026, 12, 3, 2, 0, tzinfo=UTC))
    handover = pickup.verify(service.runtime.db, clock, CODE.search(moved).group(1), "counter")
    assert handover == pickup.Handover(handed=(first, second), kept=())
    service.worker.run_once()
    assert service.received(PHONE) == []
    assert service.sms(PHONE, "STATUS")[0].startswith("2 pendaftaran:")


def test_a_card_collected_before_its_pickup_sms_left_never_gets_it(service, clock):
    clock.set(MONDAY_2100 - timedelta(hours=3))
    register(service, PHONE, NIK, KK)
    clock.set(MONDAY_2100)
    printed_at_night(service, NIK)
    [ticket] = service.sms(PHONE, "JADWAL")  # asked for: a reply never waits
    clock.set(TUESDAY_0700 - timedelta(minutes=30))  # a visit before the office opens
    pickup.verify(service.runtime.db, clock, CODE.search(ticket).group(1), "counter")
    clock.set(TUESDAY_0700)
    service.worker.run_once()
    assert service.received(PHONE) == []
    assert [m.status for m in outbox(service)] == ["superseded", "superseded"]


def test_a_notice_still_true_waits_for_the_morning_and_leaves_once(service, clock):
    clock.set(MONDAY_2100 - timedelta(hours=3))
    reference = register(service, PHONE, NIK, KK)
    clock.set(MONDAY_2100)
    runtime = service.runtime
    summary = penunggalan.Summary()
    rows = list(penunggalan.read_csv(f"nik,result,note\n{NIK},PRR,\n", summary))
    penunggalan.apply(runtime.db, runtime.clock, runtime.quiet_hours, rows, summary, "op")
    service.worker.run_once()
    assert service.received(PHONE) == []
    clock.set(TUESDAY_0700)
    service.worker.run_once()
    service.worker.run_once()
    assert service.received(PHONE) == [
        f"Kabar KTP-el ref {reference} (NIK ***0001): penunggalan selesai, data siap cetak. Kini "
        "antre cetak; jadwal ambil dikirim lewat SMS."]
    assert [m.status for m in outbox(service)] == ["sent"]


def test_status_says_the_schedule_without_claiming_the_sms_was_sent(service, clock):
    clock.set(MONDAY_2100 - timedelta(hours=3))
    reference = register(service, PHONE, NIK, KK)
    clock.set(MONDAY_2100)
    printed_at_night(service, NIK)
    assert any(m.status == "queued" and "siap diambil" in m.text for m in outbox(service))
    [status] = service.sms(PHONE, f"STATUS {reference}")
    assert status == (f"Ref {reference} NIK ***0001: siap diambil Selasa, 1 Desember 2026, "
                      "08.00 WIB di Kantor Kec. Bogor Selatan. Kode ambil: ketik JADWAL.")
    assert "dikirim" not in status
    dial = service.ussd("ATUid_status", "")
    assert dial.startswith("CON ")
    screen = service.ussd("ATUid_status", "2")
    assert "siap diambil Selasa, 1 Desember 2026, 08.00 WIB" in screen
    assert "dikirim" not in screen


def test_jadwal_at_night_sends_the_ticket_once_not_again_in_the_morning(service, clock):
    clock.set(MONDAY_2100 - timedelta(hours=3))
    register(service, PHONE, NIK, KK)
    clock.set(MONDAY_2100)
    printed_at_night(service, NIK)
    [ticket] = service.sms(PHONE, "JADWAL")  # asked for at night: answered at once
    assert ticket.startswith("KTP-el NIK ***0001 siap diambil")
    clock.set(TUESDAY_0700)
    service.worker.run_once()
    # The morning brings nothing: the pickup SMS was the one sent at night, and the print
    # queue notice had been made untrue by the printing.
    assert service.received(PHONE) == []
    statuses = {m.text.split(" ")[0]: m.status for m in outbox(service)}
    assert statuses == {"Kabar": "superseded", "KTP-el": "superseded"}
