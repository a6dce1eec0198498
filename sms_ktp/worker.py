"""The worker: APScheduler runs the periodic jobs, each an idempotent sweep over database rows
(claimed in a transaction), so a job that runs twice or late does no harm.

Several worker processes may run at once. On PostgreSQL every job claims its rows with
`FOR UPDATE SKIP LOCKED`, so two workers share the work and never do the same row twice. SQLite
has no row locks: there a job other than sending first takes a lease (`job_lease`), and a second
worker skips it while another one holds it. Every worker writes a heartbeat (`/healthz`)."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from gateway.base import PollingGateway
from gateway.routing import RoutingGateway, gateways_of
from sms_ktp.applications import papers_visit, pickup
from sms_ktp.channels import polling
from sms_ktp.domain.quiet_hours import parse_local_time
from sms_ktp.messaging import broadcasts
from sms_ktp.messaging.phone_state import purge_expired
from sms_ktp.platform import heartbeat
from sms_ktp.privacy import retention
from sms_ktp.runtime import Runtime

log = logging.getLogger(__name__)
# Dialogues are kept a day past their expiry so that a late answer still gets "timed out".
CONVERSATION_GRACE = timedelta(days=1)
DISPATCH_JOB = "dispatch_outbox"
ALLOCATION_CHUNK = 1000
# Broadcasts are queued in slices of the gateway's rate times this: short enough that a
# cancelled broadcast stops soon, long enough that a slice is worth a transaction.
BROADCAST_INTERVAL_SECONDS = 10.0
HEARTBEAT_SECONDS = 5.0
# How long a job's lease on SQLite lasts without renewal: a worker killed while it ran a job
# holds the job back at most this long. Allocation renews it after every chunk.
JOB_LEASE = timedelta(minutes=5)


class Worker:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.dispatcher = runtime.dispatcher()
        self._dispatch_lock = threading.Lock()
        self._scheduler: BaseScheduler | None = None
        self.worker_id = heartbeat.new_worker_id()
        self._stopping = threading.Event()

    # --- presence -----------------------------------------------------------------------------
    def beat(self) -> None:
        """Say this worker is alive, and take its share of the gateways' rate limits."""
        now = self.runtime.clock.now()
        gateway = self.runtime.gateway
        active = gateway.active if isinstance(gateway, RoutingGateway) else getattr(
            gateway, "name", None)
        with self.runtime.db.connect() as connection:
            heartbeat.beat(connection, self.worker_id, now, active)
            live = heartbeat.alive(connection, now - timedelta(seconds=3 * HEARTBEAT_SECONDS))
        if isinstance(gateway, RoutingGateway):
            gateway.share_with(live)
        if self.dispatcher.whatsapp is not None:
            self.dispatcher.whatsapp.whatsapp.share_with(live)

    def retire(self) -> None:
        with self.runtime.db.connect() as connection:
            heartbeat.retire(connection, self.worker_id)

    def _holds(self, job: str) -> bool:
        """Take or renew `job`'s lease (SQLite only; PostgreSQL's row locks need none)."""
        if self.runtime.db.dialect != "sqlite":
            return True
        with self.runtime.db.connect() as connection:
            if heartbeat.take_lease(connection, job, self.worker_id, self.runtime.clock.now(),
                                    JOB_LEASE):
                return True
            holder = heartbeat.lease_holder(connection, job, self.runtime.clock.now())
        log.info("%s skipped: worker %s is running it", job, holder)
        return False

    def _release(self, job: str) -> None:
        if self.runtime.db.dialect == "sqlite":
            with self.runtime.db.connect() as connection:
                heartbeat.release_lease(connection, job, self.worker_id)

    def _exclusively(self, job: str, run: Callable[[], int]) -> int:
        if not self._holds(job):
            return 0
        try:
            return run()
        finally:
            self._release(job)

    # --- the jobs -----------------------------------------------------------------------------
    def dispatch_outbox(self) -> int:
        with self._dispatch_lock:
            stats = self.dispatcher.drain(stopping=self._stopping.is_set)
        if stats.claimed:
            log.info("outbox: %d sent, %d to retry, %d failed", stats.sent, stats.retried,
                     stats.failed)
        return stats.sent

    def purge_conversations(self) -> int:
        with self.runtime.db.connect() as connection:
            return purge_expired(connection, self.runtime.clock.now() - CONVERSATION_GRACE)

    def allocate_pickups(self) -> int:
        """In transactions of `ALLOCATION_CHUNK` cards: a large backlog never holds the database
        (on SQLite, every incoming SMS) for long."""
        return self._exclusively("allocate_pickups", self._allocate_in_chunks)

    def _allocate_in_chunks(self) -> int:
        total = 0
        while True:
            done = pickup.allocate(self.runtime.db, self.runtime.clock,
                                   self.runtime.pickup_policy(), limit=ALLOCATION_CHUNK)
            total += done
            if done < ALLOCATION_CHUNK or not self._holds("allocate_pickups"):
                return total

    def send_reminders(self) -> int:
        """The reminders of tomorrow's pickups and papers visits: how many visits."""
        return self._exclusively("send_reminders", self._remind)

    def _remind(self) -> int:
        at = parse_local_time(self.runtime.settings.notifications.reminder_time)
        policy = self.runtime.pickup_policy()
        return (pickup.remind(self.runtime.db, self.runtime.clock, policy, at)
                + papers_visit.remind(self.runtime.db, self.runtime.clock, policy, at))

    def reschedule_missed(self) -> int:
        return self._exclusively("reschedule_missed", lambda: pickup.reschedule_missed(
            self.runtime.db, self.runtime.clock, self.runtime.pickup_policy()))

    def purge_personal_data(self) -> int:
        """Daily: personal data kept past `[privacy] retention_days` erased (`retention`)."""
        job = "purge_personal_data"
        return self._exclusively(job, lambda: retention.purge(
            self.runtime.db, self.runtime.clock, self.runtime.settings.privacy.retention_days,
            carry_on=lambda: not self._stopping.is_set() and self._holds(job)).total)

    @property
    def broadcast_interval(self) -> float:
        """Seconds between broadcast slices: at least one SMS per slice at a slow rate."""
        return max(BROADCAST_INTERVAL_SECONDS, 1 / self.runtime.settings.broadcasts.rate_per_second)

    def queue_broadcasts(self) -> int:
        return self._exclusively("queue_broadcasts", lambda: broadcasts.queue_due(
            self.runtime.db, self.runtime.clock, self.runtime.settings.broadcasts.rate_per_second,
            self.runtime.quiet_hours, self.broadcast_interval))

    def poll_gateways(self) -> int:
        """SMS and statuses waiting at the gateways that do not call us (gammu-smsd)."""
        polled = polling.poll(self.runtime, stopping=self._stopping.is_set)
        if polled.received or polled.reports:
            log.info("gateways: %d SMS received, %d statuses", polled.received, polled.reports)
        return polled.received

    def run_once(self) -> dict[str, int]:
        """Every job once, the outbox drained of what is due now (the replies to what the
        gateways held and the notifications of the other jobs included)."""
        done = {"received": self.poll_gateways(),
                "missed": self.reschedule_missed(), "scheduled": self.allocate_pickups(),
                "reminded": self.send_reminders(), "purged": self.purge_conversations(),
                "broadcast": self.queue_broadcasts(), "erased": self.purge_personal_data()}
        return {"sent": self.dispatch_outbox(), **done}

    # --- scheduling ---------------------------------------------------------------------------
    def _add_jobs(self, scheduler: BaseScheduler) -> None:
        interval = self.runtime.settings.worker.dispatch_interval_seconds
        scheduler.add_job(self.beat, "interval", seconds=HEARTBEAT_SECONDS, id="heartbeat",
                          max_instances=1, coalesce=True, next_run_time=datetime.now())
        scheduler.add_job(self.dispatch_outbox, "interval", seconds=interval, id=DISPATCH_JOB,
                          max_instances=1, coalesce=True, next_run_time=datetime.now())
        if any(isinstance(gateway, PollingGateway)
               for gateway in gateways_of(self.runtime.gateway)):  # type: ignore[arg-type]
            scheduler.add_job(self.poll_gateways, "interval", seconds=interval,
                              id="poll_gateways", max_instances=1, coalesce=True,
                              next_run_time=datetime.now())
        scheduler.add_job(self.purge_conversations, "interval", minutes=10,
                          id="purge_conversations", max_instances=1, coalesce=True)
        scheduler.add_job(self.allocate_pickups, "interval", minutes=5, id="allocate_pickups",
                          max_instances=1, coalesce=True)
        scheduler.add_job(self.send_reminders, "interval", minutes=15, id="send_reminders",
                          max_instances=1, coalesce=True)
        scheduler.add_job(self.reschedule_missed, "interval", hours=1, id="reschedule_missed",
                          max_instances=1, coalesce=True)
        scheduler.add_job(self.queue_broadcasts, "interval", seconds=self.broadcast_interval,
                          id="queue_broadcasts", max_instances=1, coalesce=True)
        scheduler.add_job(self.purge_personal_data, "interval", hours=24, id="purge_personal_data",
                          max_instances=1, coalesce=True,  # also soon after each start
                          next_run_time=datetime.now() + timedelta(minutes=5))

    def start_background(self) -> BackgroundScheduler:
        scheduler = BackgroundScheduler(daemon=True)
        self._add_jobs(scheduler)
        scheduler.start()
        self._scheduler = scheduler
        return scheduler

    def run_forever(self) -> None:
        """Until SIGTERM or SIGINT: then the batch in flight is finished and recorded, no new
        one is claimed, and the heartbeat is removed."""
        scheduler = BlockingScheduler()
        self._add_jobs(scheduler)
        self._scheduler = scheduler

        def stop(*_: object) -> None:
            self._stopping.set()
            threading.Thread(target=scheduler.shutdown, daemon=True).start()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            scheduler.start()
        finally:
            self.retire()

    def wake(self) -> None:
        """Dispatch now instead of at the next tick (a reply was just queued)."""
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.modify_job(DISPATCH_JOB, next_run_time=datetime.now())

    def shutdown(self) -> None:
        self._stopping.set()
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=True)
            self.retire()
