"""Inbound surge: tens of thousands of SMS through the production processes on PostgreSQL.

What runs: the service as deployed (see docs/production.md): `sms-ktp init-db`, the web app
under gunicorn with `deploy/gunicorn.conf.py`, and one `sms-ktp worker` process sending the
replies through the console gateway (a file in a temporary folder) while the surge goes on.
The load comes from this process: client processes, each with threads on keep-alive
connections (`http.client`, the cheapest Python client: the clients share the machine's cores
with the server), POSTing Africa's-Talking-shaped inbound SMS to the real webhook.

The messages (default 50,000, each with a provider id of its own) come from many phones, each
phone's SMS in order from one client thread, the phones interleaved: one-shot registrations
(`REG NIK#KK#`, then the reason and `YA`, or `REG NIK*KK*2` then `YA`, ...), guided `DAFTAR`
dialogues (some with a mistyped NIK first), `STATUS`/`CEK` checks (with and without a
reference), `BANTUAN`, `BAHASA EN`, nonsense, and operator robots (alphanumeric or short-code
senders, which get no reply). Valid NIK/KK numbers come from `bench/common.py`.

What is measured: throughput (SMS/s, from the first request to the last answer), client-side
latency p50/p99, errors (a non-2xx answer or a transport error: must be 0), the peak RSS of
every process (gunicorn master, each web worker, the sms-ktp worker; sampled every 0.5 s with
psutil) and each web worker's RSS growth from warm-up (10 % of the messages answered) to the
end. gunicorn's `max_requests` recycling is turned off for the run (`--max-requests 0`), so that
growth would show instead of being reset.

What is checked afterwards: one inbound row per SMS; one reply queued per SMS from a mobile
(none for the robots); one application per phone that confirmed a registration; once the worker
has drained the outbox, every reply sent, and exactly once (its id once in the console file, to
the right phone), and no 16-digit number in any SMS sent.

    python bench/surge.py [--messages N] [--workers W] [--worker-class gthread|sync]
                          [--threads T] [--clients C] [--client-processes P] [--database-url URL]

PostgreSQL only (loopback): the run works in a scratch schema of its own, dropped at the end.
The last line of the output is a JSON object; the exit status is 1 on any error or failed check.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import psutil
from common import (
    DEFAULT_POSTGRES,
    NETWORK_CODE,
    Residents,
    check_database_url,
    command,
    pending,
    percentile,
    write_config,
)
from sqlalchemy import case, create_engine, func, select
from sqlalchemy.engine import Engine, make_url
from tqdm import tqdm

from sms_ktp.models import Application, Family, InboundMessage, OutboxMessage
from sms_ktp.platform.db import scratch_schema

DEFAULT_DATABASE_URL = DEFAULT_POSTGRES
ROOT = Path(__file__).resolve().parent.parent
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"
APP = "sms_ktp.web.wsgi:app"
SHORT_CODE = "98765"
HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}
MAX_MESSAGES = 1_000_000
WARM_FRACTION = 0.10  # web workers' RSS is taken as the baseline when this much is answered
SAMPLE_SECONDS = 0.5
MB = 1024 * 1024
# Phones by kind, in proportion: a surge after an announcement is mostly people registering and
# checking; some answer nonsense, and operators' robots text the short code too.
KINDS = (("reg", 28), ("daftar", 18), ("status", 34), ("nonsense", 12), ("robot", 8))
NONSENSE = ("halo", "min mau tanya", "ok", "?", "YA", "TIDAK", "Selamat pagi 🙏", "p",
            "kapan jadi ktp saya", "1", "TERIMA KASIH")
ROBOTS = (("TELKOMSEL", "Sisa kuota Anda 2GB. Perpanjang paket di *363#"),
          ("888", "Pulsa Anda Rp5.000. Isi ulang sekarang"),
          ("INFO", "Promo: gratis nelpon 60 menit"))
LONG_NUMBER = re.compile(r"\d{16}")
FAILURE_MARKS = ("Traceback", " ERROR ", "[ERROR]", " CRITICAL ", "[CRITICAL]")
# What deploy/gunicorn.conf.py's on_starting logs: the worker setup really used.
STARTED = re.compile(r"(\d+) (\w+) worker\(s\) x (\d+) thread\(s\)")


# --- the messages -------------------------------------------------------------------------------
@dataclass
class Script:
    """One phone's SMS, in order. `confirms`: the position of the `YA` that stores an
    application (None: it registers nothing). `mobile`: it gets replies."""

    phone: str
    texts: list[str]
    confirms: int | None = None
    mobile: bool = True

    @property
    def registers(self) -> bool:
        return self.confirms is not None and self.confirms < len(self.texts)


def _script(kind: str, number: int, residents: Residents, rng: random.Random) -> Script:
    person = residents.take(1)[0]
    nik, kk = person.nik, person.kk
    suket = f"474/{number}/KEC-01/2025"
    if kind == "reg":
        variant = rng.randrange(4)
        if variant == 0:
            texts = [f"REG {nik}#{kk}#", rng.choice("234"), "YA"]
        elif variant == 1:
            texts = [f"REG {nik}*{kk}*2", "YA"]
        elif variant == 2:
            texts = [f"reg{nik}#{kk}#", "3", "ya"]
        else:
            texts = [f"DAFTAR {nik}#{kk}#1#{suket}", "YA"]
        confirms = len(texts) - 1
        if rng.random() < 0.5:
            texts.append("STATUS")
        return Script(person.phone, texts, confirms)
    if kind == "daftar":
        texts = ["DAFTAR"]
        if rng.random() < 0.2:
            texts.append(nik[:12])  # a NIK too short: explained and asked again
        reason = rng.choice("1234")
        texts += [nik, kk, reason] + ([suket] if reason == "1" else []) + ["YA"]
        confirms = len(texts) - 1
        if rng.random() < 0.5:
            texts.append("STATUS")
        return Script(person.phone, texts, confirms)
    if kind == "status":
        choice = rng.randrange(5)
        texts = [["STATUS"], ["CEK"], ["STATUS 123456789"], ["BANTUAN", "STATUS"],
                 ["BAHASA EN", "STATUS"]][choice]
        return Script(person.phone, list(texts))
    if kind == "nonsense":
        return Script(person.phone, rng.sample(NONSENSE, rng.choice((1, 1, 2))))
    sender, text = ROBOTS[number % len(ROBOTS)]
    return Script(sender, [text], mobile=False)


def scripts(messages: int, seed: int) -> list[Script]:
    """Phones until there are `messages` SMS in all (the last script cut short if need be)."""
    rng = random.Random(seed)
    residents = Residents("+628121")
    names = [name for name, _ in KINDS]
    weights = [weight for _, weight in KINDS]
    made: list[Script] = []
    total = 0
    while total < messages:
        script = _script(rng.choices(names, weights)[0], len(made), residents, rng)
        script.texts = script.texts[:messages - total]
        total += len(script.texts)
        made.append(script)
    return made


def bodies(script: Script, run: str, first: int) -> list[bytes]:
    """The webhook form of each SMS of `script`; ids `<run>-<n>` from `first` on."""
    return [urlencode({"id": f"{run}-{first + offset}", "from": script.phone, "to": SHORT_CODE,
                       "text": text, "date": "2026-11-30 09:00:00",
                       "linkId": f"{run}-link-{first + offset}",
                       "networkCode": NETWORK_CODE}).encode()
            for offset, text in enumerate(script.texts)]


# --- the clients (processes of their own, spawned) ----------------------------------------------
def client_process(port: int, path: str, jobs: list[list[bytes]], threads: int,
                   start: Any, answered: Any, deadline: float, out: Pipe) -> None:
    """`threads` threads, each on one keep-alive connection, taking one phone's job at a time
    and POSTing its SMS in order. Sends back the latencies (s), the errors by kind, a few
    examples, and the answers other than `ok`."""
    feed = iter(jobs)
    lock = threading.Lock()
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    examples: list[str] = []
    unexpected: Counter[str] = Counter()

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        timings: list[float] = []
        try:
            while True:
                with lock:
                    job = next(feed, None)
                if job is None or time.time() > deadline:
                    return
                for body in job:
                    posted = time.perf_counter()
                    try:
                        connection.request("POST", path, body, HEADERS)
                        response = connection.getresponse()
                        answer = response.read()
                    except (OSError, http.client.HTTPException) as error:
                        connection.close()
                        with lock:
                            errors[type(error).__name__] += 1
                            if len(examples) < 5:
                                examples.append(f"{type(error).__name__}: {error}")
                        continue
                    timings.append(time.perf_counter() - posted)
                    with answered.get_lock():
                        answered.value += 1
                    if not 200 <= response.status < 300:
                        with lock:
                            errors[f"HTTP {response.status}"] += 1
                            if len(examples) < 5:
                                examples.append(f"HTTP {response.status}: {answer[:80]!r}")
                    elif answer != b"ok\n":
                        with lock:
                            unexpected[answer[:40].decode("utf-8", "replace")] += 1
        finally:
            connection.close()
            with lock:
                latencies.extend(timings)

    workers = [threading.Thread(target=client, daemon=True) for _ in range(threads)]
    start.wait()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    out.send({"cpu_seconds": time.process_time(), "latencies": latencies,
              "errors": dict(errors), "examples": examples, "unexpected": dict(unexpected),
              "unfinished": next(feed, None) is not None})
    out.close()


@dataclass
class Load:
    seconds: float
    latencies: list[float]
    errors: Counter[str]
    examples: list[str]
    unexpected: Counter[str]
    unfinished: bool
    client_cpu_seconds: float = 0.0


def drive(port: int, path: str, jobs: Sequence[list[bytes]], processes: int, threads: int,
          answered: Any, deadline: float, released: Callable[[], None]) -> Load:
    """Every job to one of `processes` client processes (round robin), all released together
    (`released` is called then); the time from their release to the last answer."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(processes + 1)
    pipes: list[Pipe] = []
    children = []
    for index in range(processes):
        receiving, sending = context.Pipe(duplex=False)
        child = context.Process(target=client_process, name=f"surge-client-{index}", daemon=True,
                                args=(port, path, list(jobs[index::processes]), threads, start,
                                      answered, deadline, sending))
        child.start()
        sending.close()
        pipes.append(receiving)
        children.append(child)
    try:
        start.wait(timeout=120)
        began = time.perf_counter()
        released()
        results = [pipe.recv() for pipe in pipes]
        seconds = time.perf_counter() - began
    finally:
        for child in children:
            child.join(timeout=10)
            if child.is_alive():
                child.kill()
    load = Load(seconds, [], Counter(), [], Counter(), False)
    for result in results:
        load.latencies += result["latencies"]
        load.errors.update(result["errors"])
        load.examples += result["examples"]
        load.unexpected.update(result["unexpected"])
        load.unfinished |= result["unfinished"]
        load.client_cpu_seconds += result["cpu_seconds"]
    return load


# --- the service's processes --------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def process(argv: list[str], folder: Path, name: str, environment: dict[str, str]
            ) -> Iterator[subprocess.Popen[bytes]]:
    """A process in a session of its own, its output in `folder/<name>.log`; stopped at the end
    (SIGTERM, then SIGKILL to its whole group), whatever happens."""
    with (folder / f"{name}.log").open("wb") as log:
        child = subprocess.Popen(argv, cwd=folder, env=environment, stdout=log,
                                 stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield child
    finally:
        if child.poll() is None:
            child.terminate()
            with suppress(subprocess.TimeoutExpired):
                child.wait(timeout=30)
        with suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        child.wait(timeout=10)


def wait_until_serving(port: int, gunicorn: subprocess.Popen[bytes], folder: Path) -> None:
    limit = time.monotonic() + 60
    while time.monotonic() < limit:
        if gunicorn.poll() is not None:
            raise SystemExit("surge: gunicorn exited:\n"
                             + (folder / "gunicorn.log").read_text("utf-8", "replace")[-2000:])
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/")
            if connection.getresponse().status == 200:
                connection.close()
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("surge: gunicorn did not answer within 60 s")


# --- memory and CPU -----------------------------------------------------------------------------
@dataclass
class Snapshot:
    answered: int
    rss: dict[str, int]  # bytes, by process name
    cpu: dict[str, float]  # seconds (user + system) since the process started


@dataclass
class Monitor:
    """The service's processes, sampled every `SAMPLE_SECONDS` by a thread of its own: the peak
    RSS of each, and a snapshot of all at warm-up (`warm_at` answered) and at the end. Web
    workers are named web_worker_1, 2, ... in the order they are first seen."""

    master: psutil.Process
    worker: psutil.Process
    answered: Any
    warm_at: int
    total: int
    peaks: dict[str, int] = field(default_factory=dict)
    web: dict[int, str] = field(default_factory=dict)  # pid -> web_worker_<n>
    warm: Snapshot | None = None
    end: Snapshot | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _bar: tqdm | None = None

    def released(self) -> None:
        """The clients start now: progress is timed from here, on a bar of the SMS answered
        (on a terminal only, tqdm's disable=None: a log keeps the figures)."""
        self._bar = tqdm(total=self.total, desc="answered", unit=" SMS", disable=None)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="surge-monitor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._bar is not None:
            if self.end is not None:  # the last figures, once the thread no longer updates it
                self._show(self.end)
            self._bar.close()

    def sample(self) -> Snapshot:
        answered = self.answered.value
        processes = [("gunicorn_master", self.master), ("sms_ktp_worker", self.worker)]
        with suppress(psutil.Error):
            processes += [(self.web.setdefault(child.pid, f"web_worker_{len(self.web) + 1}"),
                           child) for child in self.master.children()]
        snapshot = Snapshot(answered, {}, {})
        for name, process in processes:
            with suppress(psutil.Error):
                snapshot.rss[name] = process.memory_info().rss
                times = process.cpu_times()
                snapshot.cpu[name] = times.user + times.system
        for name, value in snapshot.rss.items():
            self.peaks[name] = max(self.peaks.get(name, 0), value)
        return snapshot

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            snapshot = self.sample()
            if self.warm is None and snapshot.answered >= self.warm_at:
                self.warm = snapshot
            self._show(snapshot)

    def _show(self, snapshot: Snapshot) -> None:
        bar = self._bar
        if bar is None:  # the clients are not released yet
            return
        bar.set_postfix_str("RSS MB: " + ", ".join(
            f"{name} {value / MB:.0f}" for name, value in sorted(snapshot.rss.items())),
            refresh=False)
        bar.update(snapshot.answered - bar.n)

    def finish(self) -> None:
        """The end of the load: the end point of growth and CPU figures."""
        self.end = self.sample()
        if self.warm is None:  # a run too short for a sample in between
            self.warm = self.end

    def growth_mb(self, name: str) -> float:
        assert self.warm is not None and self.end is not None
        return round((self.end.rss.get(name, 0) - self.warm.rss.get(name, 0)) / MB, 1)

    def cpu_ms_per_sms(self, prefix: str) -> float:
        """CPU time of the processes named `prefix...` per SMS answered, from warm-up to the
        end: how much of the machine one SMS costs, which the other processes on a shared
        machine do not change as much as they change throughput."""
        assert self.warm is not None and self.end is not None
        answered = self.end.answered - self.warm.answered
        cpu = sum(value - self.warm.cpu.get(name, 0.0) for name, value in self.end.cpu.items()
                  if name.startswith(prefix) and name in self.warm.cpu)
        return round(1000 * cpu / answered, 2) if answered else 0.0


# --- checking the database and the sent SMS -----------------------------------------------------
def verify_database(engine: Engine, run: str, planned: Sequence[Script]) -> list[str]:
    """One inbound row per SMS, one reply per SMS from a mobile and none for the robots, one
    application per phone that confirmed."""
    problems: list[str] = []
    inbound = InboundMessage.__table__
    outbox = OutboxMessage.__table__
    messages = sum(len(script.texts) for script in planned)
    mobile = sum(len(script.texts) for script in planned if script.mobile)
    with engine.connect() as connection:
        ours = inbound.c.provider_id.like(f"{run}-%")
        rows = connection.scalar(select(func.count()).select_from(inbound).where(ours))
        replied = connection.scalar(
            select(func.count()).select_from(inbound).where(ours, inbound.c.replied))
        per_inbound = (select(inbound.c.replied, func.count(outbox.c.id).label("replies"))
                       .select_from(inbound.outerjoin(outbox, outbox.c.inbound_id == inbound.c.id))
                       .where(ours).group_by(inbound.c.id, inbound.c.replied).subquery())
        wrong = connection.scalar(select(func.count()).select_from(per_inbound).where(
            case((per_inbound.c.replied, per_inbound.c.replies != 1),
                 else_=per_inbound.c.replies != 0)))
        replies = connection.scalar(select(func.count()).select_from(outbox))
        per_phone = dict(connection.execute(
            select(Family.__table__.c.phone, func.count(Application.__table__.c.id))
            .join(Application.__table__,
                  Application.__table__.c.family_id == Family.__table__.c.id)
            .group_by(Family.__table__.c.phone)).all())
    if rows != messages:
        problems.append(f"{rows} inbound rows for {messages} SMS sent")
    if replied != mobile:
        problems.append(f"{replied} inbound rows marked for a reply, {mobile} SMS from mobiles")
    if wrong:
        problems.append(f"{wrong} inbound SMS without exactly the replies they deserve "
                        "(one from a mobile, none from a robot)")
    if replies != mobile:
        problems.append(f"{replies} replies queued for {mobile} SMS from mobiles")
    registering = [script.phone for script in planned if script.registers]
    missing = [phone for phone in registering if per_phone.get(phone) != 1]
    if missing or len(per_phone) != len(registering):
        problems.append(f"{len(per_phone)} families with applications for {len(registering)} "
                        f"confirmed registrations ({len(missing)} without exactly one)")
    return problems


def wait_for_drain(engine: Engine, worker: subprocess.Popen[bytes], limit: float) -> float:
    """Seconds until the worker has sent everything (or `limit`, or the worker died)."""
    began = time.monotonic()
    while time.monotonic() - began < limit and worker.poll() is None:
        with engine.connect() as connection:
            if pending(connection) == 0:
                break
        time.sleep(0.5)
    return time.monotonic() - began


def verify_sent(engine: Engine, outbox_file: Path) -> tuple[int, int, list[str]]:
    """(distinct replies in the console file, lines beyond one per id, problems): every row of
    the outbox sent, each once and to its phone, no full NIK/KK in any text."""
    problems: list[str] = []
    lines = outbox_file.read_text("utf-8").splitlines() if outbox_file.exists() else []
    sent = [json.loads(line) for line in lines]
    ids = Counter(sms["id"] for sms in sent)
    duplicates = len(sent) - len(ids)
    outbox = OutboxMessage.__table__
    with engine.connect() as connection:
        rows = dict(connection.execute(select(outbox.c.uid, outbox.c.phone)).all())
        statuses = dict(connection.execute(
            select(outbox.c.status, func.count()).group_by(outbox.c.status)).all())
    if set(statuses) - {"sent"}:
        problems.append(f"outbox not all sent: {statuses}")
    if set(ids) != set(rows):
        problems.append(f"{len(set(rows) - set(ids))} queued replies never sent, "
                        f"{len(set(ids) - set(rows))} sent ids unknown to the outbox")
    if duplicates:
        problems.append(f"{duplicates} replies sent more than once")
    misdirected = sum(1 for sms in sent if rows.get(sms["id"], sms["to"]) != sms["to"])
    if misdirected:
        problems.append(f"{misdirected} SMS sent to another phone than their row's")
    unmasked = sum(1 for sms in sent if LONG_NUMBER.search(sms["text"]))
    if unmasked:
        problems.append(f"{unmasked} SMS carry a 16-digit number")
    return len(ids), duplicates, problems


# --- the run ------------------------------------------------------------------------------------
def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=50_000,
                        help="inbound SMS to send (default 50000)")
    parser.add_argument("--workers", type=int,
                        help="gunicorn web workers (default: deploy/gunicorn.conf.py's)")
    parser.add_argument("--worker-class", choices=("gthread", "sync"),
                        help="gunicorn worker class (default: deploy/gunicorn.conf.py's)")
    parser.add_argument("--threads", type=int,
                        help="threads per gthread worker (default: deploy/gunicorn.conf.py's)")
    parser.add_argument("--clients", type=int, default=8,
                        help="client threads in all, one keep-alive connection each (default 8)")
    parser.add_argument("--client-processes", type=int, default=1,
                        help="client processes sharing the client threads (default 1: one "
                        "uses about a fifth of a core at 400 SMS/s)")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL,
                        help=f"PostgreSQL on loopback (default {DEFAULT_DATABASE_URL}); the run "
                        "works in a scratch schema of its own, dropped at the end")
    parser.add_argument("--seed", type=int, default=20261130, help="the mix of phones")
    parser.add_argument("--max-growth-mb", type=float, default=20.0,
                        help="a web worker whose RSS grows more than this from warm-up to the "
                        "end fails the run (default 20)")
    parser.add_argument("--drain-seconds", type=float, default=600.0,
                        help="how long the worker may take to send what is left after the load "
                        "(default 600)")
    parser.add_argument("--max-seconds", type=float, default=3600.0,
                        help="give up sending after this long (default 3600)")
    args = parser.parse_args(argv)
    if not 1 <= args.messages <= MAX_MESSAGES:
        parser.error(f"--messages must be between 1 and {MAX_MESSAGES}")
    if args.workers is not None and not 1 <= args.workers <= 16:
        parser.error("--workers must be between 1 and 16")
    if args.threads is not None and not 1 <= args.threads <= 64:
        parser.error("--threads must be between 1 and 64")
    if not 1 <= args.client_processes <= 16:
        parser.error("--client-processes must be between 1 and 16")
    if not args.client_processes <= args.clients <= 256:
        parser.error("--clients must be between --client-processes and 256")
    if make_url(args.database_url).get_backend_name() != "postgresql":
        parser.error("--database-url must be a PostgreSQL URL")
    check_database_url(args.database_url, "surge")
    return args


def gunicorn_argv(args: argparse.Namespace, port: int) -> list[str]:
    argv = [*command("gunicorn"), "-c", str(GUNICORN_CONF), "--bind", f"127.0.0.1:{port}",
            "--max-requests", "0"]
    if args.workers is not None:
        argv += ["--workers", str(args.workers)]
    if args.worker_class is not None:
        argv += ["--worker-class", args.worker_class]
    if args.threads is not None:
        argv += ["--threads", str(args.threads)]
    return [*argv, APP]


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv)
    run = uuid.uuid4().hex[:8]
    planned = scripts(args.messages, args.seed)
    jobs: list[list[bytes]] = []
    count = 0
    for script in planned:
        jobs.append(bodies(script, run, count))
        count += len(script.texts)
    kinds = Counter("robot" if not s.mobile else "registering" if s.registers else "other"
                    for s in planned)
    token = uuid.uuid4().hex
    path = f"/gateway/africastalking/{token}/sms"
    problems: list[str] = []
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sms-ktp-surge-")))
        database_url = stack.enter_context(scratch_schema(args.database_url, "sms_ktp_surge"))
        config = write_config(folder / "sms-ktp.toml", database_url, folder / "outbox.jsonl",
                              token)
        environment = {k: v for k, v in os.environ.items() if not k.startswith("SMS_KTP_")}
        environment["SMS_KTP_CONFIG"] = str(config)
        environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
        subprocess.run([*command("sms-ktp"), "init-db"], cwd=folder, env=environment,
                       check=True, capture_output=True, timeout=120)
        port = free_port()
        gunicorn = stack.enter_context(
            process(gunicorn_argv(args, port), folder, "gunicorn", environment))
        wait_until_serving(port, gunicorn, folder)
        worker = stack.enter_context(
            process([*command("sms-ktp"), "worker"], folder, "worker", environment))
        engine = create_engine(database_url)
        stack.callback(engine.dispose)
        master = psutil.Process(gunicorn.pid)
        web_workers = len(master.children())
        setup = STARTED.search((folder / "gunicorn.log").read_text("utf-8", "replace"))
        worker_class, threads = (setup[2], int(setup[3])) if setup else ("?", 0)
        answered = multiprocessing.get_context("spawn").Value("q", 0)
        monitor = Monitor(master, psutil.Process(worker.pid), answered,
                          max(1, int(args.messages * WARM_FRACTION)), args.messages)
        print(f"surge: {args.messages} inbound SMS from {len(planned)} phones "
              f"({kinds['registering']} registering, {kinds['other']} checking or other, "
              f"{kinds['robot']} robots) on {make_url(args.database_url).get_backend_name()}")
        print(f"  web: gunicorn -c deploy/gunicorn.conf.py: {web_workers} {worker_class} "
              f"worker(s) x {threads} thread(s), max_requests off; "
              "worker: one sms-ktp worker (console gateway)")
        print(f"  clients: {args.clients} threads in {args.client_processes} process(es), "
              "keep-alive where the server allows it", flush=True)
        monitor.start()
        try:
            load = drive(port, path, jobs, args.client_processes,
                         -(-args.clients // args.client_processes), answered,
                         time.time() + args.max_seconds, monitor.released)
        finally:
            monitor.finish()
            monitor.stop()
        assert monitor.warm is not None and monitor.end is not None
        web_names = set(monitor.web.values())
        restarted = sorted(web_names - (set(monitor.warm.rss) & set(monitor.end.rss)))
        print(f"load done in {load.seconds:.1f} s; checking the database", flush=True)
        problems += verify_database(engine, run, planned)
        drain = wait_for_drain(engine, worker, args.drain_seconds)
        print(f"worker drained the outbox {drain:.1f} s after the load", flush=True)
        replies_sent, duplicates, sent_problems = verify_sent(engine, folder / "outbox.jsonl")
        problems += sent_problems
        if worker.poll() is not None:
            problems.append(f"sms-ktp worker exited with status {worker.returncode}")
        if gunicorn.poll() is not None:
            problems.append(f"gunicorn exited with status {gunicorn.returncode}")
        log_tail = (folder / "gunicorn.log").read_text("utf-8", "replace")
        worker_log = (folder / "worker.log").read_text("utf-8", "replace")

    errors = sum(load.errors.values())
    answered_count = len(load.latencies)
    if errors:
        problems.append(f"{errors} errors: {dict(load.errors)}; e.g. {load.examples[:3]}")
    if load.unexpected:
        problems.append(f"answers other than 'ok': {dict(load.unexpected)}")
    if load.unfinished:
        problems.append("time limit reached (--max-seconds) before every SMS was sent")
    if restarted:
        problems.append(f"web workers replaced during the run: {restarted} (see gunicorn.log)")
    growth = {name: monitor.growth_mb(name)
              for name in sorted(monitor.warm.rss) if name.startswith("web_worker")}
    worker_growth = monitor.growth_mb("sms_ktp_worker")
    grown = {name: mb for name, mb in growth.items() if mb > args.max_growth_mb}
    if grown:
        problems.append(f"web worker RSS grew more than {args.max_growth_mb} MB: {grown}")
    for name, text in (("gunicorn", log_tail), ("worker", worker_log)):
        lines = text.splitlines()
        failures = [line for line in lines if any(mark in line for mark in FAILURE_MARKS)]
        if failures:
            problems.append(f"{len(failures)} error lines in the {name} log, e.g. "
                            f"{failures[0][:160]}")
        warnings = [line for line in lines if " WARNING " in line or "[WARNING]" in line]
        if warnings:
            print(f"note: {len(warnings)} warnings in the {name} log, e.g. {warnings[0][:160]}")

    seconds = load.seconds
    figures = {
        "messages": args.messages,
        "seconds": round(seconds, 2),
        "sms_per_s": round(answered_count / seconds, 1) if seconds else 0.0,
        "p50_ms": round(1000 * percentile(load.latencies, 0.50), 2),
        "p99_ms": round(1000 * percentile(load.latencies, 0.99), 2),
        "errors": errors,
        "web_workers": web_workers,
        "peak_rss_mb": {name: round(peak / MB, 1) for name, peak in sorted(monitor.peaks.items())},
        "rss_growth_mb": growth,
        "worker_rss_growth_mb": worker_growth,
        "web_cpu_ms_per_sms": monitor.cpu_ms_per_sms("web_worker"),
        "worker_cpu_ms_per_sms": monitor.cpu_ms_per_sms("sms_ktp_worker"),
        "replies_sent": replies_sent,
        "duplicates": duplicates,
        "drain_seconds": round(drain, 1),
        "worker_class": worker_class,
        "threads": threads,
        "clients": args.clients,
        "client_processes": args.client_processes,
        "client_cpu_cores": round(load.client_cpu_seconds / seconds, 2) if seconds else 0.0,
        "database": "postgresql",
    }
    print(f"{answered_count} answered: {figures['sms_per_s']} SMS/s, p50 {figures['p50_ms']} ms, "
          f"p99 {figures['p99_ms']} ms, {errors} errors; web RSS growth (MB) {growth}; "
          f"{replies_sent} replies sent, {duplicates} duplicates")
    for problem in problems:
        print(f"WARNING: {problem}")
    if not problems:
        print(f"verified: {args.messages} inbound rows; one reply per SMS from a mobile, none to "
              f"the robots; {kinds['registering']} applications; every reply sent once")
    print(json.dumps(figures), flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
