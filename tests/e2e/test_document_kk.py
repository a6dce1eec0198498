"""A Kartu Keluarga applied for by SMS, end to end through the real webhook: the dialogue with
its wrong answers, the one-message form, the reference and the papers to bring in two SMS, the
papers visit booked in the pickup slots, and STATUS naming the document."""

from __future__ import annotations

import re

from document_steps import reference_in, rows
from live_service import KK, NIK, NIK_2, PHONE, PHONE_2

from sms_ktp.domain import documents
from sms_ktp.models import Application, ApplicationEvent, PickupSlot, PickupVisit

# A girl born 5 March 2012 (14 today): too young to split a KK.
NIK_CHILD = "3271014503120002"


def test_a_kk_dialogue_with_wrong_answers_ends_in_a_reference_and_the_papers(service):
    [ask] = service.sms(PHONE, "KK")
    assert ask.startswith("Permohonan KK Kota Bogor. Kirim NIK pemohon: kepala keluarga")
    assert service.sms(PHONE, "12345") == ["NIK harus 16 angka, yang terbaca 5 angka. "
                                           "Kirim lagi NIK:"]
    assert service.sms(PHONE, NIK) == ["Kirim nomor KK (Kartu Keluarga) yang sekarang, "
                                       "16 angka."]
    [wrong_kk] = service.sms(PHONE, "3276010101200003")  # a Depok KK
    assert wrong_kk.startswith("KK ini bukan KK Kota Bogor (diawali 3271).")
    [reason] = service.sms(PHONE, KK)
    assert reason.startswith("Alasan? Balas angka: 1 Anggota bertambah")
    assert service.sms(PHONE, "9")[0].startswith("Pilihan tidak dikenal.")
    [summary] = service.sms(PHONE, "pisah kk")
    assert summary == ("Periksa: permohonan KK, pemohon NIK ***0001, KK ***0003, alasan pisah "
                       "KK. Data hanya dipakai untuk KK. Balas YA untuk kirim atau TIDAK untuk "
                       "batal.")
    done, bring = service.sms(PHONE, "ya")
    reference = reference_in(done)
    assert re.fullmatch(r"Permohonan KK diterima, ref \d{9}\. Serahkan berkas \w+, \d+ \w+ "
                        r"\d{4}, \d\d\.\d\d WIB di Kantor Kec\. Bogor Selatan\.", done), done
    assert bring == (f"Berkas KK ref {reference}: KK lama, KTP-el pemohon, buku nikah bila "
                     "sudah menikah. Formulir F-1.02 diisi di kantor. Bawa yang asli.")
    assert NIK not in done + bring and KK not in done + bring

    [application] = rows(service, Application)
    assert (application.document, application.reference, application.nik, application.reason,
            application.stage) == ("kk", reference, NIK, "pisah", "submitted")
    [visit] = rows(service, PickupVisit)
    assert (visit.purpose, visit.office, visit.open_code, application.papers_visit_id) == \
        ("papers", "01", None, visit.id)
    assert [slot.booked for slot in rows(service, PickupSlot) if slot.booked] == [1]
    assert [(e.stage, e.actor) for e in rows(service, ApplicationEvent)] == \
        [("submitted", "resident:sms")]

    [status] = service.sms(PHONE, "STATUS")
    assert status == (f"Ref {reference} KK: permohonan diterima. Serahkan berkas sesuai jadwal "
                      "di SMS; KK diproses setelah berkas lengkap.")


def test_a_split_kk_is_refused_to_an_applicant_under_17(service):
    service.sms(PHONE, f"KK {NIK_CHILD}#{KK}")
    [refused] = service.sms(PHONE, "3")
    assert refused.startswith("Pisah KK hanya untuk pemohon 17 tahun ke atas; NIK pemohon "
                              "menunjukkan umur 14.")
    assert service.sms(PHONE, "1")[0].startswith("Periksa: permohonan KK")


def test_the_one_message_form_asks_only_the_confirmation_and_twice_is_refused(service):
    [summary] = service.sms(PHONE, f"KK {NIK}#{KK}#hilang")
    assert "alasan KK hilang" in summary
    done, bring = service.sms(PHONE, "YA")
    reference = reference_in(done)
    assert bring.startswith(f"Berkas KK ref {reference}: surat kehilangan dari polisi")
    [again] = service.sms(PHONE, f"KK {NIK} {KK} rusak")
    assert again == (f"Permohonan KK pemohon NIK ***0001 sudah ada, ref {reference}, dan "
                     f"sedang diproses. Cek prosesnya: STATUS {reference}")
    assert len(rows(service, Application)) == 1


def test_kk_with_a_number_answers_the_question_of_a_dialogue_in_progress(service):
    service.sms(PHONE, "DAFTAR")
    service.sms(PHONE, NIK)
    [reason] = service.sms(PHONE, f"KK {KK}")
    assert reason.startswith("Alasan cetak KTP-el?")


def test_another_family_phone_cannot_apply_for_this_kk(service):
    service.sms(PHONE, f"KK {NIK}#{KK}#1")
    service.sms(PHONE, "YA")
    [refused] = service.sms(PHONE_2, f"KK {NIK_2}#{KK}#1")
    assert refused.startswith("KK ini sudah terdaftar dengan nomor HP lain.")


def test_layanan_lists_every_document_and_its_keyword(service):
    assert service.sms(PHONE, "layanan") == [
        "Layanan Kota Bogor: DAFTAR (KTP-el), KK, AKTA LAHIR, AKTA MATI, KIA. Ketik salah satu "
        "untuk mulai, STATUS untuk cek proses."]


def test_a_document_the_regency_does_not_offer_is_answered_with_those_it_does(service):
    documents.configure(["ktp", "kk"])  # [services] enabled = ["ktp", "kk"]
    try:
        assert service.sms(PHONE, "KIA") == [
            "Maaf, KIA belum bisa diurus lewat SMS di sini. Layanan: DAFTAR (KTP-el), KK."]
        assert service.sms(PHONE, "layanan")[0].startswith(
            "Layanan Kota Bogor: DAFTAR (KTP-el), KK. ")
    finally:
        documents.configure(documents.DOCUMENTS)
    assert rows(service, Application) == []


def lost_kk_applied(service) -> None:
    """The reason "KK hilang" chosen and the summary confirmed: one application, its NIK the
    NIK and its family's KK the KK."""
    from sms_ktp.models import Family

    [summary] = service.sms(PHONE, "5")
    assert "pemohon NIK ***0001, KK ***0003, alasan KK hilang" in summary
    service.sms(PHONE, "YA")
    [application] = rows(service, Application)
    [family] = rows(service, Family)
    assert (application.nik, family.kk, application.family_id) == (NIK, KK, family.id)


def test_a_kk_labelled_where_the_nik_is_asked_is_kept_as_the_kk(service):
    # "KK: ..." as the first SMS opens the KK application with that KK kept, never as the NIK
    [noted] = service.sms(PHONE, f"KK: {KK}")
    assert noted == ("Permohonan KK Kota Bogor. KK ***0003 sudah dicatat. Kirim NIK pemohon "
                     "(kepala keluarga/anggota). Ketik BATAL untuk membatalkan.")
    # sent again at the NIK question it is kept again, not refused as the NIK sent twice
    assert service.sms(PHONE, f"no kk {KK}") == [noted]
    [reason] = service.sms(PHONE, NIK)  # the KK is not asked for
    assert reason.startswith("Alasan? Balas angka: 1 Anggota bertambah")
    lost_kk_applied(service)


def test_the_nik_question_reads_a_kk_and_a_nik_sent_by_their_labels(service):
    service.sms(PHONE, "KK")
    # both numbers at the NIK question, the KK first: each read by its label, the KK not asked
    [reason] = service.sms(PHONE, f"KK {KK} NIK {NIK}")
    assert reason.startswith("Alasan? Balas angka: 1 Anggota bertambah")
    lost_kk_applied(service)
