"""The Akta Kematian dialogue on the SMS channel, against the in-memory services and the real
ones on SQLite: the reporter's NIK, the NIK of the deceased, the date of death and the KK of the
deceased, each checked and asked again with the reason; the one-SMS form with and without `#`;
the summary; one open report per deceased."""

from __future__ import annotations

from typing import Any

import pytest
from sms_resident import NOW, PHONE, TTL, Resident

from flows.catalogue import languages, messages, render, supported
from flows.keywords import parse_command
from flows.ussd import SCREEN_LIMIT, UssdChannel
from gsm7.encoding import GSM7_SINGLE, is_gsm7, septets
from sms_ktp.domain import documents
from sms_ktp.domain.masking import mask_id

NIK = "3271014501900001"       # the reporter: a woman born 5 January 1990
DECEASED = "3271011208450003"  # a man born 12 August 1945
DECEASED_2 = "3271015003520004"  # a woman born 10 March 1952
KK = "3271010101200003"
KK_DEPOK = "3276010101200003"
PHONE_2 = "+6285711112222"
DIED = "03-11-2024"  # four days before the services' today (7 November 2024)


def r(key: str, lang: str = "id", **params: Any) -> str:
    return render(lang, key, **params)


def send(resident: Resident, text: str) -> list[str]:
    """Every reply of one SMS (the last YA gets two: the reference, then the papers)."""
    resident.now += resident.pause
    turn = resident.channel.handle(text, resident.phone, resident.conversation, resident.now)
    resident.conversation = turn.conversation
    resident.received.extend(turn.replies)
    return turn.replies


def summary(lang: str = "id", died: str = DIED) -> str:
    return r("akta_mati.confirm", lang, nik=mask_id(NIK), deceased=mask_id(DECEASED),
             died=died, kk=mask_id(KK))


def test_the_dialogue_asks_again_with_the_reason_and_ends_in_a_reference_and_the_papers(
        services) -> None:
    resident = Resident(services)
    assert resident.send("AKTA MATI") == r("akta_mati.ask.nik")
    assert resident.send("12345") == r("error.nik.length", got=5)
    assert resident.send(NIK) == r("akta_mati.ask.deceased")
    # The reporter's NIK again: the same answer sent twice, the question asked again.
    assert resident.send(NIK) == r("akta_mati.ask.deceased")
    assert resident.send("3271 0112 0845") == r("error.nik.length", got=12)
    assert resident.send(DECEASED) == r("akta_mati.ask.died")
    assert resident.send("07-11-2025") == r("error.date.future")
    assert resident.send("kemarin sore") == r("error.date.unreadable")
    assert resident.send("31-02-2024") == r("error.date.unreadable")
    assert resident.send("1 juli 1945") == r("akta_mati.error.before_birth", born="12-08-1945")
    assert resident.send("3 november 2024") == r("akta_mati.ask.kk")
    assert resident.send(KK_DEPOK) == r("error.kk.not_resident")
    assert resident.send("3271 0101 0120") == r("error.kk.length", got=12)
    assert resident.send(KK) == summary()
    assert resident.send("mungkin") == r("error.confirm.unknown")

    done, papers = send(resident, "YA")
    [stored] = services.applications
    # The papers visit: booked in the slots on SQL, "at the office" in memory.
    assert done.startswith(f"Permohonan Akta Kematian diterima, ref {stored.reference}. "
                           "Serahkan berkas ")
    assert papers == r("akta_mati.bring.kematian", ref=stored.reference)
    assert papers.startswith(f"Berkas Akta Kematian ref {stored.reference}: surat kematian dari "
                             "dokter/rumah sakit atau kelurahan, KK dan KTP-el almarhum, KK dan "
                             "KTP-el pelapor.")
    assert (stored.nik, stored.kk, stored.reason, stored.stage) == \
        (NIK, KK, "kematian", "submitted")
    assert resident.conversation is None
    for text in resident.received:
        assert NIK not in text and DECEASED not in text and KK not in text

    assert resident.send("STATUS") == (
        f"Ref {stored.reference} Akta Kematian: permohonan diterima. Serahkan berkas sesuai "
        "jadwal di SMS; akta diproses setelah berkas lengkap.")


def test_the_summary_masks_both_niks_and_says_what_the_data_is_for() -> None:
    text = summary()
    assert text == ("Periksa: Akta Kematian NIK ***0003, meninggal 03-11-2024, KK ***0003, "
                    "pelapor NIK ***0001. Data hanya dipakai untuk Akta Kematian. Balas YA "
                    "atau TIDAK.")


def test_the_one_sms_form_with_hashes_asks_only_the_confirmation(services) -> None:
    resident = Resident(services)
    assert resident.send(f"AKTA MATI {NIK}#{DECEASED}#{DIED}#{KK}") == summary()
    assert resident.conversation.answers == {"nik": NIK, "deceased": DECEASED,
                                             "died": "2024-11-03", "kk": KK}


def test_the_one_sms_form_without_hashes_reads_the_numbers_in_order_and_the_date(
        services) -> None:
    resident = Resident(services)
    reply = resident.send(f"akta kematian {NIK} {DECEASED} 3 nov 2024 {KK}")
    assert reply == summary()
    other = Resident(services, phone=PHONE_2)
    assert other.send(f"Akte mati {NIK} {DECEASED}") == r("akta_mati.ask.died")


def test_a_wrong_answer_of_the_form_is_asked_again_and_the_rest_of_the_form_is_kept(
        services) -> None:
    resident = Resident(services)
    assert resident.send(f"AKTA MATI {NIK}#{NIK}#{DIED}#{KK}") == r("akta_mati.error.same_nik")
    assert resident.send(DECEASED) == summary()
    resident = Resident(services, phone=PHONE_2)
    assert resident.send(f"AKTA MATI {NIK}#{DECEASED}#{DIED}#{DECEASED}") == \
        r("error.kk.same_as_nik")
    # A woman's NIK (40 added to her birth day) is no KK date at all.
    assert resident.send(f"AKTA MATI {NIK}#{DECEASED}#{DIED}#{NIK}") == \
        r("error.kk.issue_date")
    assert resident.send(f"AKTA MATI {NIK}#{DECEASED}#01-01-2030#{KK}") == r("error.date.future")


def test_a_summary_answered_no_sends_nothing(services) -> None:
    resident = Resident(services)
    resident.send(f"AKTA MATI {NIK}#{DECEASED}#{DIED}#{KK}")
    assert resident.send("TIDAK") == r("akta_mati.not_sent")
    assert services.applications == []
    assert resident.conversation is None


def test_one_open_report_per_deceased_whoever_reports_it(services) -> None:
    resident = Resident(services)
    resident.send(f"AKTA MATI {NIK}#{DECEASED}#{DIED}#{KK}")
    [done, _] = send(resident, "YA")
    [stored] = services.applications
    assert stored.reference in done
    exists = r("akta_mati.exists", ref=stored.reference)
    # Another reporter of the same family: refused at the deceased's NIK, its reference back.
    assert resident.send("AKTA MATI") == r("akta_mati.ask.nik")
    assert resident.send(services.nik_for(7)) == r("akta_mati.ask.deceased")
    assert resident.send(DECEASED) == exists
    assert resident.conversation is None
    assert resident.send(f"AKTA MATI {NIK}#{DECEASED}#{DIED}#{KK}") == exists
    # Another death in the same family is another report.
    assert resident.send(f"AKTA MATI {NIK}#{DECEASED_2}#{DIED}#{KK}").startswith(
        "Periksa: Akta Kematian NIK ***0004")
    send(resident, "YA")
    assert len(services.applications) == 2


def test_the_kk_of_another_family_phone_is_refused(services) -> None:
    services.add_application(PHONE_2, services.nik_for(3), KK)
    resident = Resident(services)
    assert resident.send(f"AKTA MATI {NIK}#{DECEASED}#{DIED}") == r("akta_mati.ask.kk")
    assert resident.send(KK) == r("error.kk.other_phone")


def test_the_dialogue_speaks_the_phones_language(services) -> None:
    services.set_language(PHONE, "su")
    resident = Resident(services)
    assert resident.send("AKTA PUPUS") == r("akta_mati.ask.nik", "su")
    assert resident.send(f"{NIK}") == r("akta_mati.ask.deceased", "su")
    english = Resident(services, phone=PHONE_2)
    assert english.send(f"DEATH CERTIFICATE {NIK}#{DECEASED}#{DIED}#{KK}") == summary("en")


@pytest.mark.parametrize("text", ["AKTA MATI", "akta kematian", "Akte Mati", "AKTE KEMATIAN",
                                  "aktamati", "AKTA PATI", "LAPOR KEMATIAN", "akta kematin"])
def test_the_keywords_and_their_slips_start_the_dialogue(text: str) -> None:
    command = parse_command(text)
    assert command is not None and command.action == "akta_mati"


@pytest.mark.parametrize("text", ["KEMATIAN", "MENINGGAL", "MATI"])
def test_the_kk_dialogues_answers_stay_answers(text: str) -> None:
    assert parse_command(text) is None


@pytest.mark.parametrize("lang", languages())
def test_every_stage_fits_the_status_sms(lang: str) -> None:
    stages = [key for key in messages(lang) if key.startswith("akta_mati.stage.")]
    assert len(stages) == 7
    for key in stages:
        text = r("status.doc_detail", lang, ref="123456789", document=r("akta_mati.name", lang),
                 explain=r(key, lang))
        assert septets(text) <= GSM7_SINGLE, text


def test_the_ready_stage_names_the_akta_and_the_updated_kk() -> None:
    assert r("akta_mati.stage.ready") == (
        "akta dan KK baru sudah jadi (PDF). Tautan unduh dan PIN dikirim lewat SMS; bisa juga "
        "dicetak di kelurahan.")
    assert "new KK" in r("akta_mati.stage.ready", "en")


@pytest.mark.parametrize("lang", languages())
def test_the_ussd_screens_of_the_report_fit_and_end_in_the_two_sms(services, lang: str) -> None:
    services.set_language(PHONE, lang)
    channel = UssdChannel(services, TTL)
    turn = channel.begin(PHONE, None, NOW)
    number = [code for code in documents.enabled() if code != "ktp"].index("akta_mati") + 1
    screens = []
    for text in ("5", str(number), "123", NIK, NIK, DECEASED, "01-01-1940", DIED, KK_DEPOK, KK,
                 "1"):
        turn = channel.handle(turn.menu, text, PHONE, turn.conversation, NOW)
        screens.append(turn.screen)
    for screen in screens:
        assert is_gsm7(screen) and septets(screen) <= SCREEN_LIMIT, screen
        assert not screen.endswith("..."), screen
    if lang == "id":
        assert screens[1] == ("CON Masukkan NIK pelapor (ahli waris atau keluarga), 16 angka:\n"
                              "0 Kembali 00 Menu")
        assert screens[9].startswith("CON Akta Kematian\nNIK almarhum ***0003\nMeninggal "
                                     "03-11-2024\nKK ***0003\nPelapor NIK ***0001\n")
    done, papers = turn.sms
    [stored] = services.applications
    # In the phone's language where the regency offers it (Kota Bogor: not Javanese).
    assert stored.reference in done and papers == r("akta_mati.bring.kematian", supported(lang),
                                                    ref=stored.reference)



def test_a_death_before_the_nik_s_year_read_in_this_century_fits_the_last_one(services) -> None:
    """The NIK holds the birth year in two digits: 12-08-24 reads as 2024 (not in the future),
    but a man who died in June 2024 was born in 1924."""
    born_1924 = "3271011208240003"
    resident = Resident(services)
    resident.send(f"AKTA MATI {NIK}")
    assert resident.send(born_1924) == r("akta_mati.ask.died")
    assert resident.send("01-06-2024") == r("akta_mati.ask.kk")
    assert resident.conversation.answers["died"] == "2024-06-01"
    # Before both readings of the year: still refused.
    resident = Resident(services, phone=PHONE_2)
    resident.send(f"AKTA MATI {NIK}")
    resident.send(born_1924)
    assert resident.send("01-06-1924") == r("akta_mati.error.before_birth", born="12-08-2024")
