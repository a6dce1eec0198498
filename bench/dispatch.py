"""Exactly once across workers: real `sms-ktp worker --once` processes drain a queued outbox on
PostgreSQL through a counting fake gateway (each worker's console gateway file), one worker alone
and two at once, in interleaved rounds (1, 2, 1, 2, ...: machine noise hits both alike). Every
SMS must reach the gateway once, each phone's in order, in every drain. On PostgreSQL every drain
has a scratch schema of its own, so that each sample starts from the same empty tables.

    .venv/bin/python bench/dispatch.py
    .venv/bin/python bench/dispatch.py --rounds 3 --messages 2000 --database-url sqlite:////tmp/d.db

One sample of each varies a lot on a shared machine (anything from 1.3x to 2.4x was seen), so
the rates reported are the medians of `--rounds` drains each (5), with every sample beside them.

The last line is JSON: messages (a drain), workers, rounds, lost, duplicates,
out_of_order_phones (added up over every drain that finished), incomplete_drains (a worker failed
or the time limit cut it short: neither sample nor figures), sms_per_s_1_worker and
sms_per_s_2_workers (the medians), samples_1_worker and samples_2_workers (every round's rate, in
order), speedup (the ratio of the medians), round_speedups (each round's two-worker rate over its
one-worker rate), batch_size, database, seconds. Exit status 1 on any loss, duplicate or
disorder, a worker that failed, or `--max-seconds` (the whole run) running out.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path

from common import postgres_url
from worker_runs import (
    Outcome,
    outcome,
    queue,
    start_worker,
    wait_all,
    worker_config,
)

from sms_ktp.platform.db import Database, scratch_schema

WORKER_COUNTS = (1, 2)


@contextmanager
def fresh_database(database_url: str) -> Iterator[str]:
    """On PostgreSQL a new schema for one drain, dropped after it: every sample starts from the
    same empty tables, not from the dead rows of the drains before it (which slowed two workers
    more than one here). A SQLite file is used as it is, its outbox emptied by `queue`."""
    with (scratch_schema(database_url, "sms_ktp_bench")
          if database_url.startswith("postgresql") else nullcontext(database_url)) as url:
        schema = Database(url)
        try:
            schema.create_schema()
        finally:
            schema.dispose()
        yield url


def drain(database_url: str, folder: Path, workers: int, args: argparse.Namespace,
          deadline: float) -> tuple[Outcome, list[str], float]:
    with fresh_database(database_url) as url:
        return _drain(url, folder, workers, args, deadline)


def _drain(database_url: str, folder: Path, workers: int, args: argparse.Namespace,
           deadline: float) -> tuple[Outcome, list[str], float]:
    db = Database(database_url)
    try:
        queue(db, args.messages, args.phones)
        configs = [worker_config(folder, f"worker-{workers}-{n}", database_url,
                                 batch_size=args.batch_size) for n in range(workers)]
        began = time.monotonic()
        processes = [start_worker(config, "--once") for config in configs]
        problems = wait_all(processes, deadline)
        wall = time.monotonic() - began
        return outcome(db, folder), problems, wall
    finally:
        db.dispose()


def label(workers: int) -> str:
    return f"{workers}_worker{'s' if workers > 1 else ''}"


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000,
                        help="SMS queued for every drain (default 10000)")
    parser.add_argument("--phones", type=int, help="phones they go to (default: messages / 2, "
                        "so that every phone has two, to be sent in order)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="rounds of one drain by one worker then one by two (default 5)")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--database-url", default=postgres_url())
    parser.add_argument("--max-seconds", type=float, default=600.0,
                        help="the whole run's limit: workers still running then are killed and "
                        "no further round starts (default 600)")
    args = parser.parse_args(argv)
    if args.messages < 1 or args.rounds < 1:
        parser.error("--messages and --rounds must be at least 1")
    if not 0 < args.max_seconds <= 24 * 3600:
        parser.error("--max-seconds must be more than 0 and at most 86400")
    args.phones = args.phones or max(1, args.messages // 2)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv)
    began = time.monotonic()
    deadline = began + args.max_seconds
    samples: dict[int, list[float]] = {workers: [] for workers in WORKER_COUNTS}
    by_round: dict[int, dict[int, float]] = {}  # round: workers: SMS/s
    totals = {"lost": 0, "duplicates": 0, "out_of_order_phones": 0}
    incomplete = 0
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="sms-ktp-dispatch-") as temporary:
        # 1, 2, 1, 2, ...: one list, so that a time limit stops it at any drain.
        order = [(n, workers) for n in range(1, args.rounds + 1) for workers in WORKER_COUNTS]
        for round_number, workers in order:
            if time.monotonic() >= deadline:
                problems.append(f"time limit reached (--max-seconds {args.max_seconds:g}) "
                                f"before round {round_number} with {workers} worker(s)")
                break
            folder = Path(temporary) / f"round-{round_number}-{workers}-workers"
            folder.mkdir()
            result, failed, wall = drain(args.database_url, folder, workers, args, deadline)
            print(f"round {round_number}, {workers} worker(s): {result.messages} SMS in "
                  f"{result.sending_seconds:.1f} s of sending ({wall:.1f} s with start-up): "
                  f"{result.per_second:.0f} SMS/s; lost {result.lost}, duplicates "
                  f"{result.duplicates}, phones out of order {result.out_of_order_phones}",
                  flush=True)
            if failed:  # a worker failed or was killed at the deadline: no sample, no figures
                problems += failed
                problems.append(f"round {round_number}, {workers} worker(s): not counted")
                incomplete += 1
                continue
            samples[workers].append(round(result.per_second, 1))
            by_round.setdefault(round_number, {})[workers] = result.per_second
            for name in totals:
                totals[name] += getattr(result, name)
            if result.lost or result.duplicates or result.out_of_order_phones:
                problems.append(f"round {round_number}, {workers} worker(s): {result}")

    medians = {workers: round(statistics.median(rates), 1) if rates else 0.0
               for workers, rates in samples.items()}
    paired = [round(rates[2] / rates[1], 2) for rates in by_round.values()
              if rates.get(1) and 2 in rates]
    speedup = round(medians[2] / medians[1], 2) if medians[1] else 0.0
    for workers in WORKER_COUNTS:
        print(f"{workers} worker(s): median {medians[workers]:.0f} SMS/s of "
              f"{len(samples[workers])} rounds: " + ", ".join(f"{r:.0f}" for r in samples[workers]))
    print(f"two workers / one: {speedup:.2f} (medians); by round: "
          + ", ".join(f"{r:.2f}" for r in paired))
    for problem in problems:
        print(f"WARNING: {problem}")
    figures = {"messages": args.messages, "workers": max(WORKER_COUNTS), "rounds": args.rounds,
               **totals, "incomplete_drains": incomplete,
               **{f"sms_per_s_{label(w)}": medians[w] for w in WORKER_COUNTS},
               **{f"samples_{label(w)}": samples[w] for w in WORKER_COUNTS},
               "speedup": speedup, "round_speedups": paired, "batch_size": args.batch_size,
               "database": args.database_url.split(":")[0].split("+")[0],
               "seconds": round(time.monotonic() - began, 1)}
    print(json.dumps(figures), flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
