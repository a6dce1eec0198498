"""A KIA applied for by SMS, end to end through the real webhook on SQLite and PostgreSQL: the
dialogue with its wrong answers, the one-message form, the reference and the papers to bring in
two SMS (the photos' background named from the birth year), the papers visit booked in the pickup
slots, then the card's way: papers complete at the back office, the print queue by `sms-ktp
application advance`, printed on a KIA blangko by the operator's `blangko add --card kia`,
`print next --card kia` and `print done` (never on a KTP-el blangko), its pickup SMS naming the
child by birth date, handed over; STATUS in the KIA's own words at each stage."""

from __future__ import annotations

import re

from document_steps import (
    advance_by_command,
    at_the_office,
    office_decides,
    reference_in,
    rows,
    sms_ktp,
)
from live_service import KK, NIK, PHONE, PHONE_2

from sms_ktp.applications import pickup
from sms_ktp.models import Application, ApplicationEvent, PickupSlot, PickupVisit

CODE = re.compile(r"Kode ([A-Z0-9]{6})")
# The service's day is Monday 30 November 2026 (tests/conftest.py START).


def test_a_kia_from_the_dialogue_to_the_card_collected(service):
    [ask] = service.sms(PHONE, "KIA")
    assert ask == ("Permohonan KIA (Kartu Identitas Anak) Kota Bogor. Kirim NIK ayah atau ibu "
                   "si anak. Ketik BATAL untuk membatalkan.")
    assert service.sms(PHONE, "32710145019") == ["NIK harus 16 angka, yang terbaca 11 angka. "
                                                 "Kirim lagi NIK:"]
    assert service.sms(PHONE, NIK) == ["Kirim nomor KK (Kartu Keluarga) tempat anak terdaftar, "
                                       "16 angka."]
    [wrong_kk] = service.sms(PHONE, "3276010101200003")  # a Depok KK
    assert wrong_kk.startswith("KK ini bukan KK Kota Bogor (diawali 3271).")
    assert service.sms(PHONE, KK) == ["Kirim tanggal lahir anak (tanggal-bulan-tahun), "
                                      "misalnya 17-08-2019."]
    assert service.sms(PHONE, "1 Desember 2026") == [
        "Tanggal itu belum lewat. Periksa lagi dan kirim tanggal-bulan-tahun, misalnya "
        "17-08-2019:"]
    assert service.sms(PHONE, "tgl 12") == ["Tanggal tidak terbaca. Tulis tanggal-bulan-tahun, "
                                            "misalnya 17-08-2019:"]
    [too_old] = service.sms(PHONE, "30-11-2009")  # 17 today
    assert too_old.startswith("KIA hanya untuk anak di bawah 17 tahun. Umur 17 ke atas daftar "
                              "KTP-el: ketik DAFTAR.")
    [summary] = service.sms(PHONE, "12-03-2015")
    assert summary == ("Periksa: permohonan KIA, NIK orang tua ***0001, KK ***0003, anak lahir "
                       "12-03-2015. Data hanya dipakai untuk KIA. Balas YA untuk kirim atau "
                       "TIDAK untuk batal.")
    done, bring = service.sms(PHONE, "ya")
    reference = reference_in(done)
    assert re.fullmatch(r"Permohonan KIA diterima, ref \d{9}\. Serahkan berkas \w+, \d+ \w+ "
                        r"\d{4}, \d\d\.\d\d WIB di Kantor Kec\. Bogor Selatan\.", done), done
    assert bring == (f"Berkas KIA ref {reference}: fotokopi akta kelahiran anak, KK, KTP-el ayah "
                     "dan ibu, 2 pas foto anak 2x3 latar MERAH (tahun lahir ganjil). Bawa yang "
                     "asli.")
    assert NIK not in done + bring and KK not in done + bring

    [application] = rows(service, Application)
    assert (application.document, application.reference, application.nik, application.reason,
            application.details, application.active_nik, application.stage) == \
        ("kia", reference, NIK, "baru", {"birth_date": "2015-03-12"}, None, "submitted")
    [visit] = rows(service, PickupVisit)
    assert (visit.purpose, visit.open_code, application.papers_visit_id) == \
        ("papers", None, visit.id)
    assert [slot.booked for slot in rows(service, PickupSlot) if slot.booked] == [1]
    assert service.sms(PHONE, "STATUS") == [
        f"Ref {reference} KIA: permohonan diterima. Serahkan berkas sesuai jadwal di SMS; KIA "
        "dicetak setelah berkas lengkap."]

    staff = at_the_office(service)
    page = staff.get(f"/staff/applications/{reference}").text
    assert "<dt>NIK orang tua</dt>" in page
    assert "<dt>Tanggal lahir anak</dt><dd>12-03-2015</dd>" in page
    office_decides(service, staff, reference, "papers/complete")
    assert service.received(PHONE) == [f"Berkas KIA ref {reference} sudah lengkap. KIA masuk "
                                       "antrean cetak; jadwal ambil dikirim lewat SMS."]
    assert advance_by_command(service, reference) == (
        f"ref {reference} (kia): papers_checked -> print_queue\nno SMS\n")
    assert service.received(PHONE) == []  # told with the papers complete
    waiting = (f"Ref {reference} KIA: berkas lengkap, KIA menunggu blangko (kartu kosong) yang "
               "sedang habis. Dicetak begitu blangko datang; jadwal ambil dikirim lewat SMS.")
    assert service.sms(PHONE, f"STATUS {reference}") == [waiting]

    # A KIA is printed from its own blangko, never from the KTP-el's.
    assert sms_ktp(service, "blangko", "add", "5").exit_code == 0
    assert service.sms(PHONE, f"STATUS {reference}") == [waiting]
    assert "no print-ready card is waiting" in sms_ktp(service, "print", "next").stdout
    wrong = sms_ktp(service, "blangko", "add", "1", "--card", "sim")
    assert wrong.exit_code == 2 and "'sim' is not one of 'ktp', 'kia'" in wrong.stderr
    assert sms_ktp(service, "print", "next", "--card", "kia").stdout.strip() == (
        "nothing to print at disdukcapil (kia): no free blangko (stock 0, reserved 0)")
    assert sms_ktp(service, "blangko", "add", "1", "--card", "kia").stdout.strip() == (
        "added 1 blangko at disdukcapil (kia): stock 1, reserved 0, free 1")
    assert service.sms(PHONE, f"STATUS {reference}") == [
        f"Ref {reference} KIA: berkas lengkap, KIA antre giliran cetak. Jadwal ambil dikirim "
        "lewat SMS."]
    table = sms_ktp(service, "print", "next", "--card", "kia").stdout
    batch = re.match(r"batch (\d+) at disdukcapil \(kia\): 1 card\(s\)", table)
    assert batch and reference in table and "***0001" in table and NIK not in table, table
    assert sms_ktp(service, "print", "done", "--batch", batch.group(1)).stdout.strip() == (
        "1 card(s) marked printed")
    assert [a.stage for a in rows(service, Application)] == ["printed"]
    assert service.received(PHONE) == []
    # The STATUS is answered before the worker's run that books the pickup and tells it.
    status, told = service.sms(PHONE, f"STATUS {reference}")
    assert status == (f"Ref {reference} KIA: KIA sudah dicetak. Jadwal ambil segera dikirim "
                      "lewat SMS.")
    assert told.startswith("KIA lhr 12-03-2015 siap diambil "), told
    [status] = service.sms(PHONE, f"STATUS {reference}")
    assert status.startswith(f"Ref {reference} ") and "siap diambil" in status

    runtime = service.runtime
    pickup.verify(runtime.db, runtime.clock, CODE.search(told).group(1), "counter:1")
    assert service.sms(PHONE, f"STATUS {reference}") == [
        f"Ref {reference} KIA: KIA sudah diambil. Terima kasih."]
    assert [e.stage for e in rows(service, ApplicationEvent)] == [
        "submitted", "papers_checked", "print_queue", "printed", "pickup_scheduled", "collected"]


def test_the_one_message_form_and_twins(service):
    [summary] = service.sms(PHONE, f"KIA {NIK} {KK} 20/06/2024")
    assert "anak lahir 20-06-2024" in summary
    assert service.sms(PHONE, "TIDAK") == ["Permohonan KIA tidak dikirim. Ketik KIA untuk "
                                           "mengisi ulang."]
    assert rows(service, Application) == []

    references = []
    for form in (f"KIA {NIK}#{KK}#20-06-2024", f"kartu anak#{NIK}#{KK}#20-06-2024"):
        assert service.sms(PHONE, form)[0].startswith("Periksa: permohonan KIA")
        done, bring = service.sms(PHONE, "YA")
        references.append(reference_in(done))
        # 2 years old: no photos yet
        assert bring == (f"Berkas KIA ref {references[-1]}: fotokopi akta kelahiran anak, KK, "
                         "KTP-el ayah dan ibu. Bawa juga yang asli.")
    assert len(set(references)) == 2
    assert [a.document for a in rows(service, Application)] == ["kia", "kia"]
    [status] = service.sms(PHONE, "STATUS")
    assert f"{references[0]} KIA diterima" in status and f"{references[1]} KIA diterima" in status
    # One papers visit for the family: the twins' papers are handed in together.
    assert len(rows(service, PickupVisit)) == 1


def test_an_even_birth_year_asks_for_a_blue_background_and_other_phones_are_refused(service):
    service.sms(PHONE, f"KIA#{NIK}#{KK}#1-2-2012")
    _done, bring = service.sms(PHONE, "YA")
    assert bring.endswith("2 pas foto anak 2x3 latar BIRU (tahun lahir genap). Bawa yang asli.")
    [refused] = service.sms(PHONE_2, f"KIA {NIK}#{KK}#1-2-2012")
    assert refused.startswith("KK ini sudah terdaftar dengan nomor HP lain.")
    assert len(rows(service, Application)) == 1
