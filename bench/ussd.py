"""USSD screens per second and latency through the Africa's Talking webhook, against a floor.

What is measured: one *screen* is one USSD request POSTed to the real webhook
(`/gateway/africastalking/<token>/ussd`) until its screen (`CON ...` or `END ...`) is back, i.e.
the HTTP response, which the webhook sends after its transaction commits. Its latency is taken on
the client side (perf_counter around each POST): what the operator's USSD gateway would wait for.
Every phone dials twice, as Africa's Talking drives a session (`text` holds every input of the
session joined by `*`, empty on the first request): a registration session, `""`, `1`, `1*NIK`,
`1*NIK*KK`, `1*NIK*KK*2` (lost card), `1*NIK*KK*2*1` (send: the END screen, and one SMS queued),
then a status session, `""`, `2` (the application just made). A session is sequential: one client
sends a phone's requests in order; the phones are spread over the clients. The worker is not run:
sending the queued SMS is not part of a screen.

Why a floor: an absolute rate says more about the machine than about the service. The floor is a
bare endpoint, served by the same server and app in the same run, behind the same token check,
that parses the same form with `parse_ussd` and answers a constant `CON` screen (the main menu)
without touching the database: HTTP, Flask and form parsing only. The difference between floor
and screen is the USSD work (session row, dialogue state, menus, the application, the outbox).
Targets: `ussd_per_s / floor_per_s >= 0.5`, and a p99 latency well under the operators' deadline
for a screen (aim: p99 <= 100 ms here).

Floor and USSD are measured over the same number of requests of the same shapes, interleaved in
rounds (floor, USSD, floor, USSD, ...) so that machine noise hits both alike; the best round of
each gives the rates, the latencies of all measured rounds the percentiles. Server, clients and
database are set up as in `sms_turns.py` (see `common.py`): the server in a process of its own
(or a thread of this one with `--in-process-server`), client threads with keep-alive sessions.

    python bench/ussd.py [--sessions N] [--clients C] [--database-url URL]

Default database: a fresh SQLite file in a temporary folder; on a PostgreSQL URL (loopback only) a
schema of its own, dropped at the end. Afterwards the database must show one application (channel
`ussd`) and one queued SMS (kind `ussd`) per registering phone and one `ussd_session` row per
session with all its requests; every screen must have begun with `CON ` or `END ` (END exactly at
the end of a registration) and been at most 182 characters. Otherwise WARNING lines and exit 1.
Only loopback traffic; bounded in requests and in time (--max-seconds). The last line of the
output is a JSON object.
"""

from __future__ import annotations

import argparse
import math
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode

import requests
from common import (
    NETWORK_CODE,
    TEXT,
    Bench,
    Check,
    Endpoint,
    Job,
    Residents,
    Round,
    Size,
    add_bench_route,
    conclude,
    interleave,
    one_each,
    percentile,
    plan,
    rates,
    run_benchmark,
    run_jobs,
    warm_up,
)
from flask import Flask, request
from sqlalchemy import func, select

from flows.catalogue import render
from gateway.africastalking import PROVIDER, parse_ussd
from sms_ktp.models import Application, Family, OutboxMessage, UssdSession
from sms_ktp.runtime import Runtime

TARGET_RATIO = 0.5
TARGET_P99_MS = 100.0
SCREEN_LIMIT = 182  # characters of a screen, "CON "/"END " included: the operators' limit
SERVICE_CODE = "*123*45#"
REGISTRATION = ("", "1", "1*{nik}", "1*{nik}*{kk}", "1*{nik}*{kk}*2", "1*{nik}*{kk}*2*1")
STATUS = ("", "2")
DIALS = (REGISTRATION, STATUS)  # the sessions of one phone, in order
SESSIONS_PER_PHONE = len(DIALS)
SCREENS_PER_PHONE = sum(len(dial) for dial in DIALS)
END_AT = frozenset({len(REGISTRATION) - 1})  # where in a phone's requests the END screen is
DIALS_SHOWN = " then ".join(" / ".join(repr(text) for text in dial) for dial in DIALS).replace(
    "{nik}", "NIK").replace("{kk}", "KK")
MAX_SESSIONS = 50_000


# --- the people ---------------------------------------------------------------------------------
@dataclass
class Callers:
    """Every phone's sessions as webhook form bodies, each session with an id of its own."""

    run: str
    residents: Residents
    sessions: dict[str, int] = field(default_factory=dict)  # session id: requests sent

    def dial(self, phones: int, tag: str) -> tuple[list[Job], list[str]]:
        jobs: list[Job] = []
        numbers: list[str] = []
        for person in self.residents.take(phones):
            numbers.append(person.phone)
            job: Job = []
            for dial in DIALS:
                session_id = f"ATUid_{self.run}_{tag}_{len(self.sessions) + 1}"
                self.sessions[session_id] = len(dial)
                job += [self._body(session_id, person.phone,
                                   text.format(nik=person.nik, kk=person.kk)) for text in dial]
            jobs.append(job)
        return jobs, numbers

    @staticmethod
    def _body(session_id: str, phone: str, text: str) -> bytes:
        return urlencode({
            "sessionId": session_id,
            "serviceCode": SERVICE_CODE,
            "phoneNumber": phone,
            "networkCode": NETWORK_CODE,
            "text": text,
        }).encode()


# --- the server ---------------------------------------------------------------------------------
def add_floor_route(app: Flask, runtime: Runtime) -> None:
    """`POST /bench/<token>/ussd-floor`: the bare endpoint (see the docstring)."""
    screen = "CON " + render("id", "ussd.main")

    def floor() -> tuple[str, int, dict[str, str]]:
        parse_ussd(request.form)
        return screen, 200, TEXT

    add_bench_route(app, runtime, "ussd-floor", floor)


def screens(ends: frozenset[int]) -> Check:
    """A check of every answer: HTTP 200 and a screen, `END ` exactly at the positions `ends` of
    a phone's requests and `CON ` elsewhere, within the operators' limit."""

    def check(position: int, answer: requests.Response) -> str | None:
        screen = answer.text
        if answer.status_code != 200:
            return f"HTTP {answer.status_code}: {screen[:80]!r}"
        if not screen.startswith(("CON ", "END ")):
            return f"request {position + 1} of a phone: not a screen: {screen[:80]!r}"
        if len(screen) > SCREEN_LIMIT:
            return (f"request {position + 1} of a phone: a screen of {len(screen)} characters "
                    f"(limit {SCREEN_LIMIT}): {screen[:80]!r}")
        if screen.startswith("END ") != (position in ends):
            expected = "END" if position in ends else "CON"
            return f"request {position + 1} of a phone: {expected} expected: {screen[:80]!r}"
        return None

    return check


# --- checking what the sessions left behind -----------------------------------------------------
def verify(runtime: Runtime, phones: Sequence[str], sessions: dict[str, int]) -> list[str]:
    """Problems found in the database: every phone has exactly one application, made by USSD, and
    exactly one SMS queued by USSD; every session exactly one `ussd_session` row; and nothing
    else."""
    problems: list[str] = []
    with runtime.db.transaction() as session:
        applications = dict(session.execute(
            select(Family.phone, func.count(Application.id))
            .join(Application, Application.family_id == Family.id)
            .where(Application.channel == "ussd")
            .group_by(Family.phone)).all())
        all_applications = session.scalar(select(func.count()).select_from(Application))
        rows = dict(session.execute(
            select(UssdSession.session_id, func.count())
            .where(UssdSession.provider == PROVIDER)
            .group_by(UssdSession.session_id)).all())
        all_rows = session.scalar(select(func.count()).select_from(UssdSession))
        sms = dict(session.execute(
            select(OutboxMessage.phone, func.count())
            .where(OutboxMessage.kind == "ussd")
            .group_by(OutboxMessage.phone)).all())
        all_sms = session.scalar(select(func.count()).select_from(OutboxMessage))
    problems += one_each(phones, applications, all_applications, "application made by USSD",
                         "applications in all")
    problems += one_each(phones, sms, all_sms, "SMS queued by USSD", "outbox rows in all")
    problems += one_each(list(sessions), rows, all_rows, "ussd_session row",
                         "ussd_session rows", of="sessions")
    return problems


# --- the run ------------------------------------------------------------------------------------
SIZE = Size("sessions", 800, MAX_SESSIONS,
            "measured USSD sessions (default 800), and floor requests of the same shapes; "
            "rounded up to whole phones per round, each a "
            f"{len(REGISTRATION)}-request registration and a {len(STATUS)}-request status session")


def main(argv: Sequence[str] | None = None) -> int:
    return run_benchmark(argv, __doc__, "ussd", SIZE, add_floor_route, _measure)


def _ms(seconds: float) -> float:
    return 1000 * seconds


def _latencies(result: Round) -> str:
    return (f"{result.line()}  p50 {_ms(percentile(result.latencies, 0.5)):6.2f} ms"
            f"  p99 {_ms(percentile(result.latencies, 0.99)):6.2f} ms")


def _sample(ussd: Endpoint, job: Job, bench: Bench) -> list[str]:
    """The first warm-up phone alone, its screens shown; the problems met."""
    shown: list[str] = []

    def keep(position: int, answer: requests.Response) -> str | None:
        shown.append(answer.text)
        return ussd.check(position, answer)

    result = run_jobs("warm-up sample", Endpoint(ussd.kind, ussd.url, keep), [job],
                      bench.sessions[:1], bench.deadline)
    texts = [text.format(nik="NIK", kk="KK") for dial in DIALS for text in dial]
    for text, screen in zip(texts, shown, strict=False):
        print(f"    >> {text!r:<16} << {screen.replace(chr(10), ' | ')[:100]}")
    return [f"{result.name}: {error}" for error in result.errors]


def _measure(args: argparse.Namespace, bench: Bench) -> int:
    runtime, sessions, deadline = bench.runtime, bench.sessions, bench.deadline
    ussd = Endpoint("ussd", bench.url("/gateway/africastalking/{token}/ussd"), screens(END_AT))
    floor = Endpoint("floor", bench.url("/bench/{token}/ussd-floor"), screens(frozenset()))
    run = uuid.uuid4().hex[:8]
    callers = Callers(run, Residents("+628122"))
    floor_callers = Callers(run, Residents("+628132"))

    phones_per_round = math.ceil(args.sessions / (SESSIONS_PER_PHONE * args.rounds))
    measured_sessions = phones_per_round * SESSIONS_PER_PHONE * args.rounds
    per_round = phones_per_round * SCREENS_PER_PHONE
    warm_phones = math.ceil(args.warmup / SCREENS_PER_PHONE)
    work = plan(floor_callers.dial, callers.dial, "ussd", warm_phones, phones_per_round,
                args.rounds)

    bench.introduce("USSD")
    print(f"  clients: {args.clients} threads, keep-alive; {args.rounds} interleaved rounds of "
          f"{per_round} floor POSTs then {per_round} USSD requests ({phones_per_round} phones, "
          f"{SESSIONS_PER_PHONE} sessions each: {DIALS_SHOWN})")
    print(f"  warm-up: {warm_phones * SCREENS_PER_PHONE} requests to each endpoint", flush=True)

    first, *others = work.warm_measured or [[]]
    problems = _sample(ussd, first, bench) if first else []
    if not problems:
        problems = warm_up([(floor, work.warm_floor), (ussd, others)], sessions, deadline)
    floors, measures = interleave(floor, ussd, work.rounds, sessions, deadline, problems,
                                  describe=_latencies)

    if not problems:
        problems = verify(runtime, work.phones, callers.sessions)
    floor_per_s, ussd_per_s, ratio = rates(floors, measures)
    latencies = [latency for r in measures for latency in r.latencies]
    floor_latencies = [latency for r in floors for latency in r.latencies]
    p50, p99 = (_ms(percentile(latencies, q)) for q in (0.5, 0.99))
    print(f"floor (best of {len(floors)}): {floor_per_s:.1f} screens/s; "
          f"USSD (best of {len(measures)}): {ussd_per_s:.1f} screens/s; ratio {ratio:.3f} "
          f"(target >= {TARGET_RATIO}: {'met' if ratio >= TARGET_RATIO else 'NOT met'})")
    print(f"  USSD latency over {len(latencies)} measured requests: p50 {p50:.2f} ms, "
          f"p99 {p99:.2f} ms, max {_ms(max(latencies, default=0.0)):.2f} ms "
          f"(target p99 <= {TARGET_P99_MS:.0f} ms: "
          f"{'met' if latencies and p99 <= TARGET_P99_MS else 'NOT met'})")
    print(f"  floor latency over {len(floor_latencies)} requests: "
          f"p50 {_ms(percentile(floor_latencies, 0.5)):.2f} ms, "
          f"p99 {_ms(percentile(floor_latencies, 0.99)):.2f} ms "
          f"({args.clients} clients); run took {bench.seconds():.1f} s")
    return conclude(args, bench, problems,
                    f"verified: {len(work.phones) * SCREENS_PER_PHONE} USSD and as many floor "
                    f"screens, all CON/END as expected and <= {SCREEN_LIMIT} characters; "
                    f"{len(work.phones)} phones, one USSD application and one SMS each; "
                    f"{len(callers.sessions)} sessions, one ussd_session row each",
                    {"ussd_per_s": round(ussd_per_s, 1), "floor_per_s": round(floor_per_s, 1),
                     "ratio": round(ratio, 3), "p50_ms": round(p50, 2), "p99_ms": round(p99, 2),
                     "sessions": measured_sessions})

if __name__ == "__main__":
    sys.exit(main())
