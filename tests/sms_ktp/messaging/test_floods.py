"""Phones flooding the service (`sms_ktp.messaging.floods`) on a real database: the thresholds
of the hour and the day, the busiest first, numbers masked, answered SMS counted."""

from __future__ import annotations

from datetime import timedelta

from sms_ktp.messaging.floods import flooding
from sms_ktp.models import InboundMessage

FLOODER = "+6281234567890"
BUSY = "+6285711112222"
CALM = "+6281311112222"


def receive(database, moment, sender: str, count: int, replied: bool = True) -> None:
    table = InboundMessage.__table__
    with database.connect() as connection:
        start = connection.execute(table.select()).all()
        connection.execute(table.insert(), [
            {"provider": "test", "provider_id": f"{sender}-{len(start) + n}", "sender": sender,
             "recipient": "98765", "text": "x", "replied": replied, "received_at": moment}
            for n in range(count)])


def test_phones_over_the_hour_or_the_day_are_listed_busiest_first(database, clock):
    now = clock.now()
    receive(database, now - timedelta(minutes=5), FLOODER, 25)
    receive(database, now - timedelta(minutes=50), FLOODER, 10, replied=False)
    receive(database, now - timedelta(hours=5), BUSY, 120)
    receive(database, now - timedelta(minutes=1), CALM, 29)
    receive(database, now - timedelta(days=2), CALM, 500)  # long ago
    with database.connect() as connection:
        found = flooding(connection, now, per_hour=30, per_day=100)
    assert [(f.phone, f.last_hour, f.last_day, f.replied) for f in found] == [
        ("+62***890", 35, 35, 25), ("+62***222", 0, 120, 120)]
    assert found[0].last_at == now - timedelta(minutes=5)


def test_zero_switches_a_threshold_off(database, clock):
    now = clock.now()
    receive(database, now - timedelta(minutes=5), FLOODER, 40)
    receive(database, now - timedelta(hours=5), BUSY, 120)
    with database.connect() as connection:
        assert [f.last_day for f in flooding(connection, now, 0, 100)] == [120]
        assert [f.last_hour for f in flooding(connection, now, 30, 0)] == [40]
        assert flooding(connection, now, 0, 0) == []


def test_a_short_code_sending_floods_is_listed_masked_too(database, clock):
    now = clock.now()
    receive(database, now, "4444", 31, replied=False)
    receive(database, now, "TELKOMSEL", 31, replied=False)
    with database.connect() as connection:
        found = flooding(connection, now, 30, 100)
    assert sorted(f.phone for f in found) == ["***", "***444"]
    assert {f.replied for f in found} == {0}


def test_at_most_ten_are_shown(database, clock):
    now = clock.now()
    for number in range(12):
        receive(database, now, f"+62812000000{number:02d}", 30 + number)
    with database.connect() as connection:
        found = flooding(connection, now, 30, 100)
    assert [f.last_hour for f in found] == list(range(41, 31, -1))
