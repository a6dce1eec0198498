"""Pickup offices as staff changed them in the back office, over the configuration file.

A row of `office_setting` holds, for one office, only the keys staff set to something other than
the configuration file says, in the shape of a `[[pickup.offices]]` entry (without `code`, the
row's key): an office nobody touched follows the file, and a key staff never changed keeps
following it too. `offices_from_config` checks the result, so the back office obeys exactly the
rules the configuration obeys.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, delete, select

from sms_ktp.applications import sms_budget
from sms_ktp.domain import region
from sms_ktp.domain.pickup_calendar import WEEKDAYS, Office, offices_from_config
from sms_ktp.models import OfficeSetting

EDITABLE = ("name", "address", "hours", "slot_minutes", "capacity", "closed_dates")
_SETTING = OfficeSetting.__table__
log = logging.getLogger(__name__)

Overrides = dict[str, dict[str, Any]]  # office code -> the keys staff changed


def stored(connection: Connection) -> Overrides:
    """Every office's staff changes (at most one small row per office: cheap to read whole)."""
    rows = connection.execute(select(_SETTING.c.office, _SETTING.c["values"])).all()
    return {row.office: dict(row[1]) for row in rows}


def changed_by(connection: Connection) -> dict[str, tuple[str, datetime]]:
    """Who changed each office last, and when."""
    rows = connection.execute(select(_SETTING.c.office, _SETTING.c.updated_by,
                                     _SETTING.c.updated_at)).all()
    return {row.office: (row.updated_by, row.updated_at) for row in rows}


def merged(config_entries: list[Mapping[str, Any]], overrides: Mapping[str, Mapping[str, Any]]
           ) -> list[dict[str, Any]]:
    """The `[[pickup.offices]]` entries with the staff's changes applied over them."""
    entries: dict[str, dict[str, Any]] = {}
    for entry in config_entries:
        entries[str(entry.get("code"))] = dict(entry)
    for code, values in sorted(overrides.items()):
        entry = entries.setdefault(code, {"code": code})
        entry.update({key: value for key, value in values.items() if key != "code"})
    return list(entries.values())


def effective_offices(config_entries: list[Mapping[str, Any]],
                      overrides: Mapping[str, Mapping[str, Any]]) -> dict[str, Office]:
    """The offices the service schedules with. A stored change that no longer fits (the file
    changed under it, say a longer slot) is left out with an error in the log instead of
    stopping pickups for every office."""
    usable: dict[str, Mapping[str, Any]] = {}
    for code, values in sorted(overrides.items()):
        try:
            configured(merged(config_entries, {code: values}))
        except ValueError as error:
            log.error("office %s: the settings changed in the back office are not used: %s",
                      code, error)
            continue
        usable[code] = values
    return configured(merged(config_entries, usable))


def fits_one_sms(name: str, address: str) -> bool:
    """Whether an office's name and address leave the pickup SMS one SMS in every language."""
    return not sms_budget.too_long({"office": name, "address": address})


def configured(entries: list[Mapping[str, Any]]) -> dict[str, Office]:
    """The offices of `[[pickup.offices]]` entries, each default name and address the fullest
    that keeps the pickup SMS one SMS."""
    return offices_from_config(entries, fits=fits_one_sms)


def as_entry(office: Office) -> dict[str, Any]:
    """An office in the shape of a `[[pickup.offices]]` entry (without its code)."""
    return {
        "name": office.name,
        "address": office.address,
        "hours": {WEEKDAYS[weekday]: f"{opening:%H:%M}-{closing:%H:%M}"
                  for weekday, (opening, closing) in office.hours.items()},
        "slot_minutes": office.slot_minutes,
        "capacity": office.capacity,
        "closed_dates": [day.isoformat() for day in sorted(office.closed_dates)],
    }


def save(connection: Connection, code: str, values: Mapping[str, Any],
         config_entries: list[Mapping[str, Any]], actor: str, now: datetime) -> Office:
    """Check `values` (keys of `EDITABLE`) for office `code` with the configuration's rules and
    store what differs from the configuration file; returns the office as it is now. Raises
    ValueError with the configuration's message when the values break a rule."""
    unknown = sorted(set(values) - set(EDITABLE))
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} (known: {', '.join(EDITABLE)})")
    base = configured(list(config_entries))
    if code not in base:
        raise ValueError(f"office {code!r} is not a kecamatan of {region.current().name}")
    office = configured(merged(config_entries, {code: dict(values)}))[code]
    wanted, in_file = as_entry(office), as_entry(base[code])
    changes = {key: wanted[key] for key in EDITABLE if wanted[key] != in_file[key]}
    if changes == stored(connection).get(code, {}):
        return office  # nothing new: who changed it last, and when, stays as it was
    if changes:
        connection.execute(_upsert(connection.dialect.name).values(
            office=code, values=changes, updated_by=actor[:60], updated_at=now))
    else:
        reset(connection, code)
    return office


def reset(connection: Connection, code: str) -> bool:
    """Forget the staff's changes of one office: it follows the configuration file again."""
    return bool(connection.execute(delete(_SETTING).where(_SETTING.c.office == code)).rowcount)


def describe_changes(before: Office, after: Office) -> str:
    """The differences in words for the audit log, e.g. "capacity 10->15; closed +2026-12-24"."""
    old, new = as_entry(before), as_entry(after)
    parts: list[str] = []
    for key in ("name", "address", "slot_minutes", "capacity"):
        if old[key] != new[key]:
            parts.append(f"{key} {old[key]}->{new[key]}")
    for day in WEEKDAYS:
        was, now_ = old["hours"].get(day, "closed"), new["hours"].get(day, "closed")
        if was != now_:
            parts.append(f"hours.{day} {was}->{now_}")
    added = sorted(set(new["closed_dates"]) - set(old["closed_dates"]))
    removed = sorted(set(old["closed_dates"]) - set(new["closed_dates"]))
    parts += [f"closed +{day}" for day in added] + [f"closed -{day}" for day in removed]
    return "; ".join(parts) or "no change"


def added_closed_dates(before: Office, after: Office) -> list[date]:
    return sorted(after.closed_dates - before.closed_dates)


@cache
def _upsert(dialect: str) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(_SETTING)
    return statement.on_conflict_do_update(
        index_elements=["office"],
        set_={"values": statement.excluded["values"],
              "updated_by": statement.excluded.updated_by,
              "updated_at": statement.excluded.updated_at})
