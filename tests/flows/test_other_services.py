"""The formats residents bring from other Dukcapil services, for what the corpus
(tests/flows/corpus/other_services.toml) cannot show: the name, desa and kecamatan fields of
Kabupaten Magelang's `#KTP#NIK#KK#Nama#Desa#Kecamatan#Pemula` are in no reply and kept nowhere,
and a status check by NIK (`KTP#<NIK>`) tells a phone about its own family's cards only.

Each test runs on the in-memory services and on SQL (`services` in tests/flows/conftest.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from sms_resident import Resident as SmsResident
from sql_services import SqlTwin
from sqlalchemy import select
from sqlmodel import SQLModel

from flows.catalogue import offered, render
from flows.keywords import parse_command
from gsm7.encoding import is_gsm7, segments
from sms_ktp.domain.masking import mask_id
from sms_ktp.domain.stages import Stage

PHONE = "+6281234567890"
OTHER_PHONE = "+6285711112222"
NOW = datetime(2024, 11, 7, 2, 0, tzinfo=UTC)  # 09:00 in Bogor
TTL = timedelta(minutes=30)
NIK = "3271014501900029"    # a woman born 5 January 1990
NIK_2 = "3271056708920003"  # another member of the same family
NIK_3 = "3201021210780012"  # a man of another family
NIK_NOBODY = "3273015107990002"
KK = "3271010101200003"
KK_2 = "3271021506150014"
SECRETS = (NIK, NIK_2, NIK_3, NIK_NOBODY, KK, KK_2)
SUKET = "474.11/123/KEC-BGR"
# Words of the name, desa (with its RT/RW) and kecamatan fields, none of them a word of any reply.
NAME, DESA, KECAMATAN = "Sutarmini Wiryodiharjo", "Ngadirojo RT 07/RW 13", "Kaliwungukidul"
PERSONAL = ("SUTARMINI", "WIRYODIHARJO", "NGADIROJO", "KALIWUNGUKIDUL", "07/RW 13")
MAGELANG = f"#KTP#{NIK}#{KK}#{NAME}#{DESA}#{KECAMATAN}#Pemula"


# Forty seconds between two SMS, as a resident types them.
Resident = partial(SmsResident, pause=timedelta(seconds=40))


@pytest.fixture
def resident(services) -> SmsResident:
    return Resident(services)


def personal_words(text: str) -> list[str]:
    return [word for word in PERSONAL if word in text.upper()]


def full_numbers(text: str) -> list[str]:
    digits = re.sub(r"\D", "", text)
    return [number for number in SECRETS if number in digits]


def stored_text(services: Any) -> str:
    """Everything the services keep, as text: on SQL every value of every table (sealed
    columns read back opened, as the service reads them), in memory every application."""
    if isinstance(services, SqlTwin):
        values: list[str] = []
        for table in SQLModel.metadata.sorted_tables:
            for row in services.connection.execute(select(table)):
                values += [str(value) for value in row]
        return "\n".join(values)
    return "\n".join(repr(vars(application)) for application in services.applications)


# --- the fields this service does not need ------------------------------------------------------
def test_the_magelang_format_registers_and_its_name_and_places_are_in_no_reply(
        resident: Resident, services) -> None:
    assert resident.send(MAGELANG) == render("id", "register.ask_suket")  # Pemula: a first card
    summary = resident.send(SUKET)
    assert summary == render("id", "register.confirm", nik=mask_id(NIK), kk=mask_id(KK),
                             reason=render("id", "reason.baru"))
    resident.send("YA")
    (stored,) = services.applications
    assert (stored.nik, stored.kk, stored.reason, stored.suket) == (NIK, KK, "baru", SUKET)
    for reply in resident.received:
        assert personal_words(reply) == [], reply
        assert full_numbers(reply) == [], reply
        assert is_gsm7(reply) and segments(reply) == 1, reply


def test_the_name_and_places_are_kept_nowhere(resident: Resident, services) -> None:
    """Neither with the dialogue waiting for the Suket (what the phone's state keeps) nor in any
    column once the application is stored."""
    resident.send(MAGELANG)
    resident.send(SUKET)
    assert resident.step == "confirm"
    for kept in resident.kept:
        assert personal_words(kept) == [], kept
    resident.send("YA")
    assert resident.step is None and len(services.applications) == 1
    dump = stored_text(services)
    assert NIK in dump  # the dump reads what is stored
    assert personal_words(dump) == []


def test_a_number_in_a_name_or_place_field_is_no_nik_nor_kk(resident: Resident,
                                                          services) -> None:
    """A KK written inside the desa field, RT/RW numbers beside it: the KK is asked."""
    reply = resident.send(f"#KTP#{NIK}##Budi#Sukamaju {KK} RT 01/RW 02#Bogor Barat#Hilang")
    assert reply == render("id", "register.ask_kk")
    assert resident.conversation.answers == {"nik": NIK}
    assert "kk" not in resident.conversation.prefill
    assert resident.conversation.prefill["reason"] == "HILANG"


def test_an_explicit_reason_wins_over_a_name_that_is_a_reason_word(resident: Resident,
                                                                   services) -> None:
    resident.send(f"#KTP#{NIK}#{KK}#Baru#Rusak#Hilang Jaya#Ubah Data")
    resident.send("YA")
    (stored,) = services.applications
    assert stored.reason == "perubahan_data"


# --- status by NIK ------------------------------------------------------------------------------
@pytest.fixture
def families(services) -> Iterator[dict[str, str]]:
    """This phone's family with one card in print queue; another family with a NIK of its own."""
    mine = services.add_application(PHONE, NIK, KK, stage=Stage.PRINT_QUEUE)
    theirs = services.add_application(OTHER_PHONE, NIK_3, KK_2, stage=Stage.DUPLICATE)
    services.add_blangko(5)
    yield {"mine": mine, "theirs": theirs}


@pytest.mark.parametrize("text", [f"KTP#{NIK}", f"#KTP#{NIK}#", f"INFO#{NIK}", f"CEK#{NIK}",
                                  f"cek ktp # {NIK[:4]} {NIK[4:8]} {NIK[8:12]} {NIK[12:]}",
                                  f"E-KTP#{NIK}"])
def test_the_familys_nik_is_answered_as_status(resident: Resident, families, text: str) -> None:
    reply = resident.send(text)
    assert reply == resident.send("STATUS")
    assert families["mine"] in reply and mask_id(NIK) in reply
    assert full_numbers(reply) == []


def test_another_familys_nik_is_answered_as_a_nik_of_nobody(resident: Resident,
                                                            families) -> None:
    theirs = resident.send(f"KTP#{NIK_3}")
    nobody = resident.send(f"KTP#{NIK_NOBODY}")
    assert theirs == render("id", "status.nik_not_found", nik=mask_id(NIK_3))
    assert nobody == render("id", "status.nik_not_found", nik=mask_id(NIK_NOBODY))
    # The same reply but for the last four digits the resident typed: nothing about the card.
    assert theirs.replace(NIK_3[-4:], "####") == nobody.replace(NIK_NOBODY[-4:], "####")
    assert families["theirs"] not in theirs and "ganda" not in theirs
    assert full_numbers(theirs) == [] and full_numbers(nobody) == []


def test_the_family_phone_of_the_other_family_gets_its_own_status(services, families) -> None:
    other = Resident(services, OTHER_PHONE)
    assert other.send(f"KTP#{NIK_3}") == other.send("STATUS")
    assert other.send(f"KTP#{NIK}") == render("id", "status.nik_not_found", nik=mask_id(NIK))


def test_a_family_with_several_cards_gets_the_card_of_that_nik(resident: Resident,
                                                               services) -> None:
    """STATUS lists them all; the NIK names one card, answered as its STATUS <ref>."""
    first = services.add_application(PHONE, NIK, KK, stage=Stage.PRINT_QUEUE)
    second = services.add_application(PHONE, NIK_2, KK)
    assert first in resident.send("STATUS") and second in resident.send("STATUS")
    assert resident.send(f"KTP#{NIK}") == resident.send(f"STATUS {first}")
    assert resident.send(f"INFO#{NIK_2}") == resident.send(f"STATUS {second}")


def test_a_phone_with_no_application_is_answered_as_for_any_unknown_nik(
        resident: Resident) -> None:
    assert resident.send(f"KTP#{NIK}") == render("id", "status.nik_not_found", nik=mask_id(NIK))


@pytest.mark.parametrize("language", ["id", "en", "su"])
def test_the_unknown_nik_reply_is_one_sms_in_every_language(services, language: str) -> None:
    assert language in offered()
    services.set_language(PHONE, language)
    reply = Resident(services).send(f"KTP#{NIK_NOBODY}")
    assert reply == render(language, "status.nik_not_found", nik=mask_id(NIK_NOBODY))
    assert is_gsm7(reply) and segments(reply) == 1 and NIK_NOBODY not in reply


def test_ktp_hash_nik_in_the_middle_of_a_registration_is_the_nik_asked_for(
        resident: Resident, services) -> None:
    """Asked for the NIK, `KTP#<NIK>` is more likely the answer than a status check."""
    resident.send("DAFTAR")
    assert resident.send(f"KTP#{NIK}") == render("id", "register.ask_kk")
    assert resident.conversation.answers == {"nik": NIK}


def test_status_nik_with_a_blank_stays_a_reference_typed_wrong(resident: Resident,
                                                               families) -> None:
    """Only the `#` formats read a NIK: `STATUS <16 digits>` is still a reference mistyped."""
    assert resident.send(f"STATUS {NIK}") == render("id", "status.bad_ref")


def test_ktp_alone_or_in_a_sentence_is_no_keyword() -> None:
    for text in ("KTP", "KTP#", "ktp saya hilang", "KTP#hilang"):
        assert parse_command(text) is None, text
