"""Dates and times in each language's own style: "Senin, 30 November 2026, 09.30 WIB" and
"Monday 30 November 2026, 09:30 WITA", the time zone that of the regency served. Names come from
the catalogues."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache

from flows.catalogue import render
from sms_ktp.domain import region


@lru_cache(maxsize=4096)
def say_day(language: str, moment: date) -> str:
    """The local date of `moment` (already in the regency's local time). Cached: a day's
    pickup SMS name a few hundred days and times, thousands of times over."""
    weekday = render(language, f"when.weekday.{moment.weekday()}")
    month = render(language, f"when.month.{moment.month}")
    return render(language, "when.date", weekday=weekday, day=moment.day, month=month,
                  year=moment.year)


def say_time(language: str, moment: datetime) -> str:
    """The local time of `moment` (already in the regency's local time) with its zone: "09.30
    WIB", "09.30 WITA"."""
    return _say_time(language, moment.hour, moment.minute, region.current().zone_label)


@lru_cache(maxsize=1024)
def _say_time(language: str, hour: int, minute: int, zone: str) -> str:
    return render(language, "when.time", hour=f"{hour:02d}", minute=f"{minute:02d}", zone=zone)
