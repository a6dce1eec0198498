"""Delivery by post instead of a visit (`[delivery] post`): a family that cannot come in office
hours asks by SMS (KIRIM) to have its printed cards posted to the address on its KK, as some
Disdukcapil offices do (Kabupaten Magelang: Pos Indonesia, cash on delivery).

The family visit becomes the parcel: asking gives its slot's places back and closes its code
at the counter (`post_requested`); staff hand the parcel to the courier and record the tracking
number, which the family gets in one SMS (`posted`); staff record the delivery (`delivered`,
closed: the NIK may apply again). A visit is not posted on its own day: its cards are in that
day's drawer at the counter.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from flows.catalogue import Msg
from flows.visits import visit_text
from sms_ktp.applications.pickup import CARD_NAMING, PickupPolicy, card_names, release_slot
from sms_ktp.applications.pipeline import Move, change_stages, notice_rows
from sms_ktp.domain.local_time import local_date
from sms_ktp.domain.masking import mask_id
from sms_ktp.domain.pickup_calendar import local
from sms_ktp.domain.stages import Stage
from sms_ktp.models import Application, Family, PickupVisit
from sms_ktp.platform.clock import Clock
from sms_ktp.platform.db import Database

# A tracking number lands in the family's SMS and in STATUS: the catalogues leave it this many
# characters (Pos Indonesia's are 13 to 15; the column holds 40). Letters, digits and dashes.
TRACKING_LIMIT = 20
_TRACKING = re.compile(rf"[A-Z0-9][A-Z0-9\-]{{5,{TRACKING_LIMIT - 1}}}")
# Sixteen digits are a NIK or a KK typed into the wrong field: never sent by SMS.
_ID_NUMBER = re.compile(r"\d{16}")
_APPLICATION = Application.__table__
_FAMILY = Family.__table__
_VISIT = PickupVisit.__table__
_TO_COLLECT = (Stage.PICKUP_SCHEDULED.value, Stage.MISSED_PICKUP.value)
_ON_ITS_WAY = (Stage.POST_REQUESTED.value, Stage.POSTED.value)

_FAMILY_VISITS = (
    notice_rows(_APPLICATION.c.stage, _APPLICATION.c.visit_id, _VISIT.c.office,
                _VISIT.c.starts_at, *CARD_NAMING)
    .join(_VISIT, _VISIT.c.id == _APPLICATION.c.visit_id)
    .where(_FAMILY.c.phone == bindparam("phone"), _VISIT.c.open_code.is_not(None),
           _APPLICATION.c.stage.in_(_TO_COLLECT), _APPLICATION.c.erased_at.is_(None))
    .order_by(_VISIT.c.starts_at, _APPLICATION.c.id))
_FAMILY_PARCELS = (
    select(_APPLICATION.c.nik, *CARD_NAMING)
    .join(_FAMILY, _FAMILY.c.id == _APPLICATION.c.family_id)
    .where(_FAMILY.c.phone == bindparam("phone"), _APPLICATION.c.stage.in_(_ON_ITS_WAY),
           _APPLICATION.c.erased_at.is_(None))
    .order_by(_APPLICATION.c.id))
_PARCELS = (
    select(_VISIT.c.id, _VISIT.c.office, _VISIT.c.post_requested_at, _VISIT.c.tracking,
           _VISIT.c.posted_at, _APPLICATION.c.reference, _APPLICATION.c.nik,
           _APPLICATION.c.stage)
    .join(_APPLICATION, _APPLICATION.c.visit_id == _VISIT.c.id)
    .where(_APPLICATION.c.stage.in_(_ON_ITS_WAY))
    .order_by(_VISIT.c.post_requested_at, _VISIT.c.id, _APPLICATION.c.id))


class PostRefused(Exception):
    """KIRIM not done, with the catalogue key that says why (`params`: its placeholders;
    `niks`: the names of the cards it is about, `pickup.card_names`, named as `{cards}`)."""

    def __init__(self, key: str, niks: Sequence[str] = (), **params: Any) -> None:
        super().__init__(key)
        self.key, self.niks, self.params = key, tuple(niks), params


class DeliveryError(Exception):
    """A step staff asked for that was not taken (nothing changed). `why`: "unknown" (no
    parcel of that reference waits for this step), "posted" (handed to the courier already),
    "tracking" (not a tracking number)."""

    def __init__(self, why: str, message: str) -> None:
        super().__init__(message)
        self.why = why


@dataclass(frozen=True)
class Parcel:
    """A family visit to post or on its way: the cards as staff may see them (reference and
    masked NIK), the office (kecamatan code) whose counter would have handed them over."""

    visit_id: int
    office: str
    requested_at: datetime | None
    cards: tuple[tuple[str, str], ...]
    tracking: str | None = None
    posted_at: datetime | None = None

    @property
    def reference(self) -> str:
        """The reference staff quote for the parcel: its first card's (any card's works)."""
        return self.cards[0][0]


def courier(policy: PickupPolicy) -> str:
    return policy.delivery.courier.strip()


def fee_words(policy: PickupPolicy) -> Msg:
    """What the family pays on delivery, as a sentence of the reader's catalogue."""
    fee = policy.delivery.fee
    if fee <= 0:
        return Msg("post.free")
    return Msg("post.cod", {"amount": f"{fee:,}".replace(",", ".")})  # Rp 9.000


def offer(policy: PickupPolicy) -> dict[str, Any] | None:
    """The placeholders of a message about posting (`{courier}`, `{fee}`); None where the
    regency does not post cards."""
    if not policy.delivery.post:
        return None
    return {"courier": courier(policy), "fee": fee_words(policy)}


# --- the family asks (KIRIM) ---------------------------------------------------------------------
def request(connection: Connection, policy: PickupPolicy, phone: str, now: datetime,
            actor: str, dry_run: bool = False) -> tuple[str, ...]:
    """Post the cards of every open visit of the families this phone speaks for, except a visit
    of today (its cards are in the day's drawer), in the caller's transaction; returns the
    names of the cards to post (masked NIKs, a KIA's birth date: `pickup.card_names`). The
    visits give their slots' places back and their codes stop working at the counter. Raises
    `PostRefused`: "post.off" (the regency does not post cards), "post.already" (asked
    before), "post.none" (no card to collect), "post.today" (every visit is today).
    `dry_run`: what would be posted, and nothing changed (the family confirms first)."""
    if not policy.delivery.post:
        raise PostRefused("post.off")
    rows = connection.execute(_FAMILY_VISITS.with_for_update(of=[_APPLICATION, _VISIT]),
                              {"phone": phone}).all()
    if not rows:
        asked = connection.execute(_FAMILY_PARCELS, {"phone": phone}).all()
        if asked:
            raise PostRefused("post.already", card_names(asked))
        raise PostRefused("post.none")
    today = local_date(now)
    visits: dict[int, list[Any]] = {}
    for row in rows:
        visits.setdefault(row.visit_id, []).append(row)
    posted = {visit_id: cards for visit_id, cards in visits.items()
              if cards[0].starts_at is None or local(cards[0].starts_at).date() != today}
    if not posted:
        raise PostRefused("post.today", card_names(rows))
    if dry_run:
        return tuple(card_names(row for visit in posted.values() for row in visit))
    for cards in posted.values():
        if cards[0].starts_at is not None:
            release_slot(connection, cards[0].office, cards[0].starts_at, len(cards))
    connection.execute(update(_VISIT).where(_VISIT.c.id.in_(list(posted)))
                       .values(starts_at=None, open_code=None, reminded_at=None,
                               post_requested_at=now))
    cards = [row for visit in posted.values() for row in visit]
    change_stages(connection, [Move(row.id, {"pickup_at": None}) for row in cards],
                  Stage.POST_REQUESTED, actor=actor, now=now, quiet=policy.quiet,
                  note="to be posted to the address on the KK: asked by the family",
                  notice="", rows={row.id: row for row in cards})
    return tuple(card_names(cards))


# --- staff: the parcels, handed to the courier, delivered ---------------------------------------
def parcels(connection: Connection, office: str | None = None, visit_id: int | None = None
            ) -> tuple[list[Parcel], list[Parcel]]:
    """The parcels to post (oldest request first) and those on their way; `office`: of one
    office (kecamatan code) only; `visit_id`: that parcel only."""
    query = _PARCELS
    if office is not None:
        query = query.where(_VISIT.c.office == office)
    if visit_id is not None:
        query = query.where(_VISIT.c.id == visit_id)
    found: dict[int, list[Any]] = {}
    for row in connection.execute(query):
        found.setdefault(row.id, []).append(row)
    to_post: list[Parcel] = []
    on_its_way: list[Parcel] = []
    for visit_id, cards in found.items():
        first = cards[0]
        parcel = Parcel(visit_id, first.office, first.post_requested_at,
                        tuple((row.reference, mask_id(row.nik)) for row in cards),
                        first.tracking, first.posted_at)
        waiting = all(row.stage == Stage.POST_REQUESTED.value for row in cards)
        (to_post if waiting else on_its_way).append(parcel)
    return to_post, on_its_way


def parcel_of(connection: Connection, reference: str) -> Parcel | None:
    """The parcel a card of this reference travels in (to post or on its way), if any."""
    visit_id = connection.execute(
        select(_APPLICATION.c.visit_id).where(_APPLICATION.c.reference == reference,
                                              _APPLICATION.c.stage.in_(_ON_ITS_WAY))).scalar()
    if visit_id is None:
        return None
    to_post, on_its_way = parcels(connection, visit_id=visit_id)
    return next(iter((*to_post, *on_its_way)), None)


def tracking_number(text: str) -> str:
    """The tracking number as typed (blanks dropped, capitals); raises `DeliveryError`."""
    tracking = "".join(text.split()).upper()
    if not _TRACKING.fullmatch(tracking) or _ID_NUMBER.fullmatch(tracking):
        raise DeliveryError("tracking", f"not a tracking number: 6 to {TRACKING_LIMIT} letters, "
                                        "digits or dashes (and never a NIK or KK)")
    return tracking


def _parcel_cards(connection: Connection, reference: str, stage: Stage) -> list[Any]:
    """The cards (locked, first card first) of the parcel of `reference` in `stage`."""
    visit_id = connection.execute(
        select(_APPLICATION.c.visit_id).where(_APPLICATION.c.reference == reference,
                                              _APPLICATION.c.stage == stage.value)).scalar()
    if visit_id is None:
        return []
    return connection.execute(
        notice_rows(_APPLICATION.c.visit_id, *CARD_NAMING)
        .where(_APPLICATION.c.visit_id == visit_id, _APPLICATION.c.stage == stage.value)
        .order_by(_APPLICATION.c.id).with_for_update(of=_APPLICATION)).all()


def sent(db: Database, clock: Clock, policy: PickupPolicy, reference: str, tracking: str,
         actor: str) -> tuple[str, ...]:
    """The parcel of the card `reference` handed to the courier with this tracking number: its
    cards are `posted`, and the family gets one SMS with the cards, the courier, the tracking
    number and the fee. Returns the references of its cards."""
    tracking = tracking_number(tracking)
    now = clock.now()
    with db.connect() as connection:
        cards = _parcel_cards(connection, reference, Stage.POST_REQUESTED)
        if not cards:
            if _parcel_cards(connection, reference, Stage.POSTED):
                raise DeliveryError("posted", f"the parcel of ref {reference} was handed to "
                                              "the courier already")
            raise DeliveryError("unknown", f"no parcel to post holds ref {reference}")
        connection.execute(update(_VISIT).where(_VISIT.c.id == cards[0].visit_id)
                           .values(tracking=tracking, posted_at=now))
        lead = cards[0]
        text = visit_text(lead.language, "notify.posted", card_names(cards),
                          courier=courier(policy), tracking=tracking, fee=fee_words(policy))
        change_stages(connection, [Move(row.id, text=text if index == 0 else "")
                                   for index, row in enumerate(cards)],
                      Stage.POSTED, actor=actor, now=now, quiet=policy.quiet,
                      note=f"handed to {courier(policy)}, tracking number {tracking}",
                      notice="notify.posted", rows={row.id: row for row in cards})
    return tuple(row.reference for row in cards)


def delivered(db: Database, clock: Clock, policy: PickupPolicy, reference: str,
              actor: str) -> tuple[str, ...]:
    """The parcel of the card `reference` delivered: its cards are `delivered` (closed, as
    collected at a counter; no SMS: the family holds the cards). Returns their references."""
    now = clock.now()
    with db.connect() as connection:
        cards = _parcel_cards(connection, reference, Stage.POSTED)
        if not cards:
            raise DeliveryError("unknown", f"no parcel on its way holds ref {reference}")
        connection.execute(update(_VISIT).where(_VISIT.c.id == cards[0].visit_id)
                           .values(delivered_at=now))
        change_stages(connection, [Move(row.id, {"collected_at": now}) for row in cards],
                      Stage.DELIVERED, actor=actor, now=now, quiet=policy.quiet,
                      note="delivered to the address on the KK", notice="",
                      rows={row.id: row for row in cards})
    return tuple(row.reference for row in cards)
