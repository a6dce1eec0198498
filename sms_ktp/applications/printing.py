"""Blangko (blank cards) and printing: a print batch reserves cards in order of readiness, never
more than the free stock of the site, and printing them consumes their blangko. Stock is the sum
of its movements, so its history is the table itself.

Each kind of card has its own stock (`sms_ktp.domain.documents.CARDS`: a KIA is not printed on a
KTP-el blangko): a site's stock, its movements and its batches are of one kind, and a batch takes
only the applications of the documents printed on that kind. Every function takes the kind as
`card`, the KTP-el's by default."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, insert, select, update

from sms_ktp.applications.pipeline import Move, change_stages
from sms_ktp.domain.documents import CARDS, DOCUMENTS
from sms_ktp.domain.masking import mask_id, redact
from sms_ktp.domain.quiet_hours import QuietHours
from sms_ktp.domain.stages import Stage
from sms_ktp.models import (
    Application,
    ApplicationEvent,
    BlangkoMovement,
    Family,
    PrintBatch,
    in_stage,
)
from sms_ktp.platform.clock import Clock
from sms_ktp.platform.db import Database

_APPLICATION = Application.__table__
_MOVEMENT = BlangkoMovement.__table__
_BATCH = PrintBatch.__table__
_FAMILY = Family.__table__
_EVENT = ApplicationEvent.__table__
KTP = "ktp"  # the card kind of the commands and pages that name none


class UnknownCard(ValueError):
    pass


def documents_on(card: str) -> tuple[str, ...]:
    """The documents printed on this kind of blank card."""
    if card not in CARDS:
        raise UnknownCard(f"unknown card {card!r}: one of {', '.join(CARDS)}")
    return tuple(code for code, document in DOCUMENTS.items() if document.card == card)


def printed_on(card: str) -> ColumnElement[bool]:
    """The application is of a document printed on this kind of blank card. Checked on the
    rows a print queue's own index gives (`document || ''`, which no index serves): without
    statistics SQLite would otherwise read the document's index, every KTP-el ever made."""
    codes = documents_on(card)
    column = _APPLICATION.c.document.concat("")
    return column == codes[0] if len(codes) == 1 else column.in_(codes)


@dataclass(frozen=True)
class Stock:
    site: str
    total: int  # blank cards on the shelf
    reserved: int  # promised to print batches not yet done
    card: str = KTP

    @property
    def free(self) -> int:
        return max(0, self.total - self.reserved)


@dataclass(frozen=True)
class Reserved:
    batch_id: int | None
    cards: list[tuple[str, str, datetime]]  # reference, masked NIK, ready since
    stock: Stock


def free_blangko(connection: Connection, sites: Iterable[str], card: str = KTP) -> int:
    """Blank cards of this kind not yet promised to a print batch, over these printing sites:
    what tells a card waiting for blangko from one waiting for a print batch."""
    return sum(stock(connection, site, card).free for site in sites)


def free_by_card(connection: Connection, sites: Iterable[str]) -> dict[str, int]:
    """`free_blangko` of every kind of card."""
    chosen = list(sites)
    return {card: free_blangko(connection, chosen, card) for card in CARDS}


def stock(connection: Connection, site: str, card: str = KTP) -> Stock:
    documents_on(card)  # a known kind
    total = connection.execute(select(func.coalesce(func.sum(_MOVEMENT.c.delta), 0))
                               .where(_MOVEMENT.c.site == site,
                                      _MOVEMENT.c.card == card)).scalar_one()
    reserved = connection.execute(
        select(func.count()).select_from(_APPLICATION.join(
            _BATCH, _BATCH.c.id == _APPLICATION.c.print_batch_id))
        .where(_BATCH.c.site == site, _BATCH.c.card == card, _BATCH.c.done_at.is_(None),
               in_stage(Stage.PRINT_QUEUE))
    ).scalar_one()
    return Stock(site, int(total), int(reserved), card)


def add_blangko(db: Database, clock: Clock, site: str, count: int, actor: str,
                card: str = KTP) -> Stock:
    if count <= 0:
        raise ValueError("the number of blangko to add must be positive")
    documents_on(card)
    with db.connect() as connection:
        connection.execute(insert(_MOVEMENT).values(site=site, card=card, delta=count,
                                                    reason="added", actor=actor[:60],
                                                    at=clock.now()))
        return stock(connection, site, card)


def reserve_next(db: Database, clock: Clock, site: str, limit: int | None,
                 card: str = KTP) -> Reserved:
    """Reserve the next print-ready cards of this kind (oldest readiness first) for one
    batch."""
    with db.connect() as connection:
        return reserve(connection, clock.now(), site, limit, card)


def reserve(connection: Connection, now: datetime, site: str, limit: int | None,
            card: str = KTP) -> Reserved:
    """`reserve_next` in the caller's transaction (the back office audits it in the same)."""
    available = stock(connection, site, card)
    size = available.free if limit is None else min(limit, available.free)
    if size <= 0:
        return Reserved(None, [], available)
    waiting = connection.execute(
        select(_APPLICATION.c.id, _APPLICATION.c.reference, _APPLICATION.c.nik,
               _APPLICATION.c.ready_at)
        .where(in_stage(Stage.PRINT_QUEUE),
               _APPLICATION.c.print_batch_id.is_(None), printed_on(card))
        .order_by(_APPLICATION.c.ready_at, _APPLICATION.c.id).limit(size)
        .with_for_update(skip_locked=True)
    ).all()
    if not waiting:
        return Reserved(None, [], available)
    batch_id = connection.execute(insert(_BATCH).values(
        site=site, card=card, size=len(waiting), created_at=now).returning(_BATCH.c.id)
    ).scalar_one()
    connection.execute(update(_APPLICATION)
                       .where(_APPLICATION.c.id.in_([row.id for row in waiting]))
                       .values(print_batch_id=batch_id, updated_at=now))
    return Reserved(batch_id, [(row.reference, mask_id(row.nik), row.ready_at)
                               for row in waiting], stock(connection, site, card))


def mark_printed(db: Database, clock: Clock, quiet: QuietHours, batch_id: int | None,
                 actor: str) -> int:
    """Mark the cards of one batch (None: of every open batch) printed and consume their
    blangko. Returns how many cards were printed; a done or unknown batch prints nothing."""
    now = clock.now()
    printed = 0
    with db.connect() as connection:
        query = select(_BATCH.c.id).where(_BATCH.c.done_at.is_(None))
        if batch_id is not None:
            query = query.where(_BATCH.c.id == batch_id)
        for batch in connection.execute(query).scalars().all():
            finished = finish_batch(connection, now, quiet, batch, actor)
            printed += finished.printed if finished else 0
    return printed


@dataclass(frozen=True)
class BatchCard:
    """A card of a print batch as its printed list shows it: no name is stored, the NIK is
    masked, and the reference is what goes on the card's envelope."""

    id: int
    reference: str
    nik: str  # masked
    kecamatan_code: str
    family_id: int
    ready_at: datetime | None
    stage: str


@dataclass(frozen=True)
class Batch:
    id: int
    site: str
    size: int
    created_at: datetime
    done_at: datetime | None
    card: str = KTP


def _batch(row: Any) -> Batch:
    return Batch(row.id, row.site, row.size, row.created_at, row.done_at, row.card)


def batch(connection: Connection, batch_id: int) -> Batch | None:
    row = connection.execute(select(_BATCH).where(_BATCH.c.id == batch_id)).first()
    return None if row is None else _batch(row)


def open_batches(connection: Connection, site: str | None = None,
                 card: str | None = None) -> list[tuple[Batch, int]]:
    """Batches reserved and not marked printed yet (of one site, of one kind of card), oldest
    first, with how many of their cards still wait in them (a card cancelled meanwhile has
    left)."""
    cards = (select(_APPLICATION.c.print_batch_id, func.count().label("cards"))
             .where(in_stage(Stage.PRINT_QUEUE), _APPLICATION.c.print_batch_id.is_not(None))
             .group_by(_APPLICATION.c.print_batch_id).subquery())
    query = (select(_BATCH, func.coalesce(cards.c.cards, 0).label("cards"))
             .outerjoin(cards, cards.c.print_batch_id == _BATCH.c.id)
             .where(_BATCH.c.done_at.is_(None)).order_by(_BATCH.c.id))
    if site is not None:
        query = query.where(_BATCH.c.site == site)
    if card is not None:
        query = query.where(_BATCH.c.card == card)
    return [(_batch(row), int(row.cards)) for row in connection.execute(query)]


def batch_cards(connection: Connection, batch_id: int) -> list[BatchCard]:
    """The cards of a batch still in it, in the order they were reserved (oldest ready
    first): the order they are printed and laid out."""
    rows = connection.execute(
        select(_APPLICATION.c.id, _APPLICATION.c.reference, _APPLICATION.c.nik,
               _FAMILY.c.kecamatan_code, _APPLICATION.c.family_id, _APPLICATION.c.ready_at,
               _APPLICATION.c.stage)
        .join(_FAMILY, _FAMILY.c.id == _APPLICATION.c.family_id)
        .where(_APPLICATION.c.print_batch_id == batch_id)
        .order_by(_APPLICATION.c.ready_at, _APPLICATION.c.id))
    return [BatchCard(row.id, row.reference, mask_id(row.nik), row.kecamatan_code,
                      row.family_id, row.ready_at, row.stage) for row in rows]


@dataclass(frozen=True)
class Finished:
    """What marking a batch printed did: cards printed (and of how many families: each gets
    its pickup SMS once the worker books the visit), cards back in the print queue, and
    blangko spoiled by a failed print (counted as used)."""

    batch_id: int
    printed: int
    families: int
    returned: int
    spoiled: int


def finish_batch(connection: Connection, now: datetime, quiet: QuietHours, batch_id: int,
                 actor: str, failed: Mapping[str, bool] | None = None,
                 note: str = "") -> Finished | None:
    """Mark a batch printed, except the cards of `failed` (reference -> whether the failed
    print spoiled its blangko): those go back to the print queue keeping their readiness, so
    the next batch takes them first, and their blangko is released unless spoiled, in which
    case it is written off as used with `note`. None when the batch is unknown or already
    done (a second click changes nothing)."""
    failed = failed or {}
    row = connection.execute(select(_BATCH.c.id, _BATCH.c.site, _BATCH.c.card)
                             .where(_BATCH.c.id == batch_id, _BATCH.c.done_at.is_(None))
                             .with_for_update()).first()
    if row is None:
        return None
    cards = connection.execute(
        select(_APPLICATION.c.id, _APPLICATION.c.reference, _APPLICATION.c.family_id)
        .where(_APPLICATION.c.print_batch_id == batch_id, in_stage(Stage.PRINT_QUEUE))
        .order_by(_APPLICATION.c.id).with_for_update()).all()
    printed = [card for card in cards if card.reference not in failed]
    returned = [card for card in cards if card.reference in failed]
    spoiled = sum(1 for card in returned if failed[card.reference])
    if printed:
        change_stages(connection, [Move(card.id, {"printed_at": now}) for card in printed],
                      Stage.PRINTED, actor=actor, now=now, quiet=quiet,
                      note=f"printed in batch {batch_id}")
    if returned:
        connection.execute(update(_APPLICATION)
                           .where(_APPLICATION.c.id.in_([card.id for card in returned]))
                           .values(print_batch_id=None, updated_at=now))
        connection.execute(insert(_EVENT), [
            _queue_event(card.id, now, actor,
                         note=f"print failed in batch {batch_id}, blangko spoiled: back in the "
                              "print queue")
            if failed[card.reference] else
            _queue_event(card.id, now, actor,
                         note=f"print failed in batch {batch_id}: back in the print queue")
            for card in returned])
    if printed:
        connection.execute(insert(_MOVEMENT).values(
            site=row.site, card=row.card, delta=-len(printed),
            reason=f"printed batch {batch_id}", actor=actor[:60], at=now))
    if spoiled:
        reason = f"spoiled batch {batch_id}" + (f": {redact(note)}" if note.strip() else "")
        connection.execute(insert(_MOVEMENT).values(
            site=row.site, card=row.card, delta=-spoiled, reason=reason[:100],
            actor=actor[:60], at=now))
    connection.execute(update(_BATCH).where(_BATCH.c.id == batch_id)
                       .values(done_at=now, size=len(printed)))
    return Finished(batch_id, len(printed), len({card.family_id for card in printed}),
                    len(returned), spoiled)


def _queue_event(application_id: int, now: datetime, actor: str, *, note: str) -> dict[str, Any]:
    """A timeline entry of a card that stays in the print queue (it does not change stage, so
    `change_stages` is not the way)."""
    return {"application_id": application_id, "at": now, "stage": Stage.PRINT_QUEUE.value,
            "actor": actor[:60], "note": note[:500]}
