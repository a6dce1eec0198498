"""Worker jobs run in processes of their own (spawned, so nothing is shared with the test but
the database), started together at a barrier: two workers at the same moment."""

from __future__ import annotations

import multiprocessing
from datetime import datetime
from pathlib import Path
from typing import Any

from live_service import DATA_KEY, LOOKUP_KEY

from gateway.console import ConsoleGateway
from sms_ktp.platform.clock import FixedClock
from sms_ktp.platform.config import Settings
from sms_ktp.platform.db import Database
from sms_ktp.runtime import Runtime
from sms_ktp.worker import Worker


def _run(url: str, job: str, now: str, folder: str, barrier: Any, results: Any) -> None:
    settings = Settings(data_dir=folder)
    # The test's keys: the rows these workers read were encrypted by the test process.
    settings.privacy.data_key, settings.privacy.lookup_key = DATA_KEY, LOOKUP_KEY
    runtime = Runtime(settings, Database(url),
                      FixedClock(datetime.fromisoformat(now)),
                      ConsoleGateway(Path(folder) / "outbox.jsonl"))
    worker = Worker(runtime)
    barrier.wait(30)
    results.put(getattr(worker, job)())
    runtime.db.dispose()


def run_in_workers(url: str, job: str, now: datetime, folder: Path, workers: int = 2) -> list[int]:
    """What `Worker.<job>()` returned in each of `workers` processes started at once."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(workers)
    results = context.Queue()
    processes = [context.Process(target=_run, args=(url, job, now.isoformat(), str(folder),
                                                    barrier, results)) for _ in range(workers)]
    for process in processes:
        process.start()
    try:
        done = [results.get(timeout=120) for _ in processes]
    finally:
        for process in processes:
            process.join(30)
            if process.is_alive():
                process.kill()
    assert all(process.exitcode == 0 for process in processes)
    return done
