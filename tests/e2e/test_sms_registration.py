"""Registering for KTP-el printing by SMS, end to end: webhook in, SMS out, rows stored."""

from __future__ import annotations

import re
from datetime import timedelta

from live_service import KK, KK_2, NIK, NIK_2, PHONE, PHONE_2, LiveService
from sqlmodel import select

from sms_ktp.models import Application, ApplicationEvent, Family, InboundMessage, PhoneState

REF = re.compile(r"ref (\d{9})")


def applications(service: LiveService) -> list[Application]:
    with service.runtime.db.transaction() as session:
        return list(session.exec(select(Application)).all())


def test_guided_registration_gives_a_reference_and_stores_the_application(service):
    assert service.sms(PHONE, "daftar") == [
        "Daftar cetak KTP-el Kota Bogor. Kirim NIK Bapak/Ibu (16 angka, ada di KK atau Suket). "
        "Ketik BATAL untuk membatalkan."]
    assert service.sms(PHONE, NIK) == ["Kirim nomor KK (Kartu Keluarga) Bapak/Ibu, 16 angka."]
    assert "1 Baru" in service.sms(PHONE, KK)[0]
    assert "Suket" in service.sms(PHONE, "1")[0]
    [summary] = service.sms(PHONE, "470/123/KEC.BS/2026")
    assert summary.startswith("Periksa: NIK ***0001, KK ***0003, alasan baru (Suket).")
    assert NIK not in summary and KK not in summary
    [done] = service.sms(PHONE, "ya")
    reference = REF.search(done).group(1)
    assert "Saat ambil bawa Suket asli" in done

    [application] = applications(service)
    assert (application.reference, application.nik, application.stage, application.reason,
            application.suket_number) == (reference, NIK, "submitted", "baru",
                                          "470/123/KEC.BS/2026")
    with service.runtime.db.transaction() as session:
        family = session.get(Family, application.family_id)
        events = session.exec(select(ApplicationEvent)).all()
        assert session.exec(select(PhoneState).where(PhoneState.flow.is_not(None))).all() == []
    assert (family.kk, family.phone, family.kecamatan_code) == (KK, PHONE, "01")
    assert [(e.stage, e.actor) for e in events] == [("submitted", "resident:sms")]


def test_one_message_registration_asks_only_the_confirmation(service):
    [summary] = service.sms(PHONE, f"DAFTAR {NIK}#{KK}#2")
    assert summary.startswith("Periksa: NIK ***0001, KK ***0003, alasan hilang.")
    [done] = service.sms(PHONE, "YA")
    assert "surat kehilangan dari polisi" in done
    assert applications(service)[0].reason == "hilang"


def test_sim_registration_habit_asks_only_the_reason(service):
    [question] = service.sms(PHONE, f"REG {NIK}#{KK}#")
    assert question.startswith("Alasan cetak KTP-el?")
    assert service.sms(PHONE, "3")[0].startswith("Periksa:")
    assert REF.search(service.sms(PHONE, "YA")[0])

    [question] = service.sms(PHONE, f"REG{NIK_2}#{KK}#")
    assert question.startswith("Alasan cetak KTP-el?")
    service.sms(PHONE, "4")
    service.sms(PHONE, "ya")
    assert sorted(a.nik for a in applications(service)) == sorted([NIK, NIK_2])


def test_one_message_with_a_wrong_nik_asks_for_it_and_keeps_the_rest(service):
    [error] = service.sms(PHONE, f"DAFTAR 327101450190#{KK}#2")
    assert error == "NIK harus 16 angka, yang terbaca 12 angka. Kirim lagi NIK:"
    [summary] = service.sms(PHONE, NIK)
    assert summary.startswith("Periksa: NIK ***0001, KK ***0003, alasan hilang.")


def test_every_wrong_answer_is_explained_and_asked_again(service):
    service.sms(PHONE, "DAFTAR")
    wrong_niks = {
        "12345": "NIK harus 16 angka, yang terbaca 5 angka.",
        "9999014501900001": "NIK tidak dikenal",
        "3271013202900001": "tanggal lahir di dalamnya",   # 32 February
        "3271014501900000": "tidak boleh 0000",
        "NIK saya lupa": "NIK harus 16 angka, yang terbaca 0 angka.",
    }
    for answer, expected in wrong_niks.items():
        [reply] = service.sms(PHONE, answer)
        assert expected in reply and reply.endswith("NIK:"), (answer, reply)
    service.sms(PHONE, "3271 0145 0190 0001")  # spaces are fine

    for answer, expected in {"3271010101": "yang terbaca 10 angka",
                             "3201010101200003": "bukan KK Kota Bogor",
                             "3271070101200003": "bukan KK Kota Bogor"}.items():
        [reply] = service.sms(PHONE, answer)
        assert expected in reply, (answer, reply)
    service.sms(PHONE, KK)

    for answer in ("5", "belum tahu", "2 3", ""):
        assert service.sms(PHONE, answer)[0].startswith("Pilihan tidak dikenal.")
    service.sms(PHONE, "1")
    assert service.sms(PHONE, "??")[0].startswith("Nomor Suket tidak terbaca.")
    service.sms(PHONE, "470/55/KEC")
    assert service.sms(PHONE, "mungkin")[0] == (
        "Balas YA untuk mengirim pendaftaran atau TIDAK untuk membatalkan.")
    assert REF.search(service.sms(PHONE, "YA")[0])
    assert len(applications(service)) == 1


def test_a_nik_from_elsewhere_is_accepted_when_the_kk_is_from_bogor(service):
    service.sms(PHONE, f"DAFTAR {NIK_2}#{KK_2}#4")
    assert REF.search(service.sms(PHONE, "YA")[0])
    assert applications(service)[0].nik == NIK_2


def test_the_family_phone_resending_its_registration_gets_the_reference_back(service):
    service.sms(PHONE, f"DAFTAR {NIK}#{KK}#2")
    [done] = service.sms(PHONE, "YA")
    reference = done.split("no ref ")[1][:9]
    [again] = service.sms(PHONE, f"DAFTAR {NIK}#{KK}#3")
    assert again == (f"NIK ***{NIK[-4:]} sudah terdaftar, no ref {reference}, dan sedang "
                     f"diproses. Tidak perlu daftar lagi. Cek prosesnya: STATUS {reference}")
    assert len(applications(service)) == 1
    # The dialogue is over: a YA now is the YA sent twice, and says so.
    assert service.sms(PHONE, "YA") == [
        f"Pendaftaran sudah kami terima, no ref {reference}. Tidak perlu kirim YA lagi. Cek "
        f"prosesnya: STATUS {reference}"]


def test_a_second_ya_after_submitting_says_it_was_received(service):
    service.sms(PHONE, f"DAFTAR {NIK}#{KK}#2")
    [done] = service.sms(PHONE, "YA")
    reference = done.split("no ref ")[1][:9]
    assert service.sms(PHONE, "Ya") == [
        f"Pendaftaran sudah kami terima, no ref {reference}. Tidak perlu kirim YA lagi. Cek "
        f"prosesnya: STATUS {reference}"]
    assert len(applications(service)) == 1


def test_a_nik_of_another_family_is_answered_as_any_nik_and_the_family_is_told(service):
    service.sms(PHONE, f"DAFTAR {NIK}#{KK}#2")
    [done] = service.sms(PHONE, "YA")
    reference = done.split("no ref ")[1][:9]
    # Another phone: the NIK alone reveals nothing; the KK question follows as for any NIK.
    assert service.sms(PHONE_2, f"DAFTAR {NIK}") == [
        "Kirim nomor KK (Kartu Keluarga) Bapak/Ibu, 16 angka."]
    service.sms(PHONE_2, KK_2)
    service.sms(PHONE_2, "2")
    assert service.sms(PHONE_2, "YA") == [
        "Pendaftaran ini tidak bisa dikirim dari nomor HP ini. Daftar dari HP keluarga yang "
        "terdaftar, atau tanya kelurahan membawa KK asli."]
    assert len(applications(service)) == 1
    told = [sms["text"] for sms in service.sent()
            if sms["to"] == PHONE and "nomor HP lain" in sms["text"]]
    assert told == [f"Ada yang mencoba mendaftarkan KTP-el NIK ***{NIK[-4:]} dari nomor HP "
                    f"lain. Pendaftaran ref {reference} tetap berjalan. Bila ada yang janggal, "
                    "tanya kelurahan."]
    # Tried again the same day: the family is not told twice.
    service.sms(PHONE_2, f"DAFTAR {NIK}#{KK_2}#2")
    service.sms(PHONE_2, "YA")
    assert len([sms for sms in service.sent()
                if sms["to"] == PHONE and "nomor HP lain" in sms["text"]]) == 1


def test_answering_no_sends_nothing(service):
    service.sms(PHONE, f"DAFTAR {NIK}#{KK}#3")
    assert service.sms(PHONE, "tidak") == [
        "Pendaftaran tidak dikirim. Ketik DAFTAR untuk mengisi ulang."]
    assert applications(service) == []


def test_cancel_abandons_the_dialogue(service):
    service.sms(PHONE, "DAFTAR")
    service.sms(PHONE, NIK)
    assert service.sms(PHONE, "batal") == ["Pendaftaran dibatalkan. Ketik DAFTAR untuk mulai lagi."]
    assert service.sms(PHONE, KK)[0].startswith("Maaf, pesan tidak dikenali.")


def test_a_second_phone_for_the_same_family_is_refused_without_revealing_anything(service):
    service.sms(PHONE, f"DAFTAR {NIK}#{KK}#2")
    service.sms(PHONE, "YA")

    [refusal] = service.sms(PHONE_2, f"DAFTAR {NIK_2}#{KK}#2")
    assert refusal == ("KK ini sudah terdaftar dengan nomor HP lain. Untuk ganti nomor, datang ke "
                       "kelurahan membawa KK asli. Ketik BATAL untuk membatalkan.")
    assert "0001" not in refusal and "7890" not in refusal
    # The refused phone sees nothing of the family either.
    assert service.sms(PHONE_2, "STATUS")[0].startswith("Belum ada pendaftaran")
    # The family's own phone registers another member.
    service.sms(PHONE, f"DAFTAR {NIK_2}#{KK}#2")
    assert REF.search(service.sms(PHONE, "YA")[0])
    assert len(applications(service)) == 2


def test_a_retried_webhook_is_stored_once_and_answered_once(service):
    first = service.post_sms(PHONE, "DAFTAR", message_id="ATXid_retry")
    again = service.post_sms(PHONE, "DAFTAR", message_id="ATXid_retry")
    assert (first.status_code, again.status_code) == (200, 200)
    service.worker.run_once()
    assert len(service.received(PHONE)) == 1
    with service.runtime.db.transaction() as session:
        assert len(session.exec(select(InboundMessage)).all()) == 1


def test_an_expired_dialogue_says_so_and_a_keyword_starts_over(service, clock):
    service.sms(PHONE, "DAFTAR")
    service.sms(PHONE, NIK)
    clock.advance(timedelta(minutes=31))
    assert service.sms(PHONE, KK) == [
        "Waktu isi pendaftaran habis (30 menit tanpa balasan). Ketik DAFTAR untuk mulai lagi."]
    assert service.sms(PHONE, "DAFTAR")[0].startswith("Daftar cetak KTP-el Kota Bogor.")
    clock.advance(timedelta(minutes=29))
    assert service.sms(PHONE, NIK) == ["Kirim nomor KK (Kartu Keluarga) Bapak/Ibu, 16 angka."]


def test_nonsense_gets_the_short_help_and_non_mobile_senders_get_nothing(service):
    [help_text] = service.sms(PHONE, "halo pak, ktp saya kapan jadi?")
    assert help_text.startswith("Maaf, pesan tidak dikenali.") and "DAFTAR" in help_text
    response = service.post_sms("4444", "REG berhasil")
    assert response.status_code == 200
    response = service.post_sms("TELKOMSEL", "Paket Anda aktif")
    assert response.status_code == 200
    service.worker.run_once()
    assert [sms["to"] for sms in service.sent()] == [PHONE]


def test_english_on_request(service):
    assert service.sms(PHONE, "LANG EN")[0].startswith("Language set to English.")
    assert service.sms(PHONE, "DAFTAR")[0].startswith("KTP-el printing, Kota Bogor.")
    assert service.sms(PHONE, "1234")[0] == (
        "A NIK has 16 digits; we read 4. Please send your NIK again:")
    assert service.sms(PHONE, "BAHASA ID")[0].startswith("Bahasa diganti")


def test_every_sms_is_one_gsm7_segment_and_never_shows_a_full_number(service):
    service.sms(PHONE, "DAFTAR")
    for text in (NIK, "3201010101200003", KK, "1", "470/1/X", "YA", "STATUS", "apa ini"):
        service.sms(PHONE, text)
    texts = [sms["text"] for sms in service.sent()]
    assert len(texts) == 9
    for text in texts:
        assert len(text) <= 160 and text.encode("gsm03.38")
        assert NIK not in text and KK not in text


def test_no_log_line_at_any_level_holds_a_full_nik_kk_or_phone(service, caplog):
    caplog.set_level("DEBUG")
    service.sms(PHONE, "DAFTAR")
    service.sms(PHONE, "3271 0145 0190 0001")
    service.sms(PHONE, "3201010101200003")
    service.sms(PHONE, KK)
    service.sms(PHONE, "1")
    service.sms(PHONE, "470/1/X")
    service.sms(PHONE, "YA")
    service.sms(PHONE, f"REG {NIK_2}#{KK}#")
    assert len(caplog.records) > 10
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (NIK, NIK_2, KK, "3201010101200003", PHONE, PHONE[1:], "3271 0145 0190 0001"):
        assert secret not in logged


def test_numbers_written_in_groups_and_with_labels_are_read(service):
    [summary] = service.sms(PHONE, "daftar 3271 0145 0190 0001 3271.0101.0120.0003 2")
    assert summary.startswith("Periksa: NIK ***0001, KK ***0003, alasan hilang.")
    service.sms(PHONE, "BATAL")
    service.sms(PHONE, "DAFTAR")
    assert service.sms(PHONE, f"NIK saya {NIK}") == [
        "Kirim nomor KK (Kartu Keluarga) Bapak/Ibu, 16 angka."]
    assert service.sms(PHONE, f"No KK: {KK}")[0].startswith("Alasan cetak KTP-el?")
    assert service.sms(PHONE, "Status?")[0].startswith("Belum ada pendaftaran")



def test_a_kk_labelled_at_the_nik_question_is_kept_and_the_nik_asked(service):
    service.sms(PHONE, "DAFTAR")
    noted = ("Daftar cetak KTP-el Kota Bogor. KK ***0003 sudah dicatat. Kirim NIK Bapak/Ibu "
             "(16 angka). Ketik BATAL untuk membatalkan.")
    assert service.sms(PHONE, f"KK: {KK}") == [noted]
    assert service.sms(PHONE, f"nomor KK {KK}") == [noted]  # kept again, never the NIK
    assert service.sms(PHONE, NIK)[0].startswith("Alasan cetak KTP-el?")
    service.sms(PHONE, "2")
    service.sms(PHONE, "YA")
    [application] = applications(service)
    with service.runtime.db.transaction() as session:
        family = session.get(Family, application.family_id)
        assert (application.nik, family.kk) == (NIK, KK)
