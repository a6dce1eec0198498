"""The dispatcher's channels on a real database: which rows go by WhatsApp (through the fake
Graph API over HTTP) and which by SMS, and the family's preferred channel for notices."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from gateway.message import OutboundSms, SendResult
from gateway.whatsapp import WhatsAppGateway, WhatsAppOrSms
from sms_ktp.messaging.outbox import Dispatcher, RetryPolicy, enqueue, enqueue_replies
from sms_ktp.messaging.whatsapp_window import note_contact, whatsapp_preferred
from sms_ktp.models import InboundMessage, OutboxMessage

WA = "+6281200000001"        # wrote on WhatsApp an hour ago
OLD = "+6281200000002"       # wrote on WhatsApp 25 hours ago
BY_SMS = "+6281200000003"    # wrote on WhatsApp, then by SMS
NEVER = "+6281200000004"     # never wrote on WhatsApp


class CountingGateway:
    """The SMS operator: keeps what it is asked to send."""

    name = "counting"

    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []

    def send(self, sms: OutboundSms) -> SendResult:
        self.texts.append((sms.to, sms.text))
        return SendResult(f"id-{sms.id}")


def contacts(database, clock) -> None:
    now = clock.now()
    with database.connect() as connection:
        note_contact(connection, WA, (now - timedelta(hours=1)).isoformat(), now)
        note_contact(connection, OLD, (now - timedelta(hours=25)).isoformat(), now)
        note_contact(connection, BY_SMS, (now - timedelta(hours=2)).isoformat(), now)
    with database.transaction() as session:
        session.add(InboundMessage(provider="africastalking", provider_id="ATXid_1",
                                   sender=BY_SMS, text="STATUS",
                                   received_at=now - timedelta(hours=1)))


def rows(database) -> dict[str, OutboxMessage]:
    with database.transaction() as session:
        return {m.text: m for m in session.exec(select(OutboxMessage)).all()}


def test_the_preferred_channel_is_the_last_one_used(database, clock):
    contacts(database, clock)
    with database.read() as connection:
        preferred = whatsapp_preferred(connection, [WA, OLD, BY_SMS, NEVER, WA], clock.now())
        assert whatsapp_preferred(connection, [], clock.now()) == {}
    assert preferred == {WA: True, OLD: False}


def test_with_the_channel_off_a_whatsapp_row_goes_by_sms(database, clock):
    with database.connect() as connection:
        enqueue_replies(connection, WA, ["Kirim NIK"], clock.now(), channel="whatsapp")
    sms = CountingGateway()
    assert Dispatcher(database, sms, clock, RetryPolicy()).drain().sent == 1

    assert sms.texts == [(WA, "Kirim NIK")]
    row = rows(database)["Kirim NIK"]
    assert (row.channel, row.provider, row.status) == ("sms", "counting", "sent")


def test_each_row_goes_on_its_channel(database, clock, graph):
    contacts(database, clock)
    now = clock.now()
    with database.connect() as connection:
        enqueue_replies(connection, NEVER, ["balasan wa"], now, channel="whatsapp")
        for phone, name in ((WA, "wa"), (OLD, "old"), (BY_SMS, "by_sms"), (NEVER, "never")):
            enqueue(connection, phone, f"notice {name}", now, kind="notification")
        enqueue(connection, WA, "balasan sms", now, kind="reply")
        enqueue(connection, WA, "siaran", now, kind="broadcast")
        enqueue(connection, OLD, "siaran old", now, kind="broadcast")
    sms = CountingGateway()
    whatsapp = WhatsAppOrSms(WhatsAppGateway(graph.settings()), sms)
    dispatcher = Dispatcher(database, sms, clock, RetryPolicy(), whatsapp=whatsapp,
                            templates={"notification": {"name": "info", "language": "id"}})
    assert dispatcher.drain().sent == 8

    assert graph.texts_to(NEVER) == ["balasan wa"]
    # Inside the window a notice and a broadcast are texts, free.
    assert graph.texts_to(WA) == ["notice wa", "siaran"]
    [template] = graph.sent_to(OLD)  # outside it: the template, the notice its parameter
    assert template.body["template"]["components"][0]["parameters"] == [
        {"type": "text", "text": "notice old"}]
    # Outside it, a broadcast without a broadcast template goes by SMS.
    assert sorted(sms.texts) == sorted([(BY_SMS, "notice by_sms"), (NEVER, "notice never"),
                                        (WA, "balasan sms"), (OLD, "siaran old")])
    channels = {text: (row.channel, row.provider) for text, row in rows(database).items()}
    assert channels == {
        "balasan wa": ("whatsapp", "whatsapp"), "notice wa": ("whatsapp", "whatsapp"),
        "notice old": ("whatsapp", "whatsapp"), "notice by_sms": ("sms", "counting"),
        "notice never": ("sms", "counting"), "balasan sms": ("sms", "counting"),
        "siaran": ("whatsapp", "whatsapp"), "siaran old": ("sms", "counting")}


def test_a_whatsapp_row_that_fell_back_to_sms_is_counted_as_sms(database, clock, graph):
    graph.close_window(WA)
    with database.connect() as connection:
        enqueue_replies(connection, WA, ["balasan"], clock.now(), channel="whatsapp")
    sms = CountingGateway()
    whatsapp = WhatsAppOrSms(WhatsAppGateway(graph.settings()), sms)
    Dispatcher(database, sms, clock, RetryPolicy(), whatsapp=whatsapp).drain()

    assert sms.texts == [(WA, "balasan")] and graph.accepted == []
    row = rows(database)["balasan"]
    assert (row.channel, row.provider, row.status) == ("sms", "counting", "sent")
