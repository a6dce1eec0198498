"""Fetching from the gateways that do not call us: a GSM modem's gammu-smsd keeps the SMS it
received and the statuses of those it sent in its own tables, and the worker polls them. What
is fetched goes the same way as a webhook's call: `receive_sms` (idempotent by the gateway's
id) and `apply_delivery_report` (a status never moves backwards)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from gateway.base import PollingGateway
from gateway.routing import gateways_of
from sms_ktp.channels.sms import receive_sms
from sms_ktp.messaging.outbox import apply_delivery_report
from sms_ktp.platform import metrics

if TYPE_CHECKING:  # the runtime passes itself in
    from sms_ktp.runtime import Runtime

log = logging.getLogger(__name__)
BATCH = 100


@dataclass
class Polled:
    received: int = 0
    reports: int = 0
    failures: int = 0


def poll(runtime: Runtime, stopping: Callable[[], bool] = lambda: False) -> Polled:
    """Every polling gateway once: its waiting SMS (batch after batch), then its statuses. A
    gateway that cannot be reached is logged and tried again at the next poll; the others go
    on."""
    polled = Polled()
    assert runtime.gateway is not None
    for gateway in gateways_of(runtime.gateway):
        if not isinstance(gateway, PollingGateway):
            continue
        try:
            while not stopping() and _receive_batch(runtime, gateway, polled) == BATCH:
                pass
            _apply_reports(runtime, gateway, polled)
        except (SQLAlchemyError, OSError) as error:
            polled.failures += 1
            log.warning("gateway %s cannot be polled: %s", gateway.name, type(error).__name__)
    return polled


def _receive_batch(runtime: Runtime, gateway: PollingGateway, polled: Polled) -> int:
    with gateway.claim_inbound(BATCH) as batch:
        for sms in batch:
            receive_sms(runtime.db, runtime.clock, sms, runtime.dialogue_ttl,
                        runtime.pickup_policy(), runtime.reply_limits)
            polled.received += 1
    return len(batch)


def _apply_reports(runtime: Runtime, gateway: PollingGateway, polled: Polled) -> None:
    for report in gateway.delivery_reports():
        with runtime.db.transaction() as session:
            known = apply_delivery_report(session, report, runtime.clock.now())
        metrics.delivery_report(report.status if known else None)
        polled.reports += known
