"""The 24-hour window and the preferred channel on a real database: the SQL the dispatcher and
the broadcast page read (`prefers_whatsapp`, `window_open_at`) agrees with `window_open`, to
the microsecond at the window's end."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert

from sms_ktp.messaging.whatsapp_window import (
    WINDOW,
    note_contact,
    whatsapp_preferred,
    window_open,
)
from sms_ktp.models import InboundMessage

PHONE = "+6281200000001"
OTHER = "+6281200000002"


@pytest.mark.parametrize(("after", "open_"), [
    (timedelta(0), True), (WINDOW - timedelta(microseconds=1), True), (WINDOW, False),
    (WINDOW + timedelta(hours=1), False)])
def test_the_window_closes_24_hours_after_the_message(database, clock, after, open_):
    wrote = clock.now()
    with database.connect() as connection:
        note_contact(connection, PHONE, wrote.isoformat(), wrote)
    with database.read() as connection:
        assert window_open(connection, PHONE, wrote + after) is open_
        assert whatsapp_preferred(connection, [PHONE, OTHER], wrote + after) == {PHONE: open_}


def test_an_sms_after_the_last_whatsapp_message_makes_sms_preferred(database, clock):
    now = clock.now()
    with database.connect() as connection:
        note_contact(connection, PHONE, (now - timedelta(hours=2)).isoformat(), now)
        note_contact(connection, OTHER, (now - timedelta(hours=2)).isoformat(), now)
        for number, (phone, hours) in enumerate(((PHONE, 1), (OTHER, 3))):
            connection.execute(insert(InboundMessage.__table__).values(
                provider="africastalking", provider_id=f"ATXid_{number}", sender=phone,
                text="STATUS", received_at=now - timedelta(hours=hours)))
    with database.read() as connection:
        # PHONE wrote by SMS since; OTHER's SMS came before its WhatsApp message.
        assert whatsapp_preferred(connection, [PHONE, OTHER], now) == {OTHER: True}
