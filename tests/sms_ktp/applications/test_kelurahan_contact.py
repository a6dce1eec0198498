"""A family without any phone, its kelurahan as its contact: the address in its phone column,
the dispatcher putting its SMS on the kelurahan's list (and on the kelurahan's phone when it has
one) instead of the gateway, and the list's ticks, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from gateway.message import OutboundSms, SendResult
from sms_ktp.applications.kelurahan_contact import (
    NO_KELURAHAN,
    contact_problem,
    family_address,
    is_phoneless,
    kelurahan_name,
)
from sms_ktp.domain.masking import mask_phone
from sms_ktp.messaging.kelurahan_mailbox import mailbox, mark_passed
from sms_ktp.messaging.outbox import Dispatcher, RetryPolicy, enqueue
from sms_ktp.models import OutboxMessage

KELURAHAN = "3271011001"
ADDRESS = f"kel:{KELURAHAN}"
KELURAHAN_PHONE = "+6281311112222"


class Gateway:
    name = "test"

    def __init__(self) -> None:
        self.sent: list[OutboundSms] = []

    def send(self, sms: OutboundSms) -> SendResult:
        self.sent.append(sms)
        return SendResult(provider_message_id=f"id-{len(self.sent)}")


def test_the_address_of_a_kelurahan_and_its_words():
    assert family_address(KELURAHAN) == ADDRESS and is_phoneless(ADDRESS)
    assert family_address(None) is None and family_address("01") is None
    assert not is_phoneless("+6281234567890") and not is_phoneless(None)
    assert contact_problem(KELURAHAN) is None and contact_problem("01") == NO_KELURAHAN
    assert kelurahan_name(KELURAHAN) == "Kelurahan Batu Tulis"
    assert mask_phone(ADDRESS) == f"kelurahan {KELURAHAN}"  # on pages and in logs


def drain(database, clock, phones=None) -> Gateway:
    gateway = Gateway()
    Dispatcher(database, gateway, clock, RetryPolicy(), kelurahan_phones=phones).drain()
    return gateway


def test_sms_to_a_kelurahan_land_on_its_list_and_never_at_the_gateway(database, clock):
    with database.connect() as connection:
        enqueue(connection, ADDRESS, "Kabar untuk keluarga A", clock.now(), kind="notification")
        enqueue(connection, ADDRESS, "Kabar untuk keluarga B", clock.now(), kind="notification")
        enqueue(connection, "+6281234567890", "Kabar lewat HP", clock.now())
    gateway = drain(database, clock)
    assert [sms.to for sms in gateway.sent] == ["+6281234567890"]
    with database.connect() as connection:
        listed = mailbox(connection, KELURAHAN)
        assert mailbox(connection, "3271061001").waiting == 0  # another kelurahan's list
    assert [notice.text for notice in listed.to_pass] == ["Kabar untuk keluarga A",
                                                         "Kabar untuk keluarga B"]
    assert listed.waiting == 2 and listed.passed == []


def test_a_kelurahan_with_a_phone_gets_each_sms_there_too(database, clock):
    with database.connect() as connection:
        enqueue(connection, ADDRESS, "Kabar untuk keluarga A", clock.now(), kind="notification")
    gateway = drain(database, clock, {KELURAHAN: KELURAHAN_PHONE, "3271061001": "+628199"})
    assert [(sms.to, sms.text) for sms in gateway.sent] == [
        (KELURAHAN_PHONE, "Kabar untuk keluarga A")]
    with database.transaction() as session:
        kinds = {(m.phone, m.kind, m.status) for m in session.exec(select(OutboxMessage))}
    assert kinds == {(ADDRESS, "notification", "delivered"),
                     (KELURAHAN_PHONE, "kelurahan", "sent")}
    assert drain(database, clock, {KELURAHAN: KELURAHAN_PHONE}).sent == []  # once only


def test_a_notice_is_ticked_once_and_only_by_its_kelurahan(database, clock):
    with database.connect() as connection:
        enqueue(connection, ADDRESS, "Kabar", clock.now(), kind="notification")
    drain(database, clock)
    with database.connect() as connection:
        [notice] = mailbox(connection, KELURAHAN).to_pass
        assert not mark_passed(connection, "3271061001", notice.id, "staff:other", clock.now())
        assert mark_passed(connection, KELURAHAN, notice.id, "staff:kel1", clock.now())
        assert not mark_passed(connection, KELURAHAN, notice.id, "staff:kel2", clock.now())
        assert not mark_passed(connection, KELURAHAN, notice.id + 99, "staff:kel1", clock.now())
    with database.connect() as connection:
        listed = mailbox(connection, KELURAHAN)
    assert listed.waiting == 0 and listed.to_pass == []
    assert [(n.id, n.passed_by) for n in listed.passed] == [(notice.id, "staff:kel1")]


def test_a_notice_still_queued_is_not_on_the_list(database, clock):
    with database.connect() as connection:
        enqueue(connection, ADDRESS, "Besok pagi", clock.now(), kind="notification",
                not_before=clock.now() + timedelta(hours=10))
    drain(database, clock)
    with database.connect() as connection:
        assert mailbox(connection, KELURAHAN).waiting == 0
