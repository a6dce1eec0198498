"""Dialogue turns per second through the Africa's Talking webhook, against a floor.

What is measured: one *turn* is one inbound SMS POSTed to the real webhook
(`/gateway/africastalking/<token>/sms`) until its reply is stored in the outbox table, i.e. the
HTTP response of the webhook (which answers only after the transaction commits). Every phone
runs a realistic registration dialogue: `DAFTAR`, NIK, KK, `2` (lost card), `YA`, `STATUS`; so the
turns start a dialogue, answer steps, submit an application and look one up. The worker is not
run: sending the outbox is not part of a turn.

Why a floor: an absolute rate says more about the machine than about the service. The floor is a
bare POST, served by the same server, app and database in the same run, that parses the same
form with `parse_inbound_sms` and stores only the inbound row (the same INSERT, with the same
normalised sender and redacted text, that the real webhook does first) in one transaction. Floor
and turn share the HTTP stack, the form parsing and the database; the difference between them is
the dialogue work. The target is `turns_per_s / floor_per_s >= 0.5`.

Floor and turns are measured over the same number of requests, interleaved in rounds (floor,
turns, floor, turns, ...) so that machine noise hits both alike; the best round of each is
reported. The server runs in a process of its own (the clients are threads of this one, one
`requests.Session` each, keep-alive), so that client work does not share the server's interpreter
lock; both still share the machine's cores. `--in-process-server` serves from a thread of this
process instead, which adds client cost to both rates and pulls the ratio towards 1. Logging is at
WARNING (`serve` logs every SMS at INFO).

    python bench/sms_turns.py [--turns N] [--clients C] [--database-url URL]

Default database: a fresh SQLite file in a temporary folder. On a PostgreSQL URL (loopback only)
the run gets a schema of its own, created empty at start and dropped with its tables at the end,
so the tables of the shared database are left alone. Only loopback traffic; bounded in requests
and in time (--max-seconds). The last line of the output is a JSON object.
"""

from __future__ import annotations

import argparse
import hmac
import json
import logging
import math
import multiprocessing
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from multiprocessing.connection import Connection
from pathlib import Path
from urllib.parse import urlencode

import requests
from flask import Flask, abort, request
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

from gateway.africastalking import parse_inbound_sms
from sms_ktp.config import Settings
from sms_ktp.db import scratch_schema
from sms_ktp.domain.identity import parse_kk, parse_nik
from sms_ktp.inbound import record_inbound
from sms_ktp.models import Application, Family, InboundMessage, OutboxMessage
from sms_ktp.phones import normalise_msisdn
from sms_ktp.runtime import Runtime
from sms_ktp.web import create_app

TARGET_RATIO = 0.5
DIALOGUE = ("DAFTAR", "{nik}", "{kk}", "2", "YA", "STATUS")
TURNS_PER_PHONE = len(DIALOGUE)
DIALOGUE_SHOWN = " / ".join(DIALOGUE).replace("{nik}", "NIK").replace("{kk}", "KK")
SHORT_CODE = "98765"
NETWORK_CODE = "51010"  # Telkomsel
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
TEXT = {"Content-Type": "text/plain; charset=utf-8"}
HTTP_TIMEOUT = (5.0, 60.0)
LOOPBACK_HOSTS = {None, "", "127.0.0.1", "localhost", "::1"}
MAX_TURNS = 200_000

Body = bytes
Job = list[Body]  # the POSTs one client sends in order (one phone's dialogue)


# --- the people ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Resident:
    phone: str  # as Africa's Talking posts it: E.164
    nik: str
    kk: str


def resident(number: int, prefix: str, today: date) -> Resident:
    """A distinct, valid phone, NIK and KK for every `number` (0 <= number < 9_999 * 28 * 12)."""
    serial = 1 + number % 9_999
    day = 1 + (number // 9_999) % 28
    month = 1 + (number // (9_999 * 28)) % 12
    nik = f"327101{day:02d}{month:02d}90{serial:04d}"
    kk = f"327101{number:010d}"
    phone = f"{prefix}{number:07d}"
    if parse_nik(nik, today).value != nik or parse_kk(kk).value != kk:
        raise AssertionError(f"generated identity numbers refused for #{number}")
    if normalise_msisdn(phone) != phone:
        raise AssertionError(f"generated phone is not a valid mobile: {phone}")
    return Resident(phone, nik, kk)


@dataclass
class Population:
    """Numbers residents by a counter, so every phone, NIK and KK of the run is distinct."""

    run: str
    prefix: str
    today: date = field(default_factory=date.today)
    count: int = 0
    messages: int = 0

    def dialogues(self, phones: int, tag: str) -> tuple[list[Job], list[str]]:
        jobs: list[Job] = []
        numbers: list[str] = []
        for _ in range(phones):
            person = resident(self.count, self.prefix, self.today)
            self.count += 1
            numbers.append(person.phone)
            jobs.append([self._body(person, text.format(nik=person.nik, kk=person.kk), tag)
                         for text in DIALOGUE])
        return jobs, numbers

    def _body(self, person: Resident, text: str, tag: str) -> Body:
        self.messages += 1
        return urlencode({
            "id": f"{self.run}-{tag}-{self.messages}",
            "from": person.phone,
            "to": SHORT_CODE,
            "text": text,
            "date": "2025-01-15 09:30:00",
            "linkId": f"{self.run}-link-{self.messages}",
            "networkCode": NETWORK_CODE,
        }).encode()


# --- the server ---------------------------------------------------------------------------------
def add_floor_route(app: Flask, runtime: Runtime) -> None:
    """`POST /bench/<token>/floor`: the real webhook minus the dialogue (see the docstring)."""
    expected = runtime.settings.gateway.webhook_token.encode()

    def floor(token: str) -> tuple[str, int, dict[str, str]]:
        if not hmac.compare_digest(token.encode(), expected):
            abort(404)
        sms = parse_inbound_sms(request.form)
        now = runtime.clock.now()
        phone = normalise_msisdn(sms.sender)
        with runtime.db.transaction() as session:
            inbound_id = record_inbound(session, sms, phone, now)
        return ("duplicate\n" if inbound_id is None else "ok\n"), 200, TEXT

    app.add_url_rule("/bench/<token>/floor", endpoint="bench_floor", view_func=floor,
                     methods=["POST"])


def settings_for(folder: Path, database_url: str | None) -> Settings:
    settings = Settings()
    settings.data_dir = str(folder)
    settings.database.url = database_url or f"sqlite:///{folder / 'bench.db'}"
    settings.gateway.provider = "console"
    settings.gateway.console.outbox_file = str(folder / "outbox.jsonl")
    settings.worker.embedded = False  # never started here anyway
    settings.source = "bench/sms_turns.py"
    return settings


def check_database_url(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise SystemExit(f"sms_turns: unsupported database {parsed.get_backend_name()!r}")
    if parsed.get_backend_name() == "postgresql" and parsed.host not in LOOPBACK_HOSTS:
        raise SystemExit("sms_turns: refusing a non-loopback PostgreSQL (loopback traffic only)")


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


# --- the clients --------------------------------------------------------------------------------
@dataclass
class Round:
    name: str
    requests: int
    seconds: float
    errors: list[str]

    @property
    def per_s(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def run_jobs(name: str, url: str, jobs: Sequence[Job], sessions: Sequence[requests.Session],
             deadline: float) -> Round:
    """Every job to one of the client threads (each with its own session); wall-clock time from
    the moment all threads are ready to the moment the last one is done."""
    feed: Iterator[Job] = iter(jobs)
    lock = threading.Lock()
    errors: list[str] = []
    sent = [0] * len(sessions)
    ready = threading.Barrier(len(sessions) + 1)

    def client(index: int) -> None:
        session = sessions[index]
        ready.wait()
        while not errors:
            with lock:
                job = next(feed, None)
            if job is None:
                return
            if time.monotonic() > deadline:
                errors.append("time limit reached (--max-seconds)")
                return
            for body in job:
                try:
                    answer = session.post(url, data=body, headers=FORM, timeout=HTTP_TIMEOUT)
                except requests.RequestException as error:
                    errors.append(f"{type(error).__name__}: {error}")
                    return
                sent[index] += 1
                if answer.status_code != 200 or answer.text != "ok\n":
                    errors.append(f"HTTP {answer.status_code}: {answer.text[:80]!r}")
                    return

    threads = [threading.Thread(target=client, args=(i,), name=f"bench-client-{i}", daemon=True)
               for i in range(len(sessions))]
    for thread in threads:
        thread.start()
    ready.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return Round(name, sum(sent), time.perf_counter() - started, errors)


# --- checking what the turns left behind --------------------------------------------------------
def verify(runtime: Runtime, run: str, turns: int, phones: Sequence[str]) -> list[str]:
    """Problems found in the database: every measured turn has exactly one reply in the outbox
    (joined on the inbound ids of the turn rounds), every dialogue phone exactly one application."""
    problems: list[str] = []
    measured = InboundMessage.provider_id.like(f"{run}-turn-%")
    with runtime.db.transaction() as session:
        inbound = session.scalar(select(func.count()).select_from(InboundMessage).where(measured))
        per_inbound = (
            select(InboundMessage.id, func.count(OutboxMessage.id).label("replies"))
            .outerjoin(OutboxMessage, OutboxMessage.inbound_id == InboundMessage.id)
            .where(measured)
            .group_by(InboundMessage.id)
            .subquery()
        )
        not_one = session.scalar(
            select(func.count()).select_from(per_inbound).where(per_inbound.c.replies != 1))
        replies = session.scalar(
            select(func.count()).select_from(OutboxMessage)
            .join(InboundMessage, OutboxMessage.inbound_id == InboundMessage.id)
            .where(measured))
        per_phone: dict[str, int] = {phone: count for phone, count in session.execute(
            select(Family.phone, func.count(Application.id))
            .join(Application, Application.family_id == Family.id)
            .group_by(Family.phone))}
        applications = session.scalar(select(func.count()).select_from(Application))
    if inbound != turns:
        problems.append(f"{inbound} inbound rows for {turns} measured turns")
    if not_one:
        problems.append(f"{not_one} measured turns without exactly one outbox row")
    if replies != turns:
        problems.append(f"{replies} outbox rows for {turns} measured turns")
    wrong = [phone for phone in phones if per_phone.get(phone) != 1]
    if wrong:
        problems.append(f"{len(wrong)} of {len(phones)} phones without exactly one application "
                        f"(e.g. {wrong[0]}: {per_phone.get(wrong[0], 0)})")
    if applications != len(phones):
        problems.append(f"{applications} applications for {len(phones)} phones")
    return problems


def sample_dialogue(runtime: Runtime, phone: str) -> list[str]:
    with runtime.db.transaction() as session:
        return list(session.scalars(select(OutboxMessage.text).where(OutboxMessage.phone == phone)
                                    .order_by(OutboxMessage.id)).all())


# --- the run ------------------------------------------------------------------------------------
def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=3000,
                        help="measured turns, and as many floor POSTs (default 3000; rounded up "
                        f"to whole {TURNS_PER_PHONE}-turn dialogues per round)")
    parser.add_argument("--clients", type=int, default=4, help="client threads (default 4)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="interleaved floor/turn rounds; the best of each is kept (default 2)")
    parser.add_argument("--warmup", type=int, default=200,
                        help="unmeasured requests to each endpoint first (default 200)")
    parser.add_argument("--database-url",
                        help="default: a fresh SQLite file in a temporary folder; on a "
                        "(loopback) PostgreSQL, a private schema dropped at the end")
    parser.add_argument("--in-process-server", action="store_true",
                        help="serve from a thread of the benchmark's own process instead of a "
                        "process of its own (clients and server then share one GIL)")
    parser.add_argument("--max-seconds", type=float, default=600.0,
                        help="give up after this long (default 600)")
    args = parser.parse_args(argv)
    if not 1 <= args.turns <= MAX_TURNS:
        parser.error(f"--turns must be between 1 and {MAX_TURNS}")
    if not 1 <= args.clients <= 32:
        parser.error("--clients must be between 1 and 32")
    if not 1 <= args.rounds <= 20:
        parser.error("--rounds must be between 1 and 20")
    if not 0 <= args.warmup <= 10_000:
        parser.error("--warmup must be between 0 and 10000")
    if args.database_url:
        check_database_url(args.database_url)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    logging.basicConfig(level=logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    began = time.monotonic()
    deadline = began + args.max_seconds
    with (tempfile.TemporaryDirectory(prefix="sms-ktp-bench-") as folder,
          private_schema(args.database_url) as database_url):
        settings = settings_for(Path(folder), database_url)
        runtime = Runtime.from_settings(settings)
        runtime.db.create_schema()
        sessions = [requests.Session() for _ in range(args.clients)]
        with serving(settings, in_process=args.in_process_server) as port:
            try:
                return _measure(args, runtime, port, sessions, deadline, began)
            finally:
                for session in sessions:
                    session.close()
                runtime.db.dispose()


def _serve(settings: Settings, ports: Connection) -> None:
    """The server process: the app exactly as `serve` builds it, plus the floor route."""
    logging.basicConfig(level=logging.WARNING)
    runtime = Runtime.from_settings(settings)
    app = create_app(runtime)
    add_floor_route(app, runtime)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    ports.send(server.port)
    server.serve_forever()


@contextmanager
def serving(settings: Settings, in_process: bool) -> Iterator[int]:
    """The server in a process of its own (as in production, where the load comes from
    elsewhere), or as a thread of this one (`--in-process-server`: clients and server then share
    one interpreter lock, which flatters the ratio)."""
    if in_process:
        runtime = Runtime.from_settings(settings)
        app = create_app(runtime)
        add_floor_route(app, runtime)
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
    process = context.Process(target=_serve, args=(settings, child), name="bench-server",
                              daemon=True)
    process.start()
    try:
        if not parent.poll(60):
            raise RuntimeError("the server process did not start")
        yield parent.recv()
    finally:
        process.terminate()
        process.join(timeout=10)


def _measure(args: argparse.Namespace, runtime: Runtime, port: int,
             sessions: Sequence[requests.Session], deadline: float, began: float) -> int:
    token = runtime.settings.gateway.webhook_token
    base = f"http://127.0.0.1:{port}"
    turn_url = f"{base}/gateway/africastalking/{token}/sms"
    floor_url = f"{base}/bench/{token}/floor"
    database = runtime.db.dialect
    run = uuid.uuid4().hex[:8]
    turn_people = Population(run, "+628121")
    floor_people = Population(run, "+628131")

    phones_per_round = math.ceil(args.turns / (TURNS_PER_PHONE * args.rounds))
    turns = phones_per_round * TURNS_PER_PHONE * args.rounds
    warm_phones = math.ceil(args.warmup / TURNS_PER_PHONE)
    warm_turns, warm_turn_phones = turn_people.dialogues(warm_phones, "warm")
    warm_floor, _ = floor_people.dialogues(warm_phones, "warmfloor")
    rounds_turns = [turn_people.dialogues(phones_per_round, "turn") for _ in range(args.rounds)]
    rounds_floor = [floor_people.dialogues(phones_per_round, "floor")[0]
                    for _ in range(args.rounds)]
    dialogue_phones = warm_turn_phones + [p for _, phones in rounds_turns for p in phones]

    print(f"sms-ktp turn benchmark: {database} "
          f"({runtime.db.engine.url.render_as_string(hide_password=True)})")
    where = "a thread of this process" if args.in_process_server else "its own process"
    print(f"  server:  werkzeug threaded on {base}, in {where}; worker not running")
    print(f"  clients: {args.clients} threads, keep-alive; {args.rounds} interleaved rounds of "
          f"{turns // args.rounds} floor POSTs then {turns // args.rounds} turns "
          f"({phones_per_round} dialogue(s) of {TURNS_PER_PHONE}: {DIALOGUE_SHOWN})")
    print(f"  warm-up: {warm_phones * TURNS_PER_PHONE} requests to each endpoint", flush=True)

    problems: list[str] = []
    for name, url, jobs in (("warm-up floor", floor_url, warm_floor),
                            ("warm-up turns", turn_url, warm_turns)):
        result = run_jobs(name, url, jobs, sessions, deadline)
        problems += [f"{name}: {error}" for error in result.errors]
    if warm_turn_phones and not problems:
        for line in sample_dialogue(runtime, warm_turn_phones[0]):
            print(f"    << {line[:100]}")

    floors: list[Round] = []
    dialogues: list[Round] = []
    for number in range(args.rounds):
        for kind, url, jobs, results in (("floor", floor_url, rounds_floor[number], floors),
                                         ("turns", turn_url, rounds_turns[number][0], dialogues)):
            if problems:
                break
            result = run_jobs(f"round {number + 1} {kind}", url, jobs, sessions, deadline)
            print(f"  {result.name:<15} {result.requests:>6} requests in {result.seconds:7.2f} s"
                  f" = {result.per_s:8.1f}/s", flush=True)
            if result.errors:  # an incomplete round is no measure
                problems += [f"{result.name}: {error}" for error in result.errors]
            else:
                results.append(result)

    if not problems:
        problems = verify(runtime, run, turns, dialogue_phones)
    floor_per_s = max((r.per_s for r in floors), default=0.0)
    turns_per_s = max((r.per_s for r in dialogues), default=0.0)
    ratio = turns_per_s / floor_per_s if floor_per_s else 0.0
    verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
    print(f"floor (best of {len(floors)}): {floor_per_s:.1f} POST/s; "
          f"turns (best of {len(dialogues)}): {turns_per_s:.1f} turns/s; "
          f"ratio {ratio:.3f} (target >= {TARGET_RATIO}: {verdict})")
    busy = min(args.clients, phones_per_round)
    print(f"  mean latency ~{1000 * busy / turns_per_s if turns_per_s else 0:.2f} ms a turn, "
          f"~{1000 * busy / floor_per_s if floor_per_s else 0:.2f} ms a floor POST "
          f"({busy} busy clients); run took {time.monotonic() - began:.1f} s")
    for problem in problems:
        print(f"WARNING: {problem}")
    if not problems:
        print(f"verified: {turns} measured turns, one outbox row each; "
              f"{len(dialogue_phones)} phones, one application each")
    print(json.dumps({
        "turns_per_s": round(turns_per_s, 1),
        "floor_per_s": round(floor_per_s, 1),
        "ratio": round(ratio, 3),
        "turns": turns,
        "clients": args.clients,
        "database": database,
        "server": "in-process" if args.in_process_server else "own process",
    }), flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
