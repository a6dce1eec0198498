"""Per-phone limits on the replies to inbound SMS: what one phone, or another service's
auto-responder answering our SMS, may cost the city.

Checked where the replies to an inbound SMS are queued, with one query a message at most: the
phone's latest counted SMS of the last hour, newest first, read through `ix_outbox_phone_status`
(the phone's rows only; the order is on a column no index has, so the planner cannot be tempted
to walk the whole outbox backwards by its primary key). The phone's state row, once it exists,
is locked for the turn (`PhoneStateStore.load`), so two SMS from one phone are counted one after
the other; the limits are a cap on cost, not a quota to the message, so the rare race of a
phone's very first SMS does not matter.

What counts: the SMS a resident's own messages cause (`COUNTED_KINDS`: replies, the SMS of a
USSD session, the confirmation of a registration at the counter). Notifications about the
family's applications (pickup scheduled, reminders, moved, held) are transactional and neither
counted nor held back; broadcasts neither, since each sends at most one SMS per family phone.
Only replies to SMS are held back: a USSD session's SMS carries the reference of a registration
just made, and USSD requests come from the network, not from anyone who can post a form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Connection, Select, bindparam, select

from flows.gsm import to_gsm7
from sms_ktp.config import LimitsSettings
from sms_ktp.models import OutboxMessage

COUNTED_KINDS = ("reply", "ussd")
WINDOW = timedelta(hours=1)
RATE, IDENTICAL = "rate", "identical"  # `metrics.SUPPRESSED_REASONS`

_OUTBOX = OutboxMessage.__table__


@dataclass(frozen=True)
class ReplyLimits:
    """`per_hour` SMS to one phone per hour, and at most `identical` identical replies in a row
    within the hour; 0 switches either off."""

    per_hour: int = LimitsSettings.max_sms_per_phone_per_hour
    identical: int = LimitsSettings.max_identical_replies

    @classmethod
    def from_settings(cls, settings: LimitsSettings) -> ReplyLimits:
        return cls(settings.max_sms_per_phone_per_hour, settings.max_identical_replies)

    @property
    def rows(self) -> int:
        """How many of the phone's latest SMS the checks need to see."""
        return max(self.per_hour, self.identical)


UNLIMITED = ReplyLimits(0, 0)


@cache
def _latest(rows: int) -> Select[Any]:
    return (select(_OUTBOX.c.text)
            .where(_OUTBOX.c.phone == bindparam("phone"),
                   _OUTBOX.c.kind.in_(COUNTED_KINDS),
                   _OUTBOX.c.created_at >= bindparam("since"))
            .order_by(_OUTBOX.c.created_at.desc(), _OUTBOX.c.id.desc())
            .limit(rows))


@dataclass
class ReplyGate:
    """Decides, reply by reply, whether a turn's replies may be queued; the phone's history is
    read once, at the first reply, and the replies admitted are added to it."""

    connection: Connection
    phone: str
    now: datetime
    limits: ReplyLimits
    suppressed: list[str] = field(default_factory=list)  # one reason per reply held back
    _latest: list[str] | None = field(default=None, repr=False)

    def admit(self, text: str) -> bool:
        if not self.limits.rows:
            return True
        latest = self._history()
        text = to_gsm7(text)  # as the outbox stores it
        per_hour, identical = self.limits.per_hour, self.limits.identical
        if per_hour and len(latest) >= per_hour:
            self.suppressed.append(RATE)
            return False
        if (identical and len(latest) >= identical
                and all(previous == text for previous in latest[:identical])):
            self.suppressed.append(IDENTICAL)
            return False
        latest.insert(0, text)
        return True

    def _history(self) -> list[str]:
        if self._latest is None:
            self._latest = list(self.connection.execute(
                _latest(self.limits.rows),
                {"phone": self.phone, "since": self.now - WINDOW}).scalars())
        return self._latest
