"""What `dispatch.py` and `crash.py` share: a scratch database with a queued outbox, real
`sms-ktp worker` processes (each with its own configuration and console gateway file: the
counting fake gateway), and the check of what left: every queued SMS sent, once, in order for
each phone."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import command, write_config
from sqlalchemy import delete, func, select

from sms_ktp.messaging import outbox
from sms_ktp.models import OutboxMessage
from sms_ktp.platform.db import Database

TEXT = ("KTP-el Anda sudah dicetak. Ambil Senin 7 Desember 2026 jam 08.30 WIB di Kantor "
        "Kecamatan Bogor Selatan. Bawa KK asli. Kode ambil: {code}")


def worker_config(folder: Path, name: str, database_url: str, rate_per_second: float = 0.0,
                  **worker: float | int) -> Path:
    """One worker process's configuration: its own console gateway file (at most
    `rate_per_second` SMS a second; 0: no limit), no quiet hours."""
    return write_config(folder / f"{name}.toml", database_url, folder / f"{name}.jsonl",
                        "bench-token-0123456789abcdef", quiet_hours="",
                        rate_per_second=rate_per_second, **worker)


def start_worker(config: Path, *args: str) -> subprocess.Popen[bytes]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SMS_KTP_")}
    environment["SMS_KTP_CONFIG"] = str(config)
    return subprocess.Popen([*command("sms-ktp"), "worker", *args], env=environment,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def queue(db: Database, messages: int, phones: int) -> None:
    """`messages` SMS to `phones` phones, every phone's in a row of its own ids (so that the order
    within a phone can be checked), the outbox emptied first."""
    now = datetime.now(UTC) - timedelta(seconds=1)
    with db.connect() as connection:
        connection.execute(delete(OutboxMessage.__table__))
        batch = [(f"+62812{number % phones:08d}", TEXT.format(code=f"{number:06d}"))
                 for number in range(messages)]
        for start in range(0, messages, 5000):
            outbox.enqueue_many(connection, batch[start:start + 5000], now, kind="bench")


def sent_ids(folder: Path) -> Counter[str]:
    """How many times each SMS id reached the console gateway, in every worker's file."""
    counts: Counter[str] = Counter()
    for path in folder.glob("*.jsonl"):
        for line in path.read_text("utf-8").splitlines():
            counts[json.loads(line)["id"]] += 1
    return counts


@dataclass
class Outcome:
    messages: int
    lost: int
    duplicates: int
    out_of_order_phones: int
    pending: int
    sending_seconds: float  # first SMS recorded sent to the last

    @property
    def per_second(self) -> float:
        return self.messages / self.sending_seconds if self.sending_seconds else 0.0


def outcome(db: Database, folder: Path) -> Outcome:
    t = OutboxMessage.__table__
    with db.connect() as connection:
        rows = connection.execute(select(t.c.uid, t.c.phone, t.c.status, t.c.sent_at)
                                  .order_by(t.c.id)).all()
        first, last = connection.execute(select(func.min(t.c.sent_at),
                                                func.max(t.c.sent_at))).one()
    counts = sent_ids(folder)
    queued = {row.uid for row in rows}
    lost = sum(1 for row in rows if row.status != outbox.SENT or counts[row.uid] == 0)
    by_phone: dict[str, list[datetime]] = defaultdict(list)
    for row in rows:
        if row.sent_at is not None:
            by_phone[row.phone].append(row.sent_at)
    out_of_order = sum(1 for times in by_phone.values() if times != sorted(times))
    return Outcome(
        messages=len(rows), lost=lost,
        duplicates=sum(count - 1 for uid, count in counts.items() if uid in queued),
        out_of_order_phones=out_of_order,
        pending=sum(1 for row in rows if row.status in outbox.PENDING),
        sending_seconds=(last - first).total_seconds() if first and last else 0.0)


def wait_all(processes: Sequence[subprocess.Popen[bytes]], deadline: float) -> list[str]:
    """Problems of processes that failed or outlived the deadline (which are then killed)."""
    problems = []
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            problems.append(f"worker {process.pid} still running at the deadline: killed")
            continue
        if process.returncode != 0:
            error = (process.stderr.read() if process.stderr else b"").decode()[-500:]
            problems.append(f"worker {process.pid} exited with {process.returncode}: {error}")
    return problems
