"""A family's phone changed at the office: the KK from the card and a code sent to the new
phone, kept hashed, expiring, with limited tries; once confirmed, the family's queued notices
follow it, its open applications' timelines say so, and the old phone is told."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from sms_ktp.applications import phone_change
from sms_ktp.messaging.outbox import enqueue_many
from sms_ktp.models import Application, ApplicationEvent, Family, OutboxMessage, PhoneChange

KK = "3271010101200003"
OLD, NEW = "+6281234567890", "+6285711112222"
NIK = "3271014501900001"


@pytest.fixture
def family_id(database, clock) -> int:
    with database.connect() as connection:
        family = connection.execute(insert(Family.__table__).values(
            kk=KK, phone=OLD, kecamatan_code="01", created_at=clock.now())
            .returning(Family.__table__.c.id)).scalar_one()
        app = connection.execute(insert(Application.__table__).values(
            reference="123456789", nik=NIK, active_nik=NIK, family_id=family, reason="hilang",
            stage="print_queue", language="su", channel="sms", created_at=clock.now(),
            updated_at=clock.now()).returning(Application.__table__.c.id)).scalar_one()
        # a notice held for quiet hours, and a reply of the old phone's own
        enqueue_many(connection, [(OLD, "kabar")], clock.now(), kind="notification",
                     not_before=clock.now() + timedelta(hours=8), applications=[app])
        enqueue_many(connection, [(OLD, "balasan")], clock.now(), kind="reply")
    return family


def sent_to(database, phone: str) -> list[str]:
    with database.connect() as connection:
        return connection.execute(select(OutboxMessage.text).where(OutboxMessage.phone == phone)
                                  .order_by(OutboxMessage.id)).scalars().all()


def code_of(database) -> str:
    [text] = sent_to(database, NEW)[-1:]
    return re.search(r"(\d{6})", text).group(1)


def test_a_confirmed_change_moves_the_familys_sms_and_tells_the_old_phone(database, clock,
                                                                          family_id):
    started = phone_change.start(database, clock, family_id, "3271 0101 0120 0003",
                                 "0857-1111-2222", "staff:pendamping")
    code = code_of(database)
    assert sent_to(database, NEW) == [  # in the family's language (Sundanese)
        f"Kode gentos nomer HP KTP-el: {code}. Pasihkeun ka petugas dina 15 menit. Ulah "
        "masihkeun kode ieu ka batur."]
    assert code not in started.sms and started.pending.new_phone == "+62***222"
    with database.connect() as connection:
        [stored] = connection.execute(select(PhoneChange.code_hash)).scalars().all()
    assert code not in stored
    changed = phone_change.confirm(database, clock, family_id, f" {code[:3]} {code[3:]}",
                                   "staff:pendamping")
    assert (changed.old_phone, changed.new_phone, changed.cards, changed.moved) == (
        "+62***890", "+62***222", 1, 1)
    with database.connect() as connection:
        assert connection.execute(select(Family.phone)).scalar_one() == NEW
        [event] = connection.execute(select(ApplicationEvent)).all()
    assert (event.stage, event.actor) == ("print_queue", "staff:pendamping")
    assert "+62***222" in event.note
    assert sent_to(database, NEW)[0] == "kabar"  # the held notice follows the family
    assert sent_to(database, OLD) == [
        "balasan",  # the phone's own reply stays
        "SMS KTP-el kulawarga KK ***0003 ayeuna dikintun ka +62***222, digentos ku petugas. "
        "Upami teu menta, enggal sumping ka kelurahan nyandak KK asli."]
    with pytest.raises(phone_change.Refused, match="Tidak ada kode"):
        phone_change.confirm(database, clock, family_id, code, "staff:pendamping")


def test_the_kk_must_be_the_familys_and_the_phone_new(database, clock, family_id):
    for kk, phone, problem in ((KK, "12345", "tidak dikenali"),
                               ("3271010101200004", NEW, "tidak cocok"),
                               ("1234", NEW, "tidak sah"),
                               (KK, "0812 3456 7890", "sudah nomor HP keluarga")):
        with pytest.raises(phone_change.Refused, match=problem):
            phone_change.start(database, clock, family_id, kk, phone, "staff:a")
    assert sent_to(database, NEW) == []


def test_wrong_codes_run_out_and_codes_expire(database, clock, family_id):
    phone_change.start(database, clock, family_id, KK, NEW, "staff:a")
    code = code_of(database)
    wrong = "000000" if code != "000000" else "111111"
    for left in range(phone_change.MAX_ATTEMPTS - 1, -1, -1):
        with pytest.raises(phone_change.WrongCode) as refused:
            phone_change.confirm(database, clock, family_id, wrong, "staff:a")
        assert refused.value.remaining == left
    with pytest.raises(phone_change.Refused, match="Tidak ada kode"):
        phone_change.confirm(database, clock, family_id, code, "staff:a")  # closed
    phone_change.start(database, clock, family_id, KK, NEW, "staff:a")
    clock.advance(timedelta(minutes=phone_change.CODE_MINUTES, seconds=1))
    with pytest.raises(phone_change.Refused, match="Tidak ada kode"):
        phone_change.confirm(database, clock, family_id, code_of(database), "staff:a")
    clock.advance(timedelta(hours=1))
    phone_change.start(database, clock, family_id, KK, NEW, "staff:a")
    first = code_of(database)
    phone_change.start(database, clock, family_id, KK, NEW, "staff:a")  # the first is void
    if first != code_of(database):
        with pytest.raises(phone_change.WrongCode):
            phone_change.confirm(database, clock, family_id, first, "staff:a")
    phone_change.start(database, clock, family_id, KK, NEW, "staff:a")
    with pytest.raises(phone_change.Refused, match=r"3 kode dikirim .* dalam satu jam"):
        phone_change.start(database, clock, family_id, KK, NEW, "staff:a")
    with database.connect() as connection:
        assert connection.execute(select(Family.phone)).scalar_one() == OLD


def test_a_new_phone_may_already_serve_another_family(database, clock, family_id):
    with database.connect() as connection:
        connection.execute(insert(Family.__table__).values(
            kk="3271060202190004", phone=NEW, kecamatan_code="06", created_at=clock.now()))
        assert [f.id for f in phone_change.find(connection, "0857 1111 2222")] != []
        assert [f.id for f in phone_change.find(connection, KK)] == [family_id]
        assert phone_change.find(connection, KK, office="06") == []
    started = phone_change.start(database, clock, family_id, KK, NEW, "staff:a")
    assert started.pending.shared_with == 1
    phone_change.confirm(database, clock, family_id, code_of(database), "staff:a")
    with database.connect() as connection:
        assert connection.execute(select(Family.phone).where(Family.id == family_id)
                                  ).scalar_one() == NEW
