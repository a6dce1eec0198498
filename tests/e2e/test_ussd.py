"""The USSD menu over HTTP, as Africa's Talking drives it: the whole session's input in `text`."""

from __future__ import annotations

import re

import pytest
from live_service import KK, NIK, NIK_2, PHONE, PHONE_2, LiveService
from sqlmodel import select

from sms_ktp.models import Application, PhoneState, UssdSession

MAIN = ("CON KTP-el Kota Bogor\n1 Daftar cetak KTP-el\n2 Cek status\n3 Informasi\n"
        "4 Bahasa/Language\n5 KK, akta, KIA")
ASK_NIK = "CON Masukkan NIK (16 angka, ada di KK atau Suket):\n0 Kembali 00 Menu"
ASK_KK = "CON Masukkan nomor KK (Kartu Keluarga), 16 angka:\n0 Kembali 00 Menu"
ASK_REASON = ("CON Alasan cetak KTP-el:\n1 Baru (punya Suket)\n2 Hilang\n3 Rusak\n"
              "4 Perubahan data\n0 Kembali 00 Menu")
RESUME = "CON Pendaftaran Bapak/Ibu belum selesai.\n1 Lanjutkan\n2 Mulai ulang"


class Dial:
    """One USSD session: keeps the accumulated `text` as the operator does."""

    def __init__(self, service: LiveService, session_id: str, phone: str = PHONE) -> None:
        self.service, self.session_id, self.phone = service, session_id, phone
        self.text = ""
        self.first = service.ussd(session_id, "", phone)

    def press(self, value: str) -> str:
        self.text = f"{self.text}*{value}" if self.text else value
        return self.service.ussd(self.session_id, self.text, self.phone)


def applications(service: LiveService) -> list[Application]:
    with service.runtime.db.transaction() as session:
        return list(session.exec(select(Application)).all())


def test_full_registration_ends_with_a_reference_and_an_sms(service):
    dial = Dial(service, "ATUid_1")
    assert dial.first == MAIN
    assert dial.press("1") == ASK_NIK
    assert dial.press(NIK) == ASK_KK
    assert dial.press(KK) == ASK_REASON
    assert dial.press("1").startswith("CON Masukkan nomor Suket")
    assert dial.press("470/12/KEC.BS") == (
        "CON NIK ***0001\nKK ***0003\nAlasan: baru (Suket)\n"
        "Data hanya dipakai untuk cetak KTP-el.\n1 Kirim\n2 Batal\n0 Kembali 00 Menu")
    end = dial.press("1")
    reference = re.fullmatch(r"END Pendaftaran diterima\. No ref: (\d{9})\. Rincian dan langkah "
                             r"berikutnya dikirim lewat SMS\.", end).group(1)
    [application] = applications(service)
    assert (application.reference, application.nik, application.channel) == (
        reference, NIK, "ussd")
    service.worker.run_once()
    [sms] = service.received(PHONE)
    assert sms.startswith(f"Pendaftaran diterima, no ref {reference}.")
    assert "Saat ambil bawa Suket asli" in sms


def test_status_lists_the_familys_applications_and_shows_one(service):
    for nik in (NIK, NIK_2):
        service.sms(PHONE, f"DAFTAR {nik}#{KK}#2")
        service.sms(PHONE, "YA")
    first, second = (a.reference for a in sorted(applications(service),
                                                 key=lambda a: a.id, reverse=True))
    dial = Dial(service, "ATUid_2")
    listing = dial.press("2")
    assert listing == (f"CON Pilih pendaftaran:\n1 {first} NIK ***0002 diterima\n"
                       f"2 {second} NIK ***0001 diterima\n0 Kembali 00 Menu")
    assert dial.press("2").startswith(f"CON Ref {second} NIK ***0001: diterima, menunggu")
    assert dial.press("0") == listing
    assert dial.press("7") == "CON Pilihan tidak ada, coba lagi.\n" + listing[4:]
    assert dial.press("00") == MAIN


def test_one_application_is_shown_at_once_and_none_is_said(service):
    assert Dial(service, "ATUid_3").press("2").startswith(
        "CON Belum ada pendaftaran KTP-el untuk nomor HP ini.")
    service.sms(PHONE, f"DAFTAR {NIK}#{KK}#3")
    service.sms(PHONE, "YA")
    dial = Dial(service, "ATUid_4")
    assert dial.press("2").startswith("CON Ref ")
    assert dial.press("0") == MAIN


def test_back_and_main_menu_inside_the_registration(service):
    dial = Dial(service, "ATUid_5")
    dial.press("1")
    dial.press(NIK)
    assert dial.press("0") == ASK_NIK  # back to the NIK, which is asked again
    assert dial.press("0") == MAIN  # back from the first question
    assert dial.press("1") == ASK_NIK
    dial.press(NIK)
    dial.press(KK)
    assert dial.press("00") == MAIN
    assert dial.press("1") == RESUME  # the registration is still there
    assert dial.press("1") == ASK_REASON


def test_wrong_inputs_are_explained_on_the_same_screen_and_never_end_the_session(service):
    dial = Dial(service, "ATUid_6")
    assert dial.press("7") == "CON Pilihan tidak ada, coba lagi.\n" + MAIN[4:]
    assert dial.press("") == "CON Belum ada jawaban, coba lagi.\n" + MAIN[4:]
    assert dial.press("3").startswith("CON Informasi:")
    assert dial.press("9").startswith("CON Pilihan tidak ada, coba lagi.\nInformasi:")
    assert dial.press("00") == MAIN
    assert dial.press("4").startswith("CON Pilih bahasa:\n1 Bahasa Indonesia\n2 English")
    assert dial.press("5").startswith("CON Pilihan tidak ada, coba lagi.\nPilih bahasa:")
    dial.press("00")
    dial.press("1")
    wrong = {
        "12345": "NIK harus 16 angka (terbaca 5).",
        "9999014501900001": "NIK tidak dikenal: 4 angka awal bukan kode daerah.",
        "3271013202900001": "NIK salah: tanggal lahir di dalamnya tidak mungkin.",
        "3271014501900000": "NIK salah: 4 angka terakhir tidak boleh 0000.",
        "#*#": "NIK harus 16 angka (terbaca 0).",
    }
    for answer, reason in wrong.items():
        assert dial.press(answer) == f"CON {reason}\n{ASK_NIK[4:]}", answer
    dial.press(NIK)
    assert dial.press("3201010101200003") == (
        f"CON Bukan KK Kota Bogor (diawali 3271).\n{ASK_KK[4:]}")
    for answer, reason in {
        "3271013102200003": "Nomor KK salah: tanggal terbit di dalamnya tidak mungkin.",
        "3271014501200003": "Nomor KK salah: tanggal terbit di dalamnya tidak mungkin.",
        "3271010113200003": "Nomor KK salah: tanggal terbit di dalamnya tidak mungkin.",
        "3271010101200000": "Nomor KK salah: 4 angka terakhir tidak boleh 0000.",
    }.items():
        assert dial.press(answer) == f"CON {reason}\n{ASK_KK[4:]}", answer
    dial.press(KK)
    assert dial.press("9") == f"CON Pilihan tidak ada, pilih 1 sampai 4.\n{ASK_REASON[4:]}"
    dial.press("1")
    assert dial.press("470*12").startswith("CON Nomor Suket tidak terbaca.\nMasukkan nomor")
    dial.press("470/12")
    assert dial.press("3").startswith("CON Pilih 1 untuk kirim atau 2 untuk batal.\nNIK ***0001")
    assert dial.press("2") == ("END Pendaftaran tidak dikirim. Bapak/Ibu bisa daftar lagi kapan "
                               "saja.")
    assert applications(service) == []


def test_a_kk_equal_to_the_nik_is_explained(service):
    nik = "3271011501900004"  # a man born 15 January 1990: also a well-formed Bogor KK
    dial = Dial(service, "ATUid_61")
    dial.press("1")
    dial.press(nik)
    assert dial.press(nik) == (
        "CON Nomor ini sudah dimasukkan sebagai NIK. Nomor KK ada di bagian atas Kartu "
        f"Keluarga.\n{ASK_KK[4:]}")
    assert applications(service) == []


def test_a_nik_registered_by_the_family_gives_its_reference_by_ussd_too(service):
    service.sms(PHONE, f"DAFTAR {NIK}#{KK}#2")
    reference = re.search(r"no ref (\d{9})", service.sms(PHONE, "YA")[0]).group(1)
    dial = Dial(service, "ATUid_62")
    dial.press("1")
    assert dial.press(NIK) == (f"END NIK ***{NIK[-4:]} sudah terdaftar, no ref {reference}. "
                               "Tidak perlu daftar lagi.")
    # Another phone: the NIK is answered as any NIK; the registration is refused when sent.
    other = Dial(service, "ATUid_63", PHONE_2)
    other.press("1")
    assert other.press(NIK) == ASK_KK
    other.press("3271060101200009")
    other.press("2")
    assert other.press("1") == ("END Tidak bisa dikirim dari nomor HP ini. Daftar dari HP "
                                "keluarga atau tanya kelurahan.")
    assert len(applications(service)) == 1


def test_a_repeated_request_gets_the_same_screen_and_changes_nothing(service):
    dial = Dial(service, "ATUid_7")
    for value in ("1", NIK, KK, "2"):
        dial.press(value)
    confirm = service.ussd("ATUid_7", dial.text)
    assert confirm.startswith("CON NIK ***0001") and service.ussd("ATUid_7", dial.text) == confirm
    end = dial.press("1")
    assert service.ussd("ATUid_7", dial.text) == end  # the operator retries the last request
    assert len(applications(service)) == 1
    service.worker.run_once()
    assert len(service.received(PHONE)) == 1
    with service.runtime.db.transaction() as session:
        row = session.exec(select(UssdSession)).one()
        state = session.get(PhoneState, PHONE)
    assert (row.session_id, row.phone) == ("ATUid_7", PHONE)
    stored = " ".join(str(value) for value in state.model_dump().values())
    assert NIK not in stored and KK not in stored and state.ussd_text_digest


def test_a_dropped_session_can_be_continued_or_started_again(service):
    dial = Dial(service, "ATUid_8")
    dial.press("1")
    dial.press(NIK)
    dial.press(KK)  # the operator cuts the session here
    again = Dial(service, "ATUid_9")
    assert again.first == RESUME
    assert again.press("1") == ASK_REASON
    assert again.press("2").startswith("CON NIK ***0001\nKK ***0003\nAlasan: hilang")
    third = Dial(service, "ATUid_10")
    assert third.first == RESUME
    assert third.press("2") == ASK_NIK  # start again: nothing of the old answers is kept
    with service.runtime.db.transaction() as session:
        state = session.get(PhoneState, PHONE)
    assert (state.step, state.answers) == ("nik", {})


def test_a_registration_begun_by_sms_is_continued_by_ussd_and_back(service):
    service.sms(PHONE, "DAFTAR")
    service.sms(PHONE, NIK)
    dial = Dial(service, "ATUid_11")
    assert dial.first == RESUME
    assert dial.press("1") == ASK_KK
    dial.press(KK)
    assert service.sms(PHONE, "4")[0].startswith("Periksa: NIK ***0001, KK ***0003")


def test_the_menu_in_english(service):
    dial = Dial(service, "ATUid_12")
    dial.press("4")
    assert dial.press("2") == ("CON Language: English\nKTP-el Kota Bogor\n"
                               "1 Apply for KTP-el printing\n2 Check status\n3 Information\n"
                               "4 Bahasa/Language\n5 KK, akta, KIA")
    assert dial.press("1") == "CON Enter your NIK (16 digits, on your KK or Suket):\n0 Back 00 Menu"
    assert service.sms(PHONE, "BANTUAN")[0].startswith("KTP-el Kota Bogor, free:")  # kept


def test_the_end_of_session_notification_is_stored(service):
    dial = Dial(service, "ATUid_13")
    dial.press("1")
    response = service.http.post(service.url("/ussd/end"), data={
        "sessionId": "ATUid_13", "serviceCode": "*123*45#", "networkCode": "51010",
        "phoneNumber": PHONE, "status": "Incomplete", "cost": "0", "durationInMillis": "43210",
        "hopsCount": "2", "input": NIK, "lastAppResponse": ASK_NIK,
        "errorMessage": "USSD session timed out", "date": "2026-11-30 09:05:00"})
    assert response.status_code == 200
    with service.runtime.db.transaction() as session:
        row = session.exec(select(UssdSession)).one()
    assert (row.end_status, row.duration_ms, row.hops, row.error_message) == (
        "Incomplete", 43210, 2, "USSD session timed out")
    assert row.last_input == "***0001" and row.ended_at is not None
    unknown = service.http.post(service.url("/ussd/end"), data={"sessionId": "ATUid_unseen",
                                                                "status": "Success"})
    assert unknown.status_code == 200


def test_a_session_belongs_to_the_phone_that_opened_it(service):
    """Another phone posting the same sessionId never continues, nor submits, the first one's
    registration: it is refused, and the first phone carries on undisturbed."""
    dial = Dial(service, "ATUid_15")
    for value in ("1", NIK, KK):
        dial.press(value)
    refused = "END Sesi USSD ini bukan milik nomor HP ini. Tutup, lalu tekan lagi kode layanan."
    for text in ("", dial.text, f"{dial.text}*2", f"{dial.text}*2*1"):
        assert service.ussd("ATUid_15", text, phone=PHONE_2) == refused, text
    assert applications(service) == []
    with service.runtime.db.transaction() as session:
        other = session.get(PhoneState, PHONE_2)
        owner = session.exec(select(UssdSession).where(UssdSession.session_id == "ATUid_15")
                             ).one()
    assert other is None or (other.flow, other.ussd_session) == (None, None)
    assert owner.phone == PHONE
    # The first phone's session goes on where it was, to its own application.
    assert dial.press("2").startswith("CON NIK ***0001\nKK ***0003\nAlasan: hilang")
    assert dial.press("1").startswith("END Pendaftaran diterima.")
    [application] = applications(service)
    service.worker.run_once()
    assert service.received(PHONE_2) == []
    # The other phone's own session works as any other.
    assert Dial(service, "ATUid_16", phone=PHONE_2).first == MAIN
    assert application.nik == NIK


@pytest.mark.parametrize(("path", "form", "reason"), [
    ("/ussd", {"phoneNumber": PHONE, "text": ""}, "missing field: sessionId"),
    ("/ussd", {"sessionId": "x", "text": ""}, "missing field: phoneNumber"),
    ("/ussd/end", {"status": "Success"}, "missing field: sessionId"),
    ("/ussd/end", {"sessionId": "x", "durationInMillis": "soon"}, "not a number"),
])
def test_malformed_ussd_callbacks_are_refused(service, path, form, reason):
    response = service.http.post(service.url(path), data=form)
    assert response.status_code == 400 and reason in response.text


def test_a_wrong_token_is_not_found(service):
    response = service.http.post(service.url("/ussd", token="nope"),
                                 data={"sessionId": "x", "phoneNumber": PHONE, "text": ""})
    assert response.status_code == 404


def test_a_number_that_is_not_a_mobile_is_told_so(service):
    assert service.ussd("ATUid_14", "", phone="4444") == (
        "END Nomor HP tidak dikenali. Gunakan nomor HP biasa.")
