"""The zone residents and staff read times in: stored instants are UTC (`platform.clock`), and
every day and hour said in an SMS or shown on a page is the served regency's local one (WIB,
WITA or WIT, from its province: `region`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sms_ktp.domain import region


def local_zone() -> ZoneInfo:
    return region.current().zone


def zone_label() -> str:
    """"WIB", "WITA" or "WIT", as written after a time ("09.30 WITA")."""
    return region.current().zone_label


def local_date(instant: datetime) -> date:
    return instant.astimezone(local_zone()).date()


def start_of_day(day: date) -> datetime:
    """The UTC instant a local calendar day of the regency served begins."""
    return datetime.combine(day, time(0), local_zone()).astimezone(UTC)
