"""Quiet hours: notifications and reminders (not replies to a resident's own message) wait in the
outbox until morning, so that nobody's phone beeps about a KTP at midnight."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sms_ktp.domain.local_time import local_zone

_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_TIME = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")


def parse_local_time(text: str) -> time:
    """`"16:00"`, a time of day in Asia/Jakarta."""
    match = _TIME.match(text)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError(f"a time of day looks like 16:00, not {text!r}")
    return time(int(match.group(1)), int(match.group(2)))


@dataclass(frozen=True)
class QuietHours:
    start: time | None = None  # None: no quiet hours
    end: time | None = None

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        """`"20:00-07:00"` (local time, may wrap midnight); an empty string switches them off."""
        if not text.strip():
            return cls()
        match = _RANGE.match(text)
        if not match:
            raise ValueError(f"quiet hours must look like 20:00-07:00, not {text!r}")
        h1, m1, h2, m2 = (int(part) for part in match.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59 or (h1, m1) == (h2, m2):
            raise ValueError(f"quiet hours {text!r} are not a time range")
        return cls(time(h1, m1), time(h2, m2))

    def is_quiet(self, instant: datetime) -> bool:
        if self.start is None or self.end is None:
            return False
        now = instant.astimezone(local_zone()).time()
        if self.start < self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end

    def next_allowed(self, instant: datetime) -> datetime:
        """`instant` itself outside quiet hours, else the end of the quiet hours (UTC)."""
        if not self.is_quiet(instant) or self.end is None:
            return instant
        local = instant.astimezone(local_zone())
        end = local.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        if end <= local:
            end += timedelta(days=1)
        return end.astimezone(instant.tzinfo)
