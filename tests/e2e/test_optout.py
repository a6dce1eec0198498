"""BERHENTI / STOP and MULAI / START the whole way: an SMS in over HTTP, the reply out through the
gateway, and the broadcasts that follow skip (or reach again) that phone, while the phone's own
SMS (replies, notifications) keep coming."""

from __future__ import annotations

from datetime import timedelta

from live_service import KK, KK_2, NIK, NIK_2, PHONE, PHONE_2, LiveService
from sqlalchemy import select

from flows.catalogue import render
from sms_ktp.messaging import broadcasts
from sms_ktp.messaging.broadcasts import Audience
from sms_ktp.models import PhoneState


def register(service: LiveService, phone: str, nik: str, kk: str) -> None:
    service.sms(phone, f"DAFTAR {nik}#{kk}#2")
    [done] = service.sms(phone, "YA")
    assert done.startswith("Pendaftaran diterima")


def broadcast(service: LiveService, text: str) -> list[dict[str, str]]:
    """A broadcast to every family, sent by the worker; the SMS it delivered."""
    runtime = service.runtime
    with runtime.db.connect() as connection:
        broadcasts.create(connection, text, Audience("all"), runtime.clock.now(), "staff:admin",
                          runtime.clock.now())
    before = len(service.sent())
    service.worker.run_once()
    runtime.clock.advance(timedelta(seconds=5))  # the slice is spread at the gateway's rate
    service.worker.run_once()
    return service.sent()[before:]


def opted_out_at(service: LiveService, phone: str):
    with service.runtime.db.connect() as connection:
        return connection.execute(select(PhoneState.broadcast_opt_out_at)
                                  .where(PhoneState.phone == phone)).scalar_one_or_none()


def test_stop_leaves_the_broadcasts_and_mulai_rejoins_them(service, clock):
    register(service, PHONE, NIK, KK)
    register(service, PHONE_2, NIK_2, KK_2)

    assert service.sms(PHONE, "STOP") == [render("id", "optout.stopped")]
    assert opted_out_at(service, PHONE) == clock.now()
    sent = broadcast(service, "Kantor Disdukcapil tutup Jumat. Balas BERHENTI untuk berhenti.")
    assert [(sms["to"], sms["text"]) for sms in sent] == [
        (PHONE_2, "Kantor Disdukcapil tutup Jumat. Balas BERHENTI untuk berhenti.")]

    # the phone's own SMS still come: a reply to STATUS
    [status] = service.sms(PHONE, "STATUS")
    assert status.startswith("Ref ")

    assert service.sms(PHONE, "mulai") == [render("id", "optout.started")]
    assert opted_out_at(service, PHONE) is None
    sent = broadcast(service, "Pengumuman kedua")
    assert sorted(sms["to"] for sms in sent) == sorted([PHONE, PHONE_2])


def test_berhenti_in_english_and_a_second_stop_keeps_the_first_time(service, clock):
    register(service, PHONE, NIK, KK)
    service.sms(PHONE, "LANG EN")
    assert service.sms(PHONE, "berhenti") == [render("en", "optout.stopped")]
    first = clock.now()
    clock.advance(timedelta(hours=1))
    assert service.sms(PHONE, "STOP") == [render("en", "optout.stopped")]
    assert opted_out_at(service, PHONE) == first
    assert service.sms(PHONE, "START") == [render("en", "optout.started")]


def test_a_phone_never_heard_from_can_stop_before_it_registers(service, clock):
    assert service.sms(PHONE, "STOP") == [render("id", "optout.stopped")]
    assert opted_out_at(service, PHONE) == clock.now()
    register(service, PHONE, NIK, KK)  # registering does not undo the opt-out
    assert opted_out_at(service, PHONE) == clock.now()
    with service.runtime.db.connect() as connection:
        assert broadcasts.count_audience(connection, Audience("all")) == 0
