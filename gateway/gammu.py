"""gammu-smsd adapter: a GSM modem in the office, driven by gammu-smsd and its SQL tables.

gammu-smsd owns its database (schema version 17): we write what to send into `outbox` (further
parts into `outbox_multipart`); the daemon sends it through the modem and moves each part to
`sentitems`, where delivery reports later update its `Status`; what the modem receives lands in
`inbox`. Nothing calls us, so the worker polls `claim_inbound` and `delivery_reports`
(gateway.base.PollingGateway).

Written for PostgreSQL (gammu's `native_pgsql` driver): the inbox is claimed with
`FOR UPDATE SKIP LOCKED`, and a send holds an advisory lock on its message so that two workers
retrying the same SMS write it once.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    func,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout

from gateway.gammu_parts import (
    MAX_PARTS,
    InboxPart,
    JoinedMessage,
    OutboundParts,
    concat_udh,
    join_parts,
    parse_udh,
    split_text,
)
from gateway.message import (
    DELIVERY_STATUSES,
    DeliveryReport,
    DeliveryStatus,
    InboundSms,
    OutboundSms,
    PermanentFailure,
    SendResult,
    TemporaryFailure,
)

PROVIDER = "gammu"
log = logging.getLogger(__name__)

# gammu's sentitems.Status (schema 17) onto ours. DeliveryUnknown: a report came but said
# nothing, so the SMS is only known to have left; SendingError and Error never left the modem.
DELIVERY_STATUS_MAP: Mapping[str, DeliveryStatus] = {
    "SendingOK": "sent",
    "SendingOKNoReport": "sent",
    "DeliveryUnknown": "sent",
    "DeliveryPending": "buffered",
    "DeliveryOK": "delivered",
    "DeliveryFailed": "undelivered",
    "SendingError": "undelivered",
    "Error": "undelivered",
}
_FAILURE_REASONS = {
    "DeliveryFailed": "the network could not deliver it",
    "SendingError": "the modem could not send it",
    "Error": "gammu-smsd failed while sending it",
}
# E.164 with or without "+", or a national 0… number; gammu's column holds 20 characters.
_MSISDN = re.compile(r"\+?[0-9]{5,15}")
# gammu-smsd picks outbox rows whose SendingDateTime and SendingTimeOut are before now() in its
# own session's time zone; a date long past means "now" whatever zone either side runs in.
_LONG_AGO = datetime(2000, 1, 1)
# How far behind the report cursor rows are read again: gammu stamps UpdatedInDB rounded to the
# second at the start of its statement, so a row may commit with a stamp the cursor has passed.
_REPORT_OVERLAP = timedelta(seconds=10)
# The raw status of a message gammu-smsd deleted from its outbox without sending it.
DROPPED = "Dropped"
# How many queued messages an instance watches for that at most.
_PENDING_MEMORY = 100_000
# Incomplete multipart messages are forgotten after this long unseen (another worker took them).
_WAITING_MEMORY_SECONDS = 3600.0


@dataclass(frozen=True)
class GammuSettings:
    """The `[gateway.gammu]` table; every key but `database_url` has a default."""

    database_url: str = field(repr=False)  # may carry the password
    phone_id: str = ""
    creator_id: str = "sms-ktp"
    delivery_report: bool = True
    multipart_timeout_seconds: float = 120.0
    report_window_hours: float = 24.0
    local_timezone: str = "Asia/Jakarta"
    connect_timeout_seconds: float = 5.0
    modem_timeout_seconds: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.database_url, str) or not self.database_url.strip():
            raise ValueError("database_url: required (SQLAlchemy URL of gammu-smsd's database)")
        try:
            make_url(self.database_url)
        except (ArgumentError, ValueError):
            raise ValueError("database_url: not a database URL") from None
        for name, default in _DEFAULTS.items():
            value = getattr(self, name)
            if isinstance(default, bool):
                if not isinstance(value, bool):
                    raise ValueError(f"{name}: must be true or false")
            elif isinstance(default, float):
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ValueError(f"{name}: must be a number")
            elif not isinstance(value, str):
                raise ValueError(f"{name}: must be a string")
        if len(self.phone_id) > 255:
            raise ValueError("phone_id: at most 255 characters (gammu's SenderID)")
        if not self.creator_id.strip() or len(self.creator_id) > 64:
            raise ValueError("creator_id: must be 1 to 64 characters")
        for name in ("multipart_timeout_seconds", "modem_timeout_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: must not be negative")
        for name in ("report_window_hours", "connect_timeout_seconds"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}: must be positive")
        try:
            ZoneInfo(self.local_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"local_timezone: unknown time zone {self.local_timezone[:40]!r}"
                             ) from None

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> GammuSettings:
        """From the [gateway.gammu] TOML table; raises ValueError naming the bad key.
        `rate_per_second` belongs to the router and is ignored here."""
        if not isinstance(raw, Mapping):
            raise ValueError("must be a table")
        values = {key: value for key, value in raw.items() if key != "rate_per_second"}
        known = {f.name for f in fields(cls)}
        unknown = sorted(str(key) for key in values if key not in known)
        if unknown:
            raise ValueError(f"unknown key {unknown[0]}")
        if "database_url" not in values:
            raise ValueError("database_url: required (SQLAlchemy URL of gammu-smsd's database)")
        for name, default in _DEFAULTS.items():
            value = values.get(name)
            # TOML has integers and floats; a whole number of seconds is a number too.
            if isinstance(default, float) and isinstance(value, int) and not isinstance(
                    value, bool):
                values[name] = float(value)
        return cls(**values)


_DEFAULTS: dict[str, Any] = {
    f.name: f.default for f in fields(GammuSettings) if f.name != "database_url"
}


# Only the columns this adapter touches; the daemon's own SQL does the rest.
_metadata = MetaData()
_outbox = Table(
    "outbox", _metadata,
    Column("ID", Integer, primary_key=True),
    Column("DestinationNumber", String(20)),
    Column("TextDecoded", Text),
    Column("Coding", String(255)),
    Column("UDH", Text),
    Column("Class", Integer),
    Column("MultiPart", Boolean),
    Column("SenderID", String(255)),
    Column("CreatorID", Text),
    Column("DeliveryReport", String(10)),
    Column("SendingDateTime", DateTime),
    Column("SendingTimeOut", DateTime),
)
_outbox_multipart = Table(
    "outbox_multipart", _metadata,
    Column("ID", Integer, primary_key=True, autoincrement=False),
    Column("SequencePosition", Integer, primary_key=True, autoincrement=False),
    Column("TextDecoded", Text),
    Column("Coding", String(255)),
    Column("UDH", Text),
    Column("Class", Integer),
)
_sentitems = Table(
    "sentitems", _metadata,
    Column("ID", Integer, primary_key=True, autoincrement=False),
    Column("SequencePosition", Integer, primary_key=True, autoincrement=False),
    Column("DestinationNumber", String(20)),
    Column("CreatorID", Text),
    Column("Status", String(255)),
    Column("StatusError", Integer),
    Column("UDH", Text),
    Column("UpdatedInDB", DateTime),
)
_phones = Table(
    "phones", _metadata,
    Column("ID", Text),
    Column("IMEI", String(35), primary_key=True),
    Column("UpdatedInDB", DateTime),
)
_inbox = Table(
    "inbox", _metadata,
    Column("ID", Integer, primary_key=True),
    Column("SenderNumber", String(20)),
    Column("RecipientID", Text),
    Column("TextDecoded", Text),
    Column("UDH", Text),
    Column("ReceivingDateTime", DateTime),
    Column("Processed", Boolean),
)


@dataclass(frozen=True)
class SentPart:
    """One sentitems row of a message, as much as its status needs."""

    position: int
    status: str
    status_error: int = -1
    udh: str | None = None


def message_status(parts: Sequence[SentPart]) -> tuple[DeliveryStatus, SentPart] | None:
    """The status of a message from those of its parts, and the part that decides it.

    A message is only as far as its least advanced part (two parts delivered and one pending
    is "buffered"), and one failed part fails it. Until every part is in sentitems (the UDH
    says how many there are) and none failed, there is nothing to report yet.
    """
    ordered = sorted(parts, key=lambda part: part.position)
    mapped = [(DELIVERY_STATUS_MAP.get(part.status), part) for part in ordered]
    for status, part in mapped:
        if status == "undelivered":
            return status, part
    total = _part_count(ordered)
    if len({part.position for part in ordered}) < total:
        return None
    known = [(status, part) for status, part in mapped if status is not None]
    if not known or len(known) < len(mapped):
        return None
    status, part = min(known, key=lambda pair: DELIVERY_STATUSES.index(pair[0]))
    return status, part


def _part_count(parts: Sequence[SentPart]) -> int:
    counts = [concat.total for part in parts if (concat := parse_udh(part.udh))]
    return max(counts, default=1)


def _failure_reason(part: SentPart, total: int) -> str | None:
    reason = _FAILURE_REASONS.get(part.status)
    if reason is None:
        return None
    if total > 1:
        reason += f" (part {part.position} of {total})"
    if part.status == "DeliveryFailed" and part.status_error >= 0:
        reason += f", TP-Status {part.status_error}"
    return reason


def _mask(phone: str) -> str:
    """Enough of a number to tell two apart in a log, never the whole of it."""
    return "***" + phone[-3:] if len(phone) > 5 else "***"


def _database_reason(error: SQLAlchemyError) -> str:
    """A short reason for a log line: the class only, since messages carry SQL parameters
    (numbers, texts) and connection errors the server's address."""
    if isinstance(error, OperationalError | InterfaceError | DisconnectionError | PoolTimeout):
        return f"gammu database unreachable ({type(error).__name__})"
    return f"gammu database error ({type(error).__name__})"


def _engine_for(settings: GammuSettings) -> Engine:
    url: URL = make_url(settings.database_url)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")  # psycopg 3 is what the service ships
    connect_args: dict[str, Any] = {}
    if url.get_backend_name() == "postgresql":
        connect_args = {
            "connect_timeout": max(1, round(settings.connect_timeout_seconds)),
            "application_name": settings.creator_id[:63],
        }
    return create_engine(url, pool_pre_ping=True, pool_recycle=1800, connect_args=connect_args)


class GammuGateway:
    """Sends by writing gammu's outbox; is polled for the inbox and for sentitems' statuses."""

    name = PROVIDER

    def __init__(self, settings: GammuSettings) -> None:
        self._settings = settings
        self._engine = _engine_for(settings)
        self._postgres = self._engine.dialect.name == "postgresql"
        self._creator_prefix = settings.creator_id + ":"
        self._zone = ZoneInfo(settings.local_timezone)
        self._lock = threading.Lock()
        # Incomplete multipart messages: id of their first row -> when this instance first saw
        # them (monotonic), to deliver what arrived once multipart_timeout_seconds have passed.
        self._waiting: dict[int, float] = {}
        # Delivery report cursor: (UpdatedInDB, ID, SequencePosition) of the last row read, and
        # the status already seen of each row still within the overlap behind it.
        self._report_lock = threading.Lock()
        self._cursor: tuple[datetime, int, int] | None = None
        self._seen: dict[tuple[int, int], tuple[str, datetime]] = {}
        # Messages this instance queued that have not shown up in sentitems yet (oldest first).
        self._pending: dict[int, None] = {}
        # The newest phones.UpdatedInDB seen, and since when (monotonic) it has not changed.
        self._phone_seen: tuple[datetime | None, float] | None = None

    # --- sending --------------------------------------------------------------------------------
    def send(self, sms: OutboundSms) -> SendResult:
        """Queue `sms` in gammu's outbox, once: our id goes into CreatorID, so a retry after a
        crash finds the message (still in outbox, or already in sentitems) and answers with the
        same gammu ID instead of queueing it again."""
        number = sms.to.strip()
        if not _MSISDN.fullmatch(number):
            raise PermanentFailure("invalid phone number format")
        parts = split_text(sms.text)
        if len(parts.texts) > MAX_PARTS:
            raise PermanentFailure(f"text too long: {len(parts.texts)} parts, "
                                   f"gammu-smsd sends at most {MAX_PARTS}")
        creator = self._creator_prefix + sms.id
        try:
            with self._engine.begin() as connection:
                if self._postgres:
                    # Two workers retrying the same SMS at once: the second waits, then finds it.
                    connection.execute(select(func.pg_advisory_xact_lock(
                        func.hashtextextended(creator, 0))))
                found = self._find(connection, creator, number)
                if found is not None:
                    where, message_id = found
                    log.info("gammu: SMS %s already in %s as %s", sms.id, where, message_id)
                    if where == "outbox":
                        self._track(message_id)
                    return SendResult(str(message_id), detail=f"already in gammu {where}")
                silent = self._modem_silence(connection)
                if silent is not None:
                    raise TemporaryFailure(f"gammu-smsd silent for {silent:.0f} s "
                                           "(no phone status in its phones table)")
                message_id = self._write(connection, number, creator, parts)
        except SQLAlchemyError as error:
            raise TemporaryFailure(_database_reason(error)) from None
        self._track(message_id)
        log.info("gammu: SMS %s queued as %s, %d part(s) to %s", sms.id, message_id,
                 len(parts.texts), _mask(number))
        return SendResult(str(message_id), detail=f"queued in gammu outbox, "
                                                  f"{len(parts.texts)} part(s)")

    def _track(self, message_id: int) -> None:
        with self._lock:
            self._pending[message_id] = None
            while len(self._pending) > _PENDING_MEMORY:
                del self._pending[next(iter(self._pending))]

    def _modem_silence(self, connection: Connection) -> float | None:
        """Seconds for which no gammu-smsd (phone_id's, or any) has refreshed its row in the
        phones table, when that is longer than modem_timeout_seconds; else None.

        gammu-smsd refreshes the row every StatusFrequency seconds while it talks to its modem.
        Only whether the newest stamp changes is watched, never its value, so neither side's
        clock or time zone matters; after a restart the first send is let through.
        """
        timeout = self._settings.modem_timeout_seconds
        if timeout <= 0:
            return None
        query = select(func.max(_phones.c.UpdatedInDB))
        if self._settings.phone_id:
            query = query.filter_by(ID=self._settings.phone_id)
        stamp = connection.scalar(query)
        now = time.monotonic()
        with self._lock:
            if self._phone_seen is None or self._phone_seen[0] != stamp:
                self._phone_seen = (stamp, now)
                return None
            silent = now - self._phone_seen[1]
        return silent if silent >= timeout else None

    def _find(self, connection: Connection, creator: str, number: str) -> tuple[str, int] | None:
        # The daemon inserts a message's sentitems rows before it deletes its outbox row, so
        # reading outbox first never misses one moving between the two.
        row = connection.execute(
            select(_outbox.c.ID).where(_outbox.c.CreatorID == creator).limit(1)).first()
        if row is not None:
            return "outbox", row.ID
        # By destination first: gammu indexes sentitems.DestinationNumber, not CreatorID.
        row = connection.execute(
            select(_sentitems.c.ID)
            .where(_sentitems.c.DestinationNumber == number, _sentitems.c.CreatorID == creator)
            .limit(1)).first()
        return ("sentitems", row.ID) if row is not None else None

    def _write(self, connection: Connection, number: str, creator: str,
               parts: OutboundParts) -> int:
        total = len(parts.texts)
        inserted = connection.execute(insert(_outbox).values(
            DestinationNumber=number,
            TextDecoded=parts.texts[0],  # Text stays NULL: gammu then encodes TextDecoded
            Coding=parts.coding,
            Class=-1,
            MultiPart=parts.multipart,
            SenderID=self._settings.phone_id or None,
            CreatorID=creator,
            DeliveryReport="yes" if self._settings.delivery_report else "no",
            SendingDateTime=_LONG_AGO,
            SendingTimeOut=_LONG_AGO,
        ))
        message_id = int(inserted.inserted_primary_key[0])
        if parts.multipart:
            # The reference comes from gammu's ID: two consecutive messages to one phone never
            # share it, so the phone cannot mix their parts.
            connection.execute(update(_outbox).filter_by(ID=message_id)
                               .values(UDH=concat_udh(message_id, total, 1)))
            connection.execute(insert(_outbox_multipart), [
                {"ID": message_id, "SequencePosition": position, "TextDecoded": text,
                 "Coding": parts.coding, "UDH": concat_udh(message_id, total, position),
                 "Class": -1}
                for position, text in enumerate(parts.texts[1:], start=2)
            ])
        return message_id

    # --- receiving ------------------------------------------------------------------------------
    @contextmanager
    def claim_inbound(self, limit: int = 100) -> Iterator[list[InboundSms]]:
        """The SMS waiting in gammu's inbox (for this modem when phone_id is set), oldest first,
        locked so that no other worker gets them; marked processed when the `with` block exits
        normally, left waiting (and unlocked) when it raises, so a crash loses none.

        The parts of a concatenated SMS come as one message with the id of its first part; a
        message some of whose parts are missing waits for them up to multipart_timeout_seconds
        (gammu-smsd has already waited its own MultipartTimeout), then comes as it is. Database
        errors propagate as SQLAlchemyError.
        """
        query = (select(_inbox.c.ID, _inbox.c.SenderNumber, _inbox.c.RecipientID,
                        _inbox.c.TextDecoded, _inbox.c.UDH, _inbox.c.ReceivingDateTime)
                 # NOT "Processed", the form a partial index on the waiting rows matches
                 .where(~_inbox.c.Processed)
                 .order_by(_inbox.c.ID)
                 .limit(limit)
                 .with_for_update(skip_locked=True))
        if self._settings.phone_id:
            query = query.where(_inbox.c.RecipientID == self._settings.phone_id)
        with self._engine.connect() as connection, connection.begin():
            rows = connection.execute(query).all()
            received = {row.ID: row.ReceivingDateTime for row in rows}
            ready = self._ready(join_parts([
                InboxPart(row.ID, row.SenderNumber or "", row.RecipientID or "",
                          row.TextDecoded or "", row.UDH) for row in rows]))
            messages = [self._inbound(message, received[message.first.id]) for message in ready]
            yield messages
            handled = [row_id for message in ready for row_id in message.ids]
            if handled:
                connection.execute(update(_inbox).where(_inbox.c.ID.in_(handled))
                                   .values(Processed=True))
        with self._lock:  # stored: no more waiting (after a failure, the wait goes on)
            for message in ready:
                self._waiting.pop(message.first.id, None)
        if messages:
            log.info("gammu: %d SMS received (%d inbox rows)", len(messages), len(handled))

    def _ready(self, messages: list[JoinedMessage]) -> list[JoinedMessage]:
        """The complete messages, and the incomplete ones that have waited long enough."""
        now = time.monotonic()
        ready = []
        with self._lock:
            for message in messages:
                key = message.first.id
                if not message.complete:
                    since = self._waiting.setdefault(key, now)
                    if now - since < self._settings.multipart_timeout_seconds:
                        continue
                    log.warning("gammu: inbox %s has %d part(s) of a longer SMS; the rest did "
                                "not come, delivering what is there", key, len(message.parts))
                ready.append(message)
            memory = max(_WAITING_MEMORY_SECONDS, 10 * self._settings.multipart_timeout_seconds)
            forget = now - memory
            for key in [key for key, since in self._waiting.items() if since < forget]:
                del self._waiting[key]
        return ready

    def _inbound(self, message: JoinedMessage, received: datetime | None) -> InboundSms:
        first = message.first
        # gammu's ID with the time it was received: IDs start again at 1 when gammu's database
        # is made anew, and an SMS must never be taken for one stored before.
        stamp = f"@{received:%Y%m%dT%H%M%S}" if received is not None else ""
        return InboundSms(
            provider=PROVIDER,
            provider_id=f"{first.id}{stamp}",
            sender=first.sender,
            recipient=first.recipient,
            text=message.text,
            received_at=self._iso(received),
            link_id=None,
            network_code=None,
        )

    def _iso(self, moment: datetime | None) -> str | None:
        """gammu-smsd writes ReceivingDateTime as the wall time of the machine it runs on,
        without a zone; local_timezone names that zone."""
        if moment is None:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self._zone)
        return moment.isoformat()

    # --- delivery reports -----------------------------------------------------------------------
    def delivery_reports(self, limit: int = 500) -> list[DeliveryReport]:
        """Statuses of the SMS this adapter wrote that changed since the last call, one report a
        message (see `message_status` for a multipart one: its least advanced part, or its
        failed part).

        A cursor on sentitems' UpdatedInDB keeps each call to what changed; the first call of an
        instance starts report_window_hours before the newest row. Rows a few seconds behind the
        cursor are read again, so a report may come twice; the caller applies them
        monotonically. A message this instance wrote that gammu-smsd took out of its outbox
        without a trace in sentitems (it does so with a row it cannot read) is reported
        undelivered, as "Dropped". Database errors propagate as SQLAlchemyError.
        """
        with self._report_lock, self._engine.connect() as connection:
            reports = self._sentitems_reports(connection, limit)
            reports += self._dropped_reports(connection)
        return reports

    def _sentitems_reports(self, connection: Connection, limit: int) -> list[DeliveryReport]:
        mine = _sentitems.c.CreatorID.startswith(self._creator_prefix, autoescape=True)
        stamp, gammu_id, position = (_sentitems.c.UpdatedInDB, _sentitems.c.ID,
                                     _sentitems.c.SequencePosition)
        row_key = tuple_(stamp, gammu_id, position)
        columns = (gammu_id, position, _sentitems.c.Status, stamp)
        if self._cursor is None:
            newest = connection.scalar(select(func.max(stamp)).where(mine))
            if newest is None:
                return []
            window = timedelta(hours=self._settings.report_window_hours)
            self._cursor = (newest - window, 0, 0)
        cursor = self._cursor
        behind = connection.execute(select(*columns).where(
            mine, stamp >= cursor[0] - _REPORT_OVERLAP, row_key <= tuple_(*cursor))).all()
        ahead = connection.execute(
            select(*columns)
            .where(mine, stamp >= cursor[0], row_key > tuple_(*cursor))
            .order_by(stamp, gammu_id, position)
            .limit(limit)).all()
        if ahead:
            last = ahead[-1]
            self._cursor = (last.UpdatedInDB, last.ID, last.SequencePosition)
        changed = self._changed([*behind, *ahead])
        if not changed:
            return []
        rows = connection.execute(
            select(gammu_id, position, _sentitems.c.Status, _sentitems.c.StatusError,
                   _sentitems.c.UDH)
            .where(mine, gammu_id.in_(changed))).all()
        parts: dict[int, list[SentPart]] = {}
        for row in rows:
            parts.setdefault(row.ID, []).append(
                SentPart(row.SequencePosition, row.Status, row.StatusError, row.UDH))
        reports = []
        for message_id in changed:
            decided = message_status(parts.get(message_id, []))
            if decided is None:
                continue
            status, part = decided
            reports.append(DeliveryReport(
                provider=PROVIDER,
                provider_message_id=str(message_id),
                status=status,
                provider_status=part.status,
                failure_reason=_failure_reason(part, _part_count(parts[message_id])),
            ))
        return reports

    def _dropped_reports(self, connection: Connection) -> list[DeliveryReport]:
        """The messages this instance queued that are neither in outbox nor in sentitems."""
        with self._lock:
            pending = list(self._pending)
        gone: list[int] = []
        for start in range(0, len(pending), 1000):
            chunk = pending[start:start + 1000]
            # outbox first: gammu writes sentitems before it deletes the outbox row
            queued = set(connection.scalars(select(_outbox.c.ID).where(_outbox.c.ID.in_(chunk))))
            gone += [message_id for message_id in chunk if message_id not in queued]
        dropped: list[int] = []
        for start in range(0, len(gone), 1000):
            chunk = gone[start:start + 1000]
            sent = set(connection.scalars(
                select(_sentitems.c.ID).where(_sentitems.c.ID.in_(chunk)).distinct()))
            dropped += [message_id for message_id in chunk if message_id not in sent]
        with self._lock:
            for message_id in gone:
                self._pending.pop(message_id, None)
        for message_id in dropped:
            log.warning("gammu: outbox message %s vanished without being sent "
                        "(see gammu-smsd's log)", message_id)
        return [DeliveryReport(provider=PROVIDER, provider_message_id=str(message_id),
                               status="undelivered", provider_status=DROPPED,
                               failure_reason="gammu-smsd removed it from its outbox unsent")
                for message_id in dropped]

    def _changed(self, rows: Sequence[Any]) -> list[int]:
        """Messages with a row whose status this instance has not seen yet, in cursor order."""
        changed: dict[int, None] = {}
        for row in rows:
            key = (row.ID, row.SequencePosition)
            seen = self._seen.get(key)
            if seen is None or seen[0] != row.Status:
                changed[row.ID] = None
            self._seen[key] = (row.Status, row.UpdatedInDB)
        assert self._cursor is not None
        horizon = self._cursor[0] - _REPORT_OVERLAP
        for key in [key for key, (_, stamp) in self._seen.items() if stamp < horizon]:
            del self._seen[key]
        return list(changed)

    def close(self) -> None:
        self._engine.dispose()
