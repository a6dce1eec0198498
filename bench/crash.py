"""Crash: a real `sms-ktp worker` is killed with SIGKILL in the middle of sending, again and again;
then one is started and left to finish. Nothing may be lost; an SMS that the gateway had taken
when its worker died, before the worker could record it, is sent again after its lease runs out
(at-least-once), and the run counts those duplicates.

    .venv/bin/python bench/crash.py
    .venv/bin/python bench/crash.py --messages 2000 --kills 5 --database-url sqlite:///tmp/c.db

The last line is JSON: messages, kills, lost, duplicates, out_of_order_phones, lease_seconds,
seconds, database. Exit status 1 on any loss or disorder, or more duplicates than kills.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path

from common import pending, postgres_url
from worker_runs import outcome, queue, sent_ids, start_worker, worker_config

from sms_ktp.platform import heartbeat
from sms_ktp.platform.db import Database, scratch_schema


def kill_while_sending(db: Database, config: Path, folder: Path, rng: random.Random,
                       deadline: float) -> bool:
    """Start a worker, let it send for a random moment, SIGKILL it. False when it had nothing
    left to send."""
    before = sum(sent_ids(folder).values())
    process = start_worker(config)
    while (sum(sent_ids(folder).values()) == before and sms_pending(db)
           and time.monotonic() < deadline):
        if process.poll() is not None:
            error = process.stderr.read().decode() if process.stderr else ""
            if process.returncode:
                print(f"WARNING: worker exited with {process.returncode}: {error[-800:]}")
            return False
        time.sleep(0.02)
    time.sleep(rng.uniform(0.05, 0.6))
    process.send_signal(signal.SIGKILL)
    process.wait()
    return sum(sent_ids(folder).values()) > before


def sms_pending(db: Database) -> int:
    with db.connect() as connection:
        return pending(connection)


def beating(db: Database, pid: int) -> bool:
    """The worker process `pid` is up: it has written its heartbeat (and handles SIGTERM)."""
    with db.connect() as connection:
        return any(beat.pid == pid for beat in heartbeat.workers(connection))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=5_000)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--lease-seconds", type=float, default=2.0,
                        help="short, so that the run does not wait long for expired leases")
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--database-url", default=postgres_url())
    parser.add_argument("--max-seconds", type=float, default=600.0)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    began = time.monotonic()
    deadline = began + args.max_seconds
    problems: list[str] = []
    with (tempfile.TemporaryDirectory(prefix="sms-ktp-crash-") as temporary,
          scratch_schema(args.database_url, "sms_ktp_bench")
          if args.database_url.startswith("postgresql") else nullcontext(args.database_url)
          as url):
        folder = Path(temporary)
        db = Database(url)
        db.create_schema()
        queue(db, args.messages, max(1, args.messages // 2))
        config = worker_config(folder, "worker", url, lease_seconds=args.lease_seconds,
                              dispatch_interval_seconds=0.2)
        kills = 0
        while kills < args.kills and kill_while_sending(db, config, folder, rng, deadline):
            kills += 1
        last = start_worker(config)  # the restart: left to finish, leases expire meanwhile
        while ((outcome(db, folder).pending or not beating(db, last.pid))
               and time.monotonic() < deadline):
            time.sleep(0.2)
        last.send_signal(signal.SIGTERM)
        if last.wait(30) != 0:
            error = last.stderr.read().decode() if last.stderr else ""
            problems.append(f"the last worker exited with {last.returncode}: {error[-800:]}")
        result = outcome(db, folder)
        db.dispose()
    seconds = time.monotonic() - began
    print(f"{kills} kills; {result.messages} SMS: lost {result.lost}, duplicates "
          f"{result.duplicates}, phones out of order {result.out_of_order_phones}, "
          f"{seconds:.1f} s")
    if kills < args.kills:
        problems.append(f"only {kills} kills: the outbox emptied first (more --messages)")
    if result.lost or result.out_of_order_phones or result.pending:
        problems.append(f"lost {result.lost}, out of order {result.out_of_order_phones}, "
                        f"pending {result.pending}")
    if result.duplicates > kills:
        problems.append(f"{result.duplicates} duplicates for {kills} kills")
    for problem in problems:
        print(f"WARNING: {problem}")
    print(json.dumps({"messages": result.messages, "kills": kills, "lost": result.lost,
                      "duplicates": result.duplicates,
                      "out_of_order_phones": result.out_of_order_phones,
                      "lease_seconds": args.lease_seconds, "seconds": round(seconds, 1),
                      "database": url.split(":")[0].split("+")[0]}), flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
