"""Verification by staff: the queue of applications received, oldest first, with who registered
each; verifying sends them on to penunggalan without an SMS; Kemendagri's result still applies
to an application nobody verified yet. A double record resolved goes back to the print queue
with one SMS."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from sms_ktp.applications import decisions, penunggalan, verification
from sms_ktp.domain.quiet_hours import QuietHours
from sms_ktp.models import Application, ApplicationEvent, Family, OutboxMessage

NIKS = ("3271014501900001", "3271015507880003", "3271012808750007")
KK = "3271010101200003"
KK_06 = "3271060202190004"


def application(connection, clock, reference: str, nik: str, family: int, *, actor: str,
                stage: str = "submitted", minutes: int = 0) -> int:
    at = clock.now() + timedelta(minutes=minutes)
    app = connection.execute(insert(Application.__table__).values(
        reference=reference, nik=nik, active_nik=nik, family_id=family, reason="baru",
        suket_number="474/12/2026", stage=stage, language="id", channel="sms", created_at=at,
        updated_at=at).returning(Application.__table__.c.id)).scalar_one()
    connection.execute(insert(ApplicationEvent.__table__).values(
        application_id=app, at=at, stage="submitted", actor=actor, note=""))
    return app


def family(connection, clock, kk: str, kecamatan: str, phone: str = "+6281234567890") -> int:
    return connection.execute(insert(Family.__table__).values(
        kk=kk, phone=phone, kecamatan_code=kecamatan, created_at=clock.now())
        .returning(Family.__table__.c.id)).scalar_one()


@pytest.fixture
def received(database, clock) -> None:
    """Three applications: two of kecamatan 01 (the newer registered by a helper), one of 06,
    registered earliest."""
    with database.connect() as connection:
        ours, theirs = family(connection, clock, KK, "01"), family(connection, clock, KK_06, "06")
        application(connection, clock, "100000001", NIKS[0], ours, actor="resident:sms",
                    minutes=5)
        application(connection, clock, "100000002", NIKS[1], ours, actor="staff:pendamping",
                    minutes=10)
        application(connection, clock, "100000003", NIKS[2], theirs, actor="resident:ussd")


def test_the_queue_is_oldest_first_masked_and_says_who_registered(database, received):
    with database.connect() as connection:
        queue = verification.waiting(connection)
        ours = verification.waiting(connection, office="01")
        paged = verification.waiting(connection, page=2, size=2)
    assert [row.reference for row in queue.rows] == ["100000003", "100000001", "100000002"]
    assert queue.total == 3 and queue.pages == 1
    first = queue.rows[1]
    assert (first.nik, first.kk, first.kecamatan_code, first.registered_by) == (
        "***0001", "***0003", "01", "resident:sms")
    assert queue.rows[2].registered_by == "staff:pendamping"
    assert [row.reference for row in ours.rows] == ["100000001", "100000002"]
    assert [row.reference for row in paged.rows] == ["100000002"] and paged.pages == 2


def test_verifying_sends_on_to_penunggalan_without_an_sms(database, clock, received):
    result = verification.verify(database, clock, QuietHours(), ["100000001", "100000003"],
                                 "staff:op01", office="01")
    assert (result.done, result.skipped) == (["100000001"], ["100000003"])  # 06: not theirs
    again = verification.verify(database, clock, QuietHours(), ["100000001"], "staff:admin")
    assert again.done == [] and again.skipped == ["100000001"]
    with database.connect() as connection:
        stages = dict(connection.execute(select(Application.reference, Application.stage)).all())
        events = connection.execute(select(ApplicationEvent.stage, ApplicationEvent.actor,
                                           ApplicationEvent.note)
                                    .where(ApplicationEvent.stage == "penunggalan")).all()
        sms = connection.execute(select(OutboxMessage.id)).all()
    assert stages == {"100000001": "penunggalan", "100000002": "submitted",
                      "100000003": "submitted"}
    assert events == [("penunggalan", "staff:op01", verification.NOTE)]
    assert sms == []
    with database.connect() as connection:
        assert verification.waiting(connection, office="01").total == 1


def test_kemendagris_result_applies_to_an_application_not_verified_yet(database, clock,
                                                                      received):
    summary = penunggalan.Summary()
    rows = list(penunggalan.read_csv(f"nik,result,note\n{NIKS[0]},PRR,\n", summary))
    penunggalan.apply(database, clock, QuietHours(), rows, summary, "operator:root")
    assert summary.applied == 1
    with database.connect() as connection:
        assert connection.execute(select(Application.stage).where(
            Application.reference == "100000001")).scalar_one() == "print_queue"
        assert verification.waiting(connection, office="01").total == 1


def test_a_double_record_resolved_goes_back_to_the_print_queue_with_one_sms(database, clock,
                                                                           received):
    summary = penunggalan.Summary()
    rows = list(penunggalan.read_csv(f"nik,result,note\n{NIKS[0]},DUPLICATE,rekam 2x\n",
                                     summary))
    penunggalan.apply(database, clock, QuietHours(), rows, summary, "operator:root")
    with database.connect() as connection:
        [double] = verification.double_records(connection, office="01")
        assert verification.double_records(connection, office="06") == []
    assert (double.reference, double.nik, double.note) == ("100000001", "***0001", "rekam 2x")
    with pytest.raises(decisions.DecisionRefused, match="not a double record"):
        decisions.resolve_duplicate(database, clock, QuietHours(), "100000002", "", "staff:a")
    clock.advance(timedelta(days=3))
    decisions.resolve_duplicate(database, clock, QuietHours(), "100000001",
                                "sudah rekam ulang 3271014501900001", "staff:op01")
    with database.connect() as connection:
        app = connection.execute(select(Application).where(
            Application.reference == "100000001")).one()
        [note] = connection.execute(select(ApplicationEvent.note).where(
            ApplicationEvent.stage == "print_queue")).scalars().all()
        texts = connection.execute(select(OutboxMessage.text).order_by(OutboxMessage.id)
                                   ).scalars().all()
        assert verification.double_records(connection) == []
    assert (app.stage, app.ready_at, app.stage_note) == ("print_queue", clock.now(), None)
    assert note == f"{decisions.RESOLVED_NOTE}: sudah rekam ulang ***0001"
    assert texts[-1] == ("Data ganda KTP-el ref 100000001 (NIK ***0001) sudah selesai. Kini "
                         "antre cetak; jadwal ambil dikirim lewat SMS.")
    assert len(texts) == 2  # the duplicate notice, then this one


def test_another_documents_application_is_no_ktp_el_to_verify(database, clock, received):
    """A KK's papers are checked at its papers visit: it is neither in the queue nor sent to
    penunggalan by a verification."""
    with database.connect() as connection:
        ours = connection.execute(select(Family.id).where(Family.kk_hash == KK)).scalar_one()
        kk = application(connection, clock, "100000009", "3271012808750099", ours,
                         actor="resident:sms", minutes=1)
        connection.execute(Application.__table__.update()
                           .where(Application.__table__.c.id == kk)
                           .values(document="kk", active_nik="kk:3271012808750099"))
        queue = verification.waiting(connection)
    assert "100000009" not in [row.reference for row in queue.rows] and queue.total == 3
    result = verification.verify(database, clock, QuietHours(), ["100000009"], "staff:op01")
    assert result.done == []
    with database.connect() as connection:
        stage = connection.execute(select(Application.stage)
                                   .where(Application.reference == "100000009")).scalar_one()
    assert stage == "submitted"
