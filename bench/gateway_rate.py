"""The per-gateway rate limit, measured: real `sms-ktp worker` processes (running as in
production: heartbeats, scheduler) send a queued outbox through a console gateway limited to
`--rate` SMS a second, first one worker, then `--workers` at once (each keeps its share of the
limit, the live workers counted by their heartbeats). The rate is read from the times the
outbox records each SMS sent.

    .venv/bin/python bench/gateway_rate.py
    .venv/bin/python bench/gateway_rate.py --rate 50 --messages 500 --workers 3

The last line is JSON: rate_limit, messages, and for each run the workers, measured_per_s (over
the whole run), busiest_second (the most SMS sent within any one second), lost and
duplicates. Exit status 1 when a run loses or duplicates an SMS, or goes over the limit by more
than one SMS in a second.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import time
from bisect import bisect_right
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path

from common import postgres_url
from sqlalchemy import select
from worker_runs import outcome, queue, start_worker, worker_config

from sms_ktp.messaging.outbox import PENDING
from sms_ktp.models import OutboxMessage
from sms_ktp.platform import heartbeat
from sms_ktp.platform.db import Database, scratch_schema

# The longest wait, once every worker has registered, for each to beat again (a beat every
# HEARTBEAT_SECONDS): two beats' time.
SETTLE_SECONDS = 12.0


def busiest_second(times: list[float]) -> int:
    """The most SMS sent within any window of one second."""
    return max((bisect_right(times, start + 1.0 - 1e-9) - index
                for index, start in enumerate(times)), default=0)


def settle(db: Database, workers: int, most_seconds: float) -> None:
    """Until every worker knows how many share the limit. A worker takes its share from the
    heartbeats it reads at its own beat, so it knows of another worker once it has beaten after
    that one registered: after the moment its row was first seen here (the workers run on this
    machine, on its clock). A single worker is alone from its first beat; of several, the last
    to start usually knows of the others at its first, the others at their next. Gives up after
    `most_seconds` once all have registered (three times that for them to register)."""
    deadline = time.monotonic() + most_seconds * 3
    seen: dict[str, datetime] = {}  # each worker: when its row was first read here
    beats: list[heartbeat.Beat] = []
    while time.monotonic() < deadline:
        with db.connect() as connection:
            beats = heartbeat.workers(connection)
        now = datetime.now(UTC)
        for beat in beats:
            seen.setdefault(beat.worker, now)
        if len(beats) == workers:
            if all(beat.beat_at > moment for beat in beats
                   for other, moment in seen.items() if other != beat.worker):
                return
            deadline = min(deadline, time.monotonic() + most_seconds)
        time.sleep(0.1)
    print(f"workers not settled: {len(beats)} of {workers} registered, some may not know of "
          "the others", file=sys.stderr, flush=True)


def run(database_url: str, folder: Path, workers: int, args: argparse.Namespace) -> dict:
    db = Database(database_url)
    processes = []
    try:
        queue(db, 0, 1)  # an empty outbox
        configs = [worker_config(folder, f"rate-{workers}-{n}", database_url,
                                 rate_per_second=args.rate, dispatch_interval_seconds=0.2)
                   for n in range(workers)]
        processes = [start_worker(config) for config in configs]
        settle(db, workers, args.settle_seconds)
        queue(db, args.messages, args.phones)
        deadline = time.monotonic() + args.messages / args.rate * 3 + 30
        t = OutboxMessage.__table__
        while time.monotonic() < deadline:
            with db.connect() as connection:
                left = connection.scalar(select(t.c.id).where(t.c.status.in_(PENDING)).limit(1))
            if left is None:
                break
            time.sleep(0.2)
        with db.connect() as connection:
            sent = sorted(moment.timestamp() for moment in connection.scalars(
                select(t.c.sent_at).where(t.c.sent_at.is_not(None))))
        result = outcome(db, folder)
        span = sent[-1] - sent[0] if len(sent) > 1 else 0.0
        return {"workers": workers,
                "measured_per_s": round((len(sent) - 1) / span, 2) if span else 0.0,
                "busiest_second": busiest_second(sent), "lost": result.lost,
                "duplicates": result.duplicates}
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(30)
            # What a worker said, for a run that went wrong (it is silent when all is well).
            said = (process.stderr.read() if process.stderr else b"").decode()[-2000:]
            if said.strip():
                print(f"worker {process.pid}:\n{said}", file=sys.stderr, flush=True)
        db.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--phones", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--settle-seconds", type=float, default=SETTLE_SECONDS,
                        help="at most this long, once the workers have registered, for each "
                        "to beat again and take its share of the limit before queueing")
    parser.add_argument("--database-url", default=None,
                        help="default: a scratch schema on the local PostgreSQL")
    args = parser.parse_args(argv)
    url = args.database_url or postgres_url()
    scratch = nullcontext(url) if args.database_url else scratch_schema(url, "bench_rate")
    runs = []
    with scratch as database_url, tempfile.TemporaryDirectory() as folder:
        Database(database_url).create_schema()
        for workers in sorted({1, args.workers}):
            (Path(folder) / f"w{workers}").mkdir()
            runs.append(run(database_url, Path(folder) / f"w{workers}", workers, args))
            print(json.dumps(runs[-1]), flush=True)
    print(json.dumps({"rate_limit": args.rate, "messages": args.messages, "runs": runs}))
    # A window of one second holds both ends of each worker's own spacing: one SMS more than the
    # limit for every worker sending, and no more.
    failed = any(r["lost"] or r["duplicates"] or r["busiest_second"] > args.rate + r["workers"]
                 for r in runs)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
