"""A registration corrected by whoever made it at the counter, until staff verify it: the NIK,
the KK, the reason and the Suket number, with the rules of the registration itself (a NIK that
has no other open application, a KK of the regency served, one phone per family).

A field left empty keeps its value (a page never shows a full NIK or KK to fill in again). A
new KK moves the application to that KK's family: an existing family only when it uses the same
phone (the family's phone is changed at the kelurahan with its own confirmation, not here), a
new one with the phone of the family the application leaves.

The family is told by SMS only when what it reads changes: the NIK its notices name, or the
reason, which decides what to bring at pickup. A KK or a Suket number corrected changes nothing
the family does, and an SMS costs money.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from flows.catalogue import Msg, render
from flows.dialogue import Invalid
from flows.registration import REASONS, check_reason, check_suket, kk_value, nik_value
from sms_ktp.applications.counter_wording import for_staff
from sms_ktp.applications.pipeline import notice_rows
from sms_ktp.applications.verification import registered_by
from sms_ktp.domain.identity import parse_kk, require_valid_pair
from sms_ktp.domain.local_time import local_date
from sms_ktp.domain.masking import mask_id
from sms_ktp.domain.quiet_hours import QuietHours
from sms_ktp.domain.stages import Stage
from sms_ktp.messaging.outbox import enqueue_many
from sms_ktp.models import Application, ApplicationEvent, Family
from sms_ktp.platform.clock import Clock
from sms_ktp.platform.db import Database

FIELDS = ("nik", "kk", "reason", "suket")
MAX_INPUT = 100
NOTICE = "notify.corrected"
_APPLICATION = Application.__table__
_FAMILY = Family.__table__
_EVENT = ApplicationEvent.__table__


class Refused(Exception):
    """Nothing changed. `problems`: field -> what staff read next to it (Indonesian)."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        super().__init__(", ".join(problems))  # field names only: never a number
        self.problems = dict(problems)


def registrant(connection: Connection, application_id: int) -> str:
    """The actor of the application's registration (its first `submitted` entry)."""
    return registered_by(connection, [application_id]).get(application_id, "")


def may_change(stage: str, made_by: str, actor: str) -> bool:
    """Whoever registered it, while it waits for verification."""
    return stage == Stage.SUBMITTED.value and made_by == actor


@dataclass(frozen=True)
class Corrected:
    changes: list[str]  # "NIK ***0001 -> ***0002", masked, for the timeline and the audit log
    sms: str | None  # the SMS the family gets, if any


def correct(db: Database, clock: Clock, quiet: QuietHours, reference: str,
            typed: Mapping[str, str], actor: str) -> Corrected:
    now = clock.now()
    today = local_date(now)
    values = {name: " ".join(str(typed.get(name) or "").split())[:MAX_INPUT] for name in FIELDS}
    with db.connect() as connection:
        row = connection.execute(
            select(_APPLICATION, _FAMILY.c.kk, _FAMILY.c.phone)
            .join(_FAMILY, _FAMILY.c.id == _APPLICATION.c.family_id)
            .where(_APPLICATION.c.reference == reference)
            .with_for_update(of=_APPLICATION)).first()
        if row is None or not may_change(row.stage, registrant(connection, row.id), actor):
            raise Refused({"": "Permohonan ini sudah diverifikasi atau bukan pendaftaran Anda: "
                               "tidak bisa diperbaiki lagi."})
        problems: dict[str, str] = {}
        nik, kk, reason = row.nik, row.kk, row.reason
        if values["nik"]:
            nik = _read(problems, "nik", lambda: nik_value(values["nik"], today)) or nik
            taken = connection.execute(select(_APPLICATION.c.id).where(
                _APPLICATION.c.active_nik == nik, _APPLICATION.c.id != row.id)).first()
            if taken is not None:
                problems["nik"] = _staff("error.nik.active")
        if values["kk"]:
            kk = _read(problems, "kk", lambda: kk_value(values["kk"], today, nik)) or kk
        if values["reason"]:
            reason = _read(problems, "reason", lambda: check_reason(values["reason"])) or reason
        suket = row.suket_number if reason == "baru" else None
        if reason == "baru" and (values["suket"] or not suket):
            suket = _read(problems, "suket", lambda: check_suket(values["suket"]))
        if kk == nik and "kk" not in problems:
            problems["kk"] = _staff("error.kk.same_as_nik")
        family_id = row.family_id
        if kk != row.kk and "kk" not in problems:
            family_id = _family_for(connection, kk, row.phone, now, problems)
        if problems:
            raise Refused(problems)
        require_valid_pair(nik, kk, today)
        changes = _changes(row, nik, kk, reason, suket)
        if not changes:
            return Corrected([], None)
        connection.execute(update(_APPLICATION).where(_APPLICATION.c.id == row.id).values(
            nik=nik, nik_hash=nik, active_nik=nik, family_id=family_id, reason=reason,
            suket_number=suket, updated_at=now))
        connection.execute(insert(_EVENT).values(
            application_id=row.id, at=now, stage=Stage.SUBMITTED.value, actor=actor[:60],
            note=("data diperbaiki oleh pendaftar: " + "; ".join(changes))[:500]))
        sms = None
        if nik != row.nik or reason != row.reason:
            sms = _tell(connection, row.id, reason, now, quiet)
    return Corrected(changes, sms)


def _read(problems: dict[str, str], name: str, check: Any) -> Any:
    try:
        return check()
    except Invalid as refused:
        problems[name] = _staff(refused.key, **refused.params)
        return None


def _staff(key: str, **params: Any) -> str:
    """A refusal in the registration's own words, as the counter form words it."""
    return for_staff(key, render("id", key, **params))


def _family_for(connection: Connection, kk: str, phone: str, now: datetime,
                problems: dict[str, str]) -> int:
    """The family of the new KK: found by its keyed hash (it must use the same phone), or made
    with the phone of the family the application leaves."""
    found = connection.execute(select(_FAMILY.c.id, _FAMILY.c.phone)
                               .where(_FAMILY.c.kk_hash == kk)).first()
    if found is not None:
        if found.phone != phone:
            problems["kk"] = _staff("error.kk.other_phone")
        return int(found.id)
    return int(connection.execute(insert(_FAMILY).values(
        kk=kk, phone=phone, kecamatan_code=parse_kk(kk).kecamatan_code, created_at=now)
        .returning(_FAMILY.c.id)).scalar_one())


def _changes(row: Any, nik: str, kk: str, reason: str, suket: str | None) -> list[str]:
    reasons = {code: render("id", f"reason.{code}") for code in REASONS}
    changes = []
    if nik != row.nik:
        changes.append(f"NIK {mask_id(row.nik)} -> {mask_id(nik)}")
    if kk != row.kk:
        changes.append(f"KK {mask_id(row.kk)} -> {mask_id(kk)}")
    if reason != row.reason:
        changes.append(f"alasan {reasons.get(row.reason, row.reason)} -> "
                       f"{reasons.get(reason, reason)}")
    if suket != row.suket_number:
        changes.append("nomor Suket diperbaiki" if suket else "nomor Suket dihapus")
    return changes


def _tell(connection: Connection, application_id: int, reason: str, now: datetime,
          quiet: QuietHours) -> str:
    row = connection.execute(notice_rows().where(_APPLICATION.c.id == application_id)).one()
    text = render(row.language, NOTICE, ref=row.reference, nik=mask_id(row.nik),
                  reason=Msg(f"reason.{reason}"), bring=Msg(f"bring.{reason}"))
    enqueue_many(connection, [(row.phone, text)], now, kind="notification",
                 not_before=quiet.next_allowed(now), applications=[application_id],
                 notice=NOTICE)
    return text
