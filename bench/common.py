"""What the benchmarks share: the residents, the settings, the server, the clients and the rounds.

A benchmark (`sms_turns.py`, `ussd.py`) measures a real webhook against a floor: a bare route of
its own, added to the app exactly as `serve` builds it, served by the same server from the same
database in the same run. The server runs in a process of its own (spawned), or in a thread of
the benchmark's process with `--in-process-server`; the clients are threads of the benchmark's
process, one keep-alive `requests.Session` each, and send *jobs*: the POSTs that one client sends
in order (one phone's SMS dialogue, or its USSD sessions). Floor and measured rounds are
interleaved so that machine noise hits both alike. On PostgreSQL (loopback only) a run works in a
scratch schema of its own, dropped with its tables at the end.
"""

from __future__ import annotations

import argparse
import hmac
import json
import logging
import math
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from multiprocessing.connection import Connection
from pathlib import Path

import requests
from flask import Flask, abort
from sqlalchemy import Connection as SqlConnection
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from werkzeug.serving import make_server

from sms_ktp.domain.identity import parse_kk, parse_nik
from sms_ktp.domain.phones import normalise_msisdn
from sms_ktp.messaging.outbox import PENDING
from sms_ktp.models import OutboxMessage
from sms_ktp.platform.config import Settings
from sms_ktp.platform.db import scratch_schema
from sms_ktp.runtime import Runtime
from sms_ktp.web import create_app
from sms_ktp.web.csrf import csrf

NETWORK_CODE = "51010"  # Telkomsel
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
TEXT = {"Content-Type": "text/plain; charset=utf-8"}
HTTP_TIMEOUT = (5.0, 60.0)
LOOPBACK_HOSTS = {None, "", "127.0.0.1", "localhost", "::1"}
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

Body = bytes
Job = list[Body]  # the POSTs one client sends in order
Dial = Callable[[int, str], tuple[list[Job], list[str]]]  # (phones, tag): their jobs, the phones
# Looks at one answer (its position in the job, the response): an error message, or None.
Check = Callable[[int, requests.Response], str | None]
AddRoutes = Callable[[Flask, Runtime], None]  # module level: it crosses to the server process
Configure = Callable[[Settings], None]  # a benchmark's own settings, before the server starts
Headers = Callable[[Body], dict[str, str]]  # the headers a POST of this body is sent with
View = Callable[[], tuple[str, int, dict[str, str]]]


# --- the people ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Resident:
    phone: str  # as Africa's Talking posts it: E.164
    nik: str
    kk: str


def day_month_serial(number: int) -> tuple[str, str]:
    """DDMM and a serial (never 0000), distinct for every 0 <= number < 9_999 * 28 * 12: the
    date and serial parts of a NIK or KK."""
    serial = 1 + number % 9_999
    day = 1 + (number // 9_999) % 28
    month = 1 + (number // (9_999 * 28)) % 12
    return f"{day:02d}{month:02d}", f"{serial:04d}"


def kk_number(kecamatan: str, number: int) -> str:
    """A valid KK of Kota Bogor's `kecamatan` (01..06), distinct for every `number` below
    9_999 * 28 * 12: issued on a real day of 2015 (DDMM15), serial never 0000."""
    day_month, serial = day_month_serial(number)
    return f"3271{kecamatan}{day_month}15{serial}"


def resident(number: int, prefix: str, today: date) -> Resident:
    """A distinct, valid phone, NIK and KK for every `number` (0 <= number < 9_999 * 28 * 12);
    the KK is never the NIK (born in 1990, the KK issued in 2015)."""
    day_month, serial = day_month_serial(number)
    nik = f"327101{day_month}90{serial}"
    kk = kk_number("01", number)
    phone = f"{prefix}{number:07d}"
    if parse_nik(nik, today).value != nik or parse_kk(kk).value != kk or nik == kk:
        raise AssertionError(f"generated identity numbers refused for #{number}")
    if normalise_msisdn(phone) != phone:
        raise AssertionError(f"generated phone is not a valid mobile: {phone}")
    return Resident(phone, nik, kk)


@dataclass
class Residents:
    """Numbers residents by a counter, so every phone, NIK and KK of the run is distinct."""

    prefix: str
    today: date = field(default_factory=date.today)
    count: int = 0

    def take(self, how_many: int) -> list[Resident]:
        first = self.count
        self.count += how_many
        return [resident(number, self.prefix, self.today) for number in range(first, self.count)]


@dataclass
class Plan:
    """Every request of a run, made before it starts: the warm-up of each endpoint, then the
    rounds, each the floor's jobs and the measured jobs, alike in number and shape."""

    warm_floor: list[Job]
    warm_measured: list[Job]
    rounds: list[tuple[list[Job], list[Job]]]
    phones: list[str]  # of the measured endpoint's jobs, warm-up first

    @property
    def phones_per_round(self) -> int:
        """A job a phone: the measured jobs of one round."""
        return max((len(jobs) for _, jobs in self.rounds), default=0)

    @property
    def measured_requests(self) -> int:
        """Of the measured endpoint, in all its rounds (the floor gets as many)."""
        return sum(len(job) for _, jobs in self.rounds for job in jobs)

    @property
    def warm_requests(self) -> int:
        """Of the measured endpoint's warm-up (the floor's gets as many)."""
        return sum(len(job) for job in self.warm_measured)


def dialogue_plan(args: argparse.Namespace, requests: int, per_phone: int, floor: Dial,
                  measured: Dial, tag: str) -> Plan:
    """`requests` measured (and as many to the floor), rounded up to whole dialogues of
    `per_phone` requests in each of the `--rounds`, after a warm-up of at least `--warmup`."""
    phones_per_round = math.ceil(requests / (per_phone * args.rounds))
    warm_phones = math.ceil(args.warmup / per_phone)
    return plan(floor, measured, tag, warm_phones, phones_per_round, args.rounds)


def plan(floor: Dial, measured: Dial, tag: str, warm_phones: int, phones_per_round: int,
         rounds: int) -> Plan:
    """`measured` tags the measured rounds' jobs with `tag`, its warm-up with "warm"; `floor`
    tags its own with "floor" and "warmfloor"."""
    warm_measured, phones = measured(warm_phones, "warm")
    warm_floor, _ = floor(warm_phones, "warmfloor")
    pairs: list[tuple[list[Job], list[Job]]] = []
    for _ in range(rounds):
        jobs, numbers = measured(phones_per_round, tag)
        pairs.append((floor(phones_per_round, "floor")[0], jobs))
        phones += numbers
    return Plan(warm_floor, warm_measured, pairs, phones)


# --- the command line ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Size:
    """The option that sizes a benchmark's measure (`--turns`, `--sessions`)."""

    name: str
    default: int
    most: int
    help: str
    backends: tuple[str, ...] = ("sqlite",)  # run on each of these unless --database-url says


def arguments(argv: Sequence[str] | None, about: str, program: str,
              size: Size) -> argparse.Namespace:
    """The benchmark's size, then the options every benchmark has; `about` is its docstring."""
    parser = argparse.ArgumentParser(description=about.split("\n\n")[0])
    parser.add_argument(f"--{size.name}", type=int, default=size.default, help=size.help)
    parser.add_argument("--clients", type=int, default=4, help="client threads (default 4)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="interleaved floor/measured rounds; the best of each is kept "
                        "(default 2)")
    parser.add_argument("--warmup", type=int, default=200,
                        help="unmeasured requests to each endpoint first (default 200)")
    parser.add_argument("--database-url", action="append", dest="database_urls",
                        metavar="URL",
                        help="sqlite (a fresh file in a temporary folder) or a (loopback) "
                        "PostgreSQL URL (a private schema, dropped at the end); give it twice "
                        "for a run on each, one after the other (default: "
                        + " and ".join(size.backends) + ")")
    parser.add_argument("--in-process-server", action="store_true",
                        help="serve from a thread of the benchmark's own process instead of a "
                        "process of its own (clients and server then share one GIL)")
    parser.add_argument("--max-seconds", type=float, default=600.0,
                        help="give up after this long (default 600)")
    args = parser.parse_args(argv)
    if not 1 <= getattr(args, size.name) <= size.most:
        parser.error(f"--{size.name} must be between 1 and {size.most}")
    if not 1 <= args.clients <= 32:
        parser.error("--clients must be between 1 and 32")
    if not 1 <= args.rounds <= 20:
        parser.error("--rounds must be between 1 and 20")
    if not 0 <= args.warmup <= 10_000:
        parser.error("--warmup must be between 0 and 10000")
    if not 0 < args.max_seconds <= 24 * 3600:
        parser.error("--max-seconds must be more than 0 and at most 86400")
    args.database_urls = args.database_urls or [
        postgres_url() if backend == "postgresql" else "sqlite" for backend in size.backends]
    for url in args.database_urls:
        check_database_url(url, program)
    return args


def postgres_url() -> str:
    """The PostgreSQL of this machine, as the tests find it."""
    return os.environ.get("SMS_KTP_TEST_DATABASE_URL", DEFAULT_POSTGRES)


def check_database_url(url: str, program: str) -> None:
    if url == "sqlite":
        return
    parsed = make_url(url)
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise SystemExit(f"{program}: unsupported database {parsed.get_backend_name()!r}")
    if parsed.get_backend_name() == "postgresql" and parsed.host not in LOOPBACK_HOSTS:
        raise SystemExit(f"{program}: refusing a non-loopback PostgreSQL (loopback traffic only)")


# --- the database -------------------------------------------------------------------------------
def settings_for(folder: Path, database_url: str | None, source: str) -> Settings:
    settings = Settings()
    settings.data_dir = str(folder)
    settings.database.url = database_url or f"sqlite:///{folder / 'bench.db'}"
    settings.gateway.provider = "console"
    settings.gateway.console.outbox_file = str(folder / "outbox.jsonl")
    settings.worker.embedded = False  # never started here anyway
    settings.source = source
    return settings


@contextmanager
def private_schema(url: str | None) -> Iterator[str | None]:
    """On PostgreSQL, the URL of a new schema of our own, dropped (with every table) afterwards:
    the run starts empty and neither touches nor leaves tables that others use (the tests make
    their own schemas the same way). Other URLs are given back as they are."""
    if url is None or make_url(url).get_backend_name() != "postgresql":
        yield url
        return
    with scratch_schema(url, "sms_ktp_bench") as scoped:
        yield scoped


# --- the server ---------------------------------------------------------------------------------
def add_bench_route(app: Flask, runtime: Runtime, name: str, view: View) -> None:
    """`POST /bench/<token>/<name>`, behind the same token check as the real webhooks."""
    expected = runtime.settings.gateway.webhook_token.encode()

    def guarded(token: str) -> tuple[str, int, dict[str, str]]:
        if not hmac.compare_digest(token.encode(), expected):
            abort(404)
        return view()

    # Posted to by clients with no session, as the webhooks are: no CSRF token, as for them.
    csrf.exempt(guarded)
    app.add_url_rule(f"/bench/<token>/{name}", endpoint=f"bench_{name}", view_func=guarded,
                     methods=["POST"])


def _app(settings: Settings, add_routes: AddRoutes) -> tuple[Runtime, Flask]:
    """The app exactly as `serve` builds it (the worker not running), plus the floor route."""
    runtime = Runtime.from_settings(settings)
    app = create_app(runtime)
    add_routes(app, runtime)
    return runtime, app


def _serve(settings: Settings, add_routes: AddRoutes, ports: Connection) -> None:
    """The server process."""
    logging.basicConfig(level=logging.WARNING)
    _, app = _app(settings, add_routes)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    ports.send(server.port)
    server.serve_forever()


@contextmanager
def serving(settings: Settings, in_process: bool, add_routes: AddRoutes) -> Iterator[int]:
    """The server in a process of its own (as in production, where the load comes from
    elsewhere), or as a thread of this one (`--in-process-server`: clients and server then share
    one interpreter lock, which flatters the ratio)."""
    if in_process:
        runtime, app = _app(settings, add_routes)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, name="bench-server", daemon=True)
        thread.start()
        try:
            yield server.port
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)
            runtime.db.dispose()
        return
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_serve, args=(settings, add_routes, child),
                              name="bench-server", daemon=True)
    process.start()
    try:
        if not parent.poll(60):
            raise RuntimeError("the server process did not start")
        yield parent.recv()
    finally:
        process.terminate()
        process.join(timeout=10)


@dataclass
class Bench:
    runtime: Runtime  # this process's own, on the same database, for setting up and checking
    base: str  # http://127.0.0.1:<port>
    sessions: list[requests.Session]  # one a client thread
    in_process: bool  # the server is a thread of this process
    began: float  # time.monotonic() at the start
    deadline: float  # time.monotonic() when the run gives up (--max-seconds)
    figures: dict[str, object] = field(default_factory=dict)  # what `conclude` printed

    @property
    def database(self) -> str:
        return self.runtime.db.dialect

    @property
    def server(self) -> str:
        return "in-process" if self.in_process else "own process"

    def url(self, path: str) -> str:
        """`path` with `{token}` filled in, on the server."""
        return self.base + path.format(token=self.runtime.settings.gateway.webhook_token)

    def introduce(self, title: str) -> None:
        print(f"sms-ktp {title} benchmark: {self.database} "
              f"({self.runtime.db.engine.url.render_as_string(hide_password=True)})")
        where = "a thread of this process" if self.in_process else "its own process"
        print(f"  server:  werkzeug threaded on {self.base}, in {where}; worker not running")

    def seconds(self) -> float:
        """Since the start of the run."""
        return time.monotonic() - self.began


def run_benchmark(argv: Sequence[str] | None, about: str, program: str, size: Size,
                  add_routes: AddRoutes, measure: Callable[[argparse.Namespace, Bench], int],
                  configure: Configure | None = None) -> int:
    """`bench/<program>.py`: its command line read, `measure` run against the server (with
    `add_routes`, its settings changed by `configure`) and the database; `measure` returns the
    exit status."""
    args = arguments(argv, about, program, size)
    statuses, figures = [], []
    for url in args.database_urls:
        args.database_url = None if url == "sqlite" else url
        began = time.monotonic()
        try:
            with bench_run(args, f"bench/{program}.py", add_routes, began,
                           configure) as bench:
                statuses.append(measure(args, bench))
                figures.append(bench.figures)
        except OperationalError as error:
            if url != postgres_url():  # a database asked for by name must be there
                raise
            print(f"WARNING: no run on {make_url(url).render_as_string()}: "
                  f"{str(error).splitlines()[0]}")
        print(flush=True)
    if len(figures) > 1:  # the last line: one object a database
        print(json.dumps(figures), flush=True)
    return max(statuses, default=1)


@contextmanager
def bench_run(args: argparse.Namespace, source: str, add_routes: AddRoutes,
              began: float, configure: Configure | None = None) -> Iterator[Bench]:
    """Logging at WARNING (`serve` logs every request at INFO), a temporary folder, the database
    (a fresh SQLite file, or a PostgreSQL scratch schema) with its tables, the server (its
    settings changed by `configure` first: both processes read the same), and the clients'
    sessions; all of it gone afterwards."""
    logging.basicConfig(level=logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with (tempfile.TemporaryDirectory(prefix="sms-ktp-bench-") as folder,
          private_schema(args.database_url) as database_url):
        settings = settings_for(Path(folder), database_url, source)
        if configure is not None:
            configure(settings)
        runtime = Runtime.from_settings(settings)
        runtime.db.create_schema()
        sessions = [requests.Session() for _ in range(args.clients)]
        with serving(settings, in_process=args.in_process_server, add_routes=add_routes) as port:
            try:
                yield Bench(runtime, f"http://127.0.0.1:{port}", sessions, args.in_process_server,
                            began, began + args.max_seconds)
            finally:
                for session in sessions:
                    session.close()
                runtime.db.dispose()


# --- the clients --------------------------------------------------------------------------------
def form_headers(body: Body) -> dict[str, str]:
    """A webhook form, as Africa's Talking posts it."""
    return FORM


@dataclass(frozen=True)
class Endpoint:
    kind: str  # in the round names: "floor", "turns", ...
    url: str
    check: Check
    headers: Headers = form_headers  # e.g. a JSON body and its signature (whatsapp.py)


@dataclass
class Round:
    name: str
    requests: int
    seconds: float
    errors: list[str]
    latencies: list[float] = field(default_factory=list)  # seconds, one a request answered

    @property
    def per_s(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        return (f"  {self.name:<15} {self.requests:>6} requests in {self.seconds:7.2f} s"
                f" = {self.per_s:8.1f}/s")


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest rank: the smallest value that at least `fraction` of the values do not exceed."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def run_jobs(name: str, endpoint: Endpoint, jobs: Sequence[Job],
             sessions: Sequence[requests.Session], deadline: float) -> Round:
    """Every job to one of the client threads (each with its own session), its POSTs in order;
    wall-clock time from the moment all threads are ready to the moment the last one is done, and
    the time of every POST until its answer (perf_counter around the call). The first error stops
    every client."""
    feed: Iterator[Job] = iter(jobs)
    lock = threading.Lock()
    errors: list[str] = []
    sent = [0] * len(sessions)
    latencies: list[list[float]] = [[] for _ in sessions]
    ready = threading.Barrier(len(sessions) + 1)

    def client(index: int) -> None:
        session = sessions[index]
        timings = latencies[index]
        ready.wait()
        while not errors:
            with lock:
                job = next(feed, None)
            if job is None:
                return
            if time.monotonic() > deadline:
                errors.append("time limit reached (--max-seconds)")
                return
            for position, body in enumerate(job):
                headers = endpoint.headers(body)
                try:
                    posted = time.perf_counter()
                    answer = session.post(endpoint.url, data=body, headers=headers,
                                          timeout=HTTP_TIMEOUT)
                    timings.append(time.perf_counter() - posted)
                except requests.RequestException as error:
                    errors.append(f"{type(error).__name__}: {error}")
                    return
                sent[index] += 1
                problem = endpoint.check(position, answer)
                if problem:
                    errors.append(problem)
                    return

    threads = [threading.Thread(target=client, args=(i,), name=f"bench-client-{i}", daemon=True)
               for i in range(len(sessions))]
    for thread in threads:
        thread.start()
    ready.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return Round(name, sum(sent), time.perf_counter() - started, errors,
                 [latency for timings in latencies for latency in timings])


def warm_up(work: Sequence[tuple[Endpoint, Sequence[Job]]], sessions: Sequence[requests.Session],
            deadline: float) -> list[str]:
    """Unmeasured rounds; the problems they met."""
    problems: list[str] = []
    for endpoint, jobs in work:
        name = f"warm-up {endpoint.kind}"
        result = run_jobs(name, endpoint, jobs, sessions, deadline)
        problems += [f"{name}: {error}" for error in result.errors]
    return problems


def interleave(floor: Endpoint, measured: Endpoint,
               rounds: Sequence[tuple[Sequence[Job], Sequence[Job]]],
               sessions: Sequence[requests.Session], deadline: float, problems: list[str],
               describe: Callable[[Round], str] = Round.line) -> tuple[list[Round], list[Round]]:
    """Floor, measured, floor, measured, ... one line each; the complete rounds of each (an
    incomplete round is no measure: its errors go to `problems`, and nothing runs after it)."""
    floors: list[Round] = []
    measures: list[Round] = []
    for number, (floor_jobs, measured_jobs) in enumerate(rounds, 1):
        for endpoint, jobs, results in ((floor, floor_jobs, floors),
                                        (measured, measured_jobs, measures)):
            if problems:
                break
            result = run_jobs(f"round {number} {endpoint.kind}", endpoint, jobs, sessions,
                              deadline)
            print(describe(result), flush=True)
            if result.errors:
                problems += [f"{result.name}: {error}" for error in result.errors]
            else:
                results.append(result)
    return floors, measures


def rates(floors: Sequence[Round], measures: Sequence[Round]) -> tuple[float, float, float]:
    """The best round of the floor and of the measure, per second, and the ratio of the two."""
    floor_per_s = max((r.per_s for r in floors), default=0.0)
    measured_per_s = max((r.per_s for r in measures), default=0.0)
    return floor_per_s, measured_per_s, measured_per_s / floor_per_s if floor_per_s else 0.0


@dataclass(frozen=True)
class Side:
    """One of the two endpoints a benchmark compares, as its figures are printed."""

    endpoint: Endpoint
    label: str  # before its best rate: "turns", "WhatsApp"
    unit: str  # after it: "turns/s", "messages/s"
    one: str  # what one mean latency is of: "a turn", "an SMS"


def against_floor(args: argparse.Namespace, bench: Bench, work: Plan, floor: Side,
                  measured: Side, *, target: float, sample: Callable[[str], list[str]],
                  verify: Callable[[], list[str]], verified: str,
                  figures: Callable[[float, float, float], dict[str, object]]) -> int:
    """A planned run of dialogues, from the warm-up to the last line, the same for every
    benchmark of dialogues (`sms_turns.py`, `whatsapp.py`) so that their figures read alike:
    the warm-up (then the replies `sample` finds for the first measured phone), the
    interleaved rounds, `verify` of the database when all went well, the best rates, their
    ratio against `target`, the mean latency of a request, then `conclude` with `verified` and
    the `figures` (of the floor's rate, the measured rate and their ratio). Returns the exit
    status."""
    problems = warm_up([(floor.endpoint, work.warm_floor),
                        (measured.endpoint, work.warm_measured)], bench.sessions, bench.deadline)
    if work.warm_measured and not problems:
        for line in sample(work.phones[0]):
            print(f"    << {line[:100]}")

    floors, measures = interleave(floor.endpoint, measured.endpoint, work.rounds, bench.sessions,
                                  bench.deadline, problems)

    if not problems:
        problems = verify()
    floor_per_s, measured_per_s, ratio = rates(floors, measures)
    verdict = "met" if ratio >= target else "NOT met"
    print(f"{floor.label} (best of {len(floors)}): {floor_per_s:.1f} {floor.unit}; "
          f"{measured.label} (best of {len(measures)}): {measured_per_s:.1f} {measured.unit}; "
          f"ratio {ratio:.3f} (target >= {target}: {verdict})")
    busy = min(args.clients, work.phones_per_round)  # a client a job at once
    print(f"  mean latency ~{1000 * busy / measured_per_s if measured_per_s else 0:.2f} ms "
          f"{measured.one}, ~{1000 * busy / floor_per_s if floor_per_s else 0:.2f} ms "
          f"{floor.one} ({busy} busy clients); run took {bench.seconds():.1f} s")
    return conclude(args, bench, problems, verified,
                    figures(floor_per_s, measured_per_s, ratio))


def conclude(args: argparse.Namespace, bench: Bench, problems: Sequence[str], verified: str,
             figures: dict[str, object]) -> int:
    """A WARNING line a problem, or else the `verified` line; then, the last line, the JSON of the
    benchmark's `figures` and the run's setting. The exit status: 1 on any problem."""
    for problem in problems:
        print(f"WARNING: {problem}")
    if not problems:
        print(verified)
    bench.figures = {**figures, "clients": args.clients, "database": bench.database,
                     "server": bench.server}
    print(json.dumps(bench.figures), flush=True)
    return 1 if problems else 0


def one_each(keys: Sequence[str], counts: dict[str, int], total: int | None, name: str,
             plural: str, of: str = "phones") -> list[str]:
    """Problems unless every key (a phone, a session) has exactly one `name` (`counts`: by key)
    and there are as many in all (`total`, in the words `plural`) as keys."""
    problems: list[str] = []
    wrong = [key for key in keys if counts.get(key) != 1]
    if wrong:
        problems.append(f"{len(wrong)} of {len(keys)} {of} without exactly one {name} "
                        f"(e.g. {wrong[0]}: {counts.get(wrong[0], 0)})")
    if total != len(keys):
        problems.append(f"{total} {plural} for {len(keys)} {of}")
    return problems

# --- processes of the service (surge.py, dispatch.py, crash.py) ---------------------------------
def command(name: str) -> list[str]:
    """A console script of this virtualenv (`sms-ktp`, `gunicorn`), or the module it runs."""
    script = Path(sys.executable).parent / name
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", {"sms-ktp": "sms_ktp.cli.main"}.get(name, name)]


def write_config(path: Path, database_url: str, outbox_file: Path, token: str,
                 quiet_hours: str | None = None, rate_per_second: float = 0.0,
                 **worker: float | int) -> Path:
    """A configuration file for `sms-ktp` processes started by a benchmark: the console gateway
    (the counting fake gateway) into `outbox_file` (at most `rate_per_second` SMS a second; 0:
    no limit), the worker a process of its own with the `[worker]` settings given, logging at
    WARNING (INFO logs every SMS)."""
    worker_lines = "".join(f"{key} = {value}\n" for key, value in worker.items())
    quiet = ("" if quiet_hours is None
             else f"[notifications]\nquiet_hours = {json.dumps(quiet_hours)}\n")
    path.write_text(
        f"data_dir = {json.dumps(str(path.parent))}\n"
        f"[database]\nurl = {json.dumps(database_url)}\n"
        f'[gateway]\nprovider = "console"\nwebhook_token = {json.dumps(token)}\n'
        f"[gateway.console]\noutbox_file = {json.dumps(str(outbox_file))}\n"
        f"rate_per_second = {float(rate_per_second)}\n"
        f"[worker]\nembedded = false\n{worker_lines}{quiet}"
        '[logging]\nlevel = "WARNING"\n', "utf-8")
    return path


def pending(connection: SqlConnection) -> int:
    """SMS still to send (queued or being sent)."""
    outbox = OutboxMessage.__table__
    return connection.scalar(select(func.count()).select_from(outbox)
                             .where(outbox.c.status.in_(PENDING)))

