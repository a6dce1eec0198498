"""Residents in Indonesian, Sundanese and English over the real webhooks: the language a phone
chooses (or the language of its first keyword) is the language of every SMS it then receives,
notifications included, and the information keywords answer in it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from live_service import KK, NIK, PHONE, PHONE_2, LiveService
from sqlmodel import select

from flows.catalogue import Msg, render
from gsm7.encoding import segments
from sms_ktp.applications import penunggalan
from sms_ktp.domain.quiet_hours import QuietHours
from sms_ktp.models import Application

REF = re.compile(r"\b(\d{9})\b")
NIK_2 = "3271021506850002"
KK_2 = "3271060101200009"


def r(language: str, key: str, **params: Any) -> str:
    return render(language, key, **params)


def pass_penunggalan(service: LiveService, nik: str) -> None:
    summary = penunggalan.Summary()
    rows = list(penunggalan.read_csv(f"nik,result,note\n{nik},PRR,\n", summary))
    penunggalan.apply(service.runtime.db, service.runtime.clock, QuietHours.parse(""), rows,
                      summary, "operator:test")
    service.worker.run_once()


def languages_of_applications(service: LiveService) -> list[str]:
    with service.runtime.db.transaction() as session:
        return list(session.exec(select(Application.language).order_by(Application.id)))


def test_a_sundanese_speaker_registers_and_hears_back_in_sundanese(service: LiveService) -> None:
    assert service.sms(PHONE, "tulung") == [r("su", "help.main")]
    # the phone chose nothing: DAPTAR (Sundanese spelling) starts the dialogue in Sundanese
    assert service.sms(PHONE, f"DAPTAR {NIK}/{KK}/leungit") == [
        r("su", "register.confirm", nik="***0001", kk="***0003", reason=Msg("reason.hilang"))]
    [done] = service.sms(PHONE, "Enya")
    reference = REF.search(done).group(1)
    assert done == r("su", "register.done", ref=reference, bring=Msg("bring.hilang"))
    pass_penunggalan(service, NIK)
    assert service.received(PHONE) == [r("su", "notify.print_queue", ref=reference,
                                         nik="***0001")]
    assert service.sms(PHONE, "info ambil") == [r("su", "info.ambil")]


def test_a_chosen_language_is_kept_and_moves_the_familys_notifications(
        service: LiveService) -> None:
    service.sms(PHONE, f"REG {NIK}#{KK}#2")
    [done] = service.sms(PHONE, "YA")
    reference = REF.search(done).group(1)
    assert done.startswith("Pendaftaran diterima")
    assert languages_of_applications(service) == ["id"]

    assert service.sms(PHONE, "BASA SUNDA") == [r("su", "lang.set")]
    assert languages_of_applications(service) == ["su"]
    # kept: an Indonesian keyword now answers in Sundanese, an English one too
    assert service.sms(PHONE, "bantuan") == [r("su", "help.main")]
    assert service.sms(PHONE, "HELP") == [r("su", "help.main")]
    pass_penunggalan(service, NIK)
    assert service.received(PHONE) == [r("su", "notify.print_queue", ref=reference,
                                         nik="***0001")]

    assert service.sms(PHONE, "lang en") == [r("en", "lang.set")]
    assert service.sms(PHONE, f"status {reference}")[0].startswith(f"Ref {reference} NIK ***0001")
    assert service.sms(PHONE, "Bahasa ID") == [r("id", "lang.set")]
    assert languages_of_applications(service) == ["id"]


def test_another_familys_phone_is_not_touched_by_a_language_choice(service: LiveService) -> None:
    service.sms(PHONE, f"REG {NIK}#{KK}#2")
    service.sms(PHONE, "YA")
    service.sms(PHONE_2, f"REG {NIK_2}#{KK_2}#2")
    service.sms(PHONE_2, "YA")
    service.sms(PHONE_2, "LANG EN")
    assert languages_of_applications(service) == ["id", "en"]


@pytest.mark.parametrize(
    ("texts", "key"),
    [(("INFO SYARAT", "syarat", "Info Persyaratan", "INFO SARAT", "info requirements"),
      "info.syarat"),
     (("INFO PROSES", "Kenapa lama?", "INFO BLANGKO", "info process"), "info.proses"),
     (("INFO AMBIL", "cara ambil", "INFO NYANDAK", "info pickup"), "info.ambil")],
)
@pytest.mark.parametrize("language", ["id", "su", "en"])
def test_information_keywords_answer_in_the_phones_language(
        service: LiveService, texts: tuple[str, ...], key: str, language: str) -> None:
    for number, text in enumerate(texts):
        phone = f"+62813000000{number:02d}"  # one phone each: identical replies are limited
        service.sms(phone, {"id": "BAHASA ID", "su": "BASA SUNDA", "en": "LANG EN"}[language])
        [reply] = service.sms(phone, text)
        assert reply == r(language, key), text
        assert segments(reply) == 1


@pytest.mark.parametrize(
    ("text", "language"),
    [("DAFTR", "id"), ("dafar", "id"), ("Dftar", "id"), ("REGISTRASI", "id"),
     ("register", "en"), ("DAPTAR", "su"), ("DAFATR", "id")],
)
def test_typos_and_aliases_start_registration(service: LiveService, text: str,
                                              language: str) -> None:
    assert service.sms(PHONE, text) == [r(language, "register.ask_nik")]


@pytest.mark.parametrize("text", ["CEK STATUS", "status ktp", "Cek KTP", "STATUZ"])
def test_status_aliases(service: LiveService, text: str) -> None:
    assert service.sms(PHONE, text) == [r("id", "status.none")]


def test_a_slip_of_a_keyword_inside_the_dialogue_is_read_as_the_answer(
        service: LiveService) -> None:
    service.sms(PHONE, f"DAFTAR {NIK}#{KK}")
    # "BATL" would be BATAL outside a dialogue; here it answers the reason question
    assert service.sms(PHONE, "BATL") == [r("id", "error.reason.unknown")]
    assert service.sms(PHONE, "BATAL") == [r("id", "register.cancelled")]


def test_a_first_sundanese_keyword_keeps_the_phone_in_sundanese(service: LiveService) -> None:
    assert service.sms(PHONE, "TULUNG") == [r("su", "help.main")]
    # the help names DAFTAR and STATUS: they are answered in Sundanese too
    assert service.sms(PHONE, "DAFTAR") == [r("su", "register.ask_nik")]
    assert service.sms(PHONE, "BATAL") == [r("su", "register.cancelled")]
    assert service.sms(PHONE, "status") == [r("su", "status.none")]
    assert service.sms(PHONE, "BAHASA ID") == [r("id", "lang.set")]
    assert service.sms(PHONE, "HELP") == [r("id", "help.main")]  # chosen: kept


def test_an_english_first_keyword_answers_in_english_and_the_reply_says_how_back(
        service: LiveService) -> None:
    [reply] = service.sms(PHONE, "help")
    assert reply == r("en", "help.main") and "BAHASA ID" in reply
    assert service.sms(PHONE, "cek") == [r("en", "status.none")]


def test_an_indonesian_first_keyword_keeps_nothing(service: LiveService) -> None:
    assert service.sms(PHONE, "BANTUAN") == [r("id", "help.main")]
    assert service.sms(PHONE, "TULUNG") == [r("su", "help.main")]
