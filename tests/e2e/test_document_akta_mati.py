"""An Akta Kematian reported by SMS, end to end through the real webhook on SQLite and
PostgreSQL: the dialogue with its wrong answers (a short NIK, the reporter's NIK for the
deceased's, a date in the future, unreadable or before the deceased's birth, a KK of another
regency), the reference and the papers to bring in two SMS, the papers visit booked in the pickup
slots, then the PDF's way, driven by staff at the back office and by the operator's command:
papers complete at the office, signed by `sms-ktp application advance`, the akta attached by
`sms-ktp application attach` and the updated KK uploaded at the office, ready by the command,
the link's SMS, a wrong PIN then the right one, collected; STATUS in the akta's own words. Then
the one-message form, a summary answered TIDAK, and one open report per deceased."""

from __future__ import annotations

import re

import requests
from document_steps import (
    LINK,
    REF,
    a_wrong_pin,
    advance_by_command,
    at_the_office,
    attach_by_command,
    command,
    office_decides,
    office_uploads,
    reference_in,
    rows,
    status,
    type_pin,
)
from live_service import KK, KK_2, NIK, NIK_2, PHONE, PHONE_2

from flows.catalogue import render
from sms_ktp.domain.stages import Stage
from sms_ktp.models import Application, ApplicationEvent, PickupSlot, PickupVisit

# The service's day is Monday 30 November 2026 (tests/conftest.py START).
DECEASED = "3271011208450003"  # a man born 12 August 1945, died 27 November 2026
DECEASED_2 = "3271015003520004"  # a woman born 10 March 1952
PDFS = {"akta kematian.pdf": b"%PDF-1.7\n% akta\n%%EOF\n",
        "kk baru.pdf": b"%PDF-1.7\n% kk\n%%EOF\n"}


def test_a_death_reported_from_the_dialogue_to_its_pdfs_downloaded(service, tmp_path):
    service.runtime.settings.server.public_url = service.base_url
    [ask] = service.sms(PHONE, "AKTA MATI")
    assert ask == ("Laporan kematian (Akta Kematian) Kota Bogor. Kirim NIK pelapor: ahli waris "
                   "atau keluarga. Ketik BATAL untuk membatalkan.")
    assert service.sms(PHONE, "3271 0145") == ["NIK harus 16 angka, yang terbaca 8 angka. "
                                               "Kirim lagi NIK:"]
    deceased_asked = ("Kirim NIK almarhum/almarhumah (yang meninggal), 16 angka, ada di KK atau "
                      "KTP-el. Bukan NIK pelapor.")
    assert service.sms(PHONE, NIK) == [deceased_asked]
    assert service.sms(PHONE, NIK) == [deceased_asked]  # the reporter's NIK: asked again
    assert service.sms(PHONE, DECEASED) == ["Kirim tanggal meninggal: tanggal-bulan-tahun, "
                                            "misalnya 17-08-2024."]
    assert service.sms(PHONE, "1 Desember 2026") == [
        "Tanggal itu belum lewat. Periksa lagi dan kirim tanggal-bulan-tahun, misalnya "
        "17-08-2019:"]
    assert service.sms(PHONE, "kemarin") == ["Tanggal tidak terbaca. Tulis tanggal-bulan-tahun, "
                                             "misalnya 17-08-2019:"]
    assert service.sms(PHONE, "1-7-1945") == [
        "Tanggal meninggal lebih awal dari tanggal lahir di NIK almarhum/almarhumah "
        "(12-08-1945). Periksa lagi dan kirim tanggal meninggal:"]
    assert service.sms(PHONE, "27/11/2026") == ["Kirim nomor KK (Kartu Keluarga) "
                                                "almarhum/almarhumah, 16 angka."]
    [wrong_kk] = service.sms(PHONE, "3276010101200003")  # a Depok KK
    assert wrong_kk.startswith("KK ini bukan KK Kota Bogor (diawali 3271).")
    [summary] = service.sms(PHONE, KK)
    assert summary == ("Periksa: Akta Kematian NIK ***0003, meninggal 27-11-2026, KK ***0003, "
                       "pelapor NIK ***0001. Data hanya dipakai untuk Akta Kematian. Balas YA "
                       "atau TIDAK.")
    assert service.sms(PHONE, "mungkin")[0].startswith("Balas YA")
    done, bring = service.sms(PHONE, "ya")
    reference = reference_in(done)
    assert re.fullmatch(r"Permohonan Akta Kematian diterima, ref \d{9}\. Serahkan berkas \w+, "
                        r"\d+ \w+ \d{4}, \d\d\.\d\d WIB di Kantor Kec\. Bogor Selatan\.",
                        done), done
    assert bring == (f"Berkas Akta Kematian ref {reference}: surat kematian dari dokter/rumah "
                     "sakit atau kelurahan, KK dan KTP-el almarhum, KK dan KTP-el pelapor. Bawa "
                     "yang asli.")
    for text in (done, bring, summary):
        assert NIK not in text and DECEASED not in text and KK not in text

    [application] = rows(service, Application)
    assert (application.document, application.reference, application.nik, application.reason,
            application.details, application.stage) == \
        ("akta_mati", reference, NIK, "kematian",
         {"deceased_nik": DECEASED, "death_date": "2026-11-27"}, "submitted")
    assert application.active_nik is not None and DECEASED not in application.active_nik
    [visit] = rows(service, PickupVisit)
    assert (visit.purpose, visit.office, visit.open_code, application.papers_visit_id) == \
        ("papers", "01", None, visit.id)
    assert [slot.booked for slot in rows(service, PickupSlot) if slot.booked] == [1]
    assert status(service, reference) == (
        f"Ref {reference} Akta Kematian: permohonan diterima. Serahkan berkas sesuai jadwal di "
        "SMS; akta diproses setelah berkas lengkap.")

    staff = at_the_office(service)
    page = staff.get(f"/staff/applications/{reference}").text
    for fact in ("<dt>NIK pelapor</dt><dd class=\"nowrap\">***0001</dd>",
                 "<dt>NIK almarhum/almarhumah</dt><dd>***0003</dd>",
                 "<dt>Tanggal meninggal</dt><dd>27-11-2026</dd>"):
        assert fact in page
    assert DECEASED not in page and NIK not in page
    complete = office_decides(service, staff, reference, "papers/complete")
    assert "Berkas lengkap dicatat. Keluarga diberi tahu lewat SMS." in complete
    assert service.received(PHONE) == [
        f"Berkas Akta Kematian ref {reference} sudah lengkap. Akta dan KK baru sedang diproses "
        "dan ditandatangani; tautan unduh dikirim lewat SMS."]
    assert advance_by_command(service, reference, note="TTE Kepala Dinas") == (
        f"ref {reference} (akta_mati): papers_checked -> signed\nno SMS\n")
    assert service.received(PHONE) == []
    assert status(service, reference) == (
        f"Ref {reference} Akta Kematian: akta dan KK baru sudah ditandatangani elektronik (TTE). "
        "Tautan unduh segera dikirim lewat SMS.")

    (akta, akta_pdf), (kk, kk_pdf) = PDFS.items()
    assert attach_by_command(service, reference, tmp_path, akta, akta_pdf).startswith(
        f"attached to ref {reference}: {akta} ({len(akta_pdf)} bytes, sha256 ")
    assert f"Dokumen {kk} diunggah" in office_uploads(staff, reference, kk, kk_pdf)
    shown = command(service, "show", reference)
    assert "files: 2" in shown and "stage: signed" in shown
    printed = advance_by_command(service, reference, Stage.READY)
    [ready] = service.received(PHONE)
    assert ready.startswith(f"Akta Kematian ref {reference} sudah jadi. Unduh "
                            f"{service.base_url}/d/"), ready
    code, pin = LINK.search(ready).groups()
    assert printed.startswith(f"ref {reference} (akta_mati): signed -> ready\n")
    assert pin not in printed and code not in printed  # the operator never sees them
    assert status(service, reference) == (
        f"Ref {reference} Akta Kematian: akta dan KK baru sudah jadi (PDF). Tautan unduh dan PIN "
        "dikirim lewat SMS; bisa juga dicetak di kelurahan.")

    family, link = requests.Session(), f"{service.base_url}/d/{code}"
    wrong = type_pin(family, link, family.get(link, timeout=10), a_wrong_pin(pin))
    assert wrong.status_code == 403 and "PIN salah, sisa 4 kali" in wrong.text
    assert wrong.text.count('name="pin"') == 1  # asked again
    listed = type_pin(family, link, wrong, pin)
    assert listed.status_code == 200
    assert all(name in listed.text for name in PDFS), listed.text
    links = re.findall(r'href="(/d/[^"]+)"', listed.text)
    assert len(links) == 2
    first = family.get(service.base_url + links[0], timeout=10)
    assert first.headers["Content-Type"] == "application/pdf"
    assert first.content in PDFS.values()
    assert status(service, reference) == (
        f"Ref {reference} Akta Kematian: akta dan KK baru sudah diunduh atau dicetak. Selesai, "
        "terima kasih.")
    assert [e.stage for e in rows(service, ApplicationEvent)] == [
        "submitted", "papers_checked", "signed", "ready", "collected"]


def test_the_one_message_form_tidak_and_one_open_report_per_deceased(service):
    [summary] = service.sms(PHONE, f"AKTE MATI {NIK} {DECEASED} 27-11-2026 {KK}")
    assert summary.startswith("Periksa: Akta Kematian NIK ***0003, meninggal 27-11-2026")
    assert service.sms(PHONE, "TIDAK") == ["Permohonan Akta Kematian tidak dikirim. Ketik "
                                           "AKTA MATI untuk mengisi ulang."]
    assert rows(service, Application) == []

    [summary] = service.sms(PHONE, f"AKTA KEMATIAN {NIK}#{DECEASED}#27-11-2026#{KK}")
    done, _ = service.sms(PHONE, "YA")
    reference = reference_in(done)
    exists = (f"Permohonan Akta Kematian untuk NIK almarhum/almarhumah ini sudah ada, ref "
              f"{reference}, dan sedang diproses. Cek prosesnya: STATUS {reference}")
    # Reported again by the same family, by the form or by the dialogue: its reference back.
    assert service.sms(PHONE, f"AKTA MATI {NIK}#{DECEASED}#27-11-2026#{KK}") == [exists]
    service.sms(PHONE, "akta mati")
    service.sms(PHONE, NIK_2)
    assert service.sms(PHONE, DECEASED) == [exists]
    # Another family's phone: refused when sent, and told as little as possible.
    service.sms(PHONE_2, f"AKTA MATI {NIK_2}#{DECEASED}#27-11-2026#{KK_2}")
    assert service.sms(PHONE_2, "YA") == [render("id", "error.nik.elsewhere")]
    assert len(rows(service, Application)) == 1
    # Another death in the family is another report.
    service.sms(PHONE, f"AKTA MATI {NIK}#{DECEASED_2}#28-11-2026#{KK}")
    done, _ = service.sms(PHONE, "YA")
    assert REF.search(done)
    assert service.sms(PHONE, "STATUS")[0].count("Akta Kematian") == 2


def test_the_nik_questions_read_the_numbers_sent_by_their_labels(service):
    service.sms(PHONE, "AKTA MATI")
    # the reporter's NIK and the KK, labelled, in lower case: the NIK answers, the KK is kept
    assert service.sms(PHONE, f"kk: {KK}, nik: {NIK}") == [
        "Kirim NIK almarhum/almarhumah (yang meninggal), 16 angka, ada di KK atau KTP-el. Bukan "
        "NIK pelapor."]
    # the deceased's NIK labelled, on its own line after the KK again: the question answered
    assert service.sms(PHONE, f"No. KK {KK}\nNIK {DECEASED}") == [
        "Kirim tanggal meninggal: tanggal-bulan-tahun, misalnya 17-08-2024."]
    [summary] = service.sms(PHONE, "27-11-2026")  # the KK kept answers its question
    assert summary.startswith("Periksa: Akta Kematian NIK ***0003, meninggal 27-11-2026, KK "
                              "***0003, pelapor NIK ***0001.")
    service.sms(PHONE, "YA")
    [application] = rows(service, Application)
    assert (application.nik, application.details["deceased_nik"]) == (NIK, DECEASED)
