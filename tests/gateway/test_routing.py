"""Primary and fallback gateways, and the rate limit each gateway's sends wait for."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from stepped_clock import SteppedClock

from gateway.message import OutboundSms, PermanentFailure, SendResult, TemporaryFailure
from gateway.routing import RateLimit, Route, RoutingGateway


@dataclass
class Scripted:
    """A gateway that fails while `down` (temporarily, or permanently for `bad` numbers)."""

    name: str
    down: bool = False
    bad: set[str] = field(default_factory=set)
    sent: list[str] = field(default_factory=list)
    tried: int = 0

    def send(self, sms: OutboundSms) -> SendResult:
        self.tried += 1
        if sms.to in self.bad:
            raise PermanentFailure("invalid number")
        if self.down:
            raise TemporaryFailure("503 from the provider")
        self.sent.append(sms.id)
        return SendResult(f"{self.name}-{sms.id}")


def sms(number: int, to: str = "+6281234567890") -> OutboundSms:
    return OutboundSms(id=f"uid{number}", to=to, text="Pendaftaran diterima.")


def router(primary: Scripted, fallback: Scripted | None, clock: SteppedClock, *, after: int = 3,
           retry: float = 300.0, rates: tuple[float, float] = (0, 0)) -> RoutingGateway:
    def route(gateway: Scripted, rate: float) -> Route:
        return Route(gateway, RateLimit(rate, monotonic=clock, sleep=clock.sleep))

    return RoutingGateway(route(primary, rates[0]),
                          route(fallback, rates[1]) if fallback else None,
                          failover_after=after, retry_primary_seconds=retry, monotonic=clock)


def test_the_primary_takes_everything_while_it_works() -> None:
    clock, primary, fallback = SteppedClock(), Scripted("http"), Scripted("gammu")
    routing = router(primary, fallback, clock)
    results = [routing.send(sms(n)) for n in range(5)]
    assert [r.gateway for r in results] == ["http"] * 5
    assert results[0].provider_message_id == "http-uid0"
    assert fallback.tried == 0 and routing.active == "http"


def test_after_n_failures_in_a_row_the_fallback_takes_over_at_once() -> None:
    clock, primary, fallback = SteppedClock(), Scripted("http", down=True), Scripted("gammu")
    routing = router(primary, fallback, clock, after=3)
    for n in range(2):
        with pytest.raises(TemporaryFailure):
            routing.send(sms(n))
    third = routing.send(sms(2))  # the third failure moves this SMS and the next ones
    assert third.gateway == "gammu" and routing.active == "gammu"
    assert routing.send(sms(3)).gateway == "gammu"
    assert primary.tried == 3 and fallback.sent == ["uid2", "uid3"]


def test_a_success_between_failures_starts_the_count_again() -> None:
    clock, primary, fallback = SteppedClock(), Scripted("http"), Scripted("gammu")
    routing = router(primary, fallback, clock, after=2)
    primary.down = True
    with pytest.raises(TemporaryFailure):
        routing.send(sms(0))
    primary.down = False
    routing.send(sms(1))
    primary.down = True
    with pytest.raises(TemporaryFailure):
        routing.send(sms(2))
    assert routing.active == "http"


def test_the_primary_is_tried_again_after_the_pause_and_takes_back_the_traffic() -> None:
    clock, primary, fallback = SteppedClock(), Scripted("http", down=True), Scripted("gammu")
    routing = router(primary, fallback, clock, after=1, retry=300)
    assert routing.send(sms(0)).gateway == "gammu"
    clock.now += 299
    assert routing.send(sms(1)).gateway == "gammu" and primary.tried == 1  # not yet
    clock.now += 1
    assert routing.send(sms(2)).gateway == "gammu"  # probed: still down, the SMS still leaves
    assert primary.tried == 2
    assert routing.send(sms(3)).gateway == "gammu" and primary.tried == 2  # next probe later
    primary.down = False
    clock.now += 300
    assert routing.send(sms(4)).gateway == "http"  # the probe works: back
    assert routing.send(sms(5)).gateway == "http" and routing.active == "http"


def test_a_bad_number_is_not_the_gateways_fault() -> None:
    clock = SteppedClock()
    primary, fallback = Scripted("http", bad={"+6281100000000"}), Scripted("gammu")
    routing = router(primary, fallback, clock, after=1)
    with pytest.raises(PermanentFailure):
        routing.send(sms(0, to="+6281100000000"))
    assert routing.active == "http" and fallback.tried == 0


def test_without_a_fallback_failures_are_the_callers_to_retry() -> None:
    clock, primary = SteppedClock(), Scripted("http", down=True)
    routing = router(primary, None, clock, after=1)
    for n in range(3):
        with pytest.raises(TemporaryFailure):
            routing.send(sms(n))
    assert routing.active == "http"


def test_when_both_fail_the_sms_waits_for_a_retry() -> None:
    clock = SteppedClock()
    routing = router(Scripted("http", down=True), Scripted("gammu", down=True), clock, after=1)
    with pytest.raises(TemporaryFailure):
        routing.send(sms(0))


def test_the_rate_limit_spaces_sends_evenly() -> None:
    clock, primary = SteppedClock(), Scripted("gammu")
    routing = router(primary, None, clock, rates=(4, 0))
    start = clock.now
    for n in range(9):
        routing.send(sms(n))
    assert clock.now - start == pytest.approx(2.0)  # 9 sends at 4/s: 8 gaps of 0.25 s
    assert clock.slept == pytest.approx([0.25] * 8)


def test_a_quiet_spell_gives_no_burst() -> None:
    clock = SteppedClock()
    limit = RateLimit(2, monotonic=clock, sleep=clock.sleep)
    limit.wait()
    clock.now += 60
    assert limit.wait() == 0
    assert limit.wait() == pytest.approx(0.5)


def test_each_gateway_has_its_own_limit() -> None:
    clock = SteppedClock()
    primary, fallback = Scripted("http", down=True), Scripted("gammu")
    routing = router(primary, fallback, clock, after=1, rates=(0, 1))
    routing.send(sms(0))
    routing.send(sms(1))
    assert clock.slept == pytest.approx([1.0])


def test_zero_means_no_limit() -> None:
    clock = SteppedClock()
    limit = RateLimit(0, monotonic=clock, sleep=clock.sleep)
    assert [limit.wait() for _ in range(100)] == [0] * 100 and clock.slept == []


def test_two_workers_share_the_limit() -> None:
    clock = SteppedClock()
    routing = router(Scripted("gammu"), Scripted("http"), clock, rates=(4, 2))
    routing.share_with(2)
    routing.send(sms(0))
    routing.send(sms(1))
    assert clock.slept == pytest.approx([0.5])  # 4/s shared by two: 2/s each
    routing.share_with(0)  # no heartbeat yet: this worker alone
    routing.send(sms(2))
    assert clock.slept[-1] == pytest.approx(0.5)  # the gap already promised, then 4/s again
    routing.send(sms(3))
    assert clock.slept[-1] == pytest.approx(0.25)


def test_under_a_rate_limit_a_worker_claims_one_seconds_worth() -> None:
    clock = SteppedClock()
    routing = router(Scripted("gammu"), Scripted("http"), clock, rates=(20, 0))
    assert routing.batch_limit == 20
    routing.share_with(3)
    assert routing.batch_limit == 7
    assert router(Scripted("gammu"), None, clock).batch_limit is None


def test_the_wait_for_the_limit_is_told_apart_from_the_gateways_time() -> None:
    clock = SteppedClock()
    routing = router(Scripted("gammu"), None, clock, rates=(2, 0))
    routing.send(sms(0))
    assert routing.last_wait == 0
    routing.send(sms(1))
    assert routing.last_wait == pytest.approx(0.5)
