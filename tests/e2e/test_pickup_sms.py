"""The whole way by SMS: register, penunggalan, print, pickup SMS, JADWAL, UBAH JADWAL."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from live_service import KK, NIK, NIK_2, PHONE, LiveService

from sms_ktp import penunggalan, pickup, printing
from sms_ktp.quiet_hours import QuietHours

REF = re.compile(r"ref (\d{9})")
CODE = re.compile(r"Kode ambil: ([A-Z0-9]{6})")


def printed_card(service: LiveService, nik: str) -> str:
    service.sms(PHONE, f"DAFTAR {nik}#{KK}#2")
    reference = REF.search(service.sms(PHONE, "YA")[0]).group(1)
    runtime = service.runtime
    summary = penunggalan.Summary()
    rows = list(penunggalan.read_csv(f"nik,result,note\n{nik},PRR,\n", summary))
    penunggalan.apply(runtime.db, runtime.clock, QuietHours(), rows, summary, "op")
    printing.add_blangko(runtime.db, runtime.clock, "disdukcapil", 1, "op")
    batch = printing.reserve_next(runtime.db, runtime.clock, "disdukcapil", None)
    printing.mark_printed(runtime.db, runtime.clock, QuietHours(), batch.batch_id, "op")
    return reference


def test_from_printed_card_to_collected(service, clock):
    clock.set(datetime(2026, 11, 30, 2, 0, tzinfo=UTC))  # Monday 09:00 WIB
    reference = printed_card(service, NIK)
    service.worker.run_once()  # allocation, then the outbox
    # "Now in the print queue" was queued, but the card was printed and scheduled before the
    # worker sent it: only the pickup SMS, which is true, leaves.
    [pickup_sms] = service.received(PHONE)
    assert pickup_sms.startswith("KTP-el NIK ***0001 siap diambil Selasa, 1 Desember 2026, "
                                 "08.00 WIB di Kantor Kec. Bogor Selatan, Kota Bogor.")
    code = CODE.search(pickup_sms).group(1)
    assert service.sms(PHONE, "jadwal") == [pickup_sms]  # the same ticket, again
    [status] = service.sms(PHONE, f"STATUS {reference}")
    assert "siap diambil" in status
    [moved] = service.sms(PHONE, "UBAH JADWAL")
    assert moved.startswith("Jadwal baru: ambil KTP-el NIK ***0001 Selasa, 1 Desember 2026, "
                            "08.30 WIB") and f"Kode tetap: {code}" in moved
    [refused] = service.sms(PHONE, "ubah jadwal")  # once only, by default
    assert refused.startswith("Jadwal ambil sudah diubah 1 kali")
    assert pickup.verify(service.runtime.db, clock, code, "counter") == reference
    assert service.sms(PHONE, "JADWAL")[0].startswith("Belum ada KTP-el yang siap diambil")
    assert service.sms(PHONE, "STATUS")[0].endswith("KTP-el sudah diambil. Terima kasih.")


def test_a_family_with_two_cards_gets_two_tickets(service, clock):
    clock.set(datetime(2026, 11, 30, 2, 0, tzinfo=UTC))
    printed_card(service, NIK)
    clock.advance(timedelta(minutes=5))
    printed_card(service, NIK_2)
    service.worker.run_once()
    service.received(PHONE)
    tickets = service.sms(PHONE, "JADWAL")
    assert len(tickets) == 2 and len({CODE.search(t).group(1) for t in tickets}) == 2
    assert service.sms(PHONE, "UBAH JADWAL")[0].startswith("Ada 2 jadwal ambil.")
