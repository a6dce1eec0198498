"""Sessions of the back office, kept on the server.

The browser's signed cookie holds only a random token; the database keeps its SHA-256 as the id of
a `staff_session` row, with who signed in, when, and when the session was last used. Every request
looks the row up, so a session ends for good when its row does: signing out, `idle_minutes`
without a request, the account disabled, a new password. A copy of the cookie saved before any
of these opens nothing, also after the account is enabled again. The token itself is never
stored: a copy of the database gives no way into a live session.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, delete, insert, or_, select, update

from sms_ktp.backoffice.roles import Role, Staff
from sms_ktp.models import StaffSession, StaffUser

LOGOUT, IDLE, DISABLED, PASSWORD = "logout", "idle", "disabled", "password"
# Ended or abandoned sessions are forgotten after this (the audit log keeps the sign-ins).
KEEP = timedelta(days=7)
_SESSION = StaffSession.__table__
_STAFF = StaffUser.__table__


@dataclass(frozen=True)
class Resumed:
    """The member of staff of a session, or None; `timed_out` says it ended for idle time
    (the login page then says why)."""

    person: Staff | None
    timed_out: bool = False


def _key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def start(connection: Connection, staff_id: int, now: datetime) -> str:
    """A new session for a member of staff who just signed in; returns the cookie's token."""
    _forget_old(connection, now)
    token = secrets.token_urlsafe(32)
    connection.execute(insert(_SESSION).values(id=_key(token), staff_id=staff_id,
                                               started_at=now, seen_at=now))
    return token


def resume(connection: Connection, token: str, now: datetime, idle: timedelta) -> Resumed:
    """The member of staff whose session this token opens, if it is still open: it ends here
    when the account was disabled, its password changed, or `idle` passed since the last
    request. An open session is marked used now."""
    key = _key(token)
    row = connection.execute(
        select(_SESSION.c.started_at, _SESSION.c.seen_at, _STAFF)
        .join(_STAFF, _STAFF.c.id == _SESSION.c.staff_id)
        .where(_SESSION.c.id == key, _SESSION.c.ended_at.is_(None))).first()
    if row is None:
        return Resumed(None)
    why = (DISABLED if row.disabled_at is not None
           else PASSWORD if row.password_changed_at > row.started_at
           else IDLE if now - row.seen_at > idle else None)
    if why is not None:
        _end(connection, _SESSION.c.id == key, now, why)
        return Resumed(None, timed_out=why == IDLE)
    connection.execute(update(_SESSION).where(_SESSION.c.id == key).values(seen_at=now))
    return Resumed(Staff(row.id, row.username, Role(row.role), row.office))


def end(connection: Connection, token: str, now: datetime, why: str = LOGOUT) -> None:
    """End one session (signing out)."""
    _end(connection, _SESSION.c.id == _key(token), now, why)


def end_all(connection: Connection, staff_id: int, now: datetime, why: str) -> int:
    """End every open session of a member of staff (account disabled, new password); returns
    how many were open."""
    return _end(connection, _SESSION.c.staff_id == staff_id, now, why)


def open_sessions(connection: Connection, staff_id: int) -> int:
    """How many sessions of this member of staff are open (not counting idle time)."""
    return len(connection.execute(select(_SESSION.c.id).where(
        _SESSION.c.staff_id == staff_id, _SESSION.c.ended_at.is_(None))).all())


def _end(connection: Connection, which: object, now: datetime, why: str) -> int:
    return connection.execute(update(_SESSION).where(which, _SESSION.c.ended_at.is_(None))
                              .values(ended_at=now, ended_why=why)).rowcount


def _forget_old(connection: Connection, now: datetime) -> None:
    """Rows of sessions that ended, or were left unused, more than `KEEP` ago."""
    before = now - KEEP
    connection.execute(delete(_SESSION).where(or_(
        _SESSION.c.ended_at < before,
        and_(_SESSION.c.ended_at.is_(None), _SESSION.c.seen_at < before))))
