"""Moving applications through their stages: every change is a timeline entry, and each change
that matters to the resident sends one SMS (a notification, held back in quiet hours) to the
family's phone in the application's language.

Changes come one at a time (a penunggalan result) or by the thousand (a day's pickup
allocation), so they are applied in bulk: one read, one batched update, one batched insert each
for the timeline and the outbox.

A change makes the notices of the application still waiting in the outbox (quiet hours) untrue
or out of date: "now in the print queue" once printed, a pickup time once moved or collected.
They are marked superseded in the same transaction, before the change's own notice is queued,
so the resident gets the newest notice and never an old one (`outbox.supersede`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any, NamedTuple

from sqlalchemy import (
    Column,
    Connection,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    bindparam,
    func,
    insert,
    literal,
    select,
    update,
)

from flows.catalogue import messages, render
from sms_ktp.domain.masking import mask_id, redact
from sms_ktp.domain.quiet_hours import QuietHours
from sms_ktp.domain.stages import CLOSED_STAGES, Stage
from sms_ktp.messaging.outbox import enqueue_many, enqueue_selected, outgoing, supersede
from sms_ktp.models import (
    Application,
    ApplicationEvent,
    Family,
    PhoneState,
    PickupVisit,
    UtcDateTime,
)
from sms_ktp.platform.bulk import insert_rows

_APPLICATION = Application.__table__
_FAMILY = Family.__table__
_PHONE = PhoneState.__table__
_VISIT = PickupVisit.__table__
_SILENT = {"phone": None, "text": None, "segments": None}
_EVENT = insert(ApplicationEvent.__table__)
# The family phone's own language choice (BAHASA / LANG) wins over the application's.
_NOTICE_LANGUAGE = func.coalesce(_PHONE.c.language, _APPLICATION.c.language).label("language")
_CHUNK = 500  # ids in one IN (...) list
SET_BASED_FROM = 200  # moves; below this, batched statements are as quick


class Move(NamedTuple):
    """One application to move: extra columns to set, and placeholders of its SMS (or its SMS
    already worded, by a caller that words thousands from one template; "" for none: the
    other cards of a family visit, whose one SMS goes with the first card). A tuple: a day's
    allocation makes tens of thousands."""

    application_id: int
    values: Mapping[str, Any] = MappingProxyType({})
    params: Mapping[str, Any] = MappingProxyType({})
    text: str | None = None


def notice_rows(*columns: Any) -> Select[Any]:
    """Applications with what a notice to their family needs (id, reference, nik, the language
    to write in, the family phone) and `columns`; `change_stages` takes such rows as read."""
    return (select(_APPLICATION.c.id, _APPLICATION.c.reference, _APPLICATION.c.nik,
                   _NOTICE_LANGUAGE, _FAMILY.c.phone, *columns)
            .join(_FAMILY, _FAMILY.c.id == _APPLICATION.c.family_id)
            .outerjoin(_PHONE, _PHONE.c.phone == _FAMILY.c.phone))


def _read(connection: Connection, ids: Sequence[int]) -> dict[int, Any]:
    rows: dict[int, Any] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        query = (notice_rows().where(_APPLICATION.c.id.in_(chunk))
                 .with_for_update(of=_APPLICATION))
        rows.update((row.id, row) for row in connection.execute(query))
    return rows


def change_stages(connection: Connection, moves: Sequence[Move], to: Stage, *, actor: str,
                  now: datetime, quiet: QuietHours, note: str = "",
                  notice: str | None = None,
                  rows: Mapping[int, Any] | None = None, supersedes: bool = True) -> None:
    """Move every application of `moves` to `to` (with its extra column values; every move of
    one call sets the same columns), record each in the timeline, and send each resident the
    catalogue message `notice` (default: `notify.<stage>` when the catalogue has one; "" sends
    nothing). `rows`: the applications as the caller already read and locked them (id,
    reference, nik, language, phone), to save reading them again. `supersedes`: the change
    makes the applications' notices still queued untrue (every change but a reminder, which
    adds to the pickup SMS rather than replacing it)."""
    if not moves:
        return
    note = redact(note)  # typed by staff or sent by Kemendagri: it could hold a number
    if rows is None:
        rows = _read(connection, [move.application_id for move in moves])
    columns: dict[str, Any] = {"stage": to.value, "updated_at": now}
    if to in CLOSED_STAGES:
        columns.update(active_nik=None)
    extra = sorted(moves[0].values)
    key = f"notify.{to.value}" if notice is None else notice
    sms = _notices(moves, rows, key) if key and key in messages("id") else []
    not_before = quiet.next_allowed(now)
    if len(moves) >= SET_BASED_FROM:
        _apply_set_based(connection, moves, extra, columns, to, sms, actor=actor, now=now,
                         note=note, not_before=not_before, supersedes=supersedes, key=key)
        return
    statement = (update(_APPLICATION).where(_APPLICATION.c.id == bindparam("_id"))
                 .values(**columns, **{name: bindparam(f"_{name}") for name in extra}))
    connection.execute(statement, [
        {"_id": move.application_id, **{f"_{name}": move.values[name] for name in extra}}
        for move in moves])
    connection.execute(_EVENT, [
        {"application_id": move.application_id, "at": now, "stage": to.value,
         "actor": actor[:60], "note": note[:500]} for move in moves])
    ids = [move.application_id for move in moves]
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        if supersedes:
            supersede(connection, chunk)
        if to in CLOSED_STAGES:
            close_emptied_visits(connection, chunk)
    sent = [(notice, move.application_id) for move, notice in zip(moves, sms, strict=False)
            if notice is not None]
    enqueue_many(connection, [notice for notice, _ in sent], now, kind="notification",
                 not_before=not_before, applications=[about for _, about in sent], notice=key)


def _notices(moves: Sequence[Move], rows: Mapping[int, Any], key: str
             ) -> list[tuple[str, str] | None]:
    """(phone, text) of each move's SMS, in the order of `moves`; None for a move without."""
    sms: list[tuple[str, str] | None] = []
    for move in moves:
        row = rows[move.application_id]
        if move.text == "":
            sms.append(None)
            continue
        sms.append((row.phone, move.text if move.text is not None else render(
            row.language, key, ref=row.reference, nik=mask_id(row.nik), **move.params)))
    return sms


_OPEN_CARD = (select(_APPLICATION.c.id)
              .where(_APPLICATION.c.visit_id == _VISIT.c.id,
                     _APPLICATION.c.stage.in_([Stage.PICKUP_SCHEDULED.value,
                                               Stage.MISSED_PICKUP.value]))
              .exists())


def close_emptied_visits(connection: Connection, applications: Sequence[int] | Select[Any]
                         ) -> None:
    """The visits of these applications that have no card left to hand over lose their open
    code (which another family's visit may then draw)."""
    visits = select(_APPLICATION.c.visit_id).where(_APPLICATION.c.id.in_(applications))
    connection.execute(update(_VISIT)
                       .where(_VISIT.c.open_code.is_not(None), _VISIT.c.id.in_(visits),
                              ~_OPEN_CARD)
                       .values(open_code=None))


def _apply_set_based(connection: Connection, moves: Sequence[Move], extra: list[str],
                     columns: Mapping[str, Any], to: Stage, sms: Sequence[tuple[str, str]], *,
                     actor: str, now: datetime, note: str, not_before: datetime,
                     supersedes: bool, key: str) -> None:
    """A large batch: its per-card values (and SMS) go into a temporary plan table in one bulk
    write, then one UPDATE ... FROM and two INSERT ... SELECT (timeline, outbox) do the rest
    inside the database, and one UPDATE supersedes the notices the change made untrue."""
    notice = [Column("phone", String(20)), Column("text", String(1000)),
              Column("segments", Integer)] if sms else []
    plan = Table("stage_plan", MetaData(), Column("id", Integer, primary_key=True),
                 *(Column(name, _APPLICATION.c[name].type) for name in extra), *notice,
                 prefixes=["TEMPORARY"])
    plan.create(connection)
    try:
        if sms:
            insert_rows(connection, plan, [
                {"id": move.application_id, **move.values,
                 **(outgoing(*notice) if notice is not None else _SILENT)}
                for move, notice in zip(moves, sms, strict=True)])
        else:
            insert_rows(connection, plan, [{"id": move.application_id, **move.values}
                                           for move in moves])
        connection.execute(update(_APPLICATION).where(_APPLICATION.c.id == plan.c.id)
                           .values(**columns, **{name: plan.c[name] for name in extra}))
        connection.execute(_EVENT.from_select(
            ["application_id", "at", "stage", "actor", "note"],
            select(plan.c.id, literal(now, UtcDateTime()), literal(to.value),
                   literal(actor[:60]), literal(note[:500]))))
        if supersedes:
            supersede(connection, select(plan.c.id))
        if to in CLOSED_STAGES:
            close_emptied_visits(connection, select(plan.c.id))
        if sms:
            enqueue_selected(connection, select(plan.c.phone, plan.c.text, plan.c.segments,
                                                plan.c.id.label("application_id"))
                             .where(plan.c.text.is_not(None))
                             .order_by(plan.c.id), now, kind="notification",
                             not_before=not_before, notice=key)
    finally:
        plan.drop(connection)


def change_stage(connection: Connection, application_id: int, to: Stage, *, actor: str,
                 now: datetime, quiet: QuietHours, note: str = "",
                 notice: str | None = None, params: Mapping[str, Any] | None = None,
                 values: Mapping[str, Any] | None = None) -> None:
    """`change_stages` for one application."""
    move = Move(application_id, values or {}, params or {})
    change_stages(connection, [move], to, actor=actor, now=now, quiet=quiet, note=note,
                  notice=notice)
