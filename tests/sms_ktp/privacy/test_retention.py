"""The retention purge on each database: applications over for longer than the retention period
lose their personal data, open and recent ones keep it, the statistics stay the same, and a
second run changes nothing."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select

from sms_ktp.backoffice.dashboard import dashboard
from sms_ktp.models import (
    Application,
    ApplicationEvent,
    AuditEntry,
    Family,
    InboundMessage,
    OutboxMessage,
    PhoneState,
    PickupVisit,
    UssdSession,
)
from sms_ktp.privacy import retention

DAYS = 90
_APPLICATION = Application.__table__
_FAMILY = Family.__table__
_EVENT = ApplicationEvent.__table__
_OUTBOX = OutboxMessage.__table__
_INBOUND = InboundMessage.__table__
_PHONE = PhoneState.__table__
_USSD = UssdSession.__table__
_VISIT = PickupVisit.__table__
SIXTEEN_DIGITS = re.compile(r"\d{16}")


@dataclass
class World:
    """Families and applications written straight into the tables, at chosen ages."""

    database: Any
    now: datetime

    def __post_init__(self) -> None:
        self.numbers = itertools.count(1)

    def ago(self, days: float) -> datetime:
        return self.now - timedelta(days=days)

    def family(self, kecamatan: str, phone: str) -> int:
        serial = next(self.numbers)
        with self.database.connect() as connection:
            return connection.execute(insert(_FAMILY).values(
                kk=f"3271{kecamatan}{serial:010d}", phone=phone, kecamatan_code=kecamatan,
                created_at=self.ago(200)).returning(_FAMILY.c.id)).scalar_one()

    def application(self, family_id: int, stage: str, changed_days_ago: float,
                    channel: str = "sms", **values: Any) -> int:
        serial = next(self.numbers)
        nik = f"3271014501{serial:06d}"
        closed = stage in {"collected", "cancelled", "rejected"}
        with self.database.connect() as connection:
            application_id = connection.execute(insert(_APPLICATION).values(
                reference=f"{100000000 + serial}", nik=nik,
                active_nik=None if closed else nik, family_id=family_id, reason="baru",
                suket_number=f"470/{serial}/KEC.BS", stage=stage, language="id",
                channel=channel, created_at=self.ago(150),
                updated_at=self.ago(changed_days_ago), consent_at=self.ago(150),
                consent_version="2026-11", **values).returning(_APPLICATION.c.id)).scalar_one()
            connection.execute(insert(_EVENT), [
                {"application_id": application_id, "at": self.ago(150), "stage": "submitted",
                 "actor": "resident:sms", "note": "registered by the family phone"},
                {"application_id": application_id, "at": self.ago(changed_days_ago),
                 "stage": stage, "actor": "staff:op1",
                 "note": f"warga {nik} minta batal, HP 0812 3456 7890"}])
        return application_id

    def visit(self, family_id: int, code: str, days_ago: float) -> int:
        """A family visit over (its cards collected): its code no longer open."""
        with self.database.connect() as connection:
            return connection.execute(insert(_VISIT).values(
                family_id=family_id, office="01", starts_at=self.ago(days_ago), code=code,
                open_code=None, reschedules=0, changes=0, created_at=self.ago(days_ago + 3))
                .returning(_VISIT.c.id)).scalar_one()

    def sms(self, phone: str, days_ago: float, status: str = "delivered") -> int:
        serial = next(self.numbers)
        with self.database.connect() as connection:
            return connection.execute(insert(_OUTBOX).values(
                uid=f"uid{serial}", phone=phone, text=f"KTP-el NIK ***{serial:04d} siap",
                status=status, next_attempt_at=self.ago(days_ago), created_at=self.ago(days_ago),
            ).returning(_OUTBOX.c.id)).scalar_one()

    def inbound(self, phone: str, days_ago: float) -> int:
        serial = next(self.numbers)
        with self.database.connect() as connection:
            return connection.execute(insert(_INBOUND).values(
                provider="africastalking", provider_id=f"ATXid_{serial}", sender=phone,
                text="STATUS", received_at=self.ago(days_ago)).returning(_INBOUND.c.id)
            ).scalar_one()

    def phone_state(self, phone: str, days_ago: float, opted_out: bool = False) -> None:
        with self.database.connect() as connection:
            connection.execute(insert(_PHONE).values(
                phone=phone, language="en", updated_at=self.ago(days_ago),
                broadcast_opt_out_at=self.ago(days_ago) if opted_out else None))

    def ussd(self, phone: str, days_ago: float) -> int:
        serial = next(self.numbers)
        with self.database.connect() as connection:
            return connection.execute(insert(_USSD).values(
                provider="africastalking", session_id=f"ATUid_{serial}", phone=phone,
                started_at=self.ago(days_ago), last_input="1*3271***")
                .returning(_USSD.c.id)).scalar_one()

    def row(self, table: Any, id_: Any, key: str = "id") -> Any:
        with self.database.connect() as connection:
            return connection.execute(select(table).where(table.c[key] == id_)).one()

    def figures(self) -> Any:
        with self.database.connect() as connection:
            by_channel = sorted(connection.execute(
                select(_APPLICATION.c.channel, _APPLICATION.c.reason, _APPLICATION.c.stage,
                       _APPLICATION.c.created_at, _APPLICATION.c.updated_at,
                       _APPLICATION.c.collected_at, _APPLICATION.c.pickup_office)).all())
            sms = sorted(connection.execute(select(_OUTBOX.c.created_at, _OUTBOX.c.segments,
                                                   _OUTBOX.c.broadcast_id)).all())
            return (dashboard(connection, self.now, sites=["disdukcapil"]), by_channel, sms,
                    connection.execute(select(_FAMILY.c.kecamatan_code)
                                       .order_by(_FAMILY.c.id)).scalars().all())


PHONE_A, PHONE_B, PHONE_C = "+6281200000001", "+6281200000002", "+6281200000003"
STRANGER, OPTED_OUT = "+6285700000009", "+6285700000008"


@pytest.fixture
def world(database, clock) -> World:
    return World(database, clock.now())


def erased(row: Any) -> bool:
    return (row.erased_at is not None and row.nik in ("", None) and row.active_nik is None
            and row.suket_number is None and row.pickup_code is None
            and row.stage_note is None)


def kept(row: Any) -> bool:
    return row.erased_at is None and len(row.nik) == 16 and row.suket_number


def test_old_closed_applications_lose_their_personal_data_and_the_rest_is_kept(
        database, clock, world):
    # Family A: everything over long ago. Family B: one card collected long ago, one still
    # open. Family C: collected recently. Family D: rejected long ago, a duplicate record older
    # still (not over: the resident must come to the kecamatan office).
    family_a, family_b = world.family("01", PHONE_A), world.family("06", PHONE_B)
    family_c, family_d = world.family("02", PHONE_C), world.family("03", "+6281200000004")
    visit_a = world.visit(family_a, "ACD347", 101)
    collected_a = world.application(family_a, "collected", 100, pickup_code="ACD347",
                                    pickup_office="01", pickup_at=world.ago(101),
                                    collected_at=world.ago(100), visit_id=visit_a)
    cancelled_a = world.application(family_a, "cancelled", DAYS + 1, channel="ussd",
                                    stage_note="warga pindah")
    collected_b = world.application(family_b, "collected", 120, channel="staff")
    open_b = world.application(family_b, "submitted", 300)
    recent_c = world.application(family_c, "collected", DAYS - 1)
    rejected_d = world.application(family_d, "rejected", DAYS + 0.5, stage_note="Suket palsu")
    duplicate_d = world.application(family_d, "duplicate", 200)
    old_to_a, recent_to_a = world.sms(PHONE_A, 100), world.sms(PHONE_A, 10)
    pending_to_a = world.sms(PHONE_A, 100, status="queued")
    old_to_b, failed_to_stranger = world.sms(PHONE_B, 100), world.sms(STRANGER, 95, "failed")
    from_a, from_b = world.inbound(PHONE_A, 100), world.inbound(PHONE_B, 100)
    world.phone_state(PHONE_A, 100)
    world.phone_state(STRANGER, 100)
    world.phone_state(OPTED_OUT, 100, opted_out=True)
    world.phone_state(PHONE_B, 100)
    ussd_a = world.ussd(PHONE_A, 100)
    before = world.figures()

    summary = retention.purge(database, clock, DAYS, batch=2)

    assert (summary.applications, summary.families) == (4, 1)
    for application_id in (collected_a, cancelled_a, collected_b, rejected_d):
        row = world.row(_APPLICATION, application_id)
        assert erased(row) and row.erased_at == clock.now(), application_id
    for application_id in (open_b, recent_c, duplicate_d):
        assert kept(world.row(_APPLICATION, application_id)), application_id
    gone = world.row(_FAMILY, family_a)
    assert gone.kk in (None, f"-{family_a}") and gone.phone in ("", None)
    for family_id in (family_b, family_c, family_d):
        assert len(world.row(_FAMILY, family_id).kk) == 16
    visit = world.row(_VISIT, visit_a)  # kept for the statistics: office and slot
    assert (visit.family_id, visit.office, visit.starts_at, visit.open_code) == (
        family_a, "01", world.ago(101), None)

    with database.connect() as connection:
        timeline = connection.execute(select(_EVENT).where(_EVENT.c.application_id == cancelled_a)
                                      .order_by(_EVENT.c.id)).all()
        notes_kept = connection.execute(select(_EVENT.c.note).where(
            _EVENT.c.application_id == open_b)).scalars().all()
    assert [(event.stage, event.actor, event.note) for event in timeline] == [
        ("submitted", "resident:sms", ""), ("cancelled", "staff:op1", ""),
        ("cancelled", "system:retention", retention.RETENTION_NOTE)]
    assert any("minta batal" in note for note in notes_kept)

    # A phone no family uses any more: its old SMS, USSD sessions and state are forgotten.
    assert (world.row(_OUTBOX, old_to_a).phone, world.row(_OUTBOX, old_to_a).text) == ("", "")
    assert world.row(_OUTBOX, recent_to_a).phone == PHONE_A  # not old enough yet
    assert world.row(_OUTBOX, pending_to_a).phone == PHONE_A  # still to send
    assert world.row(_OUTBOX, old_to_b).phone == PHONE_B  # family B is still served
    stranger = world.row(_OUTBOX, failed_to_stranger)
    assert (stranger.phone, stranger.status) == ("", "undelivered")  # cannot be resent blank
    assert (world.row(_INBOUND, from_a).sender, world.row(_INBOUND, from_a).text) == ("", "")
    assert world.row(_INBOUND, from_b).sender == PHONE_B
    assert world.row(_USSD, ussd_a).phone == ""
    with database.connect() as connection:
        phones = set(connection.execute(select(_PHONE.c.phone)).scalars())
    assert phones == {PHONE_B, OPTED_OUT}  # a BERHENTI is still honoured
    assert summary.messages == {"sms_out": 2, "sms_in": 1, "ussd_sessions": 1, "phones": 2}

    assert world.figures() == before  # the statistics do not change

    with database.connect() as connection:
        [entry] = connection.execute(select(AuditEntry.__table__)).all()
    assert (entry.actor, entry.action) == ("system:retention", "privacy.retention_purge")
    assert entry.detail == ("retention_days=90 applications=4 families=1 sms_out=2 sms_in=1 "
                            "ussd_sessions=1 phones=2")
    assert SIXTEEN_DIGITS.search(entry.detail + entry.target) is None


def test_a_second_run_changes_nothing(database, clock, world):
    home = world.family("01", PHONE_A)
    world.application(home, "collected", 100)
    world.sms(PHONE_A, 100)
    assert retention.purge(database, clock, DAYS).total == 3
    with database.connect() as connection:
        tables = [connection.execute(select(table).order_by(*table.primary_key.columns)).all()
                  for table in (_APPLICATION, _FAMILY, _EVENT, _OUTBOX, AuditEntry.__table__)]

    clock.advance(timedelta(days=1))
    again = retention.purge(database, clock, DAYS)

    assert again.total == 0
    with database.connect() as connection:
        assert tables == [
            connection.execute(select(table).order_by(*table.primary_key.columns)).all()
            for table in (_APPLICATION, _FAMILY, _EVENT, _OUTBOX, AuditEntry.__table__)]


def test_the_period_counts_from_the_last_change_and_zero_keeps_everything(database, clock,
                                                                          world):
    home = world.family("01", PHONE_A)
    application_id = world.application(home, "cancelled", DAYS - 0.01)
    assert retention.purge(database, clock, 0).total == 0
    assert retention.purge(database, clock, DAYS).total == 0
    assert kept(world.row(_APPLICATION, application_id))
    clock.advance(timedelta(hours=1))
    assert retention.purge(database, clock, DAYS).applications == 1


def test_a_family_member_left_keeps_the_familys_kk_and_phone_until_erased_too(database, clock,
                                                                             world):
    home = world.family("01", PHONE_A)
    world.application(home, "collected", 100)
    second = world.application(home, "collected", 30)
    assert retention.purge(database, clock, DAYS).families == 0
    assert world.row(_FAMILY, home).phone == PHONE_A
    clock.advance(timedelta(days=61))
    assert retention.purge(database, clock, DAYS).families == 1
    assert erased(world.row(_APPLICATION, second))
    assert world.row(_FAMILY, home).phone in ("", None)


def test_stopping_between_batches_leaves_the_rest_for_the_next_run(database, clock, world):
    home = world.family("01", PHONE_A)
    for _ in range(5):
        world.application(home, "collected", 100)
    answers = iter([True, True, False])
    first = retention.purge(database, clock, DAYS, batch=2, carry_on=lambda: next(answers, False))
    assert first.applications == 4 and first.families == 0
    assert retention.purge(database, clock, DAYS, batch=2).applications == 1


def test_the_pickup_code_of_an_erased_family_visit_is_erased_too(database, clock, world):
    """The pickup code lives on the family visit now (`pickup_visit.code`); once every card of
    the visit has lost its personal data, the code must go as the card's own copy does."""
    home = world.family("01", PHONE_A)
    visit_id = world.visit(home, "ACD347", 101)
    for _ in range(2):
        world.application(home, "collected", 100, pickup_code="ACD347", pickup_office="01",
                          pickup_at=world.ago(101), collected_at=world.ago(100),
                          visit_id=visit_id)
    assert retention.purge(database, clock, DAYS).applications == 2
    with database.connect() as connection:
        codes = connection.execute(select(_APPLICATION.c.pickup_code)).scalars().all()
    assert codes == [None, None]
    assert world.row(_VISIT, visit_id).code in ("", None)
