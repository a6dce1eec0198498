"""The worker: its scheduled jobs run on their own, `wake` sends at once, old dialogues go."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlmodel import select

from flows.dialogue import Conversation
from gateway.console import ConsoleGateway
from sms_ktp.config import Settings
from sms_ktp.models import OutboxMessage, PhoneState
from sms_ktp.outbox import enqueue
from sms_ktp.phone_state import PhoneStateStore
from sms_ktp.runtime import Runtime
from sms_ktp.worker import Worker


def make_worker(database, clock, tmp_path, interval: float = 3600.0) -> Worker:
    settings = Settings(data_dir=str(tmp_path))
    settings.worker.dispatch_interval_seconds = interval
    gateway = ConsoleGateway(tmp_path / "outbox.jsonl")
    return Worker(Runtime(settings, database, clock, gateway))


def status_of_all(database) -> list[str]:
    with database.transaction() as session:
        return [m.status for m in session.exec(select(OutboxMessage)).all()]


def test_the_background_scheduler_sends_when_woken(database, clock, tmp_path):
    worker = make_worker(database, clock, tmp_path)
    worker.start_background()
    try:
        deadline = time.monotonic() + 10
        while worker._scheduler.get_job("dispatch_outbox").next_run_time is None:
            time.sleep(0.01)
        time.sleep(0.2)  # the first, immediate run has found nothing
        with database.connect() as connection:
            enqueue(connection, "+6281200000001", "halo", clock.now())
        worker.wake()
        while status_of_all(database) != ["sent"] and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        worker.shutdown()
    assert status_of_all(database) == ["sent"]
    assert (tmp_path / "outbox.jsonl").read_text().count("halo") == 1


def test_purge_forgets_dialogues_a_day_past_their_expiry(database, clock, tmp_path):
    with database.connect() as connection:
        for phone, minutes, language in (("+6281200000001", -60 * 25, None),
                                         ("+6281200000002", -60 * 25, "en"),
                                         ("+6281200000003", -10, None)):
            conversation = Conversation(phone, "register", "kk", "id",
                                        clock.now() + timedelta(minutes=minutes),
                                        answers={"nik": "3271014501900001"})
            state = PhoneStateStore(connection, phone)
            state.language = language
            state.save(conversation, clock.now() + timedelta(minutes=minutes - 30))  # last SMS
    assert make_worker(database, clock, tmp_path).run_once()["purged"] == 2
    with database.transaction() as session:
        rows = session.exec(select(PhoneState).order_by(PhoneState.phone)).all()
    # the phone that chose English keeps its choice and loses its dialogue (and its NIK)
    assert [(r.phone, r.language, r.flow, r.answers) for r in rows] == [
        ("+6281200000002", "en", None, None),
        ("+6281200000003", None, "register", {"nik": "3271014501900001"})]


def test_allocation_runs_in_chunks_until_every_printed_card_is_scheduled(database, clock,
                                                                        tmp_path, monkeypatch):
    from sqlalchemy import insert

    from sms_ktp import worker as worker_module
    from sms_ktp.models import Application, Family

    monkeypatch.setattr(worker_module, "ALLOCATION_CHUNK", 3)
    with database.connect() as connection:
        for number in range(7):
            family = connection.execute(insert(Family.__table__).values(
                kk=f"32710101012{number:05d}", phone=f"+62812000000{number:02d}",
                kecamatan_code="01", created_at=clock.now()).returning(Family.__table__.c.id)
            ).scalar_one()
            nik = f"32710145019{number:05d}"
            connection.execute(insert(Application.__table__).values(
                reference=f"10000000{number}", nik=nik, active_nik=nik, family_id=family,
                reason="baru", stage="printed", language="id", channel="sms",
                created_at=clock.now(), updated_at=clock.now(), printed_at=clock.now()))
    assert make_worker(database, clock, tmp_path).allocate_pickups() == 7
    with database.transaction() as session:
        stages = {a.stage for a in session.exec(select(Application)).all()}
    assert stages == {"pickup_scheduled"}
