"""WhatsApp messages per second through the WhatsApp webhook, against the SMS webhook.

What is measured: one *message* is one POST to the real WhatsApp webhook
(`/gateway/whatsapp/<token>`), as Meta sends it: one message a POST, its JSON signed with the app
secret in `X-Hub-Signature-256`; it is answered once the message and its reply (channel
`whatsapp` in the outbox) are committed. The floor here is no bare route but the SMS webhook
(`/gateway/africastalking/<token>/sms`) doing the same dialogue turns: the question is what the
WhatsApp channel costs on top of an SMS (the signature, the JSON, the wamid, when the phone last
wrote). Every phone runs one of the five dialogues of `sms_turns.py` (the KTP-el registration
`DAFTAR`, NIK, KK, `2`, `YA`, `STATUS`, a Kartu Keluarga, an Akta Kelahiran, an Akta Kematian, a
KIA); on WhatsApp a choice is tapped as a resident taps it: the numbered answer a row of a list,
`YA` a reply button. SMS and WhatsApp phones are distinct residents (their own NIK and KK), so
both channels register for real. The target is `whatsapp_per_s / sms_per_s >= 0.8`.

The WhatsApp channel is on in the run's settings (bench values for the phone number id, the
tokens and the app secret, the Graph API on a closed loopback port); the worker is not run, so
nothing is sent anywhere. SMS and WhatsApp rounds are interleaved (SMS, WhatsApp, SMS, ...) over
the same number of messages, the best round of each kept; the server runs in a process of its
own, as in `sms_turns.py`. Afterwards the database must show every measured message with its
reply (two for the `YA` of another document than the KTP-el) on its own channel, and every phone
exactly one application.

    python bench/whatsapp.py [--messages N] [--clients C] [--database-url URL]

Default: a fresh SQLite file, then PostgreSQL (a scratch schema of its own, loopback only). The
last line of the output is a JSON object (a list of them, one a database, after two runs).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from common import (
    Bench,
    Endpoint,
    Job,
    Residents,
    Side,
    Size,
    against_floor,
    dialogue_plan,
    one_each,
    run_benchmark,
)
from flask import Flask
from sms_turns import DIALOGUE_SHOWN, DIALOGUES, Population, answered_ok
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.africastalking import PROVIDER as AFRICASTALKING
from sms_ktp.messaging.outbox import SMS, WHATSAPP
from sms_ktp.models import Application, Family, InboundMessage, OutboxMessage
from sms_ktp.platform.config import Settings
from sms_ktp.runtime import Runtime

TARGET_RATIO = 0.8
TURNS_PER_PHONE = len(DIALOGUES[0])
MAX_MESSAGES = 200_000
# Bench values only: the channel is on, and nothing could reach Meta (a closed loopback port).
PHONE_NUMBER_ID = "106540352242922"
APP_SECRET = "bench-app-secret"
DISPLAY_NUMBER = "6281100000000"
WABA_ID = "102290129340398"
# The SMS residents are numbered from here (a multiple of the five dialogues, so that the n-th
# phone of each channel runs the same one), well clear of the WhatsApp residents' NIK and KK.
SMS_FIRST_RESIDENT = 1_000_000


def configure(settings: Settings) -> None:
    """The WhatsApp channel on, with bench secrets; `serve` would refuse it without them."""
    whatsapp = settings.gateway.whatsapp
    whatsapp.phone_number_id = PHONE_NUMBER_ID
    whatsapp.access_token = "bench-access-token"
    whatsapp.app_secret = APP_SECRET
    whatsapp.verify_token = "bench-verify-token"
    whatsapp.api_url = "http://127.0.0.1:9/v23.0"


def add_no_routes(app: Flask, runtime: Runtime) -> None:
    """Both endpoints are the app's own webhooks."""


# --- the people ---------------------------------------------------------------------------------
@dataclass
class SmsPopulation(Population):
    """`sms_turns.py`'s residents, every phone kept (they are measured here too)."""

    phones: list[str] = field(default_factory=list)

    def dialogues(self, phones: int, tag: str) -> tuple[list[Job], list[str]]:
        jobs, numbers = super().dialogues(phones, tag)
        self.phones += numbers
        return jobs, numbers


@dataclass
class WhatsAppPopulation(Population):
    """The same dialogues as the webhook bodies Meta posts: one message each, a choice tapped."""

    def _body(self, phone: str, text: str, tag: str) -> bytes:
        self.messages += 1
        message: dict[str, Any] = {"from": phone.removeprefix("+"),
                                   "id": f"wamid.{self.run}-{tag}-{self.messages}",
                                   "timestamp": str(int(time.time())), **tapped(text)}
        value = {"messaging_product": "whatsapp",
                 "metadata": {"display_phone_number": DISPLAY_NUMBER,
                              "phone_number_id": PHONE_NUMBER_ID},
                 "contacts": [{"profile": {"name": "Warga"}, "wa_id": message["from"]}],
                 "messages": [message]}
        return json.dumps({"object": "whatsapp_business_account", "entry": [
            {"id": WABA_ID, "changes": [{"field": "messages", "value": value}]}]}).encode()


def tapped(text: str) -> dict[str, Any]:
    """A message's content: `YA` a reply button, a numbered answer a list row, else text."""
    if text == "YA":
        return {"type": "interactive", "interactive": {
            "type": "button_reply", "button_reply": {"id": "YA", "title": "Ya"}}}
    if text.isdigit() and len(text) == 1:
        return {"type": "interactive", "interactive": {
            "type": "list_reply", "list_reply": {"id": text, "title": f"Pilihan {text}"}}}
    return {"type": "text", "text": {"body": text}}


def signed(body: bytes) -> dict[str, str]:
    """Meta's headers: JSON, and the HMAC-SHA256 of the raw body with the app secret."""
    signature = hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={signature}"}


# --- checking what the messages left behind -----------------------------------------------------
def verify(runtime: Runtime, run: str, messages: int, phones: Sequence[str]) -> list[str]:
    """Problems found in the database: on each channel, every measured message has its reply on
    that channel (two for the YA of another document than the KTP-el), and every phone of
    either channel (warm-up too) exactly one application."""
    problems: list[str] = []
    with runtime.db.transaction() as session:
        problems += replies_of(session, WHATSAPP, f"wamid.{run}-wa-%", messages)
        problems += replies_of(session, SMS, f"{run}-floor-%", messages)
        per_phone: dict[str, int] = {phone: count for phone, count in session.execute(
            select(Family.phone, func.count(Application.id))
            .join(Application, Application.family_id == Family.id)
            .group_by(Family.phone))}
        applications = session.scalar(select(func.count()).select_from(Application))
    return problems + one_each(phones, per_phone, applications, "application", "applications")


def replies_of(session: Session, channel: str, ids: str, messages: int) -> list[str]:
    """Problems with the measured messages of one channel (provider ids like `ids`)."""
    provider = WHATSAPP if channel == WHATSAPP else AFRICASTALKING
    measured = InboundMessage.provider_id.like(ids) & (InboundMessage.provider == provider)
    inbound = session.scalar(select(func.count()).select_from(InboundMessage).where(measured))
    per_inbound = (
        select(InboundMessage.id, func.count(OutboxMessage.id).label("replies"))
        .outerjoin(OutboxMessage, (OutboxMessage.inbound_id == InboundMessage.id)
                   & (OutboxMessage.channel == channel))
        .where(measured)
        .group_by(InboundMessage.id)
        .subquery()
    )
    not_one = session.scalar(select(func.count()).select_from(per_inbound)
                             .where(per_inbound.c.replies.not_in((1, 2))))
    two = session.scalar(select(func.count()).select_from(per_inbound)
                         .where(per_inbound.c.replies == 2))
    documents = session.scalar(
        select(func.count()).select_from(Application)
        .join(Family, Application.family_id == Family.id)
        .where(Family.phone.in_(select(InboundMessage.sender).where(measured).distinct()),
               Application.document != "ktp"))
    replies = session.scalar(
        select(func.count()).select_from(OutboxMessage)
        .join(InboundMessage, OutboxMessage.inbound_id == InboundMessage.id)
        .where(measured))
    on_channel = session.scalar(
        select(func.count()).select_from(OutboxMessage)
        .join(InboundMessage, OutboxMessage.inbound_id == InboundMessage.id)
        .where(measured, OutboxMessage.channel == channel))
    problems: list[str] = []
    if inbound != messages:
        problems.append(f"{channel}: {inbound} inbound rows for {messages} measured messages")
    if not_one:
        problems.append(f"{channel}: {not_one} measured messages without one reply on the "
                        "channel (two for a YA)")
    if two != documents:
        problems.append(f"{channel}: {two} messages answered twice for {documents} other "
                        "documents")
    if replies != messages + documents or on_channel != replies:
        problems.append(f"{channel}: {replies} outbox rows ({on_channel} on the channel) for "
                        f"{messages} measured messages and {documents} papers replies")
    return problems


def sample_dialogue(runtime: Runtime, phone: str) -> list[str]:
    with runtime.db.transaction() as session:
        return [f"[{channel}] {text}" for channel, text in session.execute(
            select(OutboxMessage.channel, OutboxMessage.text)
            .where(OutboxMessage.phone == phone).order_by(OutboxMessage.id))]


# --- the run ------------------------------------------------------------------------------------
SIZE = Size("messages", 3000, MAX_MESSAGES,
            f"measured WhatsApp messages, and as many SMS (default 3000; rounded up to whole "
            f"{TURNS_PER_PHONE}-turn dialogues per round)", backends=("sqlite", "postgresql"))


def main(argv: Sequence[str] | None = None) -> int:
    return run_benchmark(argv, __doc__, "whatsapp", SIZE, add_no_routes, _measure, configure)


def _measure(args: argparse.Namespace, bench: Bench) -> int:
    runtime = bench.runtime
    whatsapp = Endpoint("whatsapp", bench.url("/gateway/whatsapp/{token}"), answered_ok, signed)
    sms = Endpoint("sms", bench.url("/gateway/africastalking/{token}/sms"), answered_ok)
    run = uuid.uuid4().hex[:8]
    wa_people = WhatsAppPopulation(run, Residents("+628121"))
    sms_people = SmsPopulation(run, Residents("+628131", count=SMS_FIRST_RESIDENT))

    work = dialogue_plan(args, args.messages, TURNS_PER_PHONE, sms_people.dialogues,
                         wa_people.dialogues, "wa")
    messages = work.measured_requests

    bench.introduce("WhatsApp webhook")
    print(f"  clients: {args.clients} threads, keep-alive; {args.rounds} interleaved rounds of "
          f"{messages // args.rounds} SMS then {messages // args.rounds} WhatsApp messages, one "
          f"a POST ({work.phones_per_round} dialogue(s) of {TURNS_PER_PHONE} a channel: "
          f"{DIALOGUE_SHOWN}; on WhatsApp a choice tapped)")
    print(f"  warm-up: {work.warm_requests} messages to each webhook", flush=True)
    phones = work.phones + sms_people.phones
    return against_floor(
        args, bench, work, Side(sms, "SMS", "messages/s", "an SMS"),
        Side(whatsapp, "WhatsApp", "messages/s", "a WhatsApp message"), target=TARGET_RATIO,
        sample=lambda phone: sample_dialogue(runtime, phone),
        verify=lambda: verify(runtime, run, messages, phones),
        verified=f"verified: {messages} measured messages on each channel, each with its reply "
                 f"on its channel (two for the YA of another document); {len(phones)} phones, "
                 f"one application each",
        figures=lambda sms_per_s, whatsapp_per_s, ratio: {
            "whatsapp_per_s": round(whatsapp_per_s, 1), "sms_per_s": round(sms_per_s, 1),
            "floor_per_s": round(sms_per_s, 1), "ratio": round(ratio, 3),
            "messages": messages})


if __name__ == "__main__":
    sys.exit(main())
