"""The formats of other Dukcapil services through the real webhook: Kabupaten Magelang's
`#KTP#NIK#KK#Nama#Desa#Kecamatan#Pemula` registers (NIK, KK and reason stored, the Suket number
asked), its name and place fields in no SMS and in no column (the inbound SMS is kept with the
fields read only),
and `KTP#<NIK>` answers as STATUS for the family's own NIK and as for any unknown number for
another family's."""

from __future__ import annotations

import logging
import re

import sqlalchemy as sa
from live_service import KK, KK_2, NIK, NIK_2, PHONE, PHONE_2, LiveService
from sqlmodel import SQLModel

from flows.catalogue import render
from gsm7.encoding import is_gsm7, segments
from sms_ktp.domain.masking import mask_id
from sms_ktp.models import Application, Family, InboundMessage, PhoneState

REF = re.compile(r"ref (\d{9})")
SUKET = "474.11/123/KEC-BGR"
NAME, DESA, KECAMATAN = "Sutarmini Wiryodiharjo", "Ngadirojo RT 07/RW 13", "Kaliwungukidul"
PERSONAL = ("SUTARMINI", "WIRYODIHARJO", "NGADIROJO", "KALIWUNGUKIDUL")
MAGELANG = f"#KTP#{NIK}#{KK}#{NAME}#{DESA}#{KECAMATAN}#Pemula"
NIK_NOBODY = "3273015107990002"


def personal_words(text: str) -> list[str]:
    return [word for word in PERSONAL if word in text.upper()]


def one_sms(replies: list[str]) -> str:
    [reply] = replies
    assert is_gsm7(reply) and segments(reply) == 1, reply
    assert NIK not in reply and KK not in reply, reply
    return reply


def every_value(service: LiveService) -> str:
    """Every value of every table, sealed columns opened as the service reads them."""
    values: list[str] = []
    with service.runtime.db.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            for row in connection.execute(sa.select(*table.c)):
                values += [str(value) for value in row]
    return "\n".join(values)


def test_the_magelang_format_registers_without_keeping_the_name(service, caplog):
    caplog.set_level(logging.INFO)
    assert one_sms(service.sms(PHONE, MAGELANG)) == render("id", "register.ask_suket")
    with service.runtime.db.transaction() as session:  # the dialogue waits for the Suket
        waiting = session.get(PhoneState, PHONE)
        assert waiting.answers == {"nik": NIK, "kk": KK, "reason": "baru"}
        assert personal_words(repr(waiting.prefill)) == []
    assert one_sms(service.sms(PHONE, SUKET)) == render(
        "id", "register.confirm", nik=mask_id(NIK), kk=mask_id(KK),
        reason=render("id", "reason.baru"))
    done = one_sms(service.sms(PHONE, "YA"))
    reference = REF.search(done).group(1)
    assert personal_words(done) == []

    application, family = Application.__table__.c, Family.__table__.c
    with service.runtime.db.connect() as connection:
        stored = connection.execute(
            sa.select(application.reference, application.nik, family.kk, application.reason,
                      application.suket_number)
            .join(Family.__table__, family.id == application.family_id)).one()
        received = connection.execute(sa.select(InboundMessage.__table__.c.text)
                                      .order_by(InboundMessage.__table__.c.id)).scalars().all()
    assert tuple(stored) == (reference, NIK, KK, "baru", SUKET)
    dump = every_value(service)
    assert reference in dump and NIK in dump  # the dump reads what is stored
    assert personal_words(dump) == []
    # The SMS as received is kept with only the fields read, its numbers masked.
    assert received[0] == f"#KTP#{mask_id(NIK)}#{mask_id(KK)}#PEMULA#(kolom lain tidak disimpan)"
    assert personal_words(caplog.text) == [] and NIK not in caplog.text


def test_ktp_hash_nik_is_status_for_the_family_and_unknown_for_anyone_else(service):
    service.sms(PHONE, f"DAFTAR {NIK}#{KK}#2")
    reference = REF.search(service.sms(PHONE, "YA")[0]).group(1)
    service.sms(PHONE_2, f"DAFTAR {NIK_2}#{KK_2}#3")
    theirs = REF.search(service.sms(PHONE_2, "YA")[0]).group(1)

    mine = one_sms(service.sms(PHONE, f"KTP#{NIK}"))
    assert mine == one_sms(service.sms(PHONE, "STATUS"))
    assert mine.startswith(f"Ref {reference} NIK {mask_id(NIK)}: diterima")

    other_family = one_sms(service.sms(PHONE, f"KTP#{NIK_2}"))
    nobody = one_sms(service.sms(PHONE, f"KTP#{NIK_NOBODY}"))
    assert other_family == render("id", "status.nik_not_found", nik=mask_id(NIK_2))
    assert nobody == render("id", "status.nik_not_found", nik=mask_id(NIK_NOBODY))
    assert theirs not in other_family
    # (More than three identical replies in a row are held back, as an auto-responder's loop.)
    assert one_sms(service.sms(PHONE, f"INFO#{NIK}")) == mine
    # The family phone of that NIK gets its own status.
    assert one_sms(service.sms(PHONE_2, f"KTP#{NIK_2}")) == one_sms(service.sms(PHONE_2,
                                                                                 "STATUS"))
