"""Staff decisions: a rejection with its reason, a cancellation; both tell the family."""

from __future__ import annotations

import pytest
from sqlalchemy import insert
from sqlalchemy import select as sqlselect
from sqlmodel import select

from sms_ktp.applications import decisions
from sms_ktp.domain.quiet_hours import QuietHours
from sms_ktp.models import Application, ApplicationEvent, Family, OutboxMessage

NIK = "3271014501900001"


def submitted(database, clock) -> str:
    with database.connect() as connection:
        family = connection.execute(insert(Family.__table__).values(
            kk="3271010101200003", phone="+6281234567890", kecamatan_code="01",
            created_at=clock.now()).returning(Family.__table__.c.id)).scalar_one()
        connection.execute(insert(Application.__table__).values(
            reference="123456789", nik=NIK, active_nik=NIK, family_id=family, reason="baru",
            stage="submitted", language="id", channel="sms", created_at=clock.now(),
            updated_at=clock.now()))
    return "123456789"


def test_a_rejection_tells_the_reason_and_frees_the_nik(database, clock):
    reference = submitted(database, clock)
    decisions.reject(database, clock, QuietHours(), reference, "  Suket tidak terbaca ",
                     "staff:ani")
    with database.transaction() as session:
        application = session.exec(select(Application)).one()
        [message] = session.exec(select(OutboxMessage)).all()
        events = session.exec(select(ApplicationEvent)).all()
    assert (application.stage, application.active_nik, application.stage_note) == (
        "rejected", None, "Suket tidak terbaca")
    assert message.text == ("KTP-el ref 123456789 (NIK ***0001) ditolak petugas: Suket tidak "
                            "terbaca. Tanya kelurahan, lalu ketik DAFTAR lagi.")
    assert [(e.stage, e.actor, e.note) for e in events] == [
        ("rejected", "staff:ani", "Suket tidak terbaca")]
    with pytest.raises(decisions.DecisionRefused, match="already rejected"):
        decisions.cancel(database, clock, QuietHours(), reference, "", "staff:ani")


@pytest.mark.parametrize(("reason", "message"), [
    ("", "needs a reason"),
    ("x" * (decisions.reason_budget() + 1), "within .* GSM-7 septets"),
    ("[]{}~^€" * 7, "within .* GSM-7 septets"),  # 49 characters, 98 septets
])
def test_a_rejection_needs_a_short_reason(database, clock, reason, message):
    reference = submitted(database, clock)
    with pytest.raises(decisions.DecisionRefused, match=message):
        decisions.reject(database, clock, QuietHours(), reference, reason, "staff:ani")


def test_a_cancellation_is_told_and_unknown_references_refused(database, clock):
    reference = submitted(database, clock)
    decisions.cancel(database, clock, QuietHours(), reference, "asked at the counter", "staff")
    with database.transaction() as session:
        [message] = session.exec(select(OutboxMessage)).all()
    assert message.text == ("Pendaftaran KTP-el ref 123456789 (NIK ***0001) dibatalkan petugas. "
                            "Ketik DAFTAR untuk daftar lagi atau tanya kelurahan.")
    with pytest.raises(decisions.DecisionRefused, match="unknown reference 999999999"):
        decisions.cancel(database, clock, QuietHours(), "999999999", "", "staff")


def scheduled(database, clock) -> tuple[str, object]:
    """The submitted application, printed and booked into a slot that holds two cards."""
    from datetime import timedelta

    from sms_ktp.models import PickupSlot

    reference = submitted(database, clock)
    slot = clock.now() + timedelta(days=1)
    with database.connect() as connection:
        connection.execute(Application.__table__.update().values(
            stage="pickup_scheduled", pickup_office="01", pickup_at=slot, open_code="ACD347",
            pickup_code="ACD347"))
        connection.execute(insert(PickupSlot.__table__).values(
            office="01", starts_at=slot, capacity=10, booked=2))
    return reference, slot


def booked(database) -> int:
    from sms_ktp.models import PickupSlot

    with database.connect() as connection:
        return connection.execute(sqlselect(PickupSlot.__table__.c.booked)).scalar_one()


def test_a_printed_card_is_not_rejected(database, clock):
    reference, _ = scheduled(database, clock)
    with pytest.raises(decisions.DecisionRefused, match="pickup_scheduled: too late to reject"):
        decisions.reject(database, clock, QuietHours(), reference, "salah", "staff:ani")
    assert booked(database) == 2


def test_a_cancelled_pickup_gives_its_place_in_the_slot_back(database, clock):
    reference, _ = scheduled(database, clock)
    decisions.cancel(database, clock, QuietHours(), reference, "pindah kota", "staff:ani")
    with database.transaction() as session:
        application = session.exec(select(Application)).one()
    assert (application.stage, application.open_code) == ("cancelled", None)
    assert booked(database) == 1
