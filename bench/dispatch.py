"""Exactly once across workers: real `sms-ktp worker --once` processes drain a queued outbox on
PostgreSQL through a counting fake gateway (each worker's console gateway file), first one worker
alone, then two at once. Every SMS must reach the gateway once, each phone's in order.

    .venv/bin/python bench/dispatch.py
    .venv/bin/python bench/dispatch.py --messages 2000 --database-url sqlite:///tmp/d.db

The last line is JSON: messages, workers, lost, duplicates, out_of_order_phones,
sms_per_s_1_worker, sms_per_s_2_workers, batch_size, database. Exit status 1 on any loss,
duplicate or disorder.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import nullcontext
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

from sms_ktp.db import Database, scratch_schema


def drain(database_url: str, folder: Path, workers: int, args: argparse.Namespace
          ) -> tuple[Outcome, list[str], float]:
    db = Database(database_url)
    try:
        queue(db, args.messages, args.phones)
        configs = [worker_config(folder, f"worker-{workers}-{n}", database_url,
                                batch_size=args.batch_size) for n in range(workers)]
        began = time.monotonic()
        processes = [start_worker(config, "--once") for config in configs]
        problems = wait_all(processes, began + args.max_seconds)
        wall = time.monotonic() - began
        return outcome(db, folder), problems, wall
    finally:
        db.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--phones", type=int, help="phones they go to (default: messages / 2, "
                        "so that every phone has two, to be sent in order)")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--database-url", default=postgres_url())
    parser.add_argument("--max-seconds", type=float, default=600.0)
    args = parser.parse_args(argv)
    args.phones = args.phones or max(1, args.messages // 2)

    figures: dict[str, object] = {"messages": args.messages, "workers": 2}
    problems: list[str] = []
    with (tempfile.TemporaryDirectory(prefix="sms-ktp-dispatch-") as temporary,
          scratch_schema(args.database_url, "sms_ktp_bench")
          if args.database_url.startswith("postgresql") else nullcontext(args.database_url)
          as url):
        Database(url).create_schema()
        for workers in (1, 2):
            folder = Path(temporary) / f"{workers}-workers"
            folder.mkdir()
            result, failed, wall = drain(url, folder, workers, args)
            problems += failed
            print(f"{workers} worker(s): {result.messages} SMS in {result.sending_seconds:.1f} s "
                  f"of sending ({wall:.1f} s with start-up): {result.per_second:.0f} SMS/s; "
                  f"lost {result.lost}, duplicates {result.duplicates}, "
                  f"phones out of order {result.out_of_order_phones}")
            figures[f"sms_per_s_{workers}_worker{'s' if workers > 1 else ''}"] = round(
                result.per_second, 1)
            if workers == 2:
                figures.update(lost=result.lost, duplicates=result.duplicates,
                               out_of_order_phones=result.out_of_order_phones)
            if result.lost or result.duplicates or result.out_of_order_phones:
                problems.append(f"{workers} worker(s): {result}")
    for problem in problems:
        print(f"WARNING: {problem}")
    print(json.dumps({**figures, "batch_size": args.batch_size,
                      "database": args.database_url.split(":")[0].split("+")[0]}), flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
