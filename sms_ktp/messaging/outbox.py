"""The outbox: SMS are written here in the transaction that decided them and leave through the
worker, at least once: a row is leased while in flight, retried with backoff and jitter, and
parked as failed after the last attempt. Delivery reports only ever move a status forward.

A notification names the application it is about; when that application moves on, its
notifications still queued are marked superseded in the same transaction (`supersede`) and never
leave: a resident never receives a notice that is no longer true."""

from __future__ import annotations

import json
import logging
import random
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    String,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Session

from gateway.base import Gateway
from gateway.message import (
    DeliveryReport,
    OutboundSms,
    PermanentFailure,
    SendResult,
    TemporaryFailure,
)
from gateway.whatsapp import (
    BUTTONS_MAX,
    SmsInstead,
    WhatsAppOrSms,
    buttons_body,
    list_body,
    template_body,
)
from gateway.whatsapp import PROVIDER as WHATSAPP_PROVIDER
from gsm7.encoding import segments, to_gsm7
from sms_ktp.domain.contact_address import kelurahan_in
from sms_ktp.domain.masking import mask_phone, redact
from sms_ktp.messaging.whatsapp_templates import notice_parameters
from sms_ktp.messaging.whatsapp_window import whatsapp_preferred
from sms_ktp.models import (
    OUTBOX_BUFFERED,
    OUTBOX_DELIVERED,
    OUTBOX_FAILED,
    OUTBOX_PENDING,
    OUTBOX_QUEUED,
    OUTBOX_READ,
    OUTBOX_SENDING,
    OUTBOX_SENT,
    OUTBOX_SUPERSEDED,
    OUTBOX_UNDELIVERED,
    ApplicationEvent,
    OutboxMessage,
    UtcDateTime,
)
from sms_ktp.platform import metrics
from sms_ktp.platform.bulk import insert_rows
from sms_ktp.platform.clock import Clock
from sms_ktp.platform.db import Database

log = logging.getLogger(__name__)

# The statuses are the table's values (beside it in `models`); how they move is this module's.
QUEUED, SENDING, SENT, BUFFERED = OUTBOX_QUEUED, OUTBOX_SENDING, OUTBOX_SENT, OUTBOX_BUFFERED
DELIVERED, UNDELIVERED, FAILED = OUTBOX_DELIVERED, OUTBOX_UNDELIVERED, OUTBOX_FAILED
SUPERSEDED = OUTBOX_SUPERSEDED
PENDING = OUTBOX_PENDING
READ = OUTBOX_READ
# The channels a message goes out on (`outbox.channel`).
SMS, WHATSAPP = "sms", "whatsapp"
# A status moves only to a higher rank; the terminal ones share the top rank, so the first
# terminal report wins and a late or repeated report changes nothing. Above them only `read`
# (WhatsApp: the resident opened it), which follows delivered.
RANK = {QUEUED: 0, SENDING: 1, SENT: 2, BUFFERED: 3, DELIVERED: 4, UNDELIVERED: 4, FAILED: 4,
        SUPERSEDED: 4, READ: 5}


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_seconds: float = 30.0
    max_seconds: float = 3600.0
    lease_seconds: float = 120.0

    def delay(self, attempts: int, rng: random.Random | None = None) -> timedelta:
        """Exponential backoff with jitter: a recovering gateway is not hit by every retry at
        the same second."""
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** max(0, attempts - 1))
        return timedelta(seconds=ceiling * (rng or random).uniform(0.5, 1.0))


_TABLE = OutboxMessage.__table__
_INSERT = insert(_TABLE)


def enqueue(connection: Connection, phone: str, text: str, now: datetime, *,
            kind: str = "reply", inbound_id: int | None = None,
            not_before: datetime | None = None, notice: str | None = None) -> str:
    """Queue one SMS in the caller's transaction; returns its uid. `not_before` holds it back
    (quiet hours) without holding back anything queued after it. `notice`: the catalogue key
    a notice was worded from (its WhatsApp template, see `Dispatcher`)."""
    text = to_gsm7(text)
    uid = uuid.uuid4().hex
    connection.execute(_INSERT, _row(uid, phone, text, now, kind, inbound_id, not_before,
                                     notice=notice))
    return uid


def enqueue_replies(connection: Connection, phone: str, texts: Sequence[str], now: datetime, *,
                    kind: str = "reply", inbound_id: int | None = None,
                    channel: str = SMS, options: str | None = None) -> None:
    """Queue the replies to one inbound message, in order, in one statement (another document's
    YA is answered with two SMS: its reference, then the papers to bring)."""
    if texts:
        connection.execute(_INSERT, reply_rows(phone, texts, now, kind, inbound_id, channel,
                                               options))


def reply_rows(phone: str, texts: Sequence[str], now: datetime, kind: str,
               inbound_id: int | None, channel: str = SMS,
               options: str | None = None) -> list[dict[str, Any]]:
    """The outbox rows of `enqueue_replies` (the SMS webhook on PostgreSQL writes them in one
    statement with the phone's state). `channel`: the one the message came in on; an SMS's
    rows leave the column to its default, so that their statements stay as they were.
    `options`: the choices of the question the last reply asks (WhatsApp only), stored with
    it; every row of another channel has the column, so that all rows share one shape."""
    rows = [_row(uuid.uuid4().hex, phone, to_gsm7(text), now, kind, inbound_id, None)
            for text in texts]
    if channel != SMS:
        for row in rows:
            row["channel"] = channel
            row["options"] = None
        if rows:
            rows[-1]["options"] = options
    return rows


def enqueue_many(connection: Connection, messages: Sequence[tuple[str, str]], now: datetime, *,
                 kind: str, not_before: datetime | None = None,
                 every: timedelta = timedelta(0), broadcast_id: int | None = None,
                 applications: Sequence[int] | None = None, notice: str | None = None) -> None:
    """Queue many SMS (phone, text) in one bulk write. `every`: each SMS held back that much
    more than the one before (a broadcast spread at the gateway's rate). `applications`: the
    application each SMS is about, in the same order (notifications: see `supersede`).
    `notice`: the catalogue key they were all worded from."""
    uids = secrets.token_hex(16 * len(messages))
    first = not_before or now
    about = applications if applications is not None else [None] * len(messages)
    insert_rows(connection, _TABLE, [
        _row(uids[32 * index:32 * index + 32], phone, to_gsm7(text), now, kind, None,
             first + index * every, broadcast_id, application_id, notice)
        for index, ((phone, text), application_id) in enumerate(
            zip(messages, about, strict=True))])


def outgoing(phone: str, text: str) -> dict[str, Any]:
    """An SMS as `enqueue_selected` reads it: the phone, the text kept GSM-7, its segments."""
    text = to_gsm7(text)
    return {"phone": phone, "text": text, "segments": segments(text)}


def enqueue_selected(connection: Connection, rows: Select[Any], now: datetime, *, kind: str,
                     not_before: datetime | None = None, notice: str | None = None) -> None:
    """Queue the SMS that `rows` selects (phone, text and segments, as `outgoing` makes them,
    and `application_id` when it has that column), in their order, with one
    INSERT ... SELECT: a batch already in a table is not read back. `notice`: as for
    `enqueue_many`."""
    columns = rows.subquery()
    about = [columns.c.application_id] if "application_id" in columns.c else []
    named = [literal(notice, String())] if notice is not None else []
    connection.execute(_INSERT.from_select(
        ["uid", "phone", "text", "kind", "segments", "status", "attempts", "next_attempt_at",
         "created_at", *(["application_id"] if about else []), *(["notice"] if named else [])],
        select(_NewUid(), columns.c.phone, columns.c.text, literal(kind), columns.c.segments,
               literal(QUEUED), literal(0), literal(not_before or now, UtcDateTime()),
               literal(now, UtcDateTime()), *about, *named)))


_EVENT = ApplicationEvent.__table__
# The newest timeline entry of the notice's application: the change that superseded it.
_LATEST_EVENT = (select(func.max(_EVENT.c.id))
                 .where(_EVENT.c.application_id == _TABLE.c.application_id)
                 .scalar_subquery())


def supersede(connection: Connection, applications: Sequence[int] | Select[Any]) -> int:
    """The still-queued notifications of these applications (ids, or a SELECT of them) marked
    superseded by the application's newest timeline entry: called in the transaction that
    changes the applications, after their timeline entries and before their new notices.

    Only rows still queued: a row the worker has claimed (sending) may be at the gateway
    already, so it is left to finish; on PostgreSQL the worker's claim and this UPDATE lock
    the row in turn, and whichever comes second sees the other's status. Returns how many."""
    if not isinstance(applications, Select):
        applications = list(applications)
        if not applications:
            return 0
    return connection.execute(
        update(_TABLE)
        .where(_TABLE.c.status == QUEUED, _TABLE.c.application_id.in_(applications))
        .values(status=SUPERSEDED, superseded_by=_LATEST_EVENT, lease_until=None)
    ).rowcount


def has_queued_notice(connection: Connection, application: int) -> bool:
    """Whether a notification about this application still waits to be sent."""
    return connection.execute(
        select(_TABLE.c.id).where(_TABLE.c.application_id == application,
                                  _TABLE.c.status == QUEUED,
                                  _TABLE.c.kind == "notification").limit(1)).first() is not None


def supersede_told(connection: Connection, phone: str, texts: Sequence[str]) -> int:
    """The phone's queued notifications that say exactly one of `texts`, marked superseded:
    the resident was just sent the same SMS in answer to a question (JADWAL at night, while the
    pickup SMS waits for the morning). Returns how many."""
    if not texts:
        return 0
    return connection.execute(
        update(_TABLE)
        .where(_TABLE.c.phone == phone, _TABLE.c.status == QUEUED,
               _TABLE.c.kind == "notification", _TABLE.c.text.in_([to_gsm7(t) for t in texts]))
        .values(status=SUPERSEDED, lease_until=None)
    ).rowcount


class _NewUid(FunctionElement[str]):
    """A random 32-character hex uid, made by the database (as `uuid4().hex` would)."""

    type = String()
    inherit_cache = True


@compiles(_NewUid, "postgresql")
def _new_uid_postgresql(element: _NewUid, compiler: Any, **kw: Any) -> str:
    return "replace(gen_random_uuid()::text, '-', '')"


@compiles(_NewUid)
def _new_uid(element: _NewUid, compiler: Any, **kw: Any) -> str:
    return "lower(hex(randomblob(16)))"


def _row(uid: str, phone: str, text: str, now: datetime, kind: str, inbound_id: int | None,
         not_before: datetime | None, broadcast_id: int | None = None,
         application_id: int | None = None, notice: str | None = None) -> dict[str, Any]:
    row = {"uid": uid, "phone": phone, "text": text, "kind": kind, "segments": segments(text),
           "status": QUEUED, "attempts": 0, "next_attempt_at": not_before or now,
           "inbound_id": inbound_id, "broadcast_id": broadcast_id,
           "application_id": application_id, "created_at": now}
    if notice is not None:  # a notice's rows only: the replies' statements stay as they were
        row["notice"] = notice
    return row


@dataclass
class DispatchStats:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


# The kinds of rows that are notices (not answering a message): each goes on the family's
# preferred channel (see `Dispatcher`): the notices of applications, and the office's
# broadcasts. Replies and kelurahan copies do not.
NOTICE_KINDS = frozenset({"notification", "broadcast"})


def _body_or_sms(route: WhatsAppOrSms, body: dict[str, Any] | None, sms: OutboundSms,
                 why_not: str = "") -> tuple[SendResult, float]:
    """`body` (a template, a question with its choices) by WhatsApp, or its text by SMS when
    WhatsApp cannot carry it (`SmsInstead`) or the body could not be made (None, `why_not`), as
    `WhatsAppOrSms` does for texts: the result, and the seconds the rate limits waited."""
    whatsapp, by_sms = route.whatsapp, route.sms
    waited = 0.0
    if body is not None:
        if sms.id:
            body["biz_opaque_callback_data"] = sms.id
        try:
            result = whatsapp.send_body(body)
        except SmsInstead as error:
            why_not = error.reason
        else:
            template = body["template"]["name"] if body.get("type") == "template" else None
            return (SendResult(result.provider_message_id, result.detail, WHATSAPP_PROVIDER,
                               template), whatsapp.last_wait)
        waited = whatsapp.last_wait
    log.info("whatsapp %s to %s not possible (%s): by SMS instead", sms.id, mask_phone(sms.to),
             why_not)
    sent = by_sms.send(sms)
    return (SendResult(sent.provider_message_id, f"by SMS: {why_not}"[:160],
                       sent.gateway or getattr(by_sms, "name", None)),
            waited + getattr(by_sms, "last_wait", 0.0))


class _Template:
    """A notice as an approved WhatsApp template: its own, with `values` read back from its
    text, or a general one whose one variable is the whole text (`values` None); by SMS when
    WhatsApp cannot carry it."""

    name = WHATSAPP_PROVIDER

    def __init__(self, route: WhatsAppOrSms, template: Mapping[str, str],
                 values: Sequence[str] | None = None) -> None:
        self.route = route
        self.template = template
        self.values = values
        self.last_wait = 0.0

    def send(self, sms: OutboundSms) -> SendResult:
        try:
            body: dict[str, Any] | None = template_body(
                sms.to, self.template["name"], self.template["language"],
                self.values if self.values is not None else [sms.text])
            why_not = ""
        except ValueError:
            body, why_not = None, "not a template"
        result, self.last_wait = _body_or_sms(self.route, body, sms, why_not)
        return result


def interactive_body(to: str, text: str, options: str) -> dict[str, Any]:
    """A WhatsApp question with its stored choices (`reply_rows`): reply buttons for up to 3,
    else a list opened by the stored button label; ValueError when they do not fit."""
    try:
        stored = json.loads(options)
        choices = [(str(option_id), str(title)) for option_id, title in stored["options"]]
        button = str(stored.get("button") or "")
    except (ValueError, TypeError, KeyError) as error:
        raise ValueError(f"unreadable options: {type(error).__name__}") from None
    if len(choices) <= BUTTONS_MAX:
        return buttons_body(to, text, choices)
    return list_body(to, text, button, choices)


class _Choices:
    """One WhatsApp question sent with its choices as reply buttons or a list, through the
    same route as its text (`WhatsAppOrSms`): when WhatsApp cannot carry it (`SmsInstead`) the
    text alone goes by SMS; choices that do not fit WhatsApp's limits leave the text alone,
    whose numbered list still reads."""

    name = WHATSAPP_PROVIDER

    def __init__(self, route: WhatsAppOrSms, options: str) -> None:
        self.route = route
        self.options = options
        self.last_wait = 0.0

    def send(self, sms: OutboundSms) -> SendResult:
        try:
            body = interactive_body(sms.to, sms.text, self.options)
        except ValueError as why:
            log.warning("whatsapp %s: choices not sent (%s), the text alone", sms.id, why)
            result = self.route.send(sms)
            self.last_wait = self.route.last_wait
            return result
        result, self.last_wait = _body_or_sms(self.route, body, sms)
        return result


class Dispatcher:
    """Claims due rows in one short transaction, sends them outside it, records each result in
    its own: a crash between the two leaves a lease that expires and the row is sent again.

    With the WhatsApp channel on (`whatsapp`), each row goes on its channel: a reply to a
    WhatsApp message by WhatsApp (by SMS when WhatsApp cannot carry it); a notice (a kind of
    `NOTICE_KINDS`, queued as SMS) by WhatsApp when the family last wrote on WhatsApp rather
    than by SMS (`whatsapp_preferred`, read once a batch), as a text while the 24-hour window
    is open, else as a template (`_template`), else by SMS; everything else by SMS. A
    WhatsApp question with choices (`options`) shows them as reply buttons or a list under its
    text (`_Choices`). The row's `channel` and `provider` end up
    naming the way it went. With the channel off, every row goes by SMS."""

    def __init__(self, db: Database, gateway: Gateway, clock: Clock, policy: RetryPolicy,
                 batch_size: int = 100,
                 kelurahan_phones: Mapping[str, str] | None = None,
                 whatsapp: WhatsAppOrSms | None = None,
                 templates: Mapping[str, Mapping[str, str]] | None = None) -> None:
        """`kelurahan_phones`: the phone (E.164) of each kelurahan that has one, by kelurahan
        code, to which the notices of its families without a phone are copied. `whatsapp`:
        the WhatsApp channel (over the SMS `gateway`), None when off; `templates`: the
        approved templates, by notice or general kind (`[gateway.whatsapp.templates]`)."""
        self.db = db
        self.gateway = gateway
        self.clock = clock
        self.policy = policy
        self.batch_size = batch_size
        self.kelurahan_phones = dict(kelurahan_phones or {})
        self.whatsapp = whatsapp
        self.templates = dict(templates or {}) if whatsapp is not None else {}

    def drain(self, max_rounds: int = 10_000,
              stopping: Callable[[], bool] = lambda: False) -> DispatchStats:
        """Send everything due now (the rows that became due by sending earlier ones included),
        or until `stopping()` says the worker is shutting down."""
        total = DispatchStats()
        for _ in range(max_rounds):
            if stopping():
                break
            stats = self.dispatch_once()
            total.claimed += stats.claimed
            total.sent += stats.sent
            total.retried += stats.retried
            total.failed += stats.failed
            total.errors += stats.errors
            if stats.claimed == 0:
                break
        return total

    def dispatch_once(self) -> DispatchStats:
        stats = DispatchStats()
        self._park_exhausted()
        rows = self._claim()
        preferred = self._whatsapp_preferred(rows)
        for row in rows:
            stats.claimed += 1
            kelurahan = kelurahan_in(row.phone)
            if kelurahan is not None:
                self._to_kelurahan(row, kelurahan)
                stats.sent += 1
                continue
            sms = OutboundSms(id=row.uid, to=row.phone, text=row.text)
            try:
                result = metrics.timed_send(self._route(row, preferred), sms)
            except PermanentFailure as failure:
                self._record_failure(row, failure.reason, permanent=True)
                stats.failed += 1
                stats.errors.append(failure.reason)
            except TemporaryFailure as failure:
                if self._record_failure(row, failure.reason, permanent=False):
                    stats.failed += 1
                else:
                    stats.retried += 1
                stats.errors.append(failure.reason)
            else:
                self._record_sent(row, result)
                stats.sent += 1
        metrics.dispatched(stats.sent, stats.retried, stats.failed)
        return stats

    def _whatsapp_preferred(self, rows: Sequence[OutboxMessage]) -> dict[str, bool]:
        """The batch's notice phones that prefer WhatsApp, with whether the window is open:
        one read a batch, none when the channel is off or the batch has no notice."""
        if self.whatsapp is None:
            return {}
        phones = [row.phone for row in rows if row.channel == SMS and row.kind in NOTICE_KINDS]
        if not phones:
            return {}
        with self.db.read() as connection:
            return whatsapp_preferred(connection, phones, self.clock.now())

    def _route(self, row: OutboxMessage, preferred: Mapping[str, bool]) -> Any:
        """The gateway this row goes through (see the class's docstring)."""
        if self.whatsapp is None:
            return self.gateway
        if row.channel == WHATSAPP:
            return _Choices(self.whatsapp, row.options) if row.options else self.whatsapp
        window_open = preferred.get(row.phone)
        if window_open is None or row.kind not in NOTICE_KINDS:
            return self.gateway
        if window_open:
            return self.whatsapp
        return self._template(row) or self.gateway

    def _template(self, row: OutboxMessage) -> _Template | None:
        """A notice outside the window goes as the template approved for it when its text
        reads as that template's wording, else as the general template of its kind
        ("notification", "broadcast"), whose one variable is the whole text; None: by SMS."""
        assert self.whatsapp is not None
        own = self.templates.get(row.notice) if row.notice else None
        if own is not None:
            values = notice_parameters(row.notice, own["language"], row.text)
            if values is not None:
                return _Template(self.whatsapp, own, values)
        general = self.templates.get(row.kind)
        return _Template(self.whatsapp, general) if general is not None else None

    def _claim(self) -> list[OutboxMessage]:
        now = self.clock.now()
        earlier = aliased(OutboxMessage)
        t = OutboxMessage
        due = (
            select(t.id)
            .where(
                or_(and_(t.status == QUEUED, t.next_attempt_at <= now),
                    and_(t.status == SENDING, t.lease_until < now)),
                t.attempts < self.policy.max_attempts,
                # One phone's messages leave in the order they were written; a message held
                # back on purpose (quiet hours, never tried yet) does not hold back the others.
                ~exists().where(earlier.phone == t.phone, earlier.id < t.id,
                                earlier.status.in_(PENDING),
                                or_(earlier.attempts > 0, earlier.next_attempt_at <= now)),
            )
            .order_by(t.id)
            .limit(min(self.batch_size, getattr(self.gateway, "batch_limit", None)
                       or self.batch_size))
            .with_for_update(skip_locked=True)
        )
        claim = (
            update(t)
            .where(t.id.in_(due.scalar_subquery()))
            .values(status=SENDING, attempts=t.attempts + 1,
                    lease_until=now + timedelta(seconds=self.policy.lease_seconds))
            .returning(t.id, t.uid, t.phone, t.text, t.attempts, t.next_attempt_at, t.kind,
                       t.channel, t.options, t.notice)
        )
        with self.db.connect() as connection:
            rows = connection.execute(claim).all()
        return sorted((OutboxMessage(id=r.id, uid=r.uid, phone=r.phone, text=r.text,
                                     attempts=r.attempts, next_attempt_at=r.next_attempt_at,
                                     kind=r.kind, channel=r.channel, options=r.options,
                                     notice=r.notice)
                       for r in rows), key=lambda m: m.id)

    def _to_kelurahan(self, row: OutboxMessage, kelurahan: str) -> None:
        """A message to a family without a phone never goes to the gateway: it lands on its
        kelurahan's list (the row itself, delivered, is the list's entry: see
        `messaging.kelurahan_mailbox`), and the same text, which names the family's cards by
        their reference or masked NIK, is queued to the kelurahan's phone when it has one. The
        copy keeps the notice's application, so a change that makes the notice untrue before
        the copy leaves supersedes the copy too."""
        now = self.clock.now()
        with self.db.connect() as connection:
            delivered = connection.execute(
                update(_TABLE).where(_TABLE.c.id == row.id, _IN_FLIGHT)
                # No segment billed: the operator never carried it (its copy is counted).
                .values(status=DELIVERED, provider=KELURAHAN, sent_at=now, delivered_at=now,
                        lease_until=None, last_error=None, segments=0)
                .returning(_TABLE.c.application_id)).first()
            phone = self.kelurahan_phones.get(kelurahan)
            if delivered is not None and phone:
                connection.execute(_INSERT, _row(
                    uuid.uuid4().hex, phone, row.text, now, KELURAHAN_COPY, None, None,
                    application_id=delivered.application_id))
        log.info("sms %s to kelurahan %s put on its list%s", row.uid, kelurahan,
                 " and copied to its phone" if phone else "")

    def _park_exhausted(self) -> None:
        """A row whose lease expired after its last attempt will not be claimed again."""
        now = self.clock.now()
        t = OutboxMessage
        with self.db.connect() as connection:
            parked = connection.execute(
                update(t)
                .where(t.status == SENDING, t.lease_until < now,
                       t.attempts >= self.policy.max_attempts)
                .values(status=FAILED, lease_until=None,
                        last_error="no answer from the gateway after the last attempt")
            ).rowcount
        metrics.dispatched(sent=0, retried=0, failed=parked)

    def _record_sent(self, row: OutboxMessage, result: SendResult) -> None:
        now = self.clock.now()
        provider = result.gateway or self.gateway.name
        values = {"_id": row.id, "_provider": provider,
                  "_message_id": result.provider_message_id, "_now": now,
                  "_template": result.template}
        # The channel it went on: WhatsApp's own, or SMS for any other gateway (a WhatsApp
        # row sent by SMS instead is counted, and costed, as an SMS).
        channel = WHATSAPP if provider == WHATSAPP_PROVIDER else SMS
        with self.db.connect() as connection:
            _commit_without_waiting(connection)
            if channel == (row.channel or SMS):
                connection.execute(_SENT, values)
            else:
                connection.execute(_SENT_ON, {**values, "_channel": channel})
        log.info("sms %s sent to %s via %s", row.uid, mask_phone(row.phone), provider)
        metrics.sent_after(now - row.next_attempt_at)

    def _record_failure(self, row: OutboxMessage, reason: str, *, permanent: bool) -> bool:
        """Returns True when the message is now parked as failed."""
        now = self.clock.now()
        final = permanent or row.attempts >= self.policy.max_attempts
        with self.db.connect() as connection:
            _commit_without_waiting(connection)
            connection.execute(_FAILED, {
                "_id": row.id, "_error": redact(reason)[:300], "_status": FAILED if final
                else QUEUED, "_next": now + self.policy.delay(row.attempts)})
        log.warning("sms %s to %s: %s (attempt %d, %s)", row.uid, mask_phone(row.phone),
                    redact(reason), row.attempts, "gave up" if final else "will retry")
        return final


def _commit_without_waiting(connection: Connection) -> None:
    """On PostgreSQL, the gateway's answer is committed without waiting for the disk: one
    fsync an SMS would cap a worker at a few hundred SMS a second. Only a crash of the database
    server itself can lose the last such commits, and the messages are then sent again when
    their lease runs out: at-least-once holds."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL synchronous_commit = off")


_IN_FLIGHT = _TABLE.c.status == SENDING
# A delivery report may arrive before the worker records the send: never move it back.
_SENT = update(_TABLE).where(_TABLE.c.id == bindparam("_id")).values(
    provider=bindparam("_provider"), provider_message_id=bindparam("_message_id"),
    template=bindparam("_template"),
    sent_at=bindparam("_now", type_=UtcDateTime()), lease_until=None, last_error=None,
    status=case((_TABLE.c.status.in_(PENDING), SENT), else_=_TABLE.c.status))
# The same, for a message that went on another channel than it was queued for.
_SENT_ON = _SENT.values(channel=bindparam("_channel"))
# Only a message still in flight goes back to the queue (or is parked).
_FAILED = update(_TABLE).where(_TABLE.c.id == bindparam("_id")).values(
    last_error=bindparam("_error"), lease_until=None,
    status=case((_IN_FLIGHT, bindparam("_status")), else_=_TABLE.c.status),
    next_attempt_at=case((_IN_FLIGHT, bindparam("_next", type_=UtcDateTime())),
                         else_=_TABLE.c.next_attempt_at))


CONSOLE = "console"
# The provider of a message handed to a kelurahan's list, and the kind of its copy to the
# kelurahan's phone (neither counted nor held back by the reply limits: it is a notification).
KELURAHAN = "kelurahan"
KELURAHAN_COPY = "kelurahan"


def apply_delivery_report(session: Session, report: DeliveryReport, now: datetime) -> bool:
    """Move the message forward to the reported status; False when the id is unknown."""
    message = session.execute(
        select(OutboxMessage)
        .where(OutboxMessage.provider_message_id == report.provider_message_id,
               # ids are each provider's own: another gateway may use the same one (the
               # console gateway stands in for any provider in a demo)
               or_(OutboxMessage.provider.in_((report.provider, CONSOLE)),
                   OutboxMessage.provider.is_(None)))
        .with_for_update()
    ).scalars().first()
    if message is None:
        return False
    if RANK[report.status] > RANK[message.status]:
        message.status = report.status
        if report.status in (DELIVERED, UNDELIVERED):
            message.delivered_at = now
        if report.failure_reason:
            message.last_error = redact(report.failure_reason)[:300]
    return True


# WhatsApp's statuses: each moves a row only from the statuses ranked below it.
WHATSAPP_STATUSES = (SENT, DELIVERED, READ, FAILED)
_BELOW = {status: tuple(sorted(s for s, rank in RANK.items() if rank < RANK[status]))
          for status in WHATSAPP_STATUSES}


def apply_whatsapp_status(connection: Connection, message_id: str, status: str,
                          error: str | None, now: datetime, *, by_sms: bool = False) -> bool:
    """Move the WhatsApp message `message_id` (the wamid) forward to `status` (one of
    `WHATSAPP_STATUSES`), never back: a "failed" after delivered or read changes nothing, as
    does a status repeated or arriving late. `error`: why it failed (code and title, no phone
    number). `by_sms`: a failure after which the same text is queued as an SMS, once (with
    the move: a repeated status moves nothing and queues nothing). False when nothing moved
    (an unknown id, or not forward)."""
    values: dict[str, Any] = {"status": status}
    if status in (DELIVERED, READ):
        values["delivered_at"] = func.coalesce(_TABLE.c.delivered_at,
                                               literal(now, UtcDateTime()))
    if error:
        values["last_error"] = redact(error)[:300]
    moved = (update(_TABLE)
             .where(_TABLE.c.provider == WHATSAPP, _TABLE.c.provider_message_id == message_id,
                    _TABLE.c.status.in_(_BELOW[status]))
             .values(values))
    if not by_sms:
        return connection.execute(moved).rowcount > 0
    failed = connection.execute(moved.returning(
        _TABLE.c.phone, _TABLE.c.text, _TABLE.c.kind, _TABLE.c.inbound_id,
        _TABLE.c.broadcast_id, _TABLE.c.application_id)).first()
    if failed is None:
        return False
    connection.execute(_INSERT, _row(uuid.uuid4().hex, failed.phone, failed.text, now,
                                     failed.kind, failed.inbound_id, None, failed.broadcast_id,
                                     failed.application_id))
    log.info("whatsapp %s to %s failed (%s): queued by SMS instead", message_id,
             mask_phone(failed.phone), redact(error or ""))
    return True


def _fresh_attempts(now: datetime) -> Any:
    """Messages parked as failed, made due again with a fresh set of attempts."""
    return update(_TABLE).where(_TABLE.c.status == FAILED).values(
        status=QUEUED, attempts=0, next_attempt_at=now, last_error=None, lease_until=None)


def requeue_failed(session: Session | Connection, now: datetime,
                   phone: str | None = None) -> int:
    """Give parked messages a fresh set of attempts (after an outage has been fixed)."""
    statement = _fresh_attempts(now)
    if phone is not None:
        statement = statement.where(_TABLE.c.phone == phone)
    return session.execute(statement).rowcount


def requeue_one(connection: Connection, message_id: int, now: datetime) -> str | None:
    """One message parked as failed made due again; its phone, or None when it is not failed
    (any more)."""
    return connection.execute(_fresh_attempts(now).where(_TABLE.c.id == message_id)
                              .returning(_TABLE.c.phone)).scalar_one_or_none()
