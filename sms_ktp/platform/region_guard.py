"""One database, one regency: a database that holds the families of another regency refuses to
be served under `[region] code`, so that two regencies' residents are never mixed (their
offices, names and times would all be wrong for one of them). Checked by every `sms-ktp` command
before it starts, after the schema is brought up to date."""

from __future__ import annotations

from sqlalchemy import String, select, type_coerce

from sms_ktp import crypto
from sms_ktp.domain.region import Region
from sms_ktp.domain.wilayah import regency_name
from sms_ktp.models import Family
from sms_ktp.platform.db import Database

_SAMPLE = 50  # families read: a database of another regency fails on its first one

_FAMILY = Family.__table__


class RegionMismatch(RuntimeError):
    pass


def check(db: Database, served: Region, *, unreadable_ok: bool = False) -> None:
    """Raise `RegionMismatch` when the database holds a family whose KK is not of `served`, or
    one this installation's keys cannot open (another installation's database), unless
    `unreadable_ok` (the key rotation, which reports such values)."""
    sealed = type_coerce(_FAMILY.c.kk, String)  # opened one by one below
    with db.connect() as connection:
        stored = connection.execute(select(sealed).where(_FAMILY.c.kk.is_not(None))
                                    .order_by(_FAMILY.c.id).limit(_SAMPLE)).scalars().all()
    for value in stored:
        try:
            kk = crypto.decrypt(value, "family.kk")
        except (crypto.DecryptionError, crypto.PrivacyKeyError) as error:
            if unreadable_ok:
                continue
            raise RegionMismatch(
                f"this database holds families that this installation's keys cannot open "
                f"({error}): the database of another installation, or [privacy] keys that are "
                "not this database's") from None
        if not served.holds_kk(kk):
            other = kk[:4]
            raise RegionMismatch(
                f"this database holds families of {other} {regency_name(other) or '?'}, but "
                f"[region] code is {served.code} ({served.name}): serve each regency from a "
                "database of its own ([database] url)")
