"""The composition root: settings in, the database, clock and gateway that everything shares."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from gateway.africastalking import AfricasTalkingGateway
from gateway.base import Gateway
from gateway.console import ConsoleGateway
from sms_ktp.clock import Clock, SystemClock
from sms_ktp.config import Settings, ensure_webhook_token
from sms_ktp.db import Database
from sms_ktp.outbox import Dispatcher, RetryPolicy
from sms_ktp.pickup import PickupPolicy
from sms_ktp.pickup_calendar import WorkingCalendar, offices_from_config
from sms_ktp.quiet_hours import QuietHours


def build_gateway(settings: Settings) -> Gateway:
    if settings.gateway.provider == "africastalking":
        at = settings.gateway.africastalking
        return AfricasTalkingGateway(
            at.username, at.api_key, sender_id=at.sender_id or None,
            timeout=(at.connect_timeout_seconds, at.read_timeout_seconds),
        )
    return ConsoleGateway(settings.gateway.console.outbox_file,
                          logger=logging.getLogger("sms_ktp.console"))


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock = field(default_factory=SystemClock)
    gateway: Gateway | None = None
    _policy: PickupPolicy | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None,
                      gateway: Gateway | None = None) -> Runtime:
        ensure_webhook_token(settings)
        return cls(settings, Database(settings.database.url), clock or SystemClock(),
                   gateway or build_gateway(settings))

    def pickup_policy(self) -> PickupPolicy:
        """Built once: the offices come from the settings, the calendar loads holidays."""
        if self._policy is None:
            self._policy = self._build_pickup_policy()
        return self._policy

    def _build_pickup_policy(self) -> PickupPolicy:
        pickup = self.settings.pickup
        return PickupPolicy(offices_from_config(pickup.offices), WorkingCalendar(),
                            self.quiet_hours, pickup.search_days, pickup.max_reschedules,
                            pickup.max_resident_changes)

    @property
    def quiet_hours(self) -> QuietHours:
        return QuietHours.parse(self.settings.notifications.quiet_hours)

    @property
    def dialogue_ttl(self) -> timedelta:
        return timedelta(minutes=self.settings.dialogue.ttl_minutes)

    def dispatcher(self) -> Dispatcher:
        worker = self.settings.worker
        policy = RetryPolicy(worker.max_attempts, worker.backoff_base_seconds,
                             worker.backoff_max_seconds, worker.lease_seconds)
        assert self.gateway is not None
        return Dispatcher(self.db, self.gateway, self.clock, policy, worker.batch_size)
