"""Broadcasts: one announcement to many families (all of them, one kecamatan's, or those with an
application in one stage), minus the phones that sent BERHENTI / STOP.

A broadcast never floods the outbox. The worker queues it a slice at a time (`queue_due`): at
most the gateway's rate times the job's interval per run, each SMS of a slice held back a
fraction of a second more than the one before, so replies and notifications written meanwhile
overtake it instead of waiting behind thousands of announcements. Slices follow the phone order
after `last_phone` (keyset pagination), written in the same transaction as the SMS they queued:
a crash loses at most an uncommitted slice, and a phone is never queued twice. Nothing is queued
during quiet hours; the broadcast simply waits for the morning.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Select, and_, case, delete, exists, func, insert, select, update

from gsm7.encoding import segments, to_gsm7
from sms_ktp.domain import contact_address, region
from sms_ktp.domain.local_time import local_zone
from sms_ktp.domain.quiet_hours import QuietHours
from sms_ktp.domain.stages import Stage
from sms_ktp.messaging.outbox import (
    BUFFERED,
    DELIVERED,
    FAILED,
    PENDING,
    QUEUED,
    READ,
    SENT,
    UNDELIVERED,
    WHATSAPP,
    enqueue_many,
)
from sms_ktp.messaging.whatsapp_window import prefers_whatsapp, window_open_at
from sms_ktp.models import (
    Application,
    Broadcast,
    Family,
    OutboxMessage,
    PhoneState,
    WhatsAppContact,
    in_stage,
)
from sms_ktp.platform.clock import Clock
from sms_ktp.platform.db import Database

SCHEDULED, SENDING, DONE, CANCELLED = "scheduled", "sending", "done", "cancelled"
OPEN = (SCHEDULED, SENDING)
KIND = "broadcast"  # outbox.kind of every broadcast SMS
ALL, KECAMATAN, STAGE = "all", "kecamatan", "stage"
# An announcement is worth a few SMS parts, not a letter: every part is paid for per family.
MAX_SEGMENTS = 3

_BROADCAST = Broadcast.__table__
_FAMILY = Family.__table__
_APPLICATION = Application.__table__
_STATE = PhoneState.__table__
_OUTBOX = OutboxMessage.__table__
_CONTACT = WhatsAppContact.__table__


class BroadcastError(ValueError):
    """A broadcast that cannot be made or changed; the message is shown to staff as it is."""


@dataclass(frozen=True)
class Audience:
    """Who a broadcast is for: `all`, `kecamatan` with a code 01-06, or `stage` with a stage."""

    kind: str
    value: str | None = None

    @classmethod
    def parse(cls, text: str) -> Audience:
        """`all`, `kecamatan:01` or `stage:print_queue` (the form's and the JSON's value)."""
        kind, _, value = text.strip().partition(":")
        return cls.of(kind, value or None)

    @classmethod
    def of(cls, kind: str, value: str | None) -> Audience:
        if kind == ALL and value is None:
            return cls(ALL)
        if kind == KECAMATAN and value in region.current().kecamatan:
            return cls(KECAMATAN, value)
        if kind == STAGE and value in {stage.value for stage in Stage}:
            return cls(STAGE, value)
        raise BroadcastError("Pilih penerima siaran: semua keluarga, satu kecamatan, atau "
                             "keluarga dengan permohonan pada satu tahap.")

    @property
    def key(self) -> str:
        return self.kind if self.value is None else f"{self.kind}:{self.value}"


def recipients(audience: Audience) -> Select[tuple[str]]:
    """The distinct family phones of the audience that did not opt out, in no order. A family
    without a phone (its kelurahan as its address) is left out: an announcement to everyone is
    the kelurahan's to pass on in its own ways, not a notice for its list of one family's
    news, and it would be billed for no phone."""
    opted_out = exists().where(_STATE.c.phone == _FAMILY.c.phone,
                               _STATE.c.broadcast_opt_out_at.is_not(None))
    query = select(_FAMILY.c.phone).where(~opted_out,
                                          ~_FAMILY.c.phone.startswith(contact_address.PREFIX))
    if audience.kind == KECAMATAN:
        query = query.where(_FAMILY.c.kecamatan_code == audience.value)
    elif audience.kind == STAGE:
        query = query.where(exists().where(_APPLICATION.c.family_id == _FAMILY.c.id,
                                           in_stage(Stage(audience.value))))
    return query.distinct()


def count_audience(connection: Connection, audience: Audience) -> int:
    """How many phones the broadcast would reach now (the compose page's live preview)."""
    return connection.execute(
        select(func.count()).select_from(recipients(audience).subquery())).scalar_one()


@dataclass(frozen=True)
class ChannelSplit:
    """How many families of an audience a broadcast would reach on each channel: the worker
    sends each on the family's preferred channel (`outbox.Dispatcher`), and only SMS parts
    and WhatsApp templates are paid for."""

    sms: int = 0
    whatsapp_free: int = 0  # a WhatsApp text inside the 24-hour window
    whatsapp_template: int = 0  # the broadcast template outside it

    @property
    def recipients(self) -> int:
        return self.sms + self.whatsapp_free + self.whatsapp_template

    def sms_cost(self, text: str, price_per_segment: int) -> int:
        return cost(text, self.sms, price_per_segment)

    def template_cost(self, cost_per_message: int) -> int:
        return self.whatsapp_template * cost_per_message

    def cost(self, text: str, price_per_segment: int, cost_per_message: int) -> int:
        """Rupiah: every part of every SMS, and every template; a text in the window is free."""
        return self.sms_cost(text, price_per_segment) + self.template_cost(cost_per_message)


def channel_split(connection: Connection, audience: Audience, at: datetime, *,
                  whatsapp: bool, template: bool) -> ChannelSplit:
    """The audience as `count_audience` counts it, by the channel each family would get the
    broadcast on at `at`: by WhatsApp when it last wrote there (`prefers_whatsapp`), as a free
    text while its window is open, else as the broadcast template when one is configured
    (`template`), else by SMS; everyone by SMS with the WhatsApp channel off (`whatsapp`).
    One statement whatever the audience's size (a join on whatsapp_contact's key)."""
    if not whatsapp:
        return ChannelSplit(sms=count_audience(connection, audience))
    phones = recipients(audience).subquery()
    prefers = prefers_whatsapp()
    open_now = window_open_at(at)
    total, free, closed = connection.execute(
        select(func.count(), func.count(case((and_(prefers, open_now), 1))),
               func.count(case((and_(prefers, ~open_now), 1))))
        .select_from(phones.outerjoin(_CONTACT, _CONTACT.c.phone == phones.c.phone))).one()
    templates = closed if template else 0
    return ChannelSplit(sms=total - free - templates, whatsapp_free=free,
                        whatsapp_template=templates)


def normalise_text(text: str) -> str:
    """What residents will read: GSM-7 (one curly quote would make every part a third as long),
    the line breaks a browser sends (CRLF) as single ones, no blanks around it."""
    return to_gsm7(text.replace("\r\n", "\n").replace("\r", "\n").strip())


def check_text(text: str) -> str:
    """The normalised text, or `BroadcastError` when it is empty or too long."""
    text = normalise_text(text)
    if not text:
        raise BroadcastError("Tulis isi pesan siaran.")
    parts = segments(text)
    if parts > MAX_SEGMENTS or len(text) > _BROADCAST.c.text.type.length:
        raise BroadcastError(f"Pesan terlalu panjang: {parts} SMS. Paling banyak {MAX_SEGMENTS} "
                             f"SMS ({MAX_SEGMENTS * 153} karakter GSM-7) per keluarga.")
    return text


def cost(text: str, phones: int, price_per_segment: int) -> int:
    """Rupiah the operator charges: every part of every SMS."""
    return segments(text) * phones * price_per_segment


def create(connection: Connection, text: str, audience: Audience, send_at: datetime,
           created_by: str, now: datetime) -> int:
    """A scheduled broadcast (sent from `send_at`, or at once when that has passed); its id.
    `recipients` holds the audience as counted now, for the page; it is counted again when
    sending starts."""
    text = check_text(text)
    phones = count_audience(connection, audience)
    if phones == 0:
        raise BroadcastError("Tidak ada penerima untuk pilihan ini (atau semuanya sudah "
                             "berhenti berlangganan siaran).")
    return connection.execute(insert(_BROADCAST).values(
        text=text, audience=audience.kind, audience_value=audience.value, status=SCHEDULED,
        created_by=created_by[:60], created_at=now, send_at=send_at, recipients=phones,
        queued=0).returning(_BROADCAST.c.id)).scalar_one()


def cancel(connection: Connection, broadcast_id: int, now: datetime) -> int:
    """Stop the broadcast: nothing more is queued, and its SMS still waiting in the outbox are
    removed (only those: the rows of this broadcast not yet handed to the gateway). A broadcast
    fully queued ("done") can still be cancelled while some of its SMS wait. Returns how many
    were removed. Deleting rather than marking them means no requeue of failed SMS can ever send
    them."""
    row = connection.execute(select(_BROADCAST.c.status, _BROADCAST.c.queued)
                             .where(_BROADCAST.c.id == broadcast_id).with_for_update()).first()
    if row is None:
        raise BroadcastError("Siaran tidak ditemukan.")
    if row.status == CANCELLED:
        raise BroadcastError("Siaran ini sudah dibatalkan.")
    removed = connection.execute(delete(_OUTBOX).where(
        _OUTBOX.c.broadcast_id == broadcast_id, _OUTBOX.c.kind == KIND,
        _OUTBOX.c.status == QUEUED)).rowcount
    if row.status == DONE and removed == 0:
        raise BroadcastError("Siaran ini sudah selesai: semua SMS sudah dikirim ke operator.")
    connection.execute(update(_BROADCAST).where(_BROADCAST.c.id == broadcast_id).values(
        status=CANCELLED, cancelled_at=now, queued=max(0, row.queued - removed)))
    return removed


def cancellable(status: str, progress: Progress) -> bool:
    """Whether `cancel` would still stop something."""
    return status in OPEN or (status == DONE and progress.waiting > 0)


@dataclass(frozen=True)
class Progress:
    """Where a broadcast stands, from its outbox rows. `queued`: SMS written to the outbox (and
    not removed by a cancel); `waiting`: of those, not yet handed to the gateway; `sent`: handed
    to the gateway; `delivered` as the operator reported (or WhatsApp: delivered or read);
    `failed`: given up, or reported undelivered; `sent_whatsapp`: of those handed over, the
    ones that went by WhatsApp; `sent_template`: of these, the ones that went as the broadcast
    template (billed; a text inside the 24-hour window is free)."""

    recipients: int = 0
    queued: int = 0
    waiting: int = 0
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    sent_whatsapp: int = 0
    sent_template: int = 0

    @property
    def total(self) -> int:
        """What a progress bar runs to: the audience, or more if it grew while sending."""
        return max(self.recipients, self.queued)

    @property
    def processed(self) -> int:
        """Handed to the gateway or given up: what no longer waits."""
        return self.queued - self.waiting


# A WhatsApp message the resident opened (read) was delivered first.
_HANDED_OVER = (SENT, BUFFERED, DELIVERED, READ, UNDELIVERED)


def progress(connection: Connection, broadcast_ids: Iterable[int]) -> dict[int, Progress]:
    """The progress of each broadcast, counted from the outbox in one query."""
    ids = list(broadcast_ids)
    if not ids:
        return {}
    counts: dict[int, Counter[str]] = {broadcast_id: Counter() for broadcast_id in ids}
    by_whatsapp: Counter[int] = Counter()
    by_template: Counter[int] = Counter()
    templated = _OUTBOX.c.template.is_not(None)
    for broadcast_id, status, channel, is_template, number in connection.execute(
            select(_OUTBOX.c.broadcast_id, _OUTBOX.c.status, _OUTBOX.c.channel, templated,
                   func.count())
            .where(_OUTBOX.c.broadcast_id.in_(ids))
            .group_by(_OUTBOX.c.broadcast_id, _OUTBOX.c.status, _OUTBOX.c.channel, templated)):
        counts[broadcast_id][status] += number
        if channel == WHATSAPP and status in _HANDED_OVER:
            by_whatsapp[broadcast_id] += number
            if is_template:
                by_template[broadcast_id] += number
    audiences = {row.id: row.recipients for row in connection.execute(
        select(_BROADCAST.c.id, _BROADCAST.c.recipients).where(_BROADCAST.c.id.in_(ids)))}
    return {broadcast_id: Progress(
        recipients=audiences.get(broadcast_id, 0), queued=sum(by_status.values()),
        waiting=sum(by_status.get(status, 0) for status in PENDING),
        sent=sum(by_status.get(status, 0) for status in _HANDED_OVER),
        delivered=by_status.get(DELIVERED, 0) + by_status.get(READ, 0),
        failed=by_status.get(FAILED, 0) + by_status.get(UNDELIVERED, 0),
        sent_whatsapp=by_whatsapp[broadcast_id], sent_template=by_template[broadcast_id])
        for broadcast_id, by_status in counts.items()}


def queue_due(db: Database, clock: Clock, rate_per_second: float, quiet: QuietHours,
              interval_seconds: float) -> int:
    """Queue the next slices of the broadcasts that are due, oldest first: at most
    `rate_per_second * interval_seconds` SMS in all, spread over the interval, and none that
    would leave during quiet hours. Returns how many were queued. Each slice is one short
    transaction; a broadcast another worker is queueing is skipped."""
    now = clock.now()
    if quiet.is_quiet(now):
        return 0
    span = min(interval_seconds, _seconds_until_quiet(quiet, now))
    budget = math.floor(rate_per_second * span)
    done = 0
    while done < budget:
        with db.connect() as connection:
            broadcast = connection.execute(
                select(_BROADCAST).where(_BROADCAST.c.status.in_(OPEN),
                                         _BROADCAST.c.send_at <= now)
                .order_by(_BROADCAST.c.send_at, _BROADCAST.c.id).limit(1)
                .with_for_update(skip_locked=True)).first()
            if broadcast is None:
                break
            done += _queue_slice(connection, broadcast, budget - done, now,
                                 now + timedelta(seconds=done / rate_per_second),
                                 rate_per_second)
    return done


def _queue_slice(connection: Connection, broadcast: Any, limit: int, now: datetime,
                 first: datetime, rate_per_second: float) -> int:
    """The next `limit` phones after `last_phone` into the outbox, the broadcast's place moved
    on with them in the same transaction; marked done when fewer were left."""
    audience = Audience.of(broadcast.audience, broadcast.audience_value)
    phones = recipients(audience)
    if broadcast.last_phone is not None:
        phones = phones.where(_FAMILY.c.phone > broadcast.last_phone)
    # Belt and braces under the keyset: a phone that has this broadcast already is skipped
    # (one lookup in the outbox's phone index per phone).
    phones = phones.where(~exists().where(_OUTBOX.c.phone == _FAMILY.c.phone,
                                          _OUTBOX.c.broadcast_id == broadcast.id))
    chosen = list(connection.execute(phones.order_by(_FAMILY.c.phone).limit(limit)).scalars())
    enqueue_many(connection, [(phone, broadcast.text) for phone in chosen], now, kind=KIND,
                 not_before=first, every=timedelta(seconds=1 / rate_per_second),
                 broadcast_id=broadcast.id)
    finished = len(chosen) < limit
    values: dict[str, Any] = {"queued": _BROADCAST.c.queued + len(chosen),
                              "status": DONE if finished else SENDING}
    if chosen:
        values["last_phone"] = chosen[-1]
    if broadcast.status == SCHEDULED:  # sending starts: the audience as it is now
        values["recipients"] = count_audience(connection, audience)
    if finished:
        values["finished_at"] = now
    connection.execute(update(_BROADCAST).where(_BROADCAST.c.id == broadcast.id)
                       .values(**values))
    return len(chosen)


def _seconds_until_quiet(quiet: QuietHours, now: datetime) -> float:
    """Seconds from `now` (outside quiet hours) until they begin; infinite without them."""
    if quiet.start is None:
        return math.inf
    local = now.astimezone(local_zone())
    start = local.replace(hour=quiet.start.hour, minute=quiet.start.minute, second=0,
                          microsecond=0)
    if start <= local:
        start += timedelta(days=1)
    return (start - local).total_seconds()
