"""Several gateways as one: a primary and a fallback, and a rate limit per gateway.

A modem or an aggregator goes down at 2 a.m.; the city's replies must keep leaving. After
`failover_after` temporary failures in a row the primary is left for the fallback, and the
primary is tried again every `retry_primary_seconds` (one SMS at a time): the first success
brings the traffic back. A permanent failure (a bad number) says nothing about the gateway and
counts for nothing. Each gateway's rate limit (messages per second, 0 = none) is honoured by
waiting before a send. It is kept by each worker process: with several workers running, each
takes its share (`share`: the number of live workers, from their heartbeats), so together they
stay within the limit.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from gateway.base import Gateway
from gateway.message import OutboundSms, SendResult, TemporaryFailure

log = logging.getLogger(__name__)


@dataclass
class RateLimit:
    """At most `per_second` sends a second, with no burst beyond one: a modem or an aggregator
    that refuses faster traffic must never see it, even after a quiet minute."""

    per_second: float
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    share: int = 1  # how many processes send through this gateway at once
    _next_at: float = field(default=float("-inf"), repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def wait(self) -> float:
        """Block until the next send may leave; returns the seconds waited."""
        if self.per_second <= 0:
            return 0.0
        with self._lock:
            now = self.monotonic()
            start = max(now, self._next_at)
            self._next_at = start + max(1, self.share) / self.per_second
        waited = start - now
        if waited > 0:
            self.sleep(waited)
        return waited


@dataclass
class Route:
    gateway: Gateway
    limit: RateLimit


class RoutingGateway:
    """A `Gateway` over a primary and an optional fallback; `SendResult.gateway` names the one
    that took each SMS (stored with it in the outbox, shown to staff)."""

    name = "routing"

    def __init__(self, primary: Route, fallback: Route | None = None, *, failover_after: int = 3,
                 retry_primary_seconds: float = 300.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if failover_after < 1:
            raise ValueError("failover_after must be at least 1")
        self.primary = primary
        self.fallback = fallback
        self.failover_after = failover_after
        self.retry_primary_seconds = retry_primary_seconds
        self._monotonic = monotonic
        self._failures = 0
        self._on_fallback = False
        self._retry_primary_at = 0.0
        self._lock = threading.Lock()
        self._local = threading.local()

    @property
    def gateways(self) -> Sequence[Gateway]:
        return [route.gateway for route in (self.primary, self.fallback) if route is not None]

    def share_with(self, processes: int) -> None:
        """`processes` workers send at once: each keeps 1/processes of every rate limit."""
        for route in (self.primary, self.fallback):
            if route is not None:
                route.limit.share = max(1, processes)

    @property
    def batch_limit(self) -> int | None:
        """At most one second's worth of SMS to claim at a time under a rate limit: a worker
        that claimed more would sit on rows the others could send meanwhile."""
        route = self.fallback if self._on_fallback and self.fallback else self.primary
        if route.limit.per_second <= 0:
            return None
        return max(1, math.ceil(route.limit.per_second / max(1, route.limit.share)))

    @property
    def active(self) -> str:
        """The name of the gateway new SMS go to now."""
        route = self.fallback if self._on_fallback and self.fallback else self.primary
        return route.gateway.name

    @property
    def last_wait(self) -> float:
        """Seconds the last `send` of this thread waited for rate limits: not the gateway's
        time, so the send-duration metric leaves it out."""
        return getattr(self._local, "waited", 0.0)

    def send(self, sms: OutboundSms) -> SendResult:
        self._local.waited = 0.0
        if self._on_fallback and self.fallback is not None:
            if self._monotonic() >= self._retry_primary_at:
                return self._probe_primary(sms)
            return self._through(self.fallback, sms)
        try:
            result = self._through(self.primary, sms)
        except TemporaryFailure as failure:
            if not self._count_failure(failure) or self.fallback is None:
                raise
            return self._through(self.fallback, sms)
        self._failures = 0
        return result

    def _probe_primary(self, sms: OutboundSms) -> SendResult:
        assert self.fallback is not None
        with self._lock:
            self._retry_primary_at = self._monotonic() + self.retry_primary_seconds
        try:
            result = self._through(self.primary, sms)
        except TemporaryFailure as failure:
            log.info("gateway %s still failing (%s): staying on %s", self.primary.gateway.name,
                     failure.reason, self.fallback.gateway.name)
            return self._through(self.fallback, sms)
        with self._lock:
            self._on_fallback, self._failures = False, 0
        log.warning("gateway %s works again: SMS go through it again", self.primary.gateway.name)
        return result

    def _count_failure(self, failure: TemporaryFailure) -> bool:
        """True when this failure moves the traffic to the fallback."""
        with self._lock:
            self._failures += 1
            if self.fallback is None or self._failures < self.failover_after:
                return False
            self._on_fallback = True
            self._retry_primary_at = self._monotonic() + self.retry_primary_seconds
        log.warning("gateway %s failed %d times in a row (%s): SMS go through %s until it works",
                    self.primary.gateway.name, self._failures, failure.reason,
                    self.fallback.gateway.name)
        return True

    def _through(self, route: Route, sms: OutboundSms) -> SendResult:
        self._local.waited = getattr(self._local, "waited", 0.0) + route.limit.wait()
        result = route.gateway.send(sms)
        return replace(result, gateway=result.gateway or route.gateway.name)


def gateways_of(gateway: Gateway) -> list[Gateway]:
    """The adapters behind `gateway` (itself, or those a router stands for)."""
    return list(gateway.gateways) if isinstance(gateway, RoutingGateway) else [gateway]
