"""Staff decisions: a rejection with its reason, a cancellation; both tell the family."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert
from sqlalchemy import select as sqlselect
from sqlmodel import select

from sms_ktp.applications import decisions
from sms_ktp.domain.quiet_hours import QuietHours
from sms_ktp.models import (
    Application,
    ApplicationEvent,
    Family,
    OutboxMessage,
    PickupSlot,
    PickupVisit,
)

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
    """The submitted application, printed and booked into a slot that holds two cards, in a
    family visit of its own."""
    reference = submitted(database, clock)
    slot = clock.now() + timedelta(days=1)
    with database.connect() as connection:
        family = connection.execute(sqlselect(Family.__table__.c.id)).scalar_one()
        visit = connection.execute(insert(PickupVisit.__table__).values(
            family_id=family, office="01", starts_at=slot, code="ACD347", open_code="ACD347",
            reschedules=0, changes=0, created_at=clock.now())
            .returning(PickupVisit.__table__.c.id)).scalar_one()
        connection.execute(Application.__table__.update().values(
            stage="pickup_scheduled", visit_id=visit, pickup_office="01", pickup_at=slot,
            pickup_code="ACD347"))
        connection.execute(insert(PickupSlot.__table__).values(
            office="01", starts_at=slot, capacity=10, booked=2))
    return reference, slot


def second_card(database, clock) -> str:
    """A second card of the family, collected in the same visit as the first."""
    nik = "3271014501900002"
    with database.connect() as connection:
        first = connection.execute(sqlselect(Application.__table__)).one()
        connection.execute(insert(Application.__table__).values(
            reference="123456797", nik=nik, active_nik=nik, family_id=first.family_id,
            reason="hilang", stage="pickup_scheduled", language="id", channel="sms",
            created_at=clock.now(), updated_at=clock.now(), visit_id=first.visit_id,
            pickup_office="01", pickup_at=first.pickup_at, pickup_code="ACD347"))
    return "123456797"


def booked(database) -> int:
    with database.connect() as connection:
        return connection.execute(sqlselect(PickupSlot.__table__.c.booked)).scalar_one()


def open_code(database) -> str | None:
    with database.connect() as connection:
        return connection.execute(sqlselect(PickupVisit.__table__.c.open_code)).scalar_one()


def test_a_printed_card_is_not_rejected(database, clock):
    reference, _ = scheduled(database, clock)
    with pytest.raises(decisions.DecisionRefused, match="pickup_scheduled: too late to reject"):
        decisions.reject(database, clock, QuietHours(), reference, "salah", "staff:ani")
    assert booked(database) == 2
    assert open_code(database) == "ACD347"


def test_a_cancelled_pickup_gives_its_place_in_the_slot_back(database, clock):
    reference, _ = scheduled(database, clock)
    decisions.cancel(database, clock, QuietHours(), reference, "pindah kota", "staff:ani")
    with database.transaction() as session:
        application = session.exec(select(Application)).one()
    assert application.stage == "cancelled"
    assert open_code(database) is None  # the visit has nothing left to hand over
    assert booked(database) == 1


def test_a_card_cancelled_in_a_family_visit_leaves_the_others_to_collect(database, clock):
    """The visit keeps its code for the card still to collect; only the cancelled card's
    place in the slot is given back."""
    reference, _ = scheduled(database, clock)
    other = second_card(database, clock)
    decisions.cancel(database, clock, QuietHours(), reference, "pindah kota", "staff:ani")
    with database.transaction() as session:
        stages = {a.reference: a.stage for a in session.exec(select(Application)).all()}
    assert stages == {reference: "cancelled", other: "pickup_scheduled"}
    assert open_code(database) == "ACD347"
    assert booked(database) == 1
    decisions.cancel(database, clock, QuietHours(), other, "pindah kota", "staff:ani")
    assert open_code(database) is None
    assert booked(database) == 0
