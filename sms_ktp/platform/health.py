"""The service's health, read from the database alone: whichever web process answers `/healthz`
reports the same thing, and the workers (other processes, maybe other hosts) are judged by what
they wrote there (their heartbeats, the outbox) rather than asked.

"Late" means due and not sent: an SMS held back on purpose (quiet hours, a broadcast's pace, the
backoff before a retry) counts from its `next_attempt_at`, not from when it was written. At 2 a.m.
the notifications waiting for 07:00 are not a problem and must not page anyone; a reply or a
released notification that the worker has not sent minutes after it became due is. A gateway
that refuses everything shows as retries and failures in `/metrics`, not here: each retry is
due again only after its backoff.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, case, func, select, text
from sqlalchemy.exc import SQLAlchemyError

from sms_ktp.domain.masking import redact
from sms_ktp.models import OUTBOX_PENDING, OUTBOX_QUEUED, OUTBOX_SENDING, OutboxMessage
from sms_ktp.platform import heartbeat
from sms_ktp.platform.config import HealthSettings
from sms_ktp.platform.db import Database, retry_after_disconnect

log = logging.getLogger(__name__)
# A health check must answer even while a migration holds a table lock (PostgreSQL).
STATEMENT_TIMEOUT_MS = 5000

_OUTBOX = OutboxMessage.__table__


@dataclass(frozen=True)
class Health:
    """What `/healthz` shows and the `/metrics` gauges report. Counts and ages only: nothing
    about any resident. None: unknown (database unreachable) or, for the ages, nothing to age."""

    checked_at: datetime
    database: bool
    worker_heartbeat_age_seconds: float | None = None
    outbox_queued: int | None = None  # not yet handed to the gateway, held ones included
    outbox_sending: int | None = None  # claimed by a worker, the gateway's answer pending
    outbox_not_due: int | None = None  # queued but held back until their next_attempt_at
    oldest_queued_age_seconds: float | None = None  # the longest an SMS has been due, unsent
    gateways: tuple[str, ...] = ()  # what the live workers send through now
    problems: tuple[str, ...] = ()

    @property
    def healthy(self) -> bool:
        return not self.problems

    @property
    def outbox_backlog(self) -> int | None:
        if self.outbox_queued is None or self.outbox_sending is None:
            return None
        return self.outbox_queued + self.outbox_sending

    def as_json(self) -> dict[str, Any]:
        return {
            "healthy": self.healthy,
            "problems": list(self.problems),
            "database": self.database,
            "worker_heartbeat_age_seconds": _seconds(self.worker_heartbeat_age_seconds),
            "outbox_backlog": self.outbox_backlog,
            "outbox_not_due": self.outbox_not_due,
            "oldest_queued_age_seconds": _seconds(self.oldest_queued_age_seconds),
            "gateways": list(self.gateways),
            "checked_at": self.checked_at.isoformat(),
        }


def check(db: Database, now: datetime, limits: HealthSettings, primary: str = "",
          fallback: str = "") -> Health:
    """Read the heartbeats and the outbox; a database that does not answer is a finding, not
    an error (the caller answers 503, never 500). `primary`, `fallback`: the configured
    gateways; a live worker sending through the fallback is a problem too: the SMS still
    leave, but someone has to look at the primary."""
    try:
        beat_at, active, (queued, sending, not_due, oldest_due) = _read(
            db, now, now - timedelta(seconds=limits.max_heartbeat_age_seconds))
    except SQLAlchemyError as error:
        # The message names the server (never a password); any numbers in it are hidden.
        log.warning("health: database unreachable: %s: %s", type(error).__name__,
                    redact(str(getattr(error, "orig", None) or error)).splitlines()[0][:200])
        return Health(now, database=False, problems=("database unreachable",))
    heartbeat_age = _age(now, beat_at)
    oldest_age = _age(now, oldest_due)
    problems: list[str] = []
    if heartbeat_age is None:
        problems.append("no worker heartbeat")
    elif heartbeat_age > limits.max_heartbeat_age_seconds:
        problems.append(f"worker heartbeat {heartbeat_age:.0f} s old")
    if oldest_age is not None and oldest_age > limits.max_oldest_queued_seconds:
        problems.append(f"an SMS due {oldest_age:.0f} s ago is not sent")
    problems += [f"SMS go through the fallback gateway {name}: {primary} keeps failing"
                 for name in active if fallback and name == fallback]
    return Health(now, True, heartbeat_age, queued, sending, not_due, oldest_age,
                  tuple(active), tuple(problems))


@retry_after_disconnect
def _read(db: Database, now: datetime, live_since: datetime
          ) -> tuple[datetime | None, list[str], tuple[int, int, int, datetime | None]]:
    """Run again once on a connection the pool kept across a database restart: that is not
    the database being down."""
    with db.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"))
        return (heartbeat.freshest(connection), heartbeat.gateways(connection, live_since),
                _outbox(connection, now))


def _outbox(connection: Connection,
            now: datetime) -> tuple[int, int, int, datetime | None]:
    """Queued, sending, not yet due, and the oldest due time among the unsent: one range scan
    of `ix_outbox_due (status, next_attempt_at)` over the pending rows only (the sent and
    delivered millions are never read), answered from the index alone."""
    t = _OUTBOX.c
    later = t.next_attempt_at > now
    row = connection.execute(
        select(
            func.count().filter(t.status == OUTBOX_QUEUED),
            func.count().filter(t.status == OUTBOX_SENDING),
            func.count().filter(and_(t.status == OUTBOX_QUEUED, later)),
            func.min(case((later, None), else_=t.next_attempt_at)),
        ).where(t.status.in_(OUTBOX_PENDING))
    ).one()
    return row[0], row[1], row[2], row[3]


def _age(now: datetime, then: datetime | None) -> float | None:
    """Seconds since `then`; never negative (a worker host's clock a little ahead)."""
    if then is None:
        return None
    return max(0.0, (now - then).total_seconds())


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
