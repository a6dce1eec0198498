"""Phones flooding the service with inbound SMS, for staff (the messages page): a resident's
phone stuck resending, another service's auto-responder answering our replies, or someone
running up the city's bill. The replies to them are already capped
(`sms_ktp.messaging.limits`); this list lets staff see who it is and how much, and ask the
operator to act when it goes on.

One query over the last day's inbound SMS, read through the `received_at` index; numbers are
masked as everywhere on that page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, case, func, or_, select

from sms_ktp.domain.masking import mask_phone
from sms_ktp.models import InboundMessage

HOUR, DAY = timedelta(hours=1), timedelta(days=1)
SHOWN = 10

_IN = InboundMessage.__table__


@dataclass(frozen=True)
class Flood:
    phone: str  # masked
    last_hour: int  # inbound SMS within the last hour
    last_day: int  # ... within the last 24 hours
    replied: int  # of the last day's, how many got a reply
    last_at: datetime


def flooding(connection: Connection, now: datetime, per_hour: int, per_day: int,
             shown: int = SHOWN) -> list[Flood]:
    """The senders with at least `per_hour` SMS in the last hour or `per_day` in the last day
    (0 switches a threshold off), the busiest first."""
    if per_hour <= 0 and per_day <= 0:
        return []
    last_hour = func.sum(case((_IN.c.received_at >= now - HOUR, 1), else_=0))
    last_day = func.count()
    over: list[Any] = []
    if per_hour > 0:
        over.append(last_hour >= per_hour)
    if per_day > 0:
        over.append(last_day >= per_day)
    rows = connection.execute(
        select(_IN.c.sender, last_hour.label("last_hour"), last_day.label("last_day"),
               func.sum(case((_IN.c.replied, 1), else_=0)).label("replied"),
               func.max(_IN.c.received_at).label("last_at"))
        .where(_IN.c.received_at >= now - DAY, _IN.c.received_at <= now)
        .group_by(_IN.c.sender)
        .having(or_(*over))
        .order_by(last_hour.desc(), last_day.desc(), _IN.c.sender)
        .limit(shown)).all()
    return [Flood(mask_phone(row.sender), int(row.last_hour), int(row.last_day),
                  int(row.replied or 0), row.last_at) for row in rows]
