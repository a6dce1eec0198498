"""Dialogue turns per second through the Africa's Talking webhook, against a floor.

What is measured: one *turn* is one inbound SMS POSTed to the real webhook
(`/gateway/africastalking/<token>/sms`) until its reply is stored in the outbox table, i.e. the
HTTP response of the webhook (which answers only after the transaction commits). Every phone
runs one of five realistic dialogues, in turn: the KTP-el registration (`DAFTAR`, NIK, KK, `2`
(lost card), `YA`, `STATUS`), a Kartu Keluarga, an Akta Kelahiran, an Akta Kematian and a KIA
(each six turns: its keyword with or without the first answers, the answers, `YA`, `STATUS`); so
the turns start a dialogue, answer steps, submit an application (another document's books its
papers visit in the pickup slots and answers with two SMS) and look one up. The worker is not
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
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

import requests
from common import (
    NETWORK_CODE,
    TEXT,
    Bench,
    Endpoint,
    Job,
    Residents,
    Side,
    Size,
    add_bench_route,
    against_floor,
    dialogue_plan,
    one_each,
    run_benchmark,
)
from flask import Flask, request
from sqlalchemy import func, select

from gateway.africastalking import parse_inbound_sms
from sms_ktp.channels.sms import record_inbound
from sms_ktp.domain.phones import normalise_msisdn
from sms_ktp.models import Application, Family, InboundMessage, OutboxMessage
from sms_ktp.runtime import Runtime

TARGET_RATIO = 0.5
# One dialogue per document, six turns each; a phone runs the one of its number. {other}: the
# NIK of a relative (the deceased), {born}: a child's birth date, {died}: a date of death.
DIALOGUES = (
    ("DAFTAR", "{nik}", "{kk}", "2", "YA", "STATUS"),
    ("KK", "{nik}", "{kk}", "5", "YA", "STATUS"),
    ("AKTA LAHIR {nik}", "{kk}", "{born}", "1", "YA", "STATUS"),
    ("AKTA MATI {nik}", "{other}", "{died}", "{kk}", "YA", "STATUS"),
    ("KIA", "{nik}", "{kk}", "{born}", "YA", "STATUS"),
)
TURNS_PER_PHONE = len(DIALOGUES[0])
DIALOGUE_SHOWN = "; ".join(" / ".join(dialogue) for dialogue in DIALOGUES)
SHORT_CODE = "98765"
MAX_TURNS = 200_000


# --- the people ---------------------------------------------------------------------------------
@dataclass
class Population:
    """Every phone's dialogue as webhook form bodies, each inbound SMS with an id of its own."""

    run: str
    residents: Residents
    messages: int = 0

    def dialogues(self, phones: int, tag: str) -> tuple[list[Job], list[str]]:
        jobs: list[Job] = []
        numbers: list[str] = []
        for person in self.residents.take(phones):
            numbers.append(person.phone)
            dialogue = DIALOGUES[(self.residents.count - phones + len(numbers) - 1)
                                 % len(DIALOGUES)]
            values = {"nik": person.nik, "kk": person.kk, "other": elder_nik(person.nik),
                      "born": "17-08-2019", "died": "01-11-2024"}
            jobs.append([self._body(person.phone, text.format(**values), tag)
                         for text in dialogue])
        return jobs, numbers

    def _body(self, phone: str, text: str, tag: str) -> bytes:
        self.messages += 1
        return urlencode({
            "id": f"{self.run}-{tag}-{self.messages}",
            "from": phone,
            "to": SHORT_CODE,
            "text": text,
            "date": "2025-01-15 09:30:00",
            "linkId": f"{self.run}-link-{self.messages}",
            "networkCode": NETWORK_CODE,
        }).encode()


def elder_nik(nik: str) -> str:
    """A relative's NIK beside a resident's (born 1990): the same day, born 1950."""
    return nik[:10] + "50" + nik[12:]


# --- the server ---------------------------------------------------------------------------------
def add_floor_route(app: Flask, runtime: Runtime) -> None:
    """`POST /bench/<token>/floor`: the real webhook minus the dialogue (see the docstring)."""

    def floor() -> tuple[str, int, dict[str, str]]:
        sms = parse_inbound_sms(request.form)
        now = runtime.clock.now()
        phone = normalise_msisdn(sms.sender)
        with runtime.db.connect() as connection:
            inbound_id = record_inbound(connection, sms, phone, now)
        return ("duplicate\n" if inbound_id is None else "ok\n"), 200, TEXT

    add_bench_route(app, runtime, "floor", floor)


def answered_ok(position: int, answer: requests.Response) -> str | None:
    if answer.status_code != 200 or answer.text != "ok\n":
        return f"HTTP {answer.status_code}: {answer.text[:80]!r}"
    return None


# --- checking what the turns left behind --------------------------------------------------------
def verify(runtime: Runtime, run: str, turns: int, phones: Sequence[str]) -> list[str]:
    """Problems found in the database: every measured turn has one reply in the outbox (joined on
    the inbound ids of the turn rounds), two for the YA of another document than the KTP-el (the
    reference, then the papers), every dialogue phone exactly one application."""
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
            select(func.count()).select_from(per_inbound)
            .where(per_inbound.c.replies.not_in((1, 2))))
        two = session.scalar(
            select(func.count()).select_from(per_inbound).where(per_inbound.c.replies == 2))
        measured_phones = select(InboundMessage.sender).where(measured).distinct()
        documents = session.scalar(
            select(func.count()).select_from(Application)
            .join(Family, Application.family_id == Family.id)
            .where(Family.phone.in_(measured_phones), Application.document != "ktp"))
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
        problems.append(f"{not_one} measured turns without one outbox row (two for a YA)")
    if two != documents:
        problems.append(f"{two} turns answered with two SMS for {documents} other documents")
    if replies != turns + documents:
        problems.append(f"{replies} outbox rows for {turns} measured turns and {documents} "
                        "papers SMS")
    return problems + one_each(phones, per_phone, applications, "application", "applications")


def sample_dialogue(runtime: Runtime, phone: str) -> list[str]:
    with runtime.db.transaction() as session:
        return list(session.scalars(select(OutboxMessage.text).where(OutboxMessage.phone == phone)
                                    .order_by(OutboxMessage.id)).all())


# --- the run ------------------------------------------------------------------------------------
SIZE = Size("turns", 3000, MAX_TURNS,
            f"measured turns, and as many floor POSTs (default 3000; rounded up to whole "
            f"{TURNS_PER_PHONE}-turn dialogues per round)", backends=("sqlite", "postgresql"))


def main(argv: Sequence[str] | None = None) -> int:
    return run_benchmark(argv, __doc__, "sms_turns", SIZE, add_floor_route, _measure)


def _measure(args: argparse.Namespace, bench: Bench) -> int:
    runtime = bench.runtime
    turn = Endpoint("turns", bench.url("/gateway/africastalking/{token}/sms"), answered_ok)
    floor = Endpoint("floor", bench.url("/bench/{token}/floor"), answered_ok)
    run = uuid.uuid4().hex[:8]
    turn_people = Population(run, Residents("+628121"))
    floor_people = Population(run, Residents("+628131"))

    work = dialogue_plan(args, args.turns, TURNS_PER_PHONE, floor_people.dialogues,
                         turn_people.dialogues, "turn")
    turns = work.measured_requests

    bench.introduce("turn")
    print(f"  clients: {args.clients} threads, keep-alive; {args.rounds} interleaved rounds of "
          f"{turns // args.rounds} floor POSTs then {turns // args.rounds} turns "
          f"({work.phones_per_round} dialogue(s) of {TURNS_PER_PHONE}: {DIALOGUE_SHOWN})")
    print(f"  warm-up: {work.warm_requests} requests to each endpoint", flush=True)
    return against_floor(
        args, bench, work, Side(floor, "floor", "POST/s", "a floor POST"),
        Side(turn, "turns", "turns/s", "a turn"), target=TARGET_RATIO,
        sample=lambda phone: sample_dialogue(runtime, phone),
        verify=lambda: verify(runtime, run, turns, work.phones),
        verified=f"verified: {turns} measured turns, one outbox row each (two for the YA of "
                 f"another document); {len(work.phones)} phones, one application each",
        figures=lambda floor_per_s, turns_per_s, ratio: {
            "turns_per_s": round(turns_per_s, 1), "floor_per_s": round(floor_per_s, 1),
            "ratio": round(ratio, 3), "turns": turns})


if __name__ == "__main__":
    sys.exit(main())
