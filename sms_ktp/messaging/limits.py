"""Per-phone limits on the replies to inbound SMS: what one phone, or another service's
auto-responder answering our SMS, may cost the city, without ever cutting a family short.

- **Per hour** (`per_hour`): the SMS a phone starts something with (a keyword, a question, an
  unknown text) and their replies count; the answers to a registration dialogue in progress do
  not, so a family registering its members one after the other from its one phone is never
  silenced mid-way. Checked *before* the SMS is handled: a phone over its limit changes
  nothing, and is told once, in one SMS, at what time it may write again.
  Each registration the family completed within the hour adds `PER_REGISTRATION` to the
  limit: a family registering ten members, each DAFTAR and YA sent twice and a STATUS in
  between, is never cut short, while an abuser would have to file real applications.
- **Identical replies** (`identical`): an auto-responder answering our SMS gets the same reply
  each time. Outside a dialogue such a reply is held back after `identical` in a row (and the
  turn that caused it changes nothing); inside a dialogue the dialogue ends with one SMS that
  says so, which breaks the loop and leaves the resident a clear way back: after `identical`
  when the texts that caused it are the same too, after `PATIENCE` when they differ (a resident
  trying one wrong answer after another is answered that long).

What the kinds of outbox rows mean here: `reply` (counted), `dialogue` (an answer inside a
dialogue: not counted), `ussd` (the SMS of a USSD session: counted, never held back: it carries
the reference of a registration just made), `limit` (the notice of the limit). Notifications
about the family's applications and broadcasts are neither counted nor held back.

Two queries a message at most, each on the phone's rows of the last hour through
`ix_outbox_phone_status`; the phone's state row is locked for the turn
(`PhoneStateStore.load`), so two SMS from one phone are counted one after the other. (On
PostgreSQL the SMS webhook reads the identical replies inside the statement that queues the
reply, after the lock, and asks `admit` only when that statement held the reply back:
`sms_ktp.channels.sms`.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Connection, Select, bindparam, func, literal_column, select

from gsm7.encoding import to_gsm7
from sms_ktp.models import Application, Family, OutboxMessage
from sms_ktp.platform.config import LimitsSettings

COUNTED_KINDS = ("reply", "ussd")
DIALOGUE_KIND = "dialogue"
LIMIT_KIND = "limit"
REPLY_KINDS = (*COUNTED_KINDS, DIALOGUE_KIND)
WINDOW = timedelta(hours=1)
# What one registration's habits may cost on top of the limit: the DAFTAR and the YA sent
# twice, a STATUS after it.
PER_REGISTRATION = 5
# Inside a dialogue: the same reply this many times in a row ends it even when the texts that
# caused it differ (a resident trying one wrong answer after another, or an auto-responder
# that varies its words); the same reply to the same text ends it after `identical`.
PATIENCE = 10
RATE, IDENTICAL = "rate", "identical"  # `metrics.SUPPRESSED_REASONS`

_OUTBOX = OutboxMessage.__table__


@dataclass(frozen=True)
class ReplyLimits:
    """`per_hour` counted SMS to one phone per hour, and at most `identical` identical replies
    in a row within the hour; 0 switches either off."""

    per_hour: int = LimitsSettings.max_sms_per_phone_per_hour
    identical: int = LimitsSettings.max_identical_replies

    @classmethod
    def from_settings(cls, settings: LimitsSettings) -> ReplyLimits:
        return cls(settings.max_sms_per_phone_per_hour, settings.max_identical_replies)


UNLIMITED = ReplyLimits(0, 0)


@cache
def _counted(rows: int) -> Select[Any]:
    """The phone's newest counted SMS and limit notices of the hour."""
    return (select(_OUTBOX.c.kind, _OUTBOX.c.created_at)
            .where(_OUTBOX.c.phone == bindparam("phone"),
                   # Written into the SQL: a list bound as parameters is expanded on every run.
                   _OUTBOX.c.kind.in_([literal_column(f"'{kind}'")
                                       for kind in (*COUNTED_KINDS, LIMIT_KIND)]),
                   _OUTBOX.c.created_at >= bindparam("since"))
            .order_by(_OUTBOX.c.created_at.desc(), _OUTBOX.c.id.desc())
            .limit(rows))


@cache
def _latest_replies(rows: int) -> Select[Any]:
    """The texts of the phone's newest replies of the hour, of every reply kind."""
    return (select(_OUTBOX.c.text)
            .where(_OUTBOX.c.phone == bindparam("phone"),
                   _OUTBOX.c.kind.in_(REPLY_KINDS),
                   _OUTBOX.c.created_at >= bindparam("since"))
            .order_by(_OUTBOX.c.created_at.desc(), _OUTBOX.c.id.desc())
            .limit(rows))


_APPLICATION, _FAMILY = Application.__table__, Family.__table__
_REGISTRATIONS = (select(func.count()).select_from(_APPLICATION)
                  .join(_FAMILY, _FAMILY.c.id == _APPLICATION.c.family_id)
                  .where(_FAMILY.c.phone == bindparam("phone"),
                         _APPLICATION.c.created_at >= bindparam("since")))


@dataclass(frozen=True)
class OverLimit:
    """A phone over its hourly limit: when it may write again, and whether it was told so."""

    again_at: datetime
    told: bool


@dataclass
class ReplyGate:
    """Decides for one inbound SMS whether it is handled (`over_limit`, before) and which of its
    replies are queued (`admit`, after); reads the phone's history at most once each."""

    connection: Connection
    phone: str
    now: datetime
    limits: ReplyLimits
    suppressed: list[str] = field(default_factory=list)  # one reason per reply held back
    _latest: list[str] | None = field(default=None, repr=False)

    def over_limit(self) -> OverLimit | None:
        """For an SMS that starts something (not an answer in a dialogue): None when it may
        be handled, else when the phone may write again."""
        per_hour = self.limits.per_hour
        if not per_hour:
            return None
        since = {"phone": self.phone, "since": self.now - WINDOW}
        over = self._over(per_hour, since)
        if over is not None:
            registered = self.connection.execute(_REGISTRATIONS, since).scalar_one()
            if registered:  # rare: a family at work; its allowance is read in full
                over = self._over(per_hour + PER_REGISTRATION * registered, since)
        if over is not None:
            self.suppressed.append(RATE)
        return over

    def _over(self, limit: int, since: Mapping[str, Any]) -> OverLimit | None:
        """Whether the phone's counted SMS of the hour reached `limit`, and if so when the
        oldest of the `limit` newest leaves the hour; told when the newest row is the notice."""
        rows = self.connection.execute(_counted(limit + 1), since).all()
        counted = [row.created_at for row in rows if row.kind != LIMIT_KIND]
        if len(counted) < limit:
            return None
        return OverLimit(counted[limit - 1] + WINDOW, told=rows[0].kind == LIMIT_KIND)

    def admit(self, text: str) -> bool:
        """Whether this reply may be queued: False for the (identical+1)-th identical reply
        in a row."""
        identical = self.limits.identical
        if not identical:
            return True
        latest = self._history()
        text = to_gsm7(text)  # as the outbox stores it
        if len(latest) >= identical and all(previous == text for previous in latest[:identical]):
            self.suppressed.append(IDENTICAL)
            return False
        latest.insert(0, text)
        return True

    def repeats(self, text: str, times: int) -> bool:
        """Whether the phone's latest `times` replies (at most `PATIENCE`) were all `text`."""
        latest, text = self._history(), to_gsm7(text)
        return len(latest) >= times and all(previous == text for previous in latest[:times])

    def _history(self) -> list[str]:
        if self._latest is None:
            self._latest = list(self.connection.execute(
                _latest_replies(max(self.limits.identical, PATIENCE)),
                {"phone": self.phone, "since": self.now - WINDOW}).scalars())
        return self._latest
