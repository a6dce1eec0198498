"""The zone residents and staff read times in: stored instants are UTC (`platform.clock`), and
every day and hour said in an SMS or shown on a page is an Asia/Jakarta one (WIB)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

JAKARTA = ZoneInfo("Asia/Jakarta")


def jakarta_date(instant: datetime) -> date:
    return instant.astimezone(JAKARTA).date()
