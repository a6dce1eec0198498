"""An Akta Kelahiran applied for by SMS, end to end through the real webhook on SQLite and
PostgreSQL: the dialogue with its wrong answers, a late registration told as such, the reference
and the papers to bring in two SMS, the papers visit booked in the pickup slots, then the PDF's
way: papers complete by the operator's `sms-ktp application advance`, then at the back office
signed, the akta, the new KK and the KIA uploaded, ready; the link's SMS, a wrong then the right
PIN, collected; STATUS in the akta's own words at each stage. Then the
one-message form, a summary answered TIDAK, and twins."""

from __future__ import annotations

import re

import requests
from document_steps import (
    LINK,
    a_wrong_pin,
    advance_by_command,
    at_the_office,
    office_decides,
    office_uploads,
    reference_in,
    rows,
    status,
    type_pin,
)
from live_service import KK, NIK, PHONE

from sms_ktp.domain.masking import mask_phone
from sms_ktp.domain.stages import Stage
from sms_ktp.models import Application, ApplicationEvent, PickupSlot, PickupVisit

# The service's day is Monday 30 November 2026 (tests/conftest.py START): a child born on
# 12 March 2026 is reported 263 days later, one born on 15 November 15 days later.
PHONE_MASKED = mask_phone(PHONE)
PDFS = {"akta kelahiran.pdf": b"%PDF-1.7\n% akta\n%%EOF\n",
        "kk baru.pdf": b"%PDF-1.7\n% kk\n%%EOF\n",
        "kia.pdf": b"%PDF-1.7\n% kia\n%%EOF\n"}


def test_a_late_akta_from_the_dialogue_to_its_pdfs_downloaded(service):
    service.runtime.settings.server.public_url = service.base_url
    [ask] = service.sms(PHONE, "AKTA LAHIR")
    assert ask == ("Akta Kelahiran Kota Bogor. Kirim NIK ayah atau ibu si anak (pelapor). Ketik "
                   "BATAL untuk membatalkan.")
    assert service.sms(PHONE, "3271 0145") == ["NIK harus 16 angka, yang terbaca 8 angka. "
                                               "Kirim lagi NIK:"]
    assert service.sms(PHONE, NIK) == ["Kirim nomor KK (Kartu Keluarga) tempat anak akan "
                                       "dicatat, 16 angka."]
    [wrong_kk] = service.sms(PHONE, "3276010101200003")  # a Depok KK
    assert wrong_kk.startswith("KK ini bukan KK Kota Bogor (diawali 3271).")
    assert service.sms(PHONE, KK) == ["Tanggal lahir anak? Tulis tanggal-bulan-tahun, "
                                      "misalnya 17-08-2024."]
    assert service.sms(PHONE, "1 Desember 2026") == [
        "Tanggal itu belum lewat. Periksa lagi dan kirim tanggal-bulan-tahun, misalnya "
        "17-08-2019:"]
    assert service.sms(PHONE, "maret") == ["Tanggal tidak terbaca. Tulis tanggal-bulan-tahun, "
                                           "misalnya 17-08-2019:"]
    assert service.sms(PHONE, "12/3/2026") == [
        "Lahir 12-03-2026: lewat 60 hari, jadi pencatatan terlambat. Berkasnya sama. Jenis "
        "kelamin anak? Balas 1 Laki-laki atau 2 Perempuan."]
    assert service.sms(PHONE, "5") == ["Balas 1 untuk laki-laki atau 2 untuk perempuan."]
    [summary] = service.sms(PHONE, "2")
    assert summary == ("Periksa: akta lahir anak perempuan, 12-03-2026 (terlambat), NIK pelapor "
                       "***0001, KK ***0003. Data hanya dipakai untuk akta. Balas YA kirim, "
                       "TIDAK batal.")
    done, bring = service.sms(PHONE, "ya")
    reference = reference_in(done)
    assert re.fullmatch(r"Permohonan Akta Kelahiran diterima, ref \d{9}\. Serahkan berkas \w+, "
                        r"\d+ \w+ \d{4}, \d\d\.\d\d WIB di Kantor Kec\. Bogor Selatan\.",
                        done), done
    assert bring == (f"Berkas akta ref {reference} (terlambat, syarat sama): surat lahir "
                     "RS/bidan/lurah atau SPTJM F-2.03, buku nikah atau SPTJM F-2.04, KK, "
                     "F-2.01, KTP-el ayah & ibu.")
    assert NIK not in done + bring and KK not in done + bring

    [application] = rows(service, Application)
    assert (application.document, application.reference, application.nik, application.reason,
            application.details, application.active_nik, application.stage) == \
        ("akta_lahir", reference, NIK, "terlambat", {"birth_date": "2026-03-12", "sex": "P"},
         None, "submitted")
    [visit] = rows(service, PickupVisit)
    assert (visit.purpose, visit.office, visit.open_code, application.papers_visit_id) == \
        ("papers", "01", None, visit.id)
    assert [slot.booked for slot in rows(service, PickupSlot) if slot.booked] == [1]
    assert status(service, reference) == (
        f"Ref {reference} Akta Kelahiran: permohonan diterima. Serahkan berkas sesuai jadwal di "
        "SMS; akta diproses setelah berkas lengkap.")

    assert advance_by_command(service, reference, Stage.PAPERS_CHECKED) == (
        f"ref {reference} (akta_lahir): submitted -> papers_checked\n"
        f"SMS to {PHONE_MASKED}: Berkas Akta Kelahiran ref {reference} sudah lengkap. Akta "
        "sedang diproses dan ditandatangani; tautan unduh dikirim lewat SMS.\n")
    assert service.received(PHONE) == [
        f"Berkas Akta Kelahiran ref {reference} sudah lengkap. Akta sedang diproses dan "
        "ditandatangani; tautan unduh dikirim lewat SMS."]
    staff = at_the_office(service)
    signed = office_decides(service, staff, reference, "advance", to="signed")
    assert "Permohonan lanjut ke tahap sudah TTE." in signed
    assert service.received(PHONE) == []
    assert status(service, reference) == (
        f"Ref {reference} Akta Kelahiran: akta sudah ditandatangani elektronik (TTE). Tautan "
        "unduh segera dikirim lewat SMS.")

    for name, content in PDFS.items():
        assert f"Dokumen {name} diunggah" in office_uploads(staff, reference, name, content)
    ready_page = office_decides(service, staff, reference, "advance", to="ready")
    assert "Keluarga diberi tahu lewat SMS." in ready_page
    [ready] = service.received(PHONE)
    assert ready.startswith(f"Akta Kelahiran ref {reference} sudah jadi. Unduh "
                            f"{service.base_url}/d/"), ready
    code, pin = LINK.search(ready).groups()
    assert code not in ready_page and pin not in ready_page  # staff never see them
    assert status(service, reference) == (
        f"Ref {reference} Akta Kelahiran: akta sudah jadi, biasanya bersama KK baru dan KIA "
        "anak. Tautan unduh dan PIN dikirim lewat SMS; bisa juga dicetak di kelurahan.")

    family, link = requests.Session(), f"{service.base_url}/d/{code}"
    wrong = type_pin(family, link, family.get(link, timeout=10), a_wrong_pin(pin))
    assert wrong.status_code == 403 and "PIN salah, sisa 4 kali" in wrong.text
    listed = type_pin(family, link, wrong, pin)
    assert listed.status_code == 200
    assert all(name in listed.text for name in PDFS), listed.text
    links = re.findall(r'href="(/d/[^"]+)"', listed.text)
    assert len(links) == 3
    first = family.get(service.base_url + links[0], timeout=10)
    assert first.headers["Content-Type"] == "application/pdf"
    assert first.content in PDFS.values()
    assert status(service, reference) == (
        f"Ref {reference} Akta Kelahiran: akta sudah diunduh atau dicetak. Selesai, terima "
        "kasih.")
    assert service.sms(PHONE, "STATUS") == [status(service, reference)]
    assert [e.stage for e in rows(service, ApplicationEvent)] == [
        "submitted", "papers_checked", "signed", "ready", "collected"]


def test_the_one_message_form_tidak_and_twins_in_one_papers_visit(service):
    [summary] = service.sms(PHONE, f"AKTE LAHIR {NIK} {KK} 15-11-2026 L")
    assert summary == ("Periksa: akta lahir anak laki-laki, 15-11-2026 (tepat waktu), NIK "
                       "pelapor ***0001, KK ***0003. Data hanya dipakai untuk akta. Balas YA "
                       "kirim, TIDAK batal.")
    assert service.sms(PHONE, "TIDAK") == ["Permohonan Akta Kelahiran tidak dikirim. Ketik "
                                           "AKTA LAHIR untuk mengisi ulang."]
    assert rows(service, Application) == []

    references = []
    for sex in ("L", "P"):
        [summary] = service.sms(PHONE, f"AKTA LAHIR {NIK}#{KK}#15/11/2026#{sex}")
        assert "15-11-2026 (tepat waktu)" in summary
        done, bring = service.sms(PHONE, "YA")
        references.append(reference_in(done))
        assert bring == (f"Berkas akta ref {references[-1]}: surat lahir RS/bidan/lurah (atau "
                         "SPTJM F-2.03 + 2 saksi), buku nikah (atau SPTJM F-2.04), KK, F-2.01, "
                         "KTP-el ayah & ibu. Asli.")
    applications = rows(service, Application)
    assert [(a.reference, a.reason, a.details["sex"]) for a in applications] == [
        (references[0], "tepat", "L"), (references[1], "tepat", "P")]
    [visit] = rows(service, PickupVisit)  # the twins' papers are handed in at one visit
    assert {a.papers_visit_id for a in applications} == {visit.id}
    [listed] = service.sms(PHONE, "STATUS")
    assert listed.count("Akta Kelahiran") == 2


def test_a_labelled_kk_at_the_nik_question_and_a_labelled_birth_date(service):
    service.sms(PHONE, "AKTA LAHIR")
    assert service.sms(PHONE, f"nomor KK: {KK}") == [
        "Akta Kelahiran Kota Bogor. KK ***0003 sudah dicatat. Kirim NIK ayah atau ibu si anak. "
        "Ketik BATAL untuk membatalkan."]
    assert service.sms(PHONE, NIK) == ["Tanggal lahir anak? Tulis tanggal-bulan-tahun, "
                                       "misalnya 17-08-2024."]
    assert service.sms(PHONE, "tgl lahir") == ["Tanggal tidak terbaca. Tulis "
                                               "tanggal-bulan-tahun, misalnya 17-08-2019:"]
    assert service.sms(PHONE, "Tgl. lahir: 15-11-2026") == [
        "Lahir 15-11-2026: dilaporkan tepat waktu. Jenis kelamin anak? Balas 1 Laki-laki atau "
        "2 Perempuan."]
    [summary] = service.sms(PHONE, "P")
    assert "15-11-2026 (tepat waktu), NIK pelapor ***0001, KK ***0003" in summary
    service.sms(PHONE, "YA")
    [application] = rows(service, Application)
    assert (application.nik, application.details["birth_date"]) == (NIK, "2026-11-15")


def test_kk_hash_nik_hash_at_the_nik_question_answers_it_and_starts_no_kk(service):
    service.sms(PHONE, "AKTA LAHIR")
    assert service.sms(PHONE, f"KK#{KK}#NIK#{NIK}") == [
        "Tanggal lahir anak? Tulis tanggal-bulan-tahun, misalnya 17-08-2024."]
    assert service.sms(PHONE, f"KK # {KK} # NIK # {NIK}") == [
        "Tanggal tidak terbaca. Tulis tanggal-bulan-tahun, misalnya 17-08-2019:"]
    service.sms(PHONE, "15-11-2026")
    [summary] = service.sms(PHONE, "P")
    assert "NIK pelapor ***0001, KK ***0003" in summary
    service.sms(PHONE, "YA")
    [application] = rows(service, Application)  # no KK application beside it
    assert (application.document, application.nik) == ("akta_lahir", NIK)
