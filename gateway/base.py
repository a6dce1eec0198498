"""The one interface every SMS provider adapter implements."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from gateway.message import OutboundSms, SendResult


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
