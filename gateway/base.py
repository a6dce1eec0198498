"""The one interface every SMS provider adapter implements."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol, runtime_checkable

from gateway.message import DeliveryReport, InboundSms, OutboundSms, SendResult


@runtime_checkable
class Gateway(Protocol):
    """A way to send SMS; structural so adapters need not inherit from anything here."""

    name: str

    def send(self, sms: OutboundSms) -> SendResult:
        """Hand one SMS to the provider.

        Raises TemporaryFailure when a later retry may work and PermanentFailure when it cannot,
        so the outbox can decide between requeueing and giving up.
        """
        ...


@runtime_checkable
class PollingGateway(Protocol):
    """A gateway that keeps inbound SMS and delivery statuses for us to fetch (a GSM modem's
    gammu-smsd tables) instead of calling a webhook; the worker polls it."""

    name: str

    def claim_inbound(self, limit: int = 100) -> AbstractContextManager[list[InboundSms]]:
        """SMS waiting, locked for this caller; marked handled when the `with` block exits
        normally, left waiting (for the next poll) when it raises."""
        ...

    def delivery_reports(self, limit: int = 500) -> list[DeliveryReport]:
        """Statuses of SMS sent through it since the last call (may repeat one)."""
        ...
