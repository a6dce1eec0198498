"""The Akta Kelahiran dialogue over SMS (`flows/documents/akta_lahir`): the parent's NIK, the
KK, the child's birth date (a report more than 60 days after the birth is late: told, and the
same papers) and sex, each checked and asked again with the reason; the one-SMS form; the
summary; the reference with the papers to bring; STATUS; twins.

Each test runs on the in-memory services and on SQL (`services` in tests/flows/conftest.py)."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from sms_resident import Resident as SmsResident
from sms_resident import handed_drafts
from sql_services import SqlTwin
from sqlalchemy import select

from flows.catalogue import Msg, languages, render
from flows.keywords import parse_command
from gsm7.encoding import GSM7_SINGLE, septets
from sms_ktp.models import Application

PHONE = "+6281234567890"
OTHER_PHONE = "+6285711112222"
NIK = "3271014501900029"    # the mother, born 5 January 1990
NIK_3 = "3201021210780012"  # a man of another family
KK = "3271010101200003"
KK_2 = "3271021506150014"
DEPOK_KK = "3276010101200003"
# The services' clock: Thursday 7 November 2024. 60 days before is 8 September.
ON_TIME_DAY, LAST_ON_TIME_DAY, FIRST_LATE_DAY = "01-11-2024", "08-09-2024", "07-09-2024"

Resident = partial(SmsResident, pause=timedelta(seconds=40))


@pytest.fixture
def resident(services) -> SmsResident:
    return Resident(services)


def r(key: str, lang: str = "id", **params: Any) -> str:
    return render(lang, key, **params)



def confirm(resident: SmsResident, text: str = "YA") -> list[str]:
    """The answer to the summary: the reference, then the papers to bring (two SMS)."""
    resident.now += resident.pause
    turn = resident.channel.handle(text, resident.phone, resident.conversation, resident.now)
    resident.conversation = turn.conversation
    return turn.replies


def reference_of(services: Any) -> str:
    return services.applications[-1].reference


def summary(born: str, sex: str, reason: str, lang: str = "id") -> str:
    return r("akta_lahir.confirm", lang, sex=Msg(f"akta_lahir.sex.{sex}"), born=born,
             reason=Msg(f"akta_lahir.reason.{reason}"), nik="***0029", kk="***0003")


# --- the dialogue ---------------------------------------------------------------------------------
def test_every_answer_is_checked_and_asked_again_with_the_reason(resident, services) -> None:
    handed = handed_drafts(services)
    assert resident.send("AKTA LAHIR") == r("akta_lahir.ask.nik", regency="Kota Bogor")
    assert resident.send("12345") == r("error.nik.length", got=5)
    assert resident.send(NIK) == r("akta_lahir.ask.kk")
    assert resident.send(DEPOK_KK) == r("error.kk.not_resident", regency="Kota Bogor",
                                        regency_code="3271")
    assert resident.send(KK) == r("akta_lahir.ask.birth_date")
    assert resident.send("kemarin sore") == r("error.date.unreadable")
    assert resident.send("31-02-2024") == r("error.date.unreadable")
    assert resident.send("12-12-2024") == r("error.date.future")
    assert resident.send("1/11/24") == r("akta_lahir.ask.sex", born=ON_TIME_DAY,
                                         timing=Msg("akta_lahir.timing.tepat"))
    assert resident.send("3") == r("error.sex.unknown")
    assert resident.send("perempuan") == summary(ON_TIME_DAY, "P", "tepat")
    done, bring = confirm(resident)
    reference = reference_of(services)
    assert done.startswith(f"Permohonan Akta Kelahiran diterima, ref {reference}. Serahkan "
                           "berkas ")
    assert bring == r("akta_lahir.bring.tepat", ref=reference)
    assert NIK not in done + bring and KK not in done + bring
    [draft] = handed
    assert (draft.document, draft.nik, draft.kk, draft.reason, dict(draft.details),
            draft.active_key) == ("akta_lahir", NIK, KK, "tepat",
                                  {"birth_date": "2024-11-01", "sex": "P"}, None)
    assert resident.conversation is None


def test_the_answers_read_as_people_write_them(resident, services) -> None:
    resident.send(f"AKTA LAHIR {NIK}#{KK}")
    for typed in ("1 nov 2024", "01.11.2024", "01112024", "1 November 2024", "2024-11-01"):
        assert resident.send(typed).startswith("Lahir 01-11-2024: dilaporkan tepat waktu.")
        resident.conversation.step = "birth_date"
    resident.send("1-11-2024")
    for typed, sex in (("1", "L"), ("2", "P"), ("laki-laki", "L"), ("anak saya cowok", "L"),
                       ("Wanita", "P"), ("L", "L")):
        assert resident.send(typed) == summary(ON_TIME_DAY, sex, "tepat"), typed
        resident.conversation.step = "sex"


def test_a_birth_reported_after_60_days_is_late_told_and_needs_the_same_papers(
        resident, services) -> None:
    handed = handed_drafts(services)
    resident.send(f"AKTA LAHIR {NIK}#{KK}")
    assert resident.send(LAST_ON_TIME_DAY).startswith("Lahir 08-09-2024: dilaporkan tepat")
    resident.conversation.step = "birth_date"
    told = resident.send(FIRST_LATE_DAY)
    assert told == ("Lahir 07-09-2024: lewat 60 hari, jadi pencatatan terlambat. Berkasnya "
                    "sama. Jenis kelamin anak? Balas 1 Laki-laki atau 2 Perempuan.")
    assert resident.send("1") == summary(FIRST_LATE_DAY, "L", "terlambat")
    assert "(terlambat)" in resident.received[-1]
    _, bring = confirm(resident)
    assert bring == r("akta_lahir.bring.terlambat", ref=reference_of(services))
    assert "syarat sama" in bring
    assert [(d.reason, d.details["birth_date"]) for d in handed] == [("terlambat",
                                                                      "2024-09-07")]


def test_an_adult_never_registered_is_a_late_registration_too(resident, services) -> None:
    handed = handed_drafts(services)
    resident.send(f"AKTA LAHIR {NIK}#{KK}#17-08-1975#P")
    confirm(resident)
    assert [(d.reason, d.details["birth_date"]) for d in handed] == [("terlambat",
                                                                      "1975-08-17")]


@pytest.mark.parametrize("form", [
    f"AKTA LAHIR {NIK}#{KK}#01-11-2024#P",
    f"akta lahir#{NIK}#{KK}#1/11/2024#perempuan",
    f"AKTA KELAHIRAN {NIK} {KK} 01-11-2024 P",
    f"akte lahir {NIK[:4]} {NIK[4:8]} {NIK[8:]}, KK {KK}, lahir 1-11-2024 perempuan",
])
def test_the_one_message_form_asks_only_the_confirmation(resident, services, form) -> None:
    assert resident.send(form) == summary(ON_TIME_DAY, "P", "tepat")
    done, _ = confirm(resident)
    assert f"ref {reference_of(services)}" in done


def test_the_one_message_form_with_wrong_answers_asks_them_again(resident, services) -> None:
    assert resident.send(f"AKTA LAHIR {NIK}#{DEPOK_KK}#31-12-2025#X") == r(
        "error.kk.not_resident", regency="Kota Bogor", regency_code="3271")
    assert resident.send(KK) == r("error.date.future")
    assert resident.send("01-11-2024") == r("error.sex.unknown")
    assert resident.send("P") == summary(ON_TIME_DAY, "P", "tepat")


def test_a_summary_answered_tidak_sends_nothing(resident, services) -> None:
    resident.send(f"AKTA LAHIR {NIK}#{KK}#01-11-2024#L")
    assert resident.send("TIDAK") == r("akta_lahir.not_sent")
    assert resident.conversation is None
    assert services.applications == []
    assert resident.send("STATUS") == r("status.none")


def test_status_afterwards_names_the_document(resident, services) -> None:
    resident.send(f"AKTA LAHIR {NIK}#{KK}#01-11-2024#L")
    confirm(resident)
    reference = reference_of(services)
    assert resident.send("STATUS") == (
        f"Ref {reference} Akta Kelahiran: permohonan diterima. Serahkan berkas sesuai jadwal "
        "di SMS; akta diproses setelah berkas lengkap.")


def test_twins_are_two_applications_of_the_same_parent(resident, services) -> None:
    handed = handed_drafts(services)
    for sex in ("L", "P"):
        resident.send(f"AKTA LAHIR {NIK}#{KK}#01-11-2024#{sex}")
        done, _ = confirm(resident)
        assert done.startswith("Permohonan Akta Kelahiran diterima")
    assert [d.details["sex"] for d in handed] == ["L", "P"]
    assert len({a.reference for a in services.applications}) == 2


def test_another_familys_kk_is_refused(resident, services) -> None:
    services.add_application(OTHER_PHONE, NIK_3, KK_2)
    assert resident.send(f"AKTA LAHIR {NIK}#{KK_2}") == r("error.kk.other_phone")
    assert resident.step == "kk"


def test_a_kk_taken_before_the_ya_is_asked_again_and_the_other_answers_kept(
        resident, services) -> None:
    resident.send(f"AKTA LAHIR {NIK}#{KK_2}#07-09-2024#P")
    services.add_application(OTHER_PHONE, NIK_3, KK_2)  # another phone, meanwhile
    assert confirm(resident) == [r("error.kk.other_phone")]
    assert resident.step == "kk"
    assert resident.send(KK) == summary(FIRST_LATE_DAY, "P", "terlambat")


def test_the_sql_row_keeps_the_childs_answers_sealed(services_pair) -> None:
    with services_pair() as (_, services):
        check_sealed_row(services)


def check_sealed_row(services: SqlTwin) -> None:
    """The database's row (the SQL half only): the child's answers in the sealed details."""
    resident = Resident(services)
    resident.send(f"AKTA LAHIR {NIK}#{KK}#07-09-2024#P")
    confirm(resident)
    t = Application.__table__
    [row] = services.connection.execute(select(t.c.document, t.c.reason, t.c.details,
                                               t.c.active_nik)).all()
    assert tuple(row) == ("akta_lahir", "terlambat", {"birth_date": "2024-09-07", "sex": "P"},
                          None)


def test_the_dialogue_in_english(services) -> None:
    resident = Resident(services)
    assert resident.send("BIRTH CERTIFICATE") == r("akta_lahir.ask.nik", "en",
                                                   regency="Kota Bogor")
    resident.send(NIK)
    resident.send(KK)
    assert resident.send("7 September 2024") == (
        "Born 07-09-2024: over 60 days ago, so a late registration. Same papers. The child's "
        "sex? Reply 1 Male or 2 Female.")
    assert resident.send("girl") == summary(FIRST_LATE_DAY, "P", "terlambat", "en")
    assert confirm(resident, "YES")[1].startswith("Papers for akta ref ")


# --- keywords and texts --------------------------------------------------------------------------
@pytest.mark.parametrize("typed", ["AKTA LAHIR", "akta kelahiran", "Akte Lahir", "AKTE LAIR",
                                   "AKTA KALAHIRAN", "akta lahr", "AKTALAHIR", "AKTALAHR",
                                   "birth cert"])
def test_the_keywords_and_their_slips_start_the_dialogue(typed: str) -> None:
    command = parse_command(typed)
    assert command is not None and command.action == "akta_lahir"


@pytest.mark.parametrize("answer", ["L", "P", "LAKI LAKI", "PEREMPUAN", "COWOK", "PRIA",
                                    "WANITA", "PAMEGET", "ISTRI", "KAKUNG", "PUTRI", "BOY",
                                    "GIRL", "LAHIR", "KELAHIRAN", "TERLAMBAT", "17-08-2024"])
def test_no_answer_of_the_dialogue_is_a_keyword(answer: str) -> None:
    assert parse_command(answer) is None


@pytest.mark.parametrize("lang", languages())
def test_the_summary_fits_one_sms_with_its_own_longest_words(lang: str) -> None:
    """The catalogue test fills `{reason}` with the longest KTP-el reason; here the akta's."""
    for sex in ("L", "P"):
        for reason in ("tepat", "terlambat"):
            text = r("akta_lahir.confirm", lang, sex=Msg(f"akta_lahir.sex.{sex}"),
                     born="31-12-2026", reason=Msg(f"akta_lahir.reason.{reason}"),
                     nik="***1234", kk="***1234")
            assert septets(text) <= GSM7_SINGLE, text
    for stage in ("submitted", "papers_checked", "signed", "ready", "collected"):
        text = r("status.doc_detail", lang, ref="123456789", document=Msg("akta_lahir.name"),
                 explain=Msg(f"akta_lahir.stage.{stage}"))
        assert septets(text) <= GSM7_SINGLE, text


def test_the_ready_stage_says_the_kk_and_kia_come_with_the_akta() -> None:
    assert "KK baru dan KIA anak" in r("akta_lahir.stage.ready")
    assert "new KK and the child's KIA" in r("akta_lahir.stage.ready", "en")
