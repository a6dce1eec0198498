"""Blangko (blank cards) and printing: a print batch reserves cards in order of readiness, never
more than the free stock of the site, and printing them consumes their blangko. Stock is the sum
of its movements, so its history is the table itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, insert, select, update

from sms_ktp.applications.pipeline import change_stage
from sms_ktp.domain.masking import mask_id
from sms_ktp.domain.quiet_hours import QuietHours
from sms_ktp.domain.stages import Stage
from sms_ktp.models import Application, BlangkoMovement, PrintBatch, in_stage
from sms_ktp.platform.clock import Clock
from sms_ktp.platform.db import Database

_APPLICATION = Application.__table__
_MOVEMENT = BlangkoMovement.__table__
_BATCH = PrintBatch.__table__


@dataclass(frozen=True)
class Stock:
    site: str
    total: int  # blank cards on the shelf
    reserved: int  # promised to print batches not yet done

    @property
    def free(self) -> int:
        return max(0, self.total - self.reserved)


@dataclass(frozen=True)
class Reserved:
    batch_id: int | None
    cards: list[tuple[str, str, datetime]]  # reference, masked NIK, ready since
    stock: Stock


def stock(connection: Connection, site: str) -> Stock:
    total = connection.execute(select(func.coalesce(func.sum(_MOVEMENT.c.delta), 0))
                               .where(_MOVEMENT.c.site == site)).scalar_one()
    reserved = connection.execute(
        select(func.count()).select_from(_APPLICATION.join(
            _BATCH, _BATCH.c.id == _APPLICATION.c.print_batch_id))
        .where(_BATCH.c.site == site, _BATCH.c.done_at.is_(None),
               in_stage(Stage.PRINT_QUEUE))
    ).scalar_one()
    return Stock(site, int(total), int(reserved))


def add_blangko(db: Database, clock: Clock, site: str, count: int, actor: str) -> Stock:
    if count <= 0:
        raise ValueError("the number of blangko to add must be positive")
    with db.connect() as connection:
        connection.execute(insert(_MOVEMENT).values(site=site, delta=count, reason="added",
                                                    actor=actor[:60], at=clock.now()))
        return stock(connection, site)


def reserve_next(db: Database, clock: Clock, site: str, limit: int | None) -> Reserved:
    """Reserve the next print-ready cards (oldest readiness first) for one batch."""
    now = clock.now()
    with db.connect() as connection:
        available = stock(connection, site)
        size = available.free if limit is None else min(limit, available.free)
        if size <= 0:
            return Reserved(None, [], available)
        waiting = connection.execute(
            select(_APPLICATION.c.id, _APPLICATION.c.reference, _APPLICATION.c.nik,
                   _APPLICATION.c.ready_at)
            .where(in_stage(Stage.PRINT_QUEUE),
                   _APPLICATION.c.print_batch_id.is_(None))
            .order_by(_APPLICATION.c.ready_at, _APPLICATION.c.id).limit(size)
            .with_for_update(skip_locked=True)
        ).all()
        if not waiting:
            return Reserved(None, [], available)
        batch_id = connection.execute(insert(_BATCH).values(
            site=site, size=len(waiting), created_at=now).returning(_BATCH.c.id)).scalar_one()
        connection.execute(update(_APPLICATION)
                           .where(_APPLICATION.c.id.in_([row.id for row in waiting]))
                           .values(print_batch_id=batch_id, updated_at=now))
        return Reserved(batch_id, [(row.reference, mask_id(row.nik), row.ready_at)
                                   for row in waiting], stock(connection, site))


def mark_printed(db: Database, clock: Clock, quiet: QuietHours, batch_id: int | None,
                 actor: str) -> int:
    """Mark the cards of one batch (None: of every open batch) printed and consume their
    blangko. Returns how many cards were printed; a done or unknown batch prints nothing."""
    now = clock.now()
    printed = 0
    with db.connect() as connection:
        query = select(_BATCH.c.id, _BATCH.c.site).where(_BATCH.c.done_at.is_(None))
        if batch_id is not None:
            query = query.where(_BATCH.c.id == batch_id)
        for batch in connection.execute(query.with_for_update()).all():
            cards = connection.execute(
                select(_APPLICATION.c.id).where(_APPLICATION.c.print_batch_id == batch.id,
                                                in_stage(Stage.PRINT_QUEUE))
            ).scalars().all()
            for application_id in cards:
                change_stage(connection, application_id, Stage.PRINTED, actor=actor, now=now,
                             quiet=quiet, note=f"printed in batch {batch.id}",
                             values={"printed_at": now})
            connection.execute(insert(_MOVEMENT).values(
                site=batch.site, delta=-len(cards), reason=f"printed batch {batch.id}",
                actor=actor[:60], at=now))
            connection.execute(update(_BATCH).where(_BATCH.c.id == batch.id)
                               .values(done_at=now, size=len(cards)))
            printed += len(cards)
    return printed
