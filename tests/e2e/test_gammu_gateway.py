"""The whole service on a GSM modem: gammu-smsd (Debian's daemon, its dummy phone, its own
PostgreSQL tables) receives a resident's SMS, the worker polls it, answers through gammu's
outbox, the daemon "sends" the reply, and the network's delivery report comes back to the
outbox row. Also: the sender's 08... form, a retried poll, and a failing modem handing over to
the fallback gateway. Skipped (with the reason) where gammu-smsd is missing, failed in CI."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from cli_runner import run
from live_service import NIK, LiveService, start_service
from sqlmodel import select

from flows.catalogue import render
from gateway.gammu import GammuGateway
from gateway.routing import RoutingGateway
from sms_ktp.channels.sms import receive_sms
from sms_ktp.models import InboundMessage, OutboxMessage
from sms_ktp.platform.config import Settings
from sms_ktp.runtime import build_gateway

if TYPE_CHECKING:
    from gammu_daemon import GammuDaemon

PHONE = "+6281234567890"


def gammu_settings(daemon: GammuDaemon, **gateway: Any) -> Settings:
    settings = Settings()
    settings.gateway.provider = "gammu"
    settings.gateway.gammu = {"database_url": daemon.database_url, "phone_id": daemon.phone_id}
    for key, value in gateway.items():
        setattr(settings.gateway, key, value)
    return settings


@pytest.fixture
def modem(gammu_daemon: GammuDaemon, database, clock, tmp_path
          ) -> Iterator[tuple[LiveService, GammuDaemon]]:
    gateway = build_gateway(gammu_settings(gammu_daemon))
    assert isinstance(gateway, GammuGateway)
    try:
        for live in start_service(database, clock, tmp_path, gateway=gateway):
            yield live, gammu_daemon
    finally:
        gateway.close()


def outbox(service: LiveService) -> list[OutboxMessage]:
    with service.runtime.db.transaction() as session:
        return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all())


def test_an_sms_in_the_reply_out_and_its_delivery_back(modem) -> None:
    service, daemon = modem
    daemon.deliver_inbound("081234567890", "DAFTAR")  # the 08... form, as gammu often gives it
    daemon.wait_for_inbox(1)
    done = service.worker.run_once()
    assert (done["received"], done["sent"]) == (1, 1)
    [reply] = outbox(service)
    assert (reply.phone, reply.status, reply.provider) == (PHONE, "sent", "gammu")
    assert reply.text == render("id", "register.ask_nik")
    [sent] = daemon.wait_for_sent(reply.provider_message_id)
    assert sent.TextDecoded == reply.text and sent.DestinationNumber == PHONE
    assert daemon.rows('SELECT "Processed" FROM inbox')[0].Processed is True

    daemon.deliver_status_report(PHONE, "Delivered")
    daemon.wait_for("SELECT \"Status\" FROM sentitems WHERE \"Status\" = 'DeliveryOK'")
    service.worker.poll_gateways()
    [reply] = outbox(service)
    assert reply.status == "delivered" and reply.delivered_at is not None

    # the dialogue goes on through the modem; a poll with nothing new does nothing
    daemon.deliver_inbound(PHONE, NIK)
    daemon.wait_for_inbox(2)
    assert service.worker.run_once()["received"] == 1
    assert service.worker.run_once()["received"] == 0
    with service.runtime.db.transaction() as session:
        senders = session.exec(select(InboundMessage.sender, InboundMessage.provider)).all()
    assert sorted(senders) == [(PHONE, "gammu"), (PHONE, "gammu")]
    assert outbox(service)[-1].text == render("id", "register.ask_kk")


def test_a_silent_modem_hands_the_replies_to_the_fallback(gammu_daemon: GammuDaemon,
                                                          database, clock, tmp_path) -> None:
    settings = gammu_settings(gammu_daemon, fallback="console", failover_after=1)
    settings.gateway.gammu["modem_timeout_seconds"] = 1.0
    settings.gateway.console.outbox_file = str(tmp_path / "outbox.jsonl")
    gateway = build_gateway(settings)
    assert isinstance(gateway, RoutingGateway)
    gammu_daemon.stop()  # the modem's daemon dies: its status row is no longer refreshed
    try:
        for service in start_service(database, clock, tmp_path, gateway=gateway):
            # The first send only notes gammu's status stamp: it waits in gammu's outbox.
            service.post_sms(PHONE, "BANTUAN")
            service.worker.dispatch_outbox()
            time.sleep(1.5)  # the stamp has not moved for longer than modem_timeout_seconds
            service.post_sms(PHONE, "STATUS")
            service.worker.dispatch_outbox()
            assert [(row.status, row.provider) for row in outbox(service)] == [
                ("sent", "gammu"), ("sent", "console")]
            assert [sms["to"] for sms in service.sent()] == [PHONE]
            assert len(gammu_daemon.rows("SELECT * FROM outbox")) == 1
    finally:
        gammu_daemon.start()
        for adapter in gateway.gateways:
            if isinstance(adapter, GammuGateway):
                adapter.close()


def test_worker_once_from_the_command_line_answers_what_waits_in_gammu(
        gammu_daemon: GammuDaemon, tmp_path) -> None:
    (tmp_path / "sms-ktp.toml").write_text(
        f'data_dir = "{tmp_path}"\n[database]\nurl = "sqlite:///{tmp_path}/sms-ktp.db"\n'
        '[gateway]\nprovider = "gammu"\n[gateway.gammu]\n'
        f'database_url = "{gammu_daemon.database_url}"\nphone_id = "{gammu_daemon.phone_id}"\n'
        '[worker]\nembedded = false\n[notifications]\nquiet_hours = ""\n')
    gammu_daemon.deliver_inbound("081234567890", "TULUNG")
    gammu_daemon.wait_for_inbox(1)
    once = run(tmp_path, "worker", "--once")
    assert once.returncode == 0, once.stderr
    assert "'received': 1" in once.stdout and "'sent': 1" in once.stdout
    [queued] = gammu_daemon.wait_for('SELECT "ID" FROM sentitems')
    [sent] = gammu_daemon.wait_for_sent(queued.ID)
    assert sent.TextDecoded == render("su", "help.main")
    assert sent.DestinationNumber == PHONE
    again = run(tmp_path, "worker", "--once")
    assert "'received': 0" in again.stdout and "'sent': 0" in again.stdout


def test_a_crash_after_storing_but_before_marking_answers_once(modem) -> None:
    service, daemon = modem
    gateway = service.runtime.gateway
    daemon.deliver_inbound(PHONE, "STATUS")
    daemon.wait_for_inbox(1)
    runtime = service.runtime
    with pytest.raises(RuntimeError), gateway.claim_inbound() as batch:  # type: ignore[union-attr]
        receive_sms(runtime.db, runtime.clock, batch[0], runtime.dialogue_ttl,
                    runtime.pickup_policy(), runtime.reply_limits)
        raise RuntimeError("the worker dies before gammu's row is marked")
    assert daemon.rows('SELECT "Processed" FROM inbox')[0].Processed is False
    service.worker.run_once()  # the next poll finds the row again: already stored, no reply
    assert daemon.rows('SELECT "Processed" FROM inbox')[0].Processed is True
    assert [row.text for row in outbox(service)] == [render("id", "status.none")]
    with service.runtime.db.transaction() as session:
        assert len(session.exec(select(InboundMessage)).all()) == 1
