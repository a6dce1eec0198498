"""Where and when a printed KTP-el can be collected: the kecamatan offices, their opening hours and
the Indonesian working calendar (public holidays and cuti bersama).

Pure: no database, no Flask, no clock. Days are the regency's local calendar days; instants
leave this module as UTC-aware datetimes so that storage never depends on the server's time zone.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from typing import Any

import holidays

from sms_ktp.domain import region
from sms_ktp.domain.local_time import local_zone
from sms_ktp.domain.region import Region

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SLOT_MINUTES_RANGE = (5, 240)
CAPACITY_RANGE = (1, 1000)
# Longest search for an open day: a year, so that a mistaken configuration fails instead of looping.
SEARCH_DAYS = 366
# Public holidays and cuti bersama (collective leave, the package's "government" category).
HOLIDAY_CATEGORIES = ("public", "government")

# Defaults (unverified: every one of them is configurable per office).
_OPEN = time(8, 0)
_DEFAULT_HOURS: Mapping[int, tuple[time, time]] = MappingProxyType({
    0: (_OPEN, time(15, 0)),
    1: (_OPEN, time(15, 0)),
    2: (_OPEN, time(15, 0)),
    3: (_OPEN, time(15, 0)),
    4: (_OPEN, time(11, 0)),  # Friday prayers
})
_DEFAULT_SLOT_MINUTES = 30
_DEFAULT_CAPACITY = 10

_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CONFIG_KEYS = frozenset(
    {"code", "name", "address", "hours", "slot_minutes", "capacity", "closed_dates"}
)


@dataclass(frozen=True)
class Office:
    """A pickup office; a resident's office is the kecamatan of their KK (`code` "01".."06").

    Checked on construction so that an impossible week (a slot longer than a day's hours) fails at
    start-up rather than when a resident is waiting for a date.
    """

    code: str
    name: str
    address: str
    # weekday (0 = Monday .. 6 = Sunday) -> (opening, closing), local time; absent = closed.
    hours: Mapping[int, tuple[time, time]] = field(hash=False)
    slot_minutes: int
    capacity: int  # cards per slot
    closed_dates: frozenset[date] = frozenset()  # extra closed days besides holidays

    def __post_init__(self) -> None:
        where = f"office {self.code!r}"
        for key in ("code", "name", "address"):
            value = getattr(self, key)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{where}: {key} must be a non-empty string")
        _check_int(where, "slot_minutes", self.slot_minutes, SLOT_MINUTES_RANGE)
        _check_int(where, "capacity", self.capacity, CAPACITY_RANGE)
        hours: dict[int, tuple[time, time]] = {}
        for weekday, span in dict(self.hours).items():
            if isinstance(weekday, bool) or not isinstance(weekday, int) or weekday not in range(7):
                raise ValueError(f"{where}: hours[{weekday!r}]: weekday must be 0 (Monday) "
                                 "to 6 (Sunday)")
            key = f"hours.{WEEKDAYS[weekday]}"
            if not (isinstance(span, tuple) and len(span) == 2
                    and all(isinstance(t, time) and t.tzinfo is None for t in span)):
                raise ValueError(f"{where}: {key}: must be (opening, closing), naive local times")
            opening, closing = span
            if closing <= opening:
                raise ValueError(f"{where}: {key}: closes ({closing:%H:%M}) "
                                 f"before it opens ({opening:%H:%M})")
            if _minutes(closing) - _minutes(opening) < self.slot_minutes:
                raise ValueError(f"{where}: {key}: {opening:%H:%M}-{closing:%H:%M} is shorter "
                                 f"than one slot (slot_minutes {self.slot_minutes})")
            hours[weekday] = (opening, closing)
        if not hours:
            raise ValueError(f"{where}: hours: open on no day of the week")
        dates = frozenset(self.closed_dates)
        if not all(type(day) is date for day in dates):
            raise ValueError(f"{where}: closed_dates must hold dates only")
        # Read-only views: a frozen office must not change under a scheduler that holds it.
        object.__setattr__(self, "hours", MappingProxyType(dict(sorted(hours.items()))))
        object.__setattr__(self, "closed_dates", dates)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle and copy through the constructor (a mappingproxy cannot be pickled)."""
        return (Office, (self.code, self.name, self.address, dict(self.hours),
                         self.slot_minutes, self.capacity, self.closed_dates))


def _check_int(where: str, key: str, value: object, bounds: tuple[int, int]) -> None:
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{where}: {key} must be a whole number from {low} to {high}, "
                         f"not {value!r}")


def _minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


# The regency's words an SMS may shorten, in the forms Disdukcapil letters use.
_SHORTER = (("Kabupaten Administrasi", "Kab. Adm."), ("Kota Administrasi", "Kota Adm."),
            ("Kabupaten", "Kab."), ("Kepulauan", "Kep."))


def short_regency(name: str) -> str:
    """A regency's name with "Kabupaten", "Administrasi" and "Kepulauan" abbreviated."""
    for long, short in _SHORTER:
        name = name.replace(long, short)
    return name


def default_places(kecamatan: str, regency: str) -> tuple[tuple[str, str], ...]:
    """The default office's (name, address), from the fullest to the shortest. The last one
    ("Kantor Kecamatan", the kecamatan) fits any SMS, since the longest kecamatan name of the
    country is 31 letters; the regency it leaves out is the one the resident lives in."""
    return ((f"Kantor Kec. {kecamatan}", regency),
            (f"Kantor Kec. {kecamatan}", short_regency(regency)),
            (f"Kec. {kecamatan}", short_regency(regency)),
            ("Kantor Kecamatan", kecamatan))


def default_offices(served: Region | None = None,
                    fits: Callable[[str, str], bool] | None = None) -> dict[str, Office]:
    """One office per kecamatan of the regency `served` (the one this process serves unless
    given), names from the official table; the addresses are the regency's name because the
    real street addresses are unverified (set them in the config). With `fits`, each office
    takes the fullest of `default_places` that `fits` accepts (the pickup SMS's room, which the
    domain does not know), so that a long kecamatan in a long regency still gets one SMS."""
    offices: dict[str, Office] = {}
    served = served or region.current()
    for code, kecamatan in sorted(served.kecamatan.items()):
        places = default_places(kecamatan, served.name)
        name, address = next((place for place in places if fits is None or fits(*place)),
                             places[-1])
        offices[code] = Office(
            code=code,
            name=name,
            address=address,
            hours=_DEFAULT_HOURS,
            slot_minutes=_DEFAULT_SLOT_MINUTES,
            capacity=_DEFAULT_CAPACITY,
        )
    return offices


def offices_from_config(entries: list[Mapping[str, Any]], served: Region | None = None,
                        fits: Callable[[str, str], bool] | None = None) -> dict[str, Office]:
    """The offices after applying `[[pickup.offices]]` entries to the defaults of the regency
    `served` (the one this process serves unless given; `fits` as for `default_offices`), one
    entry per office; whatever an entry leaves out keeps that office's default."""
    served = served or region.current()
    offices = default_offices(served, fits)
    if not isinstance(entries, list):
        raise ValueError("pickup.offices must be a list of tables ([[pickup.offices]])")
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        where = f"pickup.offices[{index}]"
        if not isinstance(entry, Mapping):
            raise ValueError(f"{where}: must be a table with at least a code")
        code = entry.get("code")
        if code is None:
            raise ValueError(f"{where}: code missing (one of {', '.join(offices)})")
        if not isinstance(code, str) or code not in offices:
            raise ValueError(f"{where}: office {code!r}: code is not a kecamatan of {served.name} "
                             f"(one of {', '.join(offices)})")
        where = f"pickup.offices[{index}]: office {code!r}"
        if code in seen:
            raise ValueError(f"{where}: code listed twice")
        seen.add(code)
        unknown = sorted(str(key) for key in entry if key not in _CONFIG_KEYS)
        if unknown:
            raise ValueError(f"{where}: unknown key {unknown[0]!r} "
                             f"(known: {', '.join(sorted(_CONFIG_KEYS))})")
        changes: dict[str, Any] = {}
        for key in ("name", "address"):
            if key in entry:
                value = entry[key]
                if not isinstance(value, str) or not value.strip():
                    raise ValueError(f"{where}: {key} must be a non-empty string")
                changes[key] = value.strip()
        if "hours" in entry:
            changes["hours"] = _parse_hours(where, entry["hours"])
        for key, bounds in (("slot_minutes", SLOT_MINUTES_RANGE), ("capacity", CAPACITY_RANGE)):
            if key in entry:
                _check_int(where, key, entry[key], bounds)
                changes[key] = entry[key]
        if "closed_dates" in entry:
            changes["closed_dates"] = _parse_dates(where, entry["closed_dates"])
        try:
            offices[code] = replace(offices[code], **changes)
        except ValueError as error:  # a combination, e.g. a slot longer than a day's hours
            raise ValueError(f"pickup.offices[{index}]: {error}") from None
    return offices


def _parse_hours(where: str, table: object) -> dict[int, tuple[time, time]]:
    if not isinstance(table, Mapping):
        raise ValueError(f'{where}: hours must be a table like {{ monday = "08:00-15:00" }}')
    hours: dict[int, tuple[time, time]] = {}
    for name, text in table.items():
        key = f"hours.{name}"
        if not isinstance(name, str) or name not in WEEKDAYS:
            raise ValueError(f"{where}: {key}: not a weekday ({', '.join(WEEKDAYS)})")
        match = _RANGE.match(text) if isinstance(text, str) else None
        if not match:
            raise ValueError(f'{where}: {key}: opening hours look like "08:00-15:00", '
                             f"not {text!r}")
        h1, m1, h2, m2 = (int(part) for part in match.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            raise ValueError(f"{where}: {key}: {text!r} is not a time range")
        opening, closing = time(h1, m1), time(h2, m2)
        if closing <= opening:
            raise ValueError(f"{where}: {key}: closes before it opens ({text!r})")
        hours[WEEKDAYS.index(name)] = (opening, closing)
    if not hours:
        raise ValueError(f"{where}: hours: an empty table would close the office on every day")
    return hours


def _parse_dates(where: str, values: object) -> frozenset[date]:
    if not isinstance(values, list):
        raise ValueError(f'{where}: closed_dates must be a list like ["2026-12-31"]')
    days: set[date] = set()
    for value in values:
        if type(value) is date:  # a TOML date literal (2026-12-31 without quotes)
            days.add(value)
            continue
        if not isinstance(value, str) or not _ISO_DATE.match(value.strip()):
            raise ValueError(f"{where}: closed_dates: {value!r} is not a date YYYY-MM-DD")
        try:
            days.add(date.fromisoformat(value.strip()))
        except ValueError:
            raise ValueError(f"{where}: closed_dates: {value!r} is not a date YYYY-MM-DD") from None
    return frozenset(days)


def _plain_date(day: date) -> date:
    """Refuse datetimes: a UTC instant names the wrong day in the first hours of a local day."""
    if isinstance(day, datetime) or not isinstance(day, date):
        raise TypeError(f"expected a local date (local_time.local_date), not {day!r}")
    return day


class WorkingCalendar:
    """Indonesian public holidays and cuti bersama (the `holidays` package, category
    "government"), loaded per year on first use, so that a long-running service keeps working
    into the next year. Thread-safe: web requests and the worker may share one instance."""

    def __init__(self, years: Iterable[int] | None = None, *, language: str = "id") -> None:
        # The language is pinned: left to itself the package picks it from the server's locale.
        self._language = language
        self._names: dict[date, str] = {}
        self._years: set[int] = set()
        self._lock = threading.Lock()
        if years is not None:
            self._load(set(years))

    def _load(self, years: set[int]) -> None:
        with self._lock:
            missing = years - self._years
            if not missing:
                return
            loaded = holidays.country_holidays(
                "ID", categories=HOLIDAY_CATEGORIES, years=sorted(missing),
                language=self._language,
            )
            self._names.update(loaded.items())
            self._years |= missing

    def _name(self, day: date) -> str | None:
        day = _plain_date(day)
        if day.year not in self._years:
            self._load({day.year})
        return self._names.get(day)

    def is_holiday(self, day: date) -> bool:
        """A public holiday or a cuti bersama day."""
        return self._name(day) is not None

    def holiday_name(self, day: date) -> str | None:
        """The holiday's name (Indonesian by default; several joined by "; "), else None."""
        return self._name(day)

    def is_open(self, office: Office, day: date) -> bool:
        """The office has hours on that weekday, and the day is no holiday nor closed date."""
        day = _plain_date(day)
        return (
            day.weekday() in office.hours
            and day not in office.closed_dates
            and not self.is_holiday(day)
        )

    def next_open_day(self, office: Office, after: date) -> date:
        """The first open day strictly after `after`, within a year."""
        after = _plain_date(after)
        for offset in range(1, SEARCH_DAYS + 1):
            day = after + timedelta(days=offset)
            if self.is_open(office, day):
                return day
        raise ValueError(f"office {office.code!r}: no open day within {SEARCH_DAYS} days "
                         f"after {after.isoformat()}")

    def open_days(self, office: Office, start: date, count: int) -> list[date]:
        """The first `count` open days from `start` (inclusive), in order."""
        start = _plain_date(start)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"count must be a whole number >= 0, not {count!r}")
        days: list[date] = []
        if count and self.is_open(office, start):
            days.append(start)
        while len(days) < count:
            days.append(self.next_open_day(office, days[-1] if days else start))
        return days


def slot_starts(office: Office, day: date) -> list[datetime]:
    """The start of every whole slot on that day, as UTC instants (hours are local wall times).

    Looks only at the weekly hours; whether the day is a holiday is `WorkingCalendar.is_open`'s
    question. A slot that would run past closing time is not offered.
    """
    day = _plain_date(day)
    span = office.hours.get(day.weekday())
    if span is None:
        return []
    opening, closing = (datetime.combine(day, moment, tzinfo=local_zone()) for moment in span)
    step = timedelta(minutes=office.slot_minutes)
    starts: list[datetime] = []
    start = opening
    while start + step <= closing:
        starts.append(start.astimezone(UTC))
        start += step
    return starts


def local(dt: datetime) -> datetime:
    """The Asia/Jakarta wall-clock view of an instant, for wording an SMS."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime (UTC), not naive {dt!r}")
    return dt.astimezone(local_zone())
