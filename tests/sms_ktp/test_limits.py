"""Per-phone limits on replies (`sms_ktp.limits`) on a real database: what is counted, the
hour's window, identical replies in a row, one query a message through the phone's index; and
the configuration keys of the abuse protections."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from sms_ktp.config import ConfigError, LimitsSettings, load_settings
from sms_ktp.limits import UNLIMITED, WINDOW, ReplyGate, ReplyLimits, _latest
from sms_ktp.outbox import enqueue, enqueue_many

PHONE = "+6281234567890"
OTHER = "+6285711112222"
DEFAULTS = ReplyLimits()


def admitted(database, clock, replies: list[str], limits: ReplyLimits = DEFAULTS,
             phone: str = PHONE) -> tuple[list[bool], list[str]]:
    """The turn's replies through a gate; the admitted ones are queued as the inbound path
    does."""
    now = clock.now()
    with database.connect() as connection:
        turn = ReplyGate(connection, phone, now, limits)
        results = []
        for reply in replies:
            results.append(turn.admit(reply))
            if results[-1]:
                enqueue(connection, phone, reply, now)
    return results, turn.suppressed


def test_the_defaults_are_twenty_an_hour_and_three_in_a_row():
    assert ReplyLimits() == ReplyLimits(20, 3)
    assert ReplyLimits.from_settings(LimitsSettings()) == ReplyLimits(20, 3)
    assert LimitsSettings().flood_inbound_per_hour == 30


def test_twenty_replies_an_hour_then_nothing_until_the_first_is_an_hour_old(database, clock):
    results, suppressed = admitted(database, clock, [f"reply {n}" for n in range(25)])
    assert results == [True] * 20 + [False] * 5 and suppressed == ["rate"] * 5
    clock.advance(WINDOW - timedelta(seconds=1))
    assert admitted(database, clock, ["again"])[0] == [False]
    clock.advance(timedelta(seconds=2))
    assert admitted(database, clock, ["again"])[0] == [True]


def test_each_phone_has_its_own_count(database, clock):
    admitted(database, clock, [f"reply {n}" for n in range(20)])
    assert admitted(database, clock, ["hello"], phone=OTHER)[0] == [True]


def test_notifications_and_broadcasts_are_not_counted(database, clock):
    now = clock.now()
    with database.connect() as connection:
        enqueue_many(connection, [(PHONE, f"notice {n}") for n in range(30)], now,
                     kind="notification")
        enqueue_many(connection, [(PHONE, f"news {n}") for n in range(30)], now,
                     kind="broadcast")
        enqueue(connection, PHONE, "sent from a USSD session", now, kind="ussd")
    results, _ = admitted(database, clock, [f"reply {n}" for n in range(20)])
    assert results == [True] * 19 + [False]  # the USSD session's SMS counts


def test_a_fourth_identical_reply_in_a_row_is_held_back(database, clock):
    results, suppressed = admitted(database, clock, ["help"] * 5)
    assert results == [True, True, True, False, False]
    assert suppressed == ["identical", "identical"]
    assert admitted(database, clock, ["help"])[0] == [False]  # a later turn too
    assert admitted(database, clock, ["status", "help"])[0] == [True, True]
    assert admitted(database, clock, ["help", "help", "help"])[0] == [True, True, False]


def test_identical_is_compared_as_sent(database, clock):
    """Curly quotes become straight ones in the outbox: they are the same SMS."""
    admitted(database, clock, ["it's"] * 3)
    assert admitted(database, clock, ["it\u2019s"])[0] == [False]


def test_identical_replies_of_an_hour_ago_are_forgotten(database, clock):
    admitted(database, clock, ["help"] * 3)
    clock.advance(WINDOW + timedelta(seconds=1))
    assert admitted(database, clock, ["help"])[0] == [True]


@pytest.mark.parametrize(("limits", "expected"), [
    (UNLIMITED, [True] * 25),
    (ReplyLimits(0, 3), [True] * 3 + [False] * 22),
    (ReplyLimits(5, 0), [True] * 5 + [False] * 20),
])
def test_zero_switches_a_limit_off(database, clock, limits, expected):
    assert admitted(database, clock, ["same"] * 25, limits)[0] == expected


def test_no_query_without_replies_or_without_limits(database, clock):
    with database.connect() as connection:
        turn = ReplyGate(connection, PHONE, clock.now(), UNLIMITED)
        assert turn.admit("x") and turn._latest is None
        turn = ReplyGate(connection, PHONE, clock.now(), ReplyLimits())
        assert turn._latest is None  # read at the first reply only


def test_the_query_reads_the_phone_index_on_postgresql(postgres_database, clock):
    """With a realistic outbox (many phones, a few SMS each, notifications and broadcasts),
    the planner finds the phone's rows through ix_outbox_phone_status, never by walking the
    table or its primary key."""
    now = clock.now()
    rows = [(f"+62812{n:08d}", f"reply {n}") for n in range(20_000)]
    with postgres_database.connect() as connection:
        for kind in ("reply", "notification", "broadcast"):
            enqueue_many(connection, rows, now - timedelta(days=3), kind=kind)
        enqueue_many(connection, [(PHONE, f"reply {n}") for n in range(30)], now, kind="reply")
        connection.execute(text("ANALYZE outbox"))
    with postgres_database.connect() as connection:
        query = _latest(20).params(phone=PHONE, since=now - WINDOW).compile(
            dialect=connection.dialect, compile_kwargs={"literal_binds": True})
        plan = "\n".join(connection.exec_driver_sql(f"EXPLAIN {query}").scalars())
    assert "ix_outbox_phone_status" in plan, plan
    assert "Seq Scan" not in plan and "outbox_pkey" not in plan, plan


# --- configuration ------------------------------------------------------------------------------
def write(tmp_path, body: str):
    path = tmp_path / "c.toml"
    path.write_text(body)
    return path


def test_the_abuse_keys_load(tmp_path):
    settings = load_settings(write(tmp_path, """
[gateway]
allowed_ips = ["203.0.113.0/24", "2001:db8::/32", "198.51.100.7"]
[server]
trusted_proxies = ["127.0.0.1/32"]
[limits]
max_sms_per_phone_per_hour = 10
max_identical_replies = 0
flood_inbound_per_hour = 50
flood_inbound_per_day = 0
"""), environ={})
    assert settings.gateway.allowed_ips[2] == "198.51.100.7"
    assert settings.server.trusted_proxies == ["127.0.0.1/32"]
    assert ReplyLimits.from_settings(settings.limits) == ReplyLimits(10, 0)
    assert (settings.limits.flood_inbound_per_hour, settings.limits.flood_inbound_per_day) == (
        50, 0)


@pytest.mark.parametrize(("body", "message"), [
    ('[gateway]\nallowed_ips = ["203.0.113.0/33"]', "[gateway] allowed_ips: '203.0.113.0/33'"),
    ('[gateway]\nallowed_ips = ["bogor"]', "is not an address or CIDR"),
    ("[gateway]\nallowed_ips = [5]", "[gateway] allowed_ips: '5'"),
    ('[gateway]\nallowed_ips = "203.0.113.0/24"', "[gateway] allowed_ips must be list"),
    ('[server]\ntrusted_proxies = ["localhost"]', "[server] trusted_proxies: 'localhost'"),
    ("[limits]\nmax_sms_per_phone_per_hour = -1", "[limits] max_sms_per_phone_per_hour must "
     "not be negative"),
    ("[limits]\nmax_identical_replies = 1.5", "[limits] max_identical_replies must be int"),
    ("[limits]\nmax_replies = 3", "unknown key [limits] max_replies"),
])
def test_wrong_abuse_keys_stop_the_service_with_a_reason(tmp_path, body, message):
    with pytest.raises(ConfigError) as refused:
        load_settings(write(tmp_path, body), environ={})
    assert message in str(refused.value)
