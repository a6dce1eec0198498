"""A family's phone changed at the office. Residents are told by SMS to do it at the kelurahan
with the original KK (a KK already registered to another phone, a lost or sold phone): staff
find the family, type the KK from the card and the new phone; a code goes to the new phone by
SMS, in the family's language, and staff type it back from there. Only then does the family's
phone change, and the old phone is told (masked), so a change made behind the family's back does
not go unnoticed.

The code proves the new phone is in the hands of whoever stands at the counter: every SMS of the
family, pickup codes included, goes there afterwards. It is kept only as a salted keyed hash,
lives `CODE_MINUTES`, allows `MAX_ATTEMPTS` wrong tries, and a family gets at most
`MAX_CODES_PER_HOUR` codes.

The family's notices still waiting in the outbox (quiet hours, a gateway down) follow the family
to the new phone: they are about its applications and would otherwise reach a phone it gave up.
Replies and broadcasts to the old phone are the phone's own and stay.

A phone may serve several families (a grandmother's phone for her children's KKs, a neighbour's
for a family without one): "one phone per family" means one number per KK, not one KK per
number, and registration by SMS allows it too. Staff are told how many other families a new
phone already serves, and decide.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from flows.catalogue import render
from sms_ktp import crypto
from sms_ktp.domain.identity import IdentityError, digits_only, parse_kk
from sms_ktp.domain.masking import mask_id, mask_phone
from sms_ktp.domain.phones import normalise_msisdn
from sms_ktp.domain.stages import CLOSED_STAGES, Stage
from sms_ktp.messaging.outbox import QUEUED, enqueue
from sms_ktp.models import (
    Application,
    ApplicationEvent,
    Family,
    OutboxMessage,
    PhoneChange,
    PhoneState,
)
from sms_ktp.platform.clock import Clock
from sms_ktp.platform.db import Database

CODE_MINUTES = 15
CODE_DIGITS = 6
MAX_ATTEMPTS = 5
MAX_CODES_PER_HOUR = 3
ACTION = "family.phone_change"
# The notice to the old phone that the family's number changed (its catalogue key).
OLD_PHONE_NOTICE = "phone_change.old_phone"
_FAMILY = Family.__table__
_APPLICATION = Application.__table__
_CHANGE = PhoneChange.__table__
_OUTBOX = OutboxMessage.__table__
_PHONE = PhoneState.__table__
_OPEN_STAGES = [stage.value for stage in Stage if stage not in CLOSED_STAGES]


class Refused(Exception):
    """Nothing changed; the message is for staff, in Indonesian."""


class WrongCode(Refused):
    def __init__(self, message: str, remaining: int) -> None:
        super().__init__(message)
        self.remaining = remaining


@dataclass(frozen=True)
class Card:
    reference: str
    nik: str  # masked
    stage: str


@dataclass(frozen=True)
class FamilyView:
    """A family as the pages show it: numbers masked."""

    id: int
    kk: str
    phone: str
    kecamatan_code: str
    cards: tuple[Card, ...]  # its open applications


@dataclass(frozen=True)
class Pending:
    """A change waiting for the code from the new phone."""

    id: int
    new_phone: str  # masked
    expires_at: datetime
    attempts_left: int
    shared_with: int  # other families the new phone already serves


def find(connection: Connection, text: str, office: str | None = None) -> list[FamilyView]:
    """The families of a KK (16 digits) or a phone (as residents write it); `office`: only those
    whose KK is of that kecamatan. Nothing for anything else."""
    digits = digits_only(text)
    statement = select(_FAMILY.c.id)
    if len(digits) == 16:
        statement = statement.where(_FAMILY.c.kk_hash == digits)
    else:
        phone = normalise_msisdn(text.strip()) or normalise_msisdn(digits)
        if phone is None:
            return []
        statement = statement.where(_FAMILY.c.phone == phone)
    if office is not None:
        statement = statement.where(_FAMILY.c.kecamatan_code == office)
    ids = connection.execute(statement.order_by(_FAMILY.c.id).limit(20)).scalars().all()
    return [view for view in (family(connection, id_) for id_ in ids) if view is not None]


def family(connection: Connection, family_id: int) -> FamilyView | None:
    row = connection.execute(select(_FAMILY).where(_FAMILY.c.id == family_id)).first()
    if row is None or row.kk is None:  # erased: nobody's any more
        return None
    cards = connection.execute(
        select(_APPLICATION.c.reference, _APPLICATION.c.nik, _APPLICATION.c.stage)
        .where(_APPLICATION.c.family_id == family_id, _APPLICATION.c.stage.in_(_OPEN_STAGES))
        .order_by(_APPLICATION.c.id)).all()
    return FamilyView(row.id, mask_id(row.kk), mask_phone(row.phone), row.kecamatan_code,
                      tuple(Card(card.reference, mask_id(card.nik), card.stage)
                            for card in cards))


def pending(connection: Connection, family_id: int, now: datetime) -> Pending | None:
    row = connection.execute(_open(family_id, now)).first()
    if row is None:
        return None
    return Pending(row.id, mask_phone(row.new_phone), row.expires_at,
                   MAX_ATTEMPTS - row.attempts, _shared(connection, row.new_phone, family_id))


@dataclass(frozen=True)
class Started:
    pending: Pending
    sms: str  # the code's SMS as sent, the code hidden (for the audit detail and the page)


def start(db: Database, clock: Clock, family_id: int, kk_typed: str, phone_typed: str,
          actor: str) -> Started:
    """Check the KK typed from the card and the new phone, close any change still open for the
    family, and send a new code to the new phone."""
    now = clock.now()
    new_phone = normalise_msisdn(phone_typed.strip()[:40])
    if new_phone is None:
        raise Refused("Nomor HP baru tidak dikenali. Tulis nomor HP seluler, misalnya "
                      "0812 3456 7890.")
    kk = digits_only(kk_typed)[:40]
    try:
        parse_kk(kk, now.date())
    except IdentityError:
        raise Refused("Nomor KK tidak sah. Ketik 16 angka nomor KK dari Kartu Keluarga asli yang "
                      "dibawa warga.") from None
    with db.connect() as connection:
        row = connection.execute(select(_FAMILY).where(_FAMILY.c.id == family_id)
                                 .with_for_update()).first()
        if row is None or row.kk is None:
            raise Refused("Keluarga tidak ditemukan.")
        if row.kk != kk:
            raise Refused("Nomor KK tidak cocok dengan keluarga ini. Periksa KK asli yang "
                          "dibawa warga: nomor HP hanya diganti dengan KK aslinya.")
        if new_phone == row.phone:
            raise Refused("Nomor itu sudah nomor HP keluarga ini; tidak ada yang perlu diganti.")
        recent = connection.execute(
            select(func.count()).select_from(_CHANGE)
            .where(_CHANGE.c.family_id == family_id,
                   _CHANGE.c.created_at > now - timedelta(hours=1))).scalar_one()
        if recent >= MAX_CODES_PER_HOUR:
            raise Refused(f"Sudah {recent} kode dikirim untuk keluarga ini dalam satu jam. Coba "
                          "lagi nanti; pastikan nomor HP baru benar dan HP-nya menerima SMS.")
        connection.execute(update(_CHANGE).where(_CHANGE.c.family_id == family_id,
                                                 _CHANGE.c.confirmed_at.is_(None),
                                                 _CHANGE.c.closed_at.is_(None))
                           .values(closed_at=now))
        code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
        expires = now + timedelta(minutes=CODE_MINUTES)
        change_id = connection.execute(insert(_CHANGE).values(
            family_id=family_id, old_phone=row.phone, new_phone=new_phone,
            code_hash=_seal(code), attempts=0, actor=actor[:60], created_at=now,
            expires_at=expires).returning(_CHANGE.c.id)).scalar_one()
        language = _language(connection, family_id, row.phone)
        sms = render(language, "phone_change.code", code=code, minutes=CODE_MINUTES)
        # A direct answer to someone waiting at the counter: never held for quiet hours.
        enqueue(connection, new_phone, sms, now, kind="reply")
        shared = _shared(connection, new_phone, family_id)
    return Started(Pending(change_id, mask_phone(new_phone), expires, MAX_ATTEMPTS, shared),
                   sms.replace(code, "*" * CODE_DIGITS))


@dataclass(frozen=True)
class Changed:
    old_phone: str  # masked
    new_phone: str  # masked
    cards: int  # open applications whose timeline says so
    moved: int  # queued notices that now go to the new phone


def confirm(db: Database, clock: Clock, family_id: int, code_typed: str,
            actor: str) -> Changed:
    """The code typed from the new phone: right, the family's phone changes (its queued notices
    follow, its open applications' timelines say so, the old phone is told); wrong, one try
    fewer (the last wrong try closes the change)."""
    now = clock.now()
    code = digits_only(code_typed)[:20]
    wrong: WrongCode | None = None
    with db.connect() as connection:
        change = connection.execute(_open(family_id, now).with_for_update()).first()
        if change is None:
            raise Refused("Tidak ada kode yang menunggu untuk keluarga ini, atau kodenya sudah "
                          f"lewat {CODE_MINUTES} menit. Kirim kode baru.")
        if not _matches(change.code_hash, code):
            attempts = change.attempts + 1
            left = MAX_ATTEMPTS - attempts
            connection.execute(update(_CHANGE).where(_CHANGE.c.id == change.id).values(
                attempts=attempts, closed_at=now if left <= 0 else None))
            wrong = WrongCode(f"Kode salah. Sisa {left} kali coba." if left > 0 else
                              "Kode salah terlalu sering: penggantian dibatalkan. Nomor HP "
                              "keluarga tetap; kirim kode baru bila perlu.", left)
        else:
            changed = _change(connection, change, now, actor)
    if wrong is not None:
        raise wrong  # after the wrong try is committed
    return changed


def give_up(db: Database, clock: Clock, family_id: int) -> bool:
    """Close the family's open change (staff stopped); True when there was one."""
    with db.connect() as connection:
        return bool(connection.execute(
            update(_CHANGE).where(_CHANGE.c.family_id == family_id,
                                  _CHANGE.c.confirmed_at.is_(None),
                                  _CHANGE.c.closed_at.is_(None))
            .values(closed_at=clock.now())).rowcount)


def _change(connection: Connection, change: Any, now: datetime, actor: str) -> Changed:
    family_row = connection.execute(select(_FAMILY).where(_FAMILY.c.id == change.family_id)
                                    .with_for_update()).one()
    old, new = family_row.phone, change.new_phone
    language = _language(connection, change.family_id, old)
    connection.execute(update(_FAMILY).where(_FAMILY.c.id == change.family_id)
                       .values(phone=new))
    connection.execute(update(_CHANGE).where(_CHANGE.c.id == change.id)
                       .values(confirmed_at=now))
    applications = select(_APPLICATION.c.id).where(
        _APPLICATION.c.family_id == change.family_id)
    moved = connection.execute(
        update(_OUTBOX).where(_OUTBOX.c.status == QUEUED, _OUTBOX.c.phone == old,
                              _OUTBOX.c.application_id.in_(applications))
        .values(phone=new)).rowcount
    cards = connection.execute(
        select(_APPLICATION.c.id, _APPLICATION.c.stage)
        .where(_APPLICATION.c.family_id == change.family_id,
               _APPLICATION.c.stage.in_(_OPEN_STAGES))).all()
    note = f"nomor HP keluarga diganti ke {mask_phone(new)} (dikonfirmasi dengan kode di HP baru)"
    if cards:
        connection.execute(insert(ApplicationEvent.__table__), [
            {"application_id": card.id, "at": now, "stage": card.stage, "actor": actor[:60],
             "note": note} for card in cards])
    enqueue(connection, old, render(language, OLD_PHONE_NOTICE,
                                    kk=mask_id(family_row.kk), phone=mask_phone(new)),
            now, kind="notification", notice=OLD_PHONE_NOTICE)
    return Changed(mask_phone(old), mask_phone(new), len(cards), moved)


def _open(family_id: int, now: datetime) -> Any:
    return (select(_CHANGE).where(_CHANGE.c.family_id == family_id,
                                  _CHANGE.c.confirmed_at.is_(None),
                                  _CHANGE.c.closed_at.is_(None),
                                  _CHANGE.c.expires_at > now)
            .order_by(_CHANGE.c.id.desc()).limit(1))


def _shared(connection: Connection, phone: str, family_id: int) -> int:
    return connection.execute(select(func.count()).select_from(_FAMILY).where(
        _FAMILY.c.phone == phone, _FAMILY.c.id != family_id)).scalar_one()


def _language(connection: Connection, family_id: int, phone: str) -> str:
    """The family's language: the phone's own choice, else its newest application's."""
    chosen = connection.execute(select(_PHONE.c.language).where(_PHONE.c.phone == phone)
                                ).scalar_one_or_none()
    if chosen:
        return str(chosen)
    newest = connection.execute(select(_APPLICATION.c.language)
                                .where(_APPLICATION.c.family_id == family_id)
                                .order_by(_APPLICATION.c.id.desc()).limit(1)
                                ).scalar_one_or_none()
    return str(newest or "id")


def _seal(code: str) -> str:
    salt = secrets.token_hex(8)
    return f"{salt}:{crypto.keyed_hash(f'{salt}:{code}', 'phone_change')}"


def _matches(sealed: str, code: str) -> bool:
    salt, _, expected = sealed.partition(":")
    return hmac.compare_digest(crypto.keyed_hash(f"{salt}:{code}", "phone_change"), expected)
