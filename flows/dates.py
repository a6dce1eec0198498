"""Dates and times in each language's own style: "Senin, 30 November 2026, 09.30 WIB" and
"Monday 30 November 2026, 09:30 WIB". Names come from the catalogues."""

from __future__ import annotations

from datetime import datetime

from flows.catalogue import render


def say_day(language: str, moment: datetime) -> str:
    """The local date of `moment` (already in Asia/Jakarta)."""
    weekday = render(language, f"when.weekday.{moment.weekday()}")
    month = render(language, f"when.month.{moment.month}")
    return render(language, "when.date", weekday=weekday, day=moment.day, month=month,
                  year=moment.year)


def say_time(language: str, moment: datetime) -> str:
    return render(language, "when.time", hour=f"{moment.hour:02d}", minute=f"{moment.minute:02d}")
