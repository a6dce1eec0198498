"""Worker heartbeats and job leases: which worker processes are alive, and which of them runs a
scheduled job right now.

A worker writes its heartbeat every few seconds; `/healthz` reads the age of the freshest one.
On PostgreSQL every job is safe to run in several workers at once (rows are claimed with
`FOR UPDATE SKIP LOCKED`); SQLite has no row locks, so there a job first takes a lease and a
second worker skips it while the lease is held. A lease outlives a killed worker only until
`until`: the holder renews it while it works.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, func, insert, select, update

from sms_ktp.models import JobLease, WorkerHeartbeat

# Heartbeats older than this are of workers long gone: removed when a worker starts.
FORGET_AFTER = timedelta(days=1)

_BEATS = WorkerHeartbeat.__table__
_LEASES = JobLease.__table__


def new_worker_id() -> str:
    """host:pid:random, unique even when a pid is reused after a restart."""
    return f"{socket.gethostname()[:48]}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass(frozen=True)
class Beat:
    worker: str
    host: str
    pid: int
    started_at: datetime
    beat_at: datetime


def beat(connection: Connection, worker: str, now: datetime, gateway: str | None = None) -> None:
    """Record that `worker` is alive now, sending through `gateway` (its first beat registers
    it)."""
    touched = connection.execute(
        update(_BEATS).where(_BEATS.c.worker == worker).values(beat_at=now, gateway=gateway)
    ).rowcount
    if not touched:
        connection.execute(delete(_BEATS).where(_BEATS.c.beat_at < now - FORGET_AFTER))
        host, pid, _ = worker.rsplit(":", 2)
        connection.execute(insert(_BEATS).values(worker=worker, host=host, pid=int(pid),
                                                 started_at=now, beat_at=now, gateway=gateway))


def retire(connection: Connection, worker: str) -> None:
    """A worker that stops cleanly removes its heartbeat and gives up its leases."""
    connection.execute(delete(_BEATS).where(_BEATS.c.worker == worker))
    connection.execute(delete(_LEASES).where(_LEASES.c.worker == worker))


def freshest(connection: Connection) -> datetime | None:
    """When the most recent heartbeat of any worker was written; None when none ever beat."""
    return connection.execute(select(func.max(_BEATS.c.beat_at))).scalar_one_or_none()


def gateways(connection: Connection, since: datetime) -> list[str]:
    """The gateways the workers that beat since `since` send through."""
    return sorted(set(connection.scalars(
        select(_BEATS.c.gateway).where(_BEATS.c.beat_at >= since,
                                       _BEATS.c.gateway.is_not(None)))))


def alive(connection: Connection, since: datetime) -> int:
    """How many workers have beaten since `since`."""
    return connection.execute(select(func.count()).select_from(_BEATS)
                              .where(_BEATS.c.beat_at >= since)).scalar_one()


def workers(connection: Connection) -> list[Beat]:
    rows = connection.execute(select(_BEATS).order_by(_BEATS.c.started_at)).all()
    return [Beat(r.worker, r.host, r.pid, r.started_at, r.beat_at) for r in rows]


def take_lease(connection: Connection, job: str, worker: str, now: datetime,
               ttl: timedelta) -> bool:
    """Hold `job` until now + ttl, unless another worker holds it and its lease runs on.
    True when `worker` holds it now (taken, renewed or taken over from an expired holder).
    Must run in a write transaction (on SQLite, `BEGIN IMMEDIATE`), so two takers cannot
    both win."""
    current = connection.execute(
        select(_LEASES.c.worker, _LEASES.c.until).where(_LEASES.c.job == job)).first()
    if current is None:
        connection.execute(insert(_LEASES).values(job=job, worker=worker, until=now + ttl))
        return True
    if current.worker != worker and current.until > now:
        return False
    connection.execute(update(_LEASES).where(_LEASES.c.job == job)
                       .values(worker=worker, until=now + ttl))
    return True


def release_lease(connection: Connection, job: str, worker: str) -> None:
    connection.execute(delete(_LEASES).where(_LEASES.c.job == job, _LEASES.c.worker == worker))


def lease_holder(connection: Connection, job: str, now: datetime) -> str | None:
    """The worker that holds `job` now, if any."""
    return connection.execute(select(_LEASES.c.worker).where(
        _LEASES.c.job == job, _LEASES.c.until > now)).scalar_one_or_none()
