"""The composition root: settings in, the database, clock and gateway that everything shares."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from gateway.africastalking import AfricasTalkingGateway
from gateway.base import Gateway
from gateway.console import ConsoleGateway
from gateway.routing import RateLimit, Route, RoutingGateway
from gateway.whatsapp import WhatsAppGateway, WhatsAppOrSms
from sms_ktp import crypto
from sms_ktp.applications import office_settings
from sms_ktp.applications.pickup import PickupPolicy
from sms_ktp.backoffice import staff
from sms_ktp.domain import documents, region
from sms_ktp.domain.pickup_calendar import WorkingCalendar
from sms_ktp.domain.quiet_hours import QuietHours
from sms_ktp.messaging.limits import ReplyLimits
from sms_ktp.messaging.outbox import Dispatcher, RetryPolicy
from sms_ktp.platform.clock import Clock, SystemClock
from sms_ktp.platform.config import (
    Settings,
    adapter_settings,
    ensure_privacy_keys,
    ensure_webhook_token,
    gateway_rate,
    kelurahan_phones,
    served_region,
)
from sms_ktp.platform.db import Database

log = logging.getLogger(__name__)
# How often a process looks for pickup-office changes made in the back office (by this or another
# process): a change reaches every web and worker process within this many seconds, and the
# per-SMS path pays one query of at most six small rows this often, never more.
OFFICE_CHECK_SECONDS = 5.0


def build_gateway(settings: Settings, monotonic: Callable[[], float] = time.monotonic,
                  adapters: Mapping[str, Gateway] | None = None) -> Gateway:
    """The configured gateway; with a fallback or a rate limit, a `RoutingGateway` over them.
    `adapters`: ready-made adapters by name (tests: a gateway whose HTTP is intercepted)."""
    gateway = settings.gateway
    names = [name for name in (gateway.provider, gateway.fallback) if name]
    routes = [Route((adapters or {}).get(name) or _adapter(settings, name),
                    RateLimit(gateway_rate(gateway, name), monotonic=monotonic))
              for name in names]
    if len(routes) == 1 and routes[0].limit.per_second <= 0:
        return routes[0].gateway
    return RoutingGateway(routes[0], routes[1] if len(routes) > 1 else None,
                          failover_after=gateway.failover_after,
                          retry_primary_seconds=gateway.retry_primary_seconds,
                          monotonic=monotonic)


def _adapter(settings: Settings, name: str) -> Gateway:
    gateway = settings.gateway
    if name == "africastalking":
        at = gateway.africastalking
        return AfricasTalkingGateway(
            at.username, at.api_key, sender_id=at.sender_id or None,
            timeout=(at.connect_timeout_seconds, at.read_timeout_seconds),
        )
    if name == "gammu":
        from gateway.gammu import GammuGateway

        return GammuGateway(adapter_settings(gateway, name))
    if name == "http":
        from gateway.http_aggregator import HttpGateway

        return HttpGateway(adapter_settings(gateway, name))
    return ConsoleGateway(gateway.console.outbox_file,
                          logger=logging.getLogger("sms_ktp.console"))


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock = field(default_factory=SystemClock)
    gateway: Gateway | None = None
    office_check_seconds: float = OFFICE_CHECK_SECONDS
    monotonic: Callable[[], float] = field(default=time.monotonic, repr=False)
    _policy: PickupPolicy | None = field(default=None, repr=False)
    _overrides: office_settings.Overrides | None = field(default=None, repr=False)
    _offices_checked_at: float = field(default=float("-inf"), repr=False)
    _policy_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        # One regency a process: its name, kecamatan, time zone and languages for every
        # message and page (`sms_ktp.domain.region`).
        region.configure(served_region(self.settings))
        documents.configure(self.settings.services.enabled)
        staff.configure_hashing(self.settings.staff.password_time_cost,
                                self.settings.staff.password_memory_kib)
        # The process's keys of the encryption at rest, when the settings carry them
        # (`from_settings` sees to it). A runtime built from bare settings keeps the keys the
        # process already has; with none at all, storing a NIK fails rather than leaks.
        privacy = self.settings.privacy
        if privacy.data_key or privacy.lookup_key:
            crypto.configure(privacy.data_key, privacy.previous_data_keys, privacy.lookup_key)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None,
                      gateway: Gateway | None = None) -> Runtime:
        ensure_webhook_token(settings)
        ensure_privacy_keys(settings)
        return cls(settings, Database(settings.database.url), clock or SystemClock(),
                   gateway or build_gateway(settings))

    def pickup_policy(self) -> PickupPolicy:
        """The offices of the configuration file with the back office's changes
        (`office_setting`) over them. Cached, and read again at most every
        `office_check_seconds`: rebuilt only when the stored changes differ from the ones it was
        built with, so a change made in another process (the web app, the worker) is used
        within that delay without a restart. Safe inside a transaction: the changes are read
        on a connection that never waits for a writer (`Database.read`)."""
        moment = self.monotonic()
        policy = self._policy
        if policy is not None and moment - self._offices_checked_at < self.office_check_seconds:
            return policy
        if policy is None:
            self._policy_lock.acquire()
        elif not self._policy_lock.acquire(blocking=False):
            return policy  # another thread is checking: no SMS waits for it
        try:
            if (self._policy is not None
                    and moment - self._offices_checked_at < self.office_check_seconds):
                return self._policy
            try:
                with self.db.read() as connection:
                    overrides = office_settings.stored(connection)
            except SQLAlchemyError as error:
                # The database is down or not upgraded yet: keep scheduling as before.
                log.warning("pickup offices: changes from the back office not read: %s", error)
                overrides = self._overrides if self._overrides is not None else {}
            self._offices_checked_at = moment
            if self._policy is None or overrides != self._overrides:
                self._policy = self._build_pickup_policy(overrides)
                self._overrides = overrides
            return self._policy
        finally:
            self._policy_lock.release()

    def refresh_pickup_policy(self) -> None:
        """Read the office changes at the next `pickup_policy()` (this process just saved one)."""
        self._offices_checked_at = float("-inf")

    def _build_pickup_policy(self, overrides: office_settings.Overrides) -> PickupPolicy:
        pickup = self.settings.pickup
        # The calendar is kept: its holidays are loaded once a year, not once a change.
        calendar = self._policy.calendar if self._policy is not None else WorkingCalendar()
        return PickupPolicy(office_settings.effective_offices(pickup.offices, overrides),
                            calendar, self.quiet_hours, pickup.search_days,
                            pickup.max_reschedules, pickup.max_resident_changes,
                            self.settings.delivery)

    @property
    def quiet_hours(self) -> QuietHours:
        return QuietHours.parse(self.settings.notifications.quiet_hours)

    @property
    def reply_limits(self) -> ReplyLimits:
        return ReplyLimits.from_settings(self.settings.limits)

    @property
    def dialogue_ttl(self) -> timedelta:
        return timedelta(minutes=self.settings.dialogue.ttl_minutes)

    def dispatcher(self) -> Dispatcher:
        worker = self.settings.worker
        policy = RetryPolicy(worker.max_attempts, worker.backoff_base_seconds,
                             worker.backoff_max_seconds, worker.lease_seconds)
        assert self.gateway is not None
        whatsapp = self.settings.gateway.whatsapp
        return Dispatcher(self.db, self.gateway, self.clock, policy, worker.batch_size,
                          kelurahan_phones(self.settings),
                          whatsapp=self.whatsapp_channel(),
                          templates=whatsapp.templates if whatsapp.enabled else None)

    def whatsapp_channel(self) -> WhatsAppOrSms | None:
        """WhatsApp over this runtime's SMS gateway (what WhatsApp cannot carry goes by SMS),
        when `[gateway.whatsapp]` is on; a new one each call (each dispatcher its own)."""
        whatsapp = self.settings.gateway.whatsapp
        if not whatsapp.enabled:
            return None
        assert self.gateway is not None
        return WhatsAppOrSms(WhatsAppGateway(whatsapp), self.gateway)
