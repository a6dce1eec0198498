"""The SMS channel: what a resident receives for each message, and where the conversation stands.

Replies are compared with the catalogue (`render`), so a change of wording does not break the tests
but a wrong message, a wrong language or a leaked number does."""

import random
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sms_resident import Resident

from flows.catalogue import Msg, render
from flows.dates import say_day, say_time
from gsm7.encoding import is_gsm7, segments
from sms_ktp.domain.reference import new_reference
from sms_ktp.domain.stages import Stage

PHONE = "+6281234567890"
OTHER_PHONE = "+6285711112222"
NOW = datetime(2024, 11, 7, 2, 0, tzinfo=UTC)  # 09:00 in Bogor
TTL = timedelta(minutes=30)
NIK = "3271014501900001"
NIK_2 = "3271021506850002"
KK = "3271010101200003"
KK_2 = "3271060101200009"
SECRETS = (NIK, NIK_2, KK, KK_2)


def full_numbers(text: str) -> list[str]:
    """Every full NIK/KK in `text`, with or without separators between the digits."""
    digits = re.sub(r"\D", "", text)
    return [number for number in SECRETS if number in text or number in digits]


@pytest.fixture
def resident(services) -> Resident:
    return Resident(services)


@pytest.fixture
def english(services) -> Resident:
    services.set_language(PHONE, "en")
    return Resident(services)


def r(key: str, lang: str = "id", **params: Any) -> str:
    return render(lang, key, **params)


# --- guided registration ----------------------------------------------------------------------
def test_guided_registration(resident: Resident, services) -> None:
    assert resident.send("DAFTAR") == r("register.ask_nik")
    assert resident.step == "nik"
    assert resident.send(NIK) == r("register.ask_kk")
    assert resident.send(KK) == r("register.ask_reason")
    assert resident.send("1") == r("register.ask_suket")
    confirm = resident.send("470/123/KEC.BS/2018")
    assert confirm == r("register.confirm", nik="***0001", kk="***0003",
                        reason=Msg("reason.baru"))
    assert "NIK ***0001, KK ***0003" in confirm
    done = resident.send("YA")
    (stored,) = services.applications
    assert done == r("register.done", ref=stored.reference, bring=Msg("bring.baru"))
    assert stored.reference in done
    assert "Suket asli" in done
    assert resident.conversation is None
    assert (stored.nik, stored.kk, stored.suket) == (NIK, KK, "470/123/KEC.BS/2018")


def test_guided_registration_in_english(english: Resident, services) -> None:
    assert english.send("daftar") == r("register.ask_nik", "en")
    english.send(NIK)
    english.send(KK)
    assert english.send("lost") == r("register.confirm", "en", nik="***0001", kk="***0003",
                                     reason=Msg("reason.hilang"))
    done = english.send("yes")
    assert done.startswith("Registration received, ref ")
    assert "the police loss report" in done
    assert services.applications[0].language == "en"


def test_each_reply_is_one_sms(resident: Resident) -> None:
    # (reason 2 is left out: its confirmation is 2 parts, see test_catalogue.py)
    for text in ("DAFTAR", "salah", NIK, KK, "9", "3", "mungkin", "YA", "STATUS"):
        reply = resident.send(text)
        assert segments(reply) == 1, reply


def test_one_message_registration_asks_only_the_confirmation(resident: Resident,
                                                              services) -> None:
    reply = resident.send(f"DAFTAR {NIK}#{KK}#2")
    assert reply == r("register.confirm", nik="***0001", kk="***0003",
                      reason=Msg("reason.hilang"))
    assert resident.step == "confirm"
    assert services.applications == []
    assert resident.send("ya").startswith("Pendaftaran diterima, no ref ")
    assert services.applications[0].reason == "hilang"


def test_sim_style_registration_asks_only_the_reason(resident: Resident) -> None:
    assert resident.send(f"REG {NIK}#{KK}#") == r("register.ask_reason")
    assert resident.step == "reason"
    assert resident.conversation.answers == {"nik": NIK, "kk": KK}


def test_one_message_registration_with_reason_one_and_suket(resident: Resident,
                                                             services) -> None:
    resident.send(f"DAFTAR#{NIK}#{KK}#1#470/12/KEC")
    assert resident.step == "confirm"
    resident.send("YA")
    assert services.applications[0].suket == "470/12/KEC"


def test_one_message_with_a_wrong_nik_reports_it_and_keeps_the_kk(resident: Resident) -> None:
    assert resident.send(f"REG 327101450190001#{KK}#") == r("error.nik.length", got=15)
    assert resident.step == "nik"
    assert resident.send(NIK) == r("register.ask_reason")


def test_refused_answer_keeps_the_question(resident: Resident) -> None:
    resident.send("DAFTAR")
    resident.send(NIK)
    assert resident.send("3201010101200003") == r("error.kk.not_resident")
    assert resident.step == "kk"
    assert resident.send(KK) == r("register.ask_reason")


def test_no_at_confirmation_sends_nothing(resident: Resident, services) -> None:
    resident.send(f"DAFTAR {NIK}#{KK}#3")
    assert resident.send("TIDAK") == r("register.not_sent")
    assert resident.conversation is None
    assert services.applications == []


def test_replies_never_contain_a_full_nik_or_kk(resident: Resident, services) -> None:
    services.add_application(PHONE, NIK_2, KK, stage=Stage.PRINT_QUEUE)
    texts = [
        "DAFTAR", "3271 0145 0190 001", NIK, f"{NIK} {KK}", KK_2, KK, "5", "1", "ada", "470/1",
        "mungkin", "YA", "STATUS", f"STATUS {NIK}", f"DAFTAR {NIK}#{KK}#2", f"REG {NIK_2}#{KK}#",
        "BATAL", f"REG {NIK}#{KK_2}#", "halo",
    ]
    for text in texts:
        reply = resident.send(text)
        assert full_numbers(reply) == [], f"{text!r} -> {reply!r}"
    assert len(services.applications) == 2
    for reference in [a.reference for a in services.applications]:
        assert full_numbers(resident.send(f"STATUS {reference}")) == []
    assert "***0001" in " ".join(resident.received)


# --- cancelling and starting over -----------------------------------------------------------
def test_batal_mid_dialogue(resident: Resident, services) -> None:
    resident.send("DAFTAR")
    resident.send(NIK)
    assert resident.send("BATAL") == r("register.cancelled")
    assert resident.conversation is None
    assert resident.send(KK) == r("help.unknown", minutes=30)  # the KK answers nothing now
    assert services.applications == []


def test_batal_with_nothing_to_cancel(resident: Resident) -> None:
    assert resident.send("batal") == r("cancel.nothing")
    assert resident.conversation is None


def test_cancel_in_english_without_a_language_set(resident: Resident) -> None:
    assert resident.send("CANCEL") == r("cancel.nothing", "en")


def test_keyword_mid_dialogue_starts_over(resident: Resident) -> None:
    resident.send("DAFTAR")
    resident.send(NIK)
    resident.send(KK)
    first = resident.conversation
    assert resident.send("DAFTAR") == r("register.ask_nik")
    assert resident.step == "nik"
    assert resident.conversation is not first
    assert resident.conversation.answers == {}


def test_one_message_registration_mid_dialogue_replaces_the_answers(resident: Resident) -> None:
    resident.send("DAFTAR")
    resident.send(NIK)
    resident.send(f"REG {NIK_2}#{KK_2}#")
    assert resident.step == "reason"
    assert resident.conversation.answers == {"nik": NIK_2, "kk": KK_2}


@pytest.mark.parametrize(("keyword", "reply"), [("STATUS", ("status.none", "id")),
                                                ("CEK", ("status.none", "id")),
                                                ("INFO", ("help.main", "id")),
                                                ("BANTUAN", ("help.main", "id"))])
def test_single_turn_keywords_keep_the_dialogue_where_it_was(
        resident: Resident, keyword: str, reply: tuple[str, str]) -> None:
    resident.send("DAFTAR")
    resident.send(NIK)
    before = resident.conversation
    assert resident.send(keyword) == r(*reply)
    assert resident.conversation is before
    assert (resident.step, before.answers) == ("kk", {"nik": NIK})
    assert resident.send(KK) == r("register.ask_reason")


def test_help_mid_dialogue_keeps_the_dialogue(resident: Resident) -> None:
    resident.send("DAFTAR")
    resident.send(NIK)
    before = resident.conversation
    # HELP is an English keyword, but the dialogue in progress is in Indonesian
    assert resident.send("HELP") == r("help.main", "id")
    assert resident.conversation is before
    assert resident.step == "kk"


# --- time-outs --------------------------------------------------------------------------------
def test_expired_conversation_answers_timed_out(resident: Resident) -> None:
    resident.send("DAFTAR")
    resident.send(NIK)
    reply = resident.send(KK, after=timedelta(minutes=31))
    assert reply == r("register.expired", minutes=30)
    assert "30 menit" in reply
    assert resident.conversation is None


def test_expired_conversation_starts_fresh_for_daftar(resident: Resident) -> None:
    resident.send("DAFTAR")
    resident.send(NIK)
    assert resident.send("DAFTAR", after=timedelta(hours=2)) == r("register.ask_nik")
    assert resident.step == "nik"
    assert resident.conversation.answers == {}
    assert resident.conversation.expires_at == resident.now + TTL


def test_expired_conversation_has_nothing_to_cancel(resident: Resident) -> None:
    resident.send("DAFTAR")
    assert resident.send("BATAL", after=timedelta(minutes=45)) == r("cancel.nothing")


def test_each_answer_gives_another_full_ttl(resident: Resident) -> None:
    resident.send("DAFTAR")
    resident.send(NIK, after=timedelta(minutes=25))
    assert resident.send(KK, after=timedelta(minutes=25)) == r("register.ask_reason")
    assert resident.conversation.expires_at == resident.now + TTL


def test_expiry_in_english(english: Resident) -> None:
    english.send("DAFTAR")
    assert english.send(NIK, after=timedelta(hours=1)) == r("register.expired", "en",
                                                             minutes=30)


# --- nonsense and help ------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["halo", "YA", NIK, "", "apa ini?"])
def test_nonsense_without_a_dialogue_gets_the_short_help(resident: Resident, text: str) -> None:
    assert resident.send(text) == r("help.unknown")
    assert resident.conversation is None


def test_first_help_from_a_phone_without_a_language_is_english(resident: Resident) -> None:
    assert resident.send("HELP") == r("help.main", "en")


def test_bantuan_is_indonesian(resident: Resident) -> None:
    assert resident.send("bantuan") == r("help.main")


def test_chosen_language_wins_over_the_keyword(resident: Resident, services) -> None:
    services.set_language(PHONE, "id")
    assert resident.send("HELP") == r("help.main")


# --- language -------------------------------------------------------------------------------
def test_lang_en_sets_english(resident: Resident, services) -> None:
    assert resident.send("LANG EN") == r("lang.set", "en")
    assert services.language_of(PHONE) == "en"
    assert resident.send("DAFTAR") == r("register.ask_nik", "en")
    assert resident.send("halo") == r("error.nik.length", "en", got=0)
    assert resident.send("STATUS") == r("status.none", "en")


def test_bahasa_id_sets_indonesian(english: Resident, services) -> None:
    assert english.send("STATUS") == r("status.none", "en")
    assert english.send("BAHASA ID") == r("lang.set")
    assert services.language_of(PHONE) == "id"
    assert english.send("REGISTER") == r("register.ask_nik")
    assert english.send("HELP") == r("help.main")


def test_language_change_mid_dialogue_keeps_the_dialogue(resident: Resident) -> None:
    resident.send("DAFTAR")
    resident.send(NIK)
    assert resident.send("lang english") == r("lang.set", "en")
    assert resident.step == "kk"
    assert resident.send(KK) == r("register.ask_reason", "en")


@pytest.mark.parametrize(("text", "lang"), [("LANG XX", "en"), ("LANG", "en"),
                                            ("BAHASA BATAK", "id"), ("BASA", "su")])
def test_unknown_language_lists_the_options(resident: Resident, services, text: str,
                                            lang: str) -> None:
    reply = resident.send(text)
    assert reply == r("lang.choose", lang)
    assert "BAHASA ID" in reply and "LANG EN" in reply and "BASA SUNDA" in reply
    assert "BASA JAWA" not in reply  # not offered in Kota Bogor
    assert services.language_of(PHONE) is None


# --- the languages the regency offers -------------------------------------------------------------
# Kota Bogor (Jawa Barat), Kota Yogyakarta (DI Yogyakarta), Kota Makassar (Sulawesi Selatan).
OFFERED = {"3271": ("id", "su", "en"), "3471": ("id", "jv", "en"), "7371": ("id", "en")}
ASKED = {"id": "BAHASA ID", "su": "BASA SUNDA", "jv": "BAHASA JAWA", "en": "LANG EN"}
CASES = [(code, lang) for code in OFFERED for lang in ASKED]


@pytest.mark.parametrize(("code", "lang"), CASES)
def test_a_language_is_chosen_where_the_regency_offers_it(resident: Resident, services, serve,
                                                          code: str, lang: str) -> None:
    serve(code)
    reply = resident.send(ASKED[lang])
    if lang in OFFERED[code]:
        assert reply == r("lang.set", lang)
        assert services.language_of(PHONE) == lang
        return
    # Not offered here: the languages that are, in the phone's language; nothing changes.
    assert reply == r("lang.unavailable", language=r("lang.name", lang))
    assert services.language_of(PHONE) is None
    for offered in OFFERED[code]:
        assert ASKED[offered].split()[-1] in reply  # BAHASA ID, BASA SUNDA, LANG EN ...
    assert ASKED[lang] not in reply and r("lang.name", lang) in reply


@pytest.mark.parametrize("code", OFFERED)
def test_the_help_and_the_choice_name_exactly_the_languages_offered(resident: Resident, serve,
                                                                    code: str) -> None:
    serve(code)
    keywords = {lang: r("lang.switch", lang).split(": ")[1] for lang in ASKED}
    for text, own in (("BANTUAN", "id"), ("halo", "id"), ("LANG", "en")):
        reply = resident.send(text)
        named = {lang for lang, keyword in keywords.items() if keyword in reply}
        expected = set(OFFERED[code]) - ({own} if text != "LANG" else set())
        assert named == expected, reply
        assert segments(reply) == 1


def test_a_refused_language_keeps_the_phones_own(english: Resident, services, serve) -> None:
    serve("7371")  # Kota Makassar
    reply = english.send("basa sunda")
    assert reply == r("lang.unavailable", "en", language="Basa Sunda")
    assert reply.startswith("Sorry, Basa Sunda is not offered") and "BAHASA ID" in reply
    assert services.language_of(PHONE) == "en"
    assert english.send("STATUS") == r("status.none", "en")


def test_javanese_in_kota_yogyakarta(resident: Resident, services, serve) -> None:
    serve("3471")
    assert resident.send("BASA JAWA") == r("lang.set", "jv")
    assert resident.send("DAFTAR") == r("register.ask_nik", "jv")
    assert "Kota Yogyakarta" in resident.received[-1]
    assert resident.send("BASA SUNDA") == r("lang.unavailable", "jv", language="Basa Sunda")
    assert services.language_of(PHONE) == "jv" and resident.step == "nik"


def test_a_stored_language_the_regency_does_not_offer_falls_back_to_indonesian(
        resident: Resident, services, serve) -> None:
    services.set_language(PHONE, "su")  # chosen while the service spoke Sundanese
    serve("7371")
    assert resident.send("STATUS") == r("status.none")
    assert resident.send("DAFTAR") == r("register.ask_nik")
    assert "Kota Makassar" in resident.received[-1]


def test_a_keyword_of_a_language_not_offered_is_answered_in_indonesian(resident: Resident,
                                                                       services, serve) -> None:
    serve("7371")
    assert resident.send("TULUNG") == r("help.main")  # Sundanese help, Kota Makassar
    assert services.language_of(PHONE) is None
    serve("3271")
    assert resident.send("PITULUNGAN") == r("help.main")  # Javanese help, Kota Bogor
    assert resident.send("TULUNG") == r("help.main", "su")
    assert services.language_of(PHONE) == "su"


# --- status ---------------------------------------------------------------------------------
def test_status_without_applications(resident: Resident) -> None:
    assert resident.send("STATUS") == r("status.none")


def test_status_with_one_application_explains_its_stage(resident: Resident, services) -> None:
    reference = services.add_application(PHONE, NIK, KK, stage=Stage.PENUNGGALAN)
    reply = resident.send("STATUS")
    assert reply == r("status.detail", ref=reference, nik="***0001",
                      explain=Msg("stage.penunggalan"))
    assert reply.startswith(f"Ref {reference} NIK ***0001: ")
    assert "Kemendagri" in reply


def test_status_after_registering(resident: Resident, services) -> None:
    resident.send(f"DAFTAR {NIK}#{KK}#4")
    resident.send("YA")
    (stored,) = services.applications
    assert resident.send("STATUS") == r("status.detail", ref=stored.reference, nik="***0001",
                                        explain=Msg("stage.submitted"))


def test_status_with_several_applications_lists_them(resident: Resident, services) -> None:
    references = [
        services.add_application(PHONE, NIK, KK, stage=Stage.PRINT_READY),
        services.add_application(PHONE, NIK_2, KK, stage=Stage.COLLECTED),
        services.add_application(PHONE, services.nik_for(7), KK, stage=Stage.DUPLICATE),
    ]
    reply = resident.send("STATUS")
    assert reply.startswith("3 pendaftaran: ")
    assert reply.endswith("Rincian: STATUS <ref>")
    for reference in references:
        assert reference in reply
    assert f"{references[0]} NIK ***0001 siap cetak" in reply
    assert f"{references[1]} NIK ***0002 diambil" in reply
    assert f"{references[2]} NIK ***0007 data ganda" in reply
    assert "lagi" not in reply
    assert segments(reply) == 1


@pytest.mark.parametrize("lang", ["id", "su", "en"])
@pytest.mark.parametrize("count", [4, 6, 8, 12])
def test_status_with_many_applications_stays_one_sms(services, lang: str, count: int) -> None:
    services.set_language(PHONE, lang)
    references = [
        services.add_application(PHONE, services.nik_for(n), KK,
                                 stage=(Stage.PICKUP_SCHEDULED, Stage.PRINT_READY)[n % 2])
        for n in range(1, count + 1)
    ]
    reply = Resident(services).send("STATUS")
    assert segments(reply) == 1 and is_gsm7(reply)
    listed = sorted((ref for ref in references if ref in reply), key=reply.index)
    assert 1 <= len(listed) < count
    more = r("status.more", lang, n=count - len(listed))
    assert more in reply  # "; +N lagi" / "; +N more": the rest is counted
    assert reply.startswith(r("status.list", lang, count=count, items="", more="")[:4])
    # Newest first: the ones left out are the oldest.
    assert listed == references[::-1][: len(listed)]


def test_listing_shows_everything_that_fits_in_one_sms(services) -> None:
    references = [services.add_application(PHONE, services.nik_for(n), KK) for n in range(1, 4)]
    reply = Resident(services).send("STATUS")
    assert all(reference in reply for reference in references)
    assert "+" not in reply
    assert segments(reply) == 1


def test_status_of_own_reference(resident: Resident, services) -> None:
    mine = services.add_application(PHONE, NIK, KK, stage=Stage.PICKUP_SCHEDULED)
    services.add_application(PHONE, NIK_2, KK, stage=Stage.PRINT_QUEUE)
    reply = resident.send(f"STATUS {mine}")
    (pickup,) = services.family_pickups(PHONE)  # a card to collect: its day, time and office
    at = pickup.details["at"]
    assert reply == r("status.pickup", ref=mine, nik="***0001", day=say_day("id", at),
                      time=say_time("id", at), office=pickup.details["office"])


def test_status_of_own_reference_typed_in_groups(resident: Resident, services) -> None:
    mine = services.add_application(PHONE, NIK, KK, stage=Stage.PRINTED)
    spaced = f"{mine[:3]} {mine[3:6]} {mine[6:]}"
    assert resident.send(f"cek {spaced}") == r("status.detail", ref=mine, nik="***0001",
                                                explain=Msg("stage.printed"))


def unused_reference(services) -> str:
    taken = {a.reference for a in services.applications}
    rng = random.Random(4444)
    reference = new_reference(rng)
    while reference in taken:
        reference = new_reference(rng)
    return reference


def test_status_of_unknown_reference(resident: Resident, services) -> None:
    services.add_application(PHONE, NIK, KK)
    unknown = unused_reference(services)
    assert resident.send(f"STATUS {unknown}") == r("status.not_found", ref=unknown)


@pytest.mark.parametrize("typo", ["digit", "swap"])
def test_status_of_mistyped_reference(resident: Resident, services, typo: str) -> None:
    mine = services.add_application(PHONE, NIK, KK)
    if typo == "digit":
        wrong = mine[:-1] + str((int(mine[-1]) + 1) % 10)
    else:
        i = next(i for i in range(8) if mine[i] != mine[i + 1])
        wrong = mine[:i] + mine[i + 1] + mine[i] + mine[i + 2:]
    assert resident.send(f"STATUS {wrong}") == r("status.bad_ref")


@pytest.mark.parametrize("text", ["STATUS 12345678", "STATUS 12a45", f"STATUS {NIK}"])
def test_status_with_something_that_is_no_reference(resident: Resident, text: str) -> None:
    assert resident.send(text) == r("status.bad_ref")


def test_status_with_words_only_is_the_plain_status(resident: Resident) -> None:
    assert resident.send("STATUS abc") == r("status.none")


def test_status_of_another_familys_reference_reveals_nothing(resident: Resident,
                                                             services) -> None:
    theirs = services.add_application(OTHER_PHONE, NIK_2, KK_2, stage=Stage.DUPLICATE)
    services.add_application(PHONE, NIK, KK)
    reply = resident.send(f"STATUS {theirs}")
    assert reply == r("status.not_found", ref=theirs)
    assert "***0002" not in reply
    assert "ganda" not in reply
    # The same answer as for a reference that was never issued.
    unknown = unused_reference(services)
    assert resident.send(f"STATUS {unknown}").replace(unknown, theirs) == reply


def test_the_other_family_still_sees_its_own(services) -> None:
    theirs = services.add_application(OTHER_PHONE, NIK_2, KK_2, stage=Stage.DUPLICATE)
    reply = Resident(services, OTHER_PHONE).send(f"STATUS {theirs}")
    assert reply == r("status.detail", ref=theirs, nik="***0002", explain=Msg("stage.duplicate"))


# --- bugs -----------------------------------------------------------------------------------
def test_status_with_question_mark(resident: Resident, services) -> None:
    reference = services.add_application(PHONE, NIK, KK)
    assert resident.send("Status?") == r("status.detail", ref=reference, nik="***0001",
                                         explain=Msg("stage.submitted"))


@pytest.mark.parametrize("text", [f"NIK {NIK}", f"nik: {NIK}", f"NIK saya {NIK}"])
def test_nik_with_a_label_is_not_refused_as_sixteen_digits(resident: Resident,
                                                           text: str) -> None:
    resident.send("DAFTAR")
    assert resident.send(text) != r("error.nik.length", got=16)


def test_refusal_at_submission_lets_the_resident_do_what_the_reply_says(
        resident: Resident, services) -> None:
    resident.send(f"DAFTAR {NIK}#{KK}#2")
    services.add_application(OTHER_PHONE, NIK, KK_2)  # the same NIK, from another phone
    reply = resident.send("YA")
    assert reply == r("error.nik.elsewhere")  # no word of whose or which application
    assert [a.nik for a in services.applications] == [NIK]
    assert services.attempts_told == [(OTHER_PHONE, services.applications[0].reference)]
    assert resident.send(f"DAFTAR {NIK_2}#{KK}#2").startswith(
        "Periksa: NIK ***0002, KK ***0003, alasan hilang.")


def test_one_message_nik_written_in_groups(resident: Resident) -> None:
    reply = resident.send("DAFTAR 3271 0145 0190 0001")
    assert reply != r("error.nik.length", got=4)


def test_status_with_words_around_the_reference(resident: Resident, services) -> None:
    mine = services.add_application(PHONE, NIK, KK, stage=Stage.PRINTED)
    expected = r("status.detail", ref=mine, nik="***0001", explain=Msg("stage.printed"))
    assert resident.send(f"Status KTP saya no {mine} sdh sampai mana pak") == expected
    assert resident.send("STATUS sudah sampai mana?") == expected  # the one application
