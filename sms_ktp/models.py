"""Tables. Every timestamp is UTC; numbers of residents (NIK, KK) never leave these rows in full
except through the masked views the flows receive, and are stored encrypted, with a keyed hash
beside them for exact lookups (`sms_ktp.crypto`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    literal_column,
    text,
)
from sqlalchemy.sql import operators
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from sms_ktp import crypto
from sms_ktp.domain.stages import Stage

# Room for a sealed 16-digit number (71 characters: see `sms_ktp.crypto`) with a margin.
SEALED_LENGTH = 100
# What an encrypted column refuses in SQL: a random nonce makes equal numbers differ.
_EQUALITY = frozenset({operators.eq, operators.ne, operators.in_op, operators.not_in_op})


class UtcDateTime(TypeDecorator[datetime]):
    """Stores naive UTC (SQLite has no time zones) and always hands back aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class EncryptedString(TypeDecorator[str]):
    """A string sealed with the current data key on its way in and opened on its way out;
    `purpose` ("table.column") is bound into the ciphertext, so a value copied into another
    column does not open. Never compared in SQL: every write has a new nonce, so equal numbers
    differ in storage (look up by the keyed hash beside it)."""

    impl = String
    cache_ok = True
    randomized = True  # one nonce per value: a bulk write must not reuse a converted value

    def __init__(self, purpose: str, length: int = SEALED_LENGTH) -> None:
        super().__init__(length)
        self.purpose = purpose

    class comparator_factory(TypeDecorator.Comparator[str]):
        def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
            if op in _EQUALITY and not (len(other) == 1 and other[0] is None):
                raise TypeError(f"{self.expr} is encrypted: compare its keyed hash column")
            return super().operate(op, *other, **kwargs)

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else crypto.encrypt(value, self.purpose)

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else crypto.decrypt(value, self.purpose)


class EncryptedJSON(TypeDecorator[dict[str, Any]]):
    """A JSON object sealed as a whole (a dialogue's answers: they hold NIK and KK numbers)."""

    impl = Text
    cache_ok = True
    randomized = True

    def __init__(self, purpose: str) -> None:
        super().__init__()
        self.purpose = purpose

    def process_bind_param(self, value: dict[str, Any] | None, dialect: Any) -> str | None:
        if value is None:
            return None
        return crypto.encrypt(json.dumps(value, separators=(",", ":")), self.purpose)

    def process_result_value(self, value: str | None, dialect: Any) -> dict[str, Any] | None:
        return None if value is None else json.loads(crypto.decrypt(value, self.purpose))


class KeyedHash(TypeDecorator[str]):
    """The keyed hash of a resident's number, for exact lookups and unique constraints. Written
    from the number itself; a number compared with the column is hashed the same way (SQLAlchemy
    gives a compared value the column's type), so `Application.active_nik == nik` just works.
    Read back, it is the hash as stored."""

    impl = String
    cache_ok = True

    def __init__(self, purpose: str) -> None:
        super().__init__(crypto.HASH_LENGTH)
        self.purpose = purpose

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else crypto.keyed_hash(value, self.purpose)


def _copy_of(source: str) -> Any:
    """A column default: the value written to `source` in the same INSERT (a `KeyedHash`
    column then stores its hash), so writers give the number once."""

    def copy(context: Any) -> Any:
        return context.get_current_parameters().get(source)

    return copy


def hash_column(source: str, purpose: str, *, filled: bool, unique: bool = False,
                index: bool = False) -> Any:
    """A keyed-hash column of the number in column `source`. `filled`: an INSERT that gives
    `source` fills it (also `sms_ktp.platform.bulk`); an UPDATE of `source` must set it too.
    `info["hash_of"]` lets the key rotation find the number a hash is made from."""
    return Field(default=None, sa_column=Column(
        KeyedHash(purpose), default=_copy_of(source) if filled else None, nullable=True,
        unique=unique, index=index, info={"hash_of": source}))


def _stage_index(name: str, stage: Stage, *columns: str) -> Index:
    where = text(f"stage = '{stage.value}'")
    return Index(name, *columns, sqlite_where=where, postgresql_where=where)


def in_stage(stage: Stage) -> Any:
    """`application.stage = '<stage>'` with the stage written into the SQL rather than bound:
    only then do SQLite and PostgreSQL use that stage's partial index."""
    return Application.__table__.c.stage == literal_column(f"'{stage.value}'")


def utc_column(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(sa_column=Column(UtcDateTime(), nullable=nullable, index=index))


class PhoneState(SQLModel, table=True):
    """Everything kept about one phone number: the reply language it chose, where it stands in a
    dialogue (mapped to and from `flows.dialogue.Conversation`) and in its USSD session. One row
    per phone, read and locked once per inbound SMS or USSD screen, so two messages of one phone
    are handled one after the other."""

    __tablename__ = "phone_state"

    phone: str = Field(primary_key=True, max_length=20)
    language: str | None = Field(default=None, max_length=8)  # chosen with BAHASA / LANG
    flow: str | None = Field(default=None, max_length=30)  # NULL: no dialogue in progress
    step: str | None = Field(default=None, max_length=30)
    dialogue_language: str | None = Field(default=None, max_length=8)
    # The dialogue's answers so far and those given up front: NIK and KK among them, sealed.
    answers: dict[str, Any] | None = Field(
        default=None, sa_column=Column(EncryptedJSON("phone_state.answers")))
    prefill: dict[str, Any] | None = Field(
        default=None, sa_column=Column(EncryptedJSON("phone_state.prefill")))
    expires_at: datetime | None = utc_column(nullable=True, index=True)
    # The USSD session in progress ("provider:sessionId"), its place in the menus, the input
    # answered so far (only its length and a digest: it holds NIK and KK numbers) and the last
    # screen (sent again, unchanged, when the operator repeats a request).
    ussd_session: str | None = Field(default=None, max_length=140)
    ussd_menu: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    ussd_text_length: int | None = None
    ussd_text_digest: str | None = Field(default=None, max_length=64)
    ussd_screen: str | None = Field(default=None, sa_column=Column(String(400)))
    # Set by BERHENTI / STOP: no broadcasts to this phone (transactional SMS still go).
    broadcast_opt_out_at: datetime | None = utc_column(nullable=True)
    updated_at: datetime = utc_column(index=True)


class Family(SQLModel, table=True):
    """A Kartu Keluarga and the one phone number that receives every SMS for its members."""

    __tablename__ = "family"

    id: int | None = Field(default=None, primary_key=True)
    # Encrypted; NULL once erased. Found by `kk_hash` (filled from `kk` by an INSERT).
    kk: str | None = Field(default=None, sa_column=Column(EncryptedString("family.kk")))
    kk_hash: str | None = hash_column("kk", "kk", filled=True, unique=True)
    phone: str = Field(max_length=20, index=True)
    kecamatan_code: str = Field(max_length=2)
    created_at: datetime = utc_column()


class PhoneChange(SQLModel, table=True):
    """A family's phone changed at the office (`sms_ktp.applications.phone_change`): a code is
    sent to the new phone and staff type it back from there. The code is kept only as a salted
    keyed hash; a change is open until confirmed, closed (replaced, given up, too many wrong
    codes) or past `expires_at`."""

    __tablename__ = "phone_change"

    id: int | None = Field(default=None, primary_key=True)
    family_id: int = Field(foreign_key="family.id", index=True)
    old_phone: str = Field(max_length=20)
    new_phone: str = Field(max_length=20)
    code_hash: str = Field(max_length=100)  # "<salt>:<HMAC-SHA256 of salt and code>"
    attempts: int = 0  # wrong codes typed
    actor: str = Field(max_length=60)
    created_at: datetime = utc_column()
    expires_at: datetime = utc_column()
    confirmed_at: datetime | None = utc_column(nullable=True)
    closed_at: datetime | None = utc_column(nullable=True)


class Application(SQLModel, table=True):
    """A request for one population document (`sms_ktp.domain.documents`): a resident's KTP-el
    printed, a KK, an akta kelahiran or kematian, a child's KIA. `nik` is the applicant's."""

    __tablename__ = "application"
    # The work queues are partial indexes over the stage they serve: a card leaving a stage
    # leaves its index, and a day's allocation updating 30,000 cards touches a handful of
    # indexes instead of every one (PostgreSQL writes an entry in each index for each update).
    __table_args__ = (
        _stage_index("ix_application_print_queue", Stage.PRINT_QUEUE,
                     "print_batch_id", "ready_at", "id"),
        _stage_index("ix_application_printed", Stage.PRINTED, "printed_at", "id"),
        _stage_index("ix_application_pickup", Stage.PICKUP_SCHEDULED, "pickup_at"),
        # The staff's queues of cases to close: few rows among millions, read oldest first.
        _stage_index("ix_application_submitted", Stage.SUBMITTED, "created_at", "id"),
        _stage_index("ix_application_duplicate", Stage.DUPLICATE, "updated_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=12, unique=True)
    document: str = Field(default="ktp", sa_column=Column(
        String(12), nullable=False, server_default="ktp", index=True))
    # The document's other answers (a child's birth date and sex, the NIK of the deceased and
    # the date of death): sealed as a whole, NULL for a KTP-el and once erased.
    details: dict[str, Any] | None = Field(
        default=None, sa_column=Column(EncryptedJSON("application.details")))
    # Encrypted; NULL once erased. Found by `nik_hash` (filled from `nik` by an INSERT; an
    # UPDATE of `nik` must set it too).
    nik: str | None = Field(default=None, sa_column=Column(EncryptedString("application.nik")))
    nik_hash: str | None = hash_column("nik", "nik", filled=True, index=True)
    # The keyed hash of `nik` while the application is active (written from the NIK itself),
    # NULL afterwards: a unique column that enforces "one active application per NIK" on every
    # database. Another document writes its own key here (`flows.documents`: "kk:<NIK>", the
    # NIK of the deceased), or nothing where a family may ask for two at once (twins' KIA).
    active_nik: str | None = hash_column("nik", "nik", filled=False, unique=True)
    family_id: int = Field(foreign_key="family.id", index=True)
    reason: str = Field(max_length=20)
    suket_number: str | None = Field(default=None, max_length=40)
    stage: str = Field(max_length=20)
    stage_note: str | None = Field(default=None, max_length=200)  # e.g. why it was rejected
    language: str = Field(max_length=8)
    channel: str = Field(max_length=12)
    created_at: datetime = utc_column()
    updated_at: datetime = utc_column()
    # Printing: readiness (PRR) orders the print queue; a batch reserves blangko.
    ready_at: datetime | None = utc_column(nullable=True)
    print_batch_id: int | None = Field(default=None, foreign_key="print_batch.id")
    printed_at: datetime | None = utc_column(nullable=True)
    # Pickup: the family's visit the card belongs to (`PickupVisit`), and as copied from it the
    # office (kecamatan code), slot and code, which stay after the visit is over (history, the
    # dashboard's partial index on the slot).
    visit_id: int | None = Field(default=None, foreign_key="pickup_visit.id", index=True)
    # The visit to hand in the papers of another document (a `PickupVisit` for papers).
    papers_visit_id: int | None = Field(default=None, foreign_key="pickup_visit.id", index=True)
    pickup_office: str | None = Field(default=None, max_length=2)
    pickup_at: datetime | None = utc_column(nullable=True)
    pickup_code: str | None = Field(default=None, max_length=12)
    collected_at: datetime | None = utc_column(nullable=True)
    # The resident's YES to the registration summary, which says why the data is used: when,
    # and which wording (`flows/messages`: the consent sentence's version) they agreed to.
    consent_at: datetime | None = utc_column(nullable=True)
    consent_version: str | None = Field(default=None, max_length=20)
    # Personal data erased (retention purge or a resident's request): what is left is counts.
    erased_at: datetime | None = utc_column(nullable=True)


class ApplicationEvent(SQLModel, table=True):
    """The timeline of an application: every change of stage, who made it, and why."""

    __tablename__ = "application_event"

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="application.id", index=True)
    at: datetime = utc_column()
    stage: str = Field(max_length=20)
    # Indexed: a kelurahan helper's home lists the registrations they made (their `submitted`).
    actor: str = Field(max_length=60, index=True)
    note: str = Field(default="", max_length=500)


class InboundMessage(SQLModel, table=True):
    """Every SMS received, once: the provider's id is unique, so a retried webhook is a no-op."""

    __tablename__ = "inbound_message"
    __table_args__ = (UniqueConstraint("provider", "provider_id", name="uq_inbound_provider_id"),)

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=30)
    provider_id: str = Field(max_length=100)
    sender: str = Field(max_length=40, index=True)  # E.164 for mobiles, else as received
    recipient: str = Field(default="", max_length=40)
    text: str = Field(default="", sa_column=Column(String(2000), nullable=False))  # redacted
    link_id: str | None = Field(default=None, max_length=100)
    network_code: str | None = Field(default=None, max_length=20)
    replied: bool = False
    received_at: datetime = utc_column(index=True)


# The outbox's statuses (`messaging.outbox` moves a message through them; the health check
# counts the backlog by them).
OUTBOX_QUEUED, OUTBOX_SENDING, OUTBOX_SENT = "queued", "sending", "sent"
OUTBOX_BUFFERED = "buffered"
OUTBOX_DELIVERED, OUTBOX_UNDELIVERED, OUTBOX_FAILED = "delivered", "undelivered", "failed"
# Never sent: a later change of its application made it untrue or replaced it.
OUTBOX_SUPERSEDED = "superseded"
# WhatsApp only: the resident opened it (after delivered).
OUTBOX_READ = "read"
OUTBOX_PENDING = (OUTBOX_QUEUED, OUTBOX_SENDING)


class OutboxMessage(SQLModel, table=True):
    """An SMS to send. Written in the transaction that decided it; sent by the worker."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),
                      Index("ix_outbox_phone_status", "phone", "status"))

    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(max_length=32, unique=True)  # our id, given to the gateway
    phone: str = Field(max_length=20)
    text: str = Field(sa_column=Column(String(1000), nullable=False))
    kind: str = Field(default="reply", max_length=20)
    segments: int = 1
    status: str = Field(default="queued", max_length=12)
    attempts: int = 0
    next_attempt_at: datetime = utc_column()
    lease_until: datetime | None = utc_column(nullable=True)
    provider: str | None = Field(default=None, max_length=30)
    provider_message_id: str | None = Field(default=None, max_length=100, index=True)
    last_error: str | None = Field(default=None, max_length=300)
    inbound_id: int | None = Field(default=None, foreign_key="inbound_message.id")
    broadcast_id: int | None = Field(default=None, foreign_key="broadcast.id", index=True)
    # A notification's application: when the application moves on, its notices still queued
    # are no longer true and are marked superseded instead of sent (`outbox.supersede`), with
    # the timeline entry of the change that superseded them.
    application_id: int | None = Field(default=None, foreign_key="application.id", index=True)
    superseded_by: int | None = Field(default=None, foreign_key="application_event.id")
    created_at: datetime = utc_column()
    sent_at: datetime | None = utc_column(nullable=True)
    delivered_at: datetime | None = utc_column(nullable=True)
    # The channel it goes out on: "sms", or "whatsapp" for a reply to a WhatsApp message.
    channel: str = Field(default="sms", sa_column=Column(
        String(10), nullable=False, server_default="sms"))
    # A WhatsApp question's choices (JSON: `sms_ktp.channels.whatsapp_options`), shown as reply
    # buttons or a list under its text; NULL for every other message.
    options: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # A notice's catalogue key ("notify.pickup_scheduled"): outside WhatsApp's 24-hour window it
    # goes as the template approved for that notice. NULL for every other message.
    notice: str | None = Field(default=None, max_length=60)
    # The approved WhatsApp template it went as (what Meta bills); NULL for anything else.
    template: str | None = Field(default=None, max_length=60)


class WhatsAppContact(SQLModel, table=True):
    """When a resident last wrote on WhatsApp: a notice may go by WhatsApp as a plain message
    only within 24 hours of it (Meta's customer-service window)."""

    __tablename__ = "whatsapp_contact"

    phone: str = Field(primary_key=True, max_length=20)  # E.164
    last_inbound_at: datetime = utc_column()


class UssdSession(SQLModel, table=True):
    """One USSD session, for the staff statistics: who dialled, when, and how it ended (the
    operator's end-of-session notification)."""

    __tablename__ = "ussd_session"
    __table_args__ = (UniqueConstraint("provider", "session_id", name="uq_ussd_session"),)

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=30)
    session_id: str = Field(max_length=100)
    phone: str = Field(default="", max_length=20, index=True)
    service_code: str = Field(default="", max_length=40)
    network_code: str | None = Field(default=None, max_length=20)
    started_at: datetime = utc_column(index=True)
    end_status: str | None = Field(default=None, max_length=40)
    duration_ms: int | None = None
    hops: int | None = None  # screens shown, as the operator counted them
    last_input: str | None = Field(default=None, max_length=200)  # redacted
    error_message: str | None = Field(default=None, max_length=300)
    ended_at: datetime | None = utc_column(nullable=True)


class BlangkoMovement(SQLModel, table=True):
    """Blank cards in and out of a printing site's stock; the stock is their sum."""

    __tablename__ = "blangko_movement"

    id: int | None = Field(default=None, primary_key=True)
    site: str = Field(max_length=40, index=True)
    # The kind of blank card (`sms_ktp.domain.documents.CARDS`): a KIA is not printed on a
    # KTP-el blangko.
    card: str = Field(default="ktp", sa_column=Column(
        String(12), nullable=False, server_default="ktp"))
    delta: int
    reason: str = Field(max_length=100)
    actor: str = Field(max_length=60)
    at: datetime = utc_column()


class PrintBatch(SQLModel, table=True):
    """Cards reserved for printing together; their blangko is reserved until the batch is done."""

    __tablename__ = "print_batch"

    id: int | None = Field(default=None, primary_key=True)
    site: str = Field(max_length=40)
    card: str = Field(default="ktp", sa_column=Column(
        String(12), nullable=False, server_default="ktp"))
    size: int
    created_at: datetime = utc_column()
    done_at: datetime | None = utc_column(nullable=True)


class PickupVisit(SQLModel, table=True):
    """A family's visit to collect its printed cards: one office, one slot, one code, one SMS
    and one reminder for every card in it (`Application.visit_id`). `open_code` is the code
    while the visit has cards to hand over, NULL afterwards: unique among open visits.
    `starts_at` is NULL for a visit held at the office after missed slots (any day, in
    opening hours). The counters limit how often it moves: `reschedules` after missed slots,
    `changes` asked by the resident (UBAH JADWAL). A visit the family asked to have posted
    (KIRIM) keeps neither slot nor open code: its cards travel as one parcel."""

    __tablename__ = "pickup_visit"
    __table_args__ = (
        Index("ix_pickup_visit_open", "starts_at", sqlite_where=text("open_code IS NOT NULL"),
              postgresql_where=text("open_code IS NOT NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    family_id: int = Field(foreign_key="family.id", index=True)
    # "pickup": to collect printed cards; "papers": to hand in another document's papers.
    purpose: str = Field(default="pickup", sa_column=Column(
        String(10), nullable=False, server_default="pickup"))
    office: str = Field(max_length=2)
    starts_at: datetime | None = utc_column(nullable=True)
    code: str = Field(max_length=12, index=True)  # found by the counter
    open_code: str | None = Field(default=None, max_length=12, unique=True)
    reschedules: int = 0
    changes: int = 0
    reminded_at: datetime | None = utc_column(nullable=True)
    created_at: datetime = utc_column()
    # Delivery by post instead (`[delivery]`): when the family asked (KIRIM; the slot and the
    # open code are given up then), the courier's tracking number and when the parcel was
    # handed over, and when it was delivered.
    post_requested_at: datetime | None = utc_column(nullable=True)
    tracking: str | None = Field(default=None, max_length=40)
    posted_at: datetime | None = utc_column(nullable=True)
    delivered_at: datetime | None = utc_column(nullable=True)


class PickupSlot(SQLModel, table=True):
    """How many cards are booked into one pickup slot of one office: booking is one UPDATE that
    fails when the slot is full, so capacity holds even with two allocation runs at once."""

    __tablename__ = "pickup_slot"

    office: str = Field(primary_key=True, max_length=2)
    starts_at: datetime = Field(sa_column=Column(UtcDateTime(), primary_key=True))
    capacity: int
    booked: int = 0


class StaffUser(SQLModel, table=True):
    """A member of staff who signs in to the back office. `office`: the kecamatan code an
    operator works for (operators see only that office), or the kelurahan a helper works in."""

    __tablename__ = "staff_user"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=40, unique=True)
    role: str = Field(max_length=20)
    office: str | None = Field(default=None, max_length=10)
    password_hash: str = Field(max_length=200)
    created_at: datetime = utc_column()
    password_changed_at: datetime = utc_column()
    disabled_at: datetime | None = utc_column(nullable=True)
    last_login_at: datetime | None = utc_column(nullable=True)


class StaffSession(SQLModel, table=True):
    """A signed-in browser of the back office, kept on the server: the cookie holds only a random
    token whose hash is this row's id, so ending the row (sign-out, idle time, a disabled account,
    a new password) ends the session even for a copy of the cookie kept elsewhere."""

    __tablename__ = "staff_session"

    id: str = Field(primary_key=True, max_length=64)  # SHA-256 of the cookie's token, in hex
    staff_id: int = Field(foreign_key="staff_user.id", index=True)
    started_at: datetime = utc_column()
    seen_at: datetime = utc_column()  # the last request
    ended_at: datetime | None = utc_column(nullable=True)
    ended_why: str | None = Field(default=None, max_length=20)  # logout, idle, disabled, password


class AuditEntry(SQLModel, table=True):
    """Who did what, when and from where: every staff action that changes data or shows a full
    NIK or KK. Never holds a full NIK or KK itself."""

    __tablename__ = "audit_entry"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = utc_column(index=True)
    actor: str = Field(max_length=60, index=True)  # "staff:<username>" or "operator:<user>"
    action: str = Field(max_length=40, index=True)  # e.g. "application.reject"
    target: str = Field(default="", max_length=80)  # e.g. "application 123456789"
    detail: str = Field(default="", max_length=500)
    address: str = Field(default="", max_length=64)  # the client's IP address


class Broadcast(SQLModel, table=True):
    """An announcement to many families, queued into the outbox a slice at a time at the
    gateway's rate, outside quiet hours, skipping phones that opted out."""

    __tablename__ = "broadcast"

    id: int | None = Field(default=None, primary_key=True)
    text: str = Field(sa_column=Column(String(1000), nullable=False))
    audience: str = Field(max_length=20)  # "all", "kecamatan" or "stage"
    audience_value: str | None = Field(default=None, max_length=20)
    status: str = Field(max_length=12)  # scheduled, sending, done, cancelled
    created_by: str = Field(max_length=60)
    created_at: datetime = utc_column()
    send_at: datetime = utc_column(index=True)
    recipients: int = 0  # phones in the audience when it started
    queued: int = 0  # of which queued into the outbox so far
    last_phone: str | None = Field(default=None, max_length=20)  # where queueing goes on
    finished_at: datetime | None = utc_column(nullable=True)
    cancelled_at: datetime | None = utc_column(nullable=True)


class OfficeSetting(SQLModel, table=True):
    """A pickup office's settings changed by staff in the back office, over the configuration
    file: the same keys as a `[[pickup.offices]]` entry (hours, slot_minutes, capacity,
    closed_dates, name, address)."""

    __tablename__ = "office_setting"

    office: str = Field(primary_key=True, max_length=2)
    values: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    updated_by: str = Field(max_length=60)
    updated_at: datetime = utc_column()


class WorkerHeartbeat(SQLModel, table=True):
    """One row per running worker process, touched every few seconds: `/healthz` reads how long
    ago the freshest one beat, and staff see which workers run where."""

    __tablename__ = "worker_heartbeat"

    worker: str = Field(primary_key=True, max_length=80)  # host:pid:random
    host: str = Field(max_length=64)
    pid: int
    started_at: datetime = utc_column()
    beat_at: datetime = utc_column()
    # The gateway its SMS go through now (the fallback while the primary keeps failing).
    gateway: str | None = Field(default=None, max_length=40)


class JobLease(SQLModel, table=True):
    """Who runs a scheduled job right now, and until when: on SQLite a second worker process
    skips a job that another one holds instead of running it twice."""

    __tablename__ = "job_lease"

    job: str = Field(primary_key=True, max_length=40)
    worker: str = Field(max_length=80)
    until: datetime = utc_column()


class KelurahanNotice(SQLModel, table=True):
    """A notice to a family without a phone, which its kelurahan passed on: the outbox row (sent
    to the kelurahan's address, see `sms_ktp.domain.contact_address`) ticked "disampaikan" by a
    helper of that kelurahan, and when and by whom. One row per notice: ticked once."""

    __tablename__ = "kelurahan_notice"

    outbox_id: int = Field(primary_key=True, foreign_key="outbox.id")
    kelurahan: str = Field(max_length=10, index=True)
    passed_at: datetime = utc_column()
    passed_by: str = Field(max_length=60)


class DocumentFile(SQLModel, table=True):
    """A signed PDF (KK, akta) attached to its application by staff: the bytes sealed with the
    data key like a NIK (`sms_ktp.applications.document_files`), the name as uploaded, sealed
    too (a file is often named after the person). An application may carry several (an akta
    kelahiran with the updated KK and the KIA). Erased with the application: `content` and
    `name` NULL, `erased_at` set; the row stays for the counts."""

    __tablename__ = "document_file"

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="application.id", index=True)
    name: str | None = Field(default=None, sa_column=Column(
        EncryptedString("document_file.name", 300)))
    size: int  # bytes of the PDF
    sha256: str | None = Field(default=None, max_length=64)  # of the PDF, for the audit log
    content: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    uploaded_by: str = Field(max_length=60)
    uploaded_at: datetime = utc_column()
    erased_at: datetime | None = utc_column(nullable=True)


class DocumentLink(SQLModel, table=True):
    """The link and PIN a family downloads its signed PDFs with (`/d/<code>`): sent by SMS when
    the application is ready, valid until `expires_at`. The PIN is kept only as a salted keyed
    hash; `failures` wrong PINs in a row lock it (`locked_at`) until staff renew it, which
    ends it (`ended_at`) for a new code and PIN. `code` is unique for ever (never drawn
    again), NULL once erased."""

    __tablename__ = "document_link"

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="application.id", index=True)
    code: str | None = Field(default=None, max_length=12, unique=True)
    pin_hash: str | None = Field(default=None, max_length=100)
    created_by: str = Field(max_length=60)
    created_at: datetime = utc_column()
    expires_at: datetime = utc_column()
    failures: int = 0
    locked_at: datetime | None = utc_column(nullable=True)
    downloaded_at: datetime | None = utc_column(nullable=True)  # the first right PIN
    ended_at: datetime | None = utc_column(nullable=True)
    ended_why: str | None = Field(default=None, max_length=20)  # renewed, erased
