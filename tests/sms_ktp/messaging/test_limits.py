"""Per-phone limits on replies (`sms_ktp.messaging.limits`) on a real database: what is counted, the
hour's window, when the phone may write again and whether it was told, the allowance of a family
at work, identical replies in a row, and the phone's index; and the configuration keys of the
abuse protections."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, text

from sms_ktp.messaging.limits import (
    DIALOGUE_KIND,
    LIMIT_KIND,
    PER_REGISTRATION,
    UNLIMITED,
    WINDOW,
    OverLimit,
    ReplyGate,
    ReplyLimits,
    _counted,
    _latest_replies,
)
from sms_ktp.messaging.outbox import enqueue, enqueue_many
from sms_ktp.models import Application, Family
from sms_ktp.platform.config import ConfigError, LimitsSettings, load_settings

PHONE = "+6281234567890"
OTHER = "+6285711112222"
DEFAULTS = ReplyLimits()


def over(database, clock, phone: str = PHONE, limits: ReplyLimits = DEFAULTS
         ) -> OverLimit | None:
    with database.connect() as connection:
        return ReplyGate(connection, phone, clock.now(), limits).over_limit()


def replied(database, clock, count: int, phone: str = PHONE, kind: str = "reply") -> None:
    """`count` SMS that began something, each answered with one reply, as the inbound path
    queues them."""
    with database.connect() as connection:
        for n in range(count):
            enqueue(connection, phone, f"reply {n}", clock.now(), kind=kind)


def admitted(database, clock, replies: list[str], limits: ReplyLimits = DEFAULTS,
             phone: str = PHONE) -> tuple[list[bool], list[str]]:
    """The turn's replies through the identical check; the admitted ones are queued."""
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


def test_twenty_an_hour_then_the_time_the_first_leaves_the_hour(database, clock):
    first = clock.now()
    replied(database, clock, 1)
    clock.advance(timedelta(minutes=10))
    replied(database, clock, 18)
    assert over(database, clock) is None  # 19
    replied(database, clock, 1)
    assert over(database, clock) == OverLimit(first + WINDOW, told=False)
    with database.connect() as connection:
        enqueue(connection, PHONE, "limit reached", clock.now(), kind=LIMIT_KIND)
    assert over(database, clock) == OverLimit(first + WINDOW, told=True)  # told once
    clock.set(first + WINDOW + timedelta(seconds=1))
    assert over(database, clock) is None  # the first is over an hour old


def test_each_phone_has_its_own_count(database, clock):
    replied(database, clock, 20)
    assert over(database, clock) is not None
    assert over(database, clock, phone=OTHER) is None


def test_what_is_not_counted(database, clock):
    """Notifications, broadcasts and the answers of a dialogue in progress are not counted;
    the SMS of a USSD session is."""
    now = clock.now()
    with database.connect() as connection:
        for kind in ("notification", "broadcast", DIALOGUE_KIND):
            enqueue_many(connection, [(PHONE, f"{kind} {n}") for n in range(30)], now,
                         kind=kind)
        enqueue(connection, PHONE, "sent from a USSD session", now, kind="ussd")
    replied(database, clock, 18)
    assert over(database, clock) is None
    replied(database, clock, 1)
    assert over(database, clock) is not None


def test_each_registration_of_the_hour_adds_to_the_limit(database, clock):
    now = clock.now()
    with database.connect() as connection:
        family = connection.execute(insert(Family.__table__).returning(Family.__table__.c.id),
                                    {"kk": "3271010101200003", "phone": PHONE,
                                     "kecamatan_code": "01", "created_at": now}).scalar_one()
        for n in range(2):
            nik = f"32710145019000{n + 1:02d}"
            connection.execute(insert(Application.__table__), {
                "reference": f"10000000{n}", "nik": nik, "active_nik": nik,
                "family_id": family, "reason": "hilang", "stage": "submitted",
                "language": "id", "channel": "sms", "created_at": now, "updated_at": now})
    replied(database, clock, 20 + 2 * PER_REGISTRATION - 1)
    assert over(database, clock) is None
    replied(database, clock, 1)
    assert over(database, clock) is not None
    clock.advance(WINDOW + timedelta(minutes=1))  # the registrations are an hour old
    assert over(database, clock) is None  # and so is every reply


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


@pytest.mark.parametrize(("limits", "identical", "rate"), [
    (UNLIMITED, [True] * 25, False),
    (ReplyLimits(0, 3), [True] * 3 + [False] * 22, False),
    (ReplyLimits(5, 0), [True] * 25, True),
])
def test_zero_switches_a_limit_off(database, clock, limits, identical, rate):
    assert admitted(database, clock, ["same"] * 25, limits)[0] == identical
    assert (over(database, clock, limits=limits) is not None) == rate


def test_no_query_without_replies_or_without_limits(database, clock):
    with database.connect() as connection:
        turn = ReplyGate(connection, PHONE, clock.now(), UNLIMITED)
        assert turn.admit("x") and turn.over_limit() is None and turn._latest is None
        turn = ReplyGate(connection, PHONE, clock.now(), ReplyLimits())
        assert turn._latest is None  # read at the first reply only


def test_the_queries_read_the_phone_index_on_postgresql(postgres_database, clock):
    """With a realistic outbox (many phones, a few SMS each, notifications and broadcasts),
    the planner finds the phone's rows through ix_outbox_phone_status, never by walking the
    table or its primary key."""
    now = clock.now()
    rows = [(f"+62812{n:08d}", f"reply {n}") for n in range(20_000)]
    with postgres_database.connect() as connection:
        for kind in ("reply", "notification", "broadcast", DIALOGUE_KIND):
            enqueue_many(connection, rows, now - timedelta(days=3), kind=kind)
        enqueue_many(connection, [(PHONE, f"reply {n}") for n in range(30)], now, kind="reply")
        connection.execute(text("ANALYZE outbox"))
    with postgres_database.connect() as connection:
        for statement in (_counted(21), _latest_replies(3)):
            query = statement.params(phone=PHONE, since=now - WINDOW).compile(
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
