"""A resident's own requests about their data, made through staff at the office or by an
operator (UU PDP No. 27/2022: the right to a copy of one's personal data and to its erasure).

Found by NIK (its keyed hash). The copy (`export`) is everything held about the resident: their
applications with the timeline, the family card and phone those applications use, and the SMS
sent to that phone about them; never another family member's. The erasure (`erase`) is the
retention purge's (`sms_ktp.privacy.retention`) on the resident's applications, now. A card being
printed or waiting at the office is not erased (the card exists and must be handed over or
cancelled first); an application still in an earlier stage is cancelled first, without an SMS.
Both are audited with the NIK masked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, or_, select, update

from sms_ktp.applications.hidden_codes import HIDDEN, hide_codes
from sms_ktp.applications.pipeline import change_stage
from sms_ktp.domain import region
from sms_ktp.domain.identity import digits_only
from sms_ktp.domain.masking import mask_id
from sms_ktp.domain.quiet_hours import QuietHours
from sms_ktp.domain.stages import CLOSED_STAGES, Stage
from sms_ktp.models import Application, ApplicationEvent, Family, OutboxMessage
from sms_ktp.platform import audit
from sms_ktp.platform.clock import Clock
from sms_ktp.platform.db import Database, retry_after_disconnect
from sms_ktp.privacy import retention

EXPORT_ACTION = "privacy.export"
ERASE_ACTION = "privacy.erase"
FORMAT = "sms-ktp resident data 1"
CANCEL_NOTE = "cancelled at the resident's request to erase their data"
ERASE_NOTE = "personal data erased at the resident's request"
# A card printed or about to be (its blangko reserved in a batch), or waiting at the office.
PRINT_OR_PICKUP = frozenset({Stage.PRINTED, Stage.PICKUP_SCHEDULED, Stage.MISSED_PICKUP})

_APPLICATION = Application.__table__
_FAMILY = Family.__table__
_EVENT = ApplicationEvent.__table__
_OUTBOX = OutboxMessage.__table__


def parse_nik(text: str) -> str | None:
    """The 16 digits typed (spaces, dots and dashes between them allowed), else None."""
    digits = digits_only(text or "")
    return digits if len(digits) == 16 else None


def target(nik: str) -> str:
    """How the audit log names the resident: the NIK masked."""
    return f"NIK {mask_id(nik)}"


def _held(connection: Connection, nik: str, *, lock: bool = False) -> list[Any]:
    """The resident's applications that still hold personal data, oldest first."""
    query = (select(_APPLICATION, _FAMILY.c.kk, _FAMILY.c.phone, _FAMILY.c.kecamatan_code)
             .join(_FAMILY, _FAMILY.c.id == _APPLICATION.c.family_id)
             .where(_APPLICATION.c.nik_hash == nik, _APPLICATION.c.erased_at.is_(None))
             .order_by(_APPLICATION.c.id))
    if lock:
        query = query.with_for_update(of=_APPLICATION)
    return list(connection.execute(query).all())


def _sms_about(connection: Connection, nik: str, applications: Sequence[Any]) -> list[Any]:
    """The SMS sent to the family phones about these applications: those naming one of their
    references, or the masked NIK when no other member of the family has the same last four
    digits; never one naming another member's application."""
    rows: list[Any] = []
    for phone, family_id in sorted({(a.phone, a.family_id) for a in applications}):
        mine = {a.reference for a in applications if a.family_id == family_id}
        others = connection.execute(
            select(_APPLICATION.c.reference, _APPLICATION.c.nik)
            .where(_APPLICATION.c.family_id == family_id,
                   _APPLICATION.c.reference.notin_(sorted(mine)))).all()
        clues = [_OUTBOX.c.text.contains(reference) for reference in sorted(mine)]
        if all(other.nik is None or mask_id(other.nik) != mask_id(nik) for other in others):
            clues.append(_OUTBOX.c.text.contains(mask_id(nik)))
        found = connection.execute(
            select(_OUTBOX).where(_OUTBOX.c.phone == phone, or_(*clues))
            .order_by(_OUTBOX.c.created_at, _OUTBOX.c.id)).all()
        rows += [row for row in found
                 if not any(other.reference in row.text for other in others)]
    return rows


# --- export -------------------------------------------------------------------------------------

def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def export(db: Database, clock: Clock, nik: str, actor: str, address: str = "") -> dict[str, Any]:
    """Everything held about the resident with this NIK, as a JSON-ready document; audited
    (also when nothing is held: a look-up of a NIK is itself worth recording)."""
    with db.connect() as connection:
        applications = _held(connection, nik)
        sms = _sms_about(connection, nik, applications) if applications else []
        timelines: dict[int, list[dict[str, Any]]] = {a.id: [] for a in applications}
        codes = [a.pickup_code for a in applications]
        for event in connection.execute(
                select(_EVENT).where(_EVENT.c.application_id.in_(sorted(timelines)))
                .order_by(_EVENT.c.at, _EVENT.c.id)):
            timelines[event.application_id].append({
                "at": _when(event.at), "stage": event.stage, "by": event.actor,
                "note": hide_codes(event.note, codes)})
        audit.record(connection, clock.now(), actor, EXPORT_ACTION, target(nik),
                     f"applications={len(applications)} sms={len(sms)}", address)
    kecamatan = region.current().kecamatan
    return {
        "format": FORMAT,
        "exported_at": _when(clock.now()),
        "nik": nik,
        "applications": [{
            "reference": a.reference, "stage": a.stage, "stage_note": a.stage_note,
            "reason": a.reason, "suket_number": a.suket_number, "channel": a.channel,
            "language": a.language, "created_at": _when(a.created_at),
            "updated_at": _when(a.updated_at), "ready_at": _when(a.ready_at),
            "printed_at": _when(a.printed_at), "pickup_office": a.pickup_office,
            # Staff download this: the code stays in the resident's SMS only (see hidden_codes).
            "pickup_at": _when(a.pickup_at), "pickup_code": a.pickup_code and HIDDEN,
            "collected_at": _when(a.collected_at),
            "consent": {"at": _when(a.consent_at), "version": a.consent_version},
            "family": {"kk": a.kk, "phone": a.phone, "kecamatan_code": a.kecamatan_code,
                       "kecamatan": kecamatan.get(a.kecamatan_code, a.kecamatan_code)},
            "timeline": timelines[a.id],
        } for a in applications],
        "sms": [{"at": _when(row.created_at), "to": row.phone,
                 "text": hide_codes(row.text, codes),
                 "status": row.status, "delivered_at": _when(row.delivered_at)} for row in sms],
    }


# --- erasure ------------------------------------------------------------------------------------

def blocking(application: Any) -> bool:
    """Whether this application keeps the resident's data from being erased now."""
    stage = Stage(application.stage)
    return stage in PRINT_OR_PICKUP or (stage is Stage.PRINT_QUEUE
                                        and application.print_batch_id is not None)


@dataclass(frozen=True)
class Planned:
    """One application as the erasure will treat it."""

    reference: str
    stage: str
    cancel_first: bool
    blocked: bool


@dataclass(frozen=True)
class Plan:
    """What erasing this NIK would do: the applications, and whether the family's KK and phone
    go too (when no other member's application still holds data)."""

    nik_masked: str
    applications: tuple[Planned, ...]
    family_goes: bool

    @property
    def blocked(self) -> tuple[Planned, ...]:
        return tuple(a for a in self.applications if a.blocked)


def plan(db: Database, nik: str) -> Plan:
    with db.connect() as connection:
        applications = _held(connection, nik)
        family_ids = sorted({a.family_id for a in applications})
        others = connection.execute(
            select(_APPLICATION.c.id).where(_APPLICATION.c.family_id.in_(family_ids),
                                            _APPLICATION.c.erased_at.is_(None),
                                            _APPLICATION.c.id.notin_([a.id for a in applications]))
        ).first()
    return Plan(mask_id(nik), tuple(
        Planned(a.reference, a.stage, Stage(a.stage) not in CLOSED_STAGES, blocking(a))
        for a in applications), bool(applications) and others is None)


class ErasureRefused(Exception):
    """Nothing was erased: `references` are the cards being printed or waiting at the office
    (empty: nothing is held for this NIK)."""

    def __init__(self, references: Sequence[str]) -> None:
        super().__init__(", ".join(references))
        self.references = tuple(references)


@dataclass(frozen=True)
class ErasedResident:
    applications: int
    cancelled: int
    families: int
    sms: int
    messages: dict[str, int]


@retry_after_disconnect
def erase(db: Database, clock: Clock, quiet: QuietHours, nik: str, actor: str,
          address: str = "") -> ErasedResident:
    """Erase the resident's personal data now, in one transaction with its audit entry; then
    forget the SMS of a family phone no family uses any more. Raises `ErasureRefused`."""
    now = clock.now()
    with db.connect() as connection:
        applications = _held(connection, nik, lock=True)
        blocked = [a.reference for a in applications if blocking(a)]
        if blocked or not applications:
            raise ErasureRefused(blocked)
        sms = [row.id for row in _sms_about(connection, nik, applications)]
        open_ = [a for a in applications if Stage(a.stage) not in CLOSED_STAGES]
        for application in open_:  # the resident asked: no SMS about the cancellation
            change_stage(connection, application.id, Stage.CANCELLED, actor=actor, now=now,
                         quiet=quiet, note=CANCEL_NOTE, notice="")
        cancelled = {a.id for a in open_}
        stages = {a.id: Stage.CANCELLED.value if a.id in cancelled else a.stage
                  for a in applications}
        erased = retention.erase_applications(connection, stages, now, actor, ERASE_NOTE)
        if sms:
            connection.execute(update(_OUTBOX).where(_OUTBOX.c.id.in_(sms)).values(text=""))
        audit.record(connection, now, actor, ERASE_ACTION, target(nik),
                     f"applications={erased.applications} cancelled={len(open_)} "
                     f"families={erased.families} sms={len(sms)}", address)
    messages = (retention.forget_messages(db, phones=sorted(erased.phones))
                if erased.phones else {})
    return ErasedResident(erased.applications, len(open_), erased.families, len(sms), messages)
