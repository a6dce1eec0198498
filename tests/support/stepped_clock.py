"""Monotonic seconds for the tests of rate limits: they move only when told, or when a rate
limit sleeps (which sleeps no real time)."""

from __future__ import annotations


class SteppedClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
