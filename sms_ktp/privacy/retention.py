"""Erasing personal data once it has served its purpose (UU PDP No. 27/2022: kept no longer than
needed), by the worker's daily purge or at a resident's request (`sms_ktp.privacy.requests`).

What is erased of an application: the NIK, the Suket number, the pickup codes, the stage note,
the document's other answers (`details`), its signed PDFs with their links and PINs, and every
timeline note (staff type notes, and a note could name someone); a timeline entry
says when and why it was erased (`erased_at` is set). A family loses its KK and phone once none
of its applications holds personal data any more. SMS in and out, USSD sessions and the reply
language of a phone that no family uses any more are forgotten after the same period.

What stays, for the statistics: every application row with its reference, stage, reason,
channel, language, dates and pickup office, and the family row with its kecamatan, so counts per
stage, kecamatan, channel and day are the same before and after; the SMS rows stay, blank, for
the counts of SMS and of broadcasts.

The purge takes applications that are over (collected, cancelled, rejected: `CLOSED_STAGES`)
and have not changed for `[privacy] retention_days`. A duplicate record is not over: the
resident still has to come to the kecamatan office, and the application is needed then.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    String,
    Table,
    and_,
    case,
    cast,
    delete,
    exists,
    insert,
    literal,
    select,
    update,
)

from sms_ktp.applications import document_files
from sms_ktp.domain.stages import CLOSED_STAGES
from sms_ktp.messaging import outbox
from sms_ktp.models import (
    Application,
    ApplicationEvent,
    Family,
    InboundMessage,
    OutboxMessage,
    PhoneState,
    PickupVisit,
    UssdSession,
)
from sms_ktp.platform import audit
from sms_ktp.platform.clock import Clock
from sms_ktp.platform.db import Database

ACTOR = "system:retention"
ACTION = "privacy.retention_purge"
BATCH = 500  # applications (or SMS rows) per transaction: a purge never holds the database long
PURGED_STAGES = tuple(sorted(stage.value for stage in CLOSED_STAGES))
RETENTION_NOTE = "personal data erased: retention period over"

_APPLICATION = Application.__table__
_FAMILY = Family.__table__
_EVENT = ApplicationEvent.__table__
_OUTBOX = OutboxMessage.__table__
_INBOUND = InboundMessage.__table__
_USSD = UssdSession.__table__
_PHONE = PhoneState.__table__
_VISIT = PickupVisit.__table__

# The columns that hold personal data. A column not in the model yet (the keyed hashes of the
# encryption at rest) is skipped.
APPLICATION_PERSONAL = ("nik", "nik_hash", "active_nik", "suket_number", "stage_note",
                        "pickup_code", "details")
FAMILY_PERSONAL = ("kk", "kk_hash", "phone")


def cleared(table: Table, names: Iterable[str]) -> dict[str, Any]:
    """The values that erase these columns: NULL where the column allows it; otherwise an empty
    string, or "-<id>" for a unique column (`family.kk` while it is NOT NULL), which no real
    number can equal."""
    values: dict[str, Any] = {}
    for name in names:
        column = table.c.get(name)
        if column is None:
            continue
        if column.nullable:
            values[name] = None
        elif column.unique:
            values[name] = literal("-") + cast(table.c.id, String)
        else:
            values[name] = ""
    return values


def _family_is_live() -> Any:
    """A family whose KK has not been erased."""
    kk = _FAMILY.c.kk
    return kk.isnot(None) if kk.nullable else ~kk.startswith("-")


@dataclass
class Erased:
    """What one erasure did: counts, and the phones of the families erased (their messages are
    forgotten next, once no other family uses the phone)."""

    applications: int = 0
    families: int = 0
    phones: set[str] = field(default_factory=set)


def erase_applications(connection: Connection, stages: Mapping[int, str], now: datetime,
                       actor: str, note: str) -> Erased:
    """Erase the personal data of these applications (id -> current stage), in the caller's
    transaction, and of their families when nothing personal is left in them."""
    ids = sorted(stages)
    if not ids:
        return Erased()
    connection.execute(update(_APPLICATION).where(_APPLICATION.c.id.in_(ids))
                       .values(**cleared(_APPLICATION, APPLICATION_PERSONAL), erased_at=now))
    connection.execute(update(_EVENT).where(_EVENT.c.application_id.in_(ids)).values(note=""))
    document_files.erase(connection, ids, now)  # signed PDFs, their links and PINs
    # A family visit's code goes with the last of its cards to be erased.
    connection.execute(
        update(_VISIT)
        .where(_VISIT.c.id.in_(select(_APPLICATION.c.visit_id)
                               .where(_APPLICATION.c.id.in_(ids))),
               ~exists().where(_APPLICATION.c.visit_id == _VISIT.c.id,
                               _APPLICATION.c.erased_at.is_(None)))
        .values(code="", open_code=None))
    connection.execute(insert(_EVENT), [
        {"application_id": id_, "at": now, "stage": stages[id_], "actor": actor[:60],
         "note": note[:500]} for id_ in ids])
    families = select(_APPLICATION.c.family_id).where(_APPLICATION.c.id.in_(ids)).distinct()
    # Locked first: a registration adding a member at this moment waits for us, or we see it.
    candidates = connection.execute(
        select(_FAMILY.c.id, _FAMILY.c.phone)
        .where(_FAMILY.c.id.in_(families), _family_is_live())
        .order_by(_FAMILY.c.id).with_for_update()).all()
    holding = set(connection.execute(
        select(_APPLICATION.c.family_id).distinct()
        .where(_APPLICATION.c.family_id.in_([family.id for family in candidates]),
               _APPLICATION.c.erased_at.is_(None))).scalars())
    done = [family for family in candidates if family.id not in holding]
    if done:
        connection.execute(update(_FAMILY).where(_FAMILY.c.id.in_([f.id for f in done]))
                           .values(**cleared(_FAMILY, FAMILY_PERSONAL)))
    return Erased(len(ids), len(done), {family.phone for family in done if family.phone})


# --- messages of phones no family uses ---------------------------------------------------------

def _unused(phone_column: Any) -> Any:
    """A phone that no family (with its KK still held) receives SMS on."""
    return and_(phone_column != "",
                ~exists().where(_FAMILY.c.phone == phone_column, _family_is_live()))


def _outbox_forgotten() -> dict[str, Any]:
    # A parked SMS without its number cannot be sent again: it counts as undelivered now.
    return {"phone": "", "text": "",
            "status": case((_OUTBOX.c.status == outbox.FAILED, outbox.UNDELIVERED),
                           else_=_OUTBOX.c.status)}


@dataclass(frozen=True)
class _Kind:
    """One table of messages: its phone column, its time column and how a row is forgotten."""

    name: str
    table: Table
    phone: Any
    at: Any
    forget: Callable[[], dict[str, Any]] | None  # None: the row is deleted
    only: Any = None  # a further condition


MESSAGE_KINDS = (
    _Kind("sms_out", _OUTBOX, _OUTBOX.c.phone, _OUTBOX.c.created_at, _outbox_forgotten,
          _OUTBOX.c.status.notin_(outbox.PENDING)),  # an SMS still to send keeps its number
    _Kind("sms_in", _INBOUND, _INBOUND.c.sender, _INBOUND.c.received_at,
          lambda: {"sender": "", "text": ""}),
    _Kind("ussd_sessions", _USSD, _USSD.c.phone, _USSD.c.started_at,
          lambda: {"phone": "", "last_input": None}),
    # A phone's reply language and dialogue go; a BERHENTI is kept, so that it is still honoured.
    _Kind("phones", _PHONE, _PHONE.c.phone, _PHONE.c.updated_at, None,
          _PHONE.c.broadcast_opt_out_at.is_(None)),
)


def forget_messages(db: Database, *, before: datetime | None = None,
                    phones: Sequence[str] = (), batch: int = BATCH,
                    carry_on: Callable[[], bool] = lambda: True) -> dict[str, int]:
    """Forget the SMS, USSD sessions and phone state of phones that no family uses: those older
    than `before`, or (with `phones`) every one of these phones. Counts per kind."""
    counts: dict[str, int] = {}
    for kind in MESSAGE_KINDS:
        key = kind.table.c.id if "id" in kind.table.c else kind.phone
        where = [_unused(kind.phone)]
        if before is not None:
            where.append(kind.at < before)
        if phones:
            where.append(kind.phone.in_(sorted(phones)))
        if kind.only is not None:
            where.append(kind.only)
        counts[kind.name], after = 0, None
        while carry_on():
            with db.connect() as connection:
                query = select(key).where(*where).order_by(key).limit(batch)
                if after is not None:
                    query = query.where(key > after)
                found = list(connection.execute(
                    query.with_for_update(of=kind.table, skip_locked=True)).scalars())
                if found:
                    rows = kind.table.c[key.name].in_(found)
                    statement = (update(kind.table).where(rows).values(**kind.forget())
                                 if kind.forget else delete(kind.table).where(rows))
                    counts[kind.name] += connection.execute(statement).rowcount
            if len(found) < batch:
                break
            after = found[-1]
    return counts


# --- the daily purge ---------------------------------------------------------------------------

@dataclass(frozen=True)
class PurgeSummary:
    applications: int = 0
    families: int = 0
    messages: Mapping[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.applications + self.families + sum(self.messages.values())

    def detail(self, days: int) -> str:
        """For the audit log: counts only."""
        return " ".join([f"retention_days={days}", f"applications={self.applications}",
                         f"families={self.families}",
                         *(f"{name}={count}" for name, count in self.messages.items())])


def purge(db: Database, clock: Clock, retention_days: int, *, batch: int = BATCH,
          carry_on: Callable[[], bool] = lambda: True) -> PurgeSummary:
    """Erase what has been kept `retention_days` past the end of its application; 0 keeps
    everything. In transactions of `batch` rows; `carry_on` is asked before each (a worker
    renews its lease there, or stops). Idempotent: erased rows are not taken again. Audited
    (counts only) when anything was erased."""
    if retention_days <= 0:
        return PurgeSummary()
    now = clock.now()
    cutoff = now - timedelta(days=retention_days)
    applications = families = 0
    after = 0
    while carry_on():
        with db.connect() as connection:
            due = connection.execute(
                select(_APPLICATION.c.id, _APPLICATION.c.stage)
                .where(_APPLICATION.c.stage.in_(PURGED_STAGES),
                       _APPLICATION.c.erased_at.is_(None),
                       _APPLICATION.c.updated_at < cutoff, _APPLICATION.c.id > after)
                .order_by(_APPLICATION.c.id).limit(batch)
                .with_for_update(of=_APPLICATION, skip_locked=True)).all()
            erased = erase_applications(connection, {row.id: row.stage for row in due}, now,
                                        ACTOR, RETENTION_NOTE)
        applications += erased.applications
        families += erased.families
        if len(due) < batch:
            break
        after = due[-1].id
    messages = forget_messages(db, before=cutoff, batch=batch, carry_on=carry_on)
    summary = PurgeSummary(applications, families, messages)
    if summary.total:
        with db.connect() as connection:
            audit.record(connection, clock.now(), ACTOR, ACTION, "personal data",
                         summary.detail(retention_days))
    return summary
