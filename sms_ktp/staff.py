"""Staff accounts of the back office: who may sign in, with which role, for which office.
Passwords are kept as argon2 hashes only."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, func, insert, select, update

from sms_ktp.models import StaffUser

_STAFF = StaffUser.__table__
_HASHER = PasswordHasher()
# Checked against when the user name is unknown, so that a wrong name costs as long as a wrong
# password and does not tell which names exist (made with the hasher in use, when first needed).
_DUMMY_HASH: str | None = None
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")
MIN_PASSWORD = 10


class Role(StrEnum):
    ADMIN = "admin"  # everything
    OPERATOR = "operator"  # one office: its applications, stock and pickups
    HELPER = "helper"  # kelurahan helper: assisted registration and status lookups
    VIEWER = "viewer"  # the dashboard only


ROLE_NAMES = {Role.ADMIN: "Admin", Role.OPERATOR: "Operator kantor",
              Role.HELPER: "Pendamping kelurahan", Role.VIEWER: "Pemantau"}


class StaffError(ValueError):
    pass


@dataclass(frozen=True)
class Staff:
    """A signed-in member of staff, as the pages see them."""

    id: int
    username: str
    role: Role
    office: str | None

    @property
    def actor(self) -> str:
        return f"staff:{self.username}"


def configure_hashing(time_cost: int, memory_kib: int) -> None:
    """The cost of argon2 (`[staff] password_time_cost`, `password_memory_kib`). Hashes made
    with other costs still verify, and are made again at the next sign-in."""
    global _HASHER, _DUMMY_HASH
    if (_HASHER.time_cost, _HASHER.memory_cost) != (time_cost, memory_kib):
        _HASHER = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
        _DUMMY_HASH = None


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = _HASHER.hash("not a password of anybody")
    return _DUMMY_HASH


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise StaffError(f"the password must have at least {MIN_PASSWORD} characters")
    return password


def add_staff(connection: Connection, username: str, role: str, password: str, now: datetime,
              office: str | None = None) -> int:
    username = username.strip().lower()
    if not USERNAME.match(username):
        raise StaffError("a user name is 2-40 characters: lower-case letters, digits, . _ -")
    try:
        role = Role(role)
    except ValueError:
        raise StaffError(f"unknown role {role!r} (one of {', '.join(Role)})") from None
    if role is Role.OPERATOR and not office:
        raise StaffError("an operator works for one office: give --office (01-06)")
    if connection.execute(select(_STAFF.c.id).where(_STAFF.c.username == username)).first():
        raise StaffError(f"user {username!r} exists already")
    return connection.execute(insert(_STAFF).values(
        username=username, role=role.value, office=office or None,
        password_hash=_HASHER.hash(check_password(password)), created_at=now,
        password_changed_at=now).returning(_STAFF.c.id)).scalar_one()


def set_password(connection: Connection, username: str, password: str, now: datetime) -> None:
    """A new password; sessions signed in before it end."""
    _change(connection, username, password_hash=_HASHER.hash(check_password(password)),
            password_changed_at=now)


def disable(connection: Connection, username: str, now: datetime) -> None:
    _change(connection, username, disabled_at=now)


def enable(connection: Connection, username: str) -> None:
    _change(connection, username, disabled_at=None)


def _change(connection: Connection, username: str, **values: object) -> None:
    changed = connection.execute(update(_STAFF).where(_STAFF.c.username == username.lower())
                                 .values(**values)).rowcount
    if not changed:
        raise StaffError(f"no user {username!r}")


def authenticate(connection: Connection, username: str, password: str,
                 now: datetime) -> Staff | None:
    """The member of staff these credentials belong to, or None (unknown, wrong or disabled)."""
    row = connection.execute(select(_STAFF).where(
        _STAFF.c.username == username.strip().lower())).first()
    try:
        _HASHER.verify(row.password_hash if row else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None or row.disabled_at is not None:
        return None
    if _HASHER.check_needs_rehash(row.password_hash):
        connection.execute(update(_STAFF).where(_STAFF.c.id == row.id)
                           .values(password_hash=_HASHER.hash(password)))
    connection.execute(update(_STAFF).where(_STAFF.c.id == row.id).values(last_login_at=now))
    return Staff(row.id, row.username, Role(row.role), row.office)


def signed_in(connection: Connection, staff_id: int, since: datetime) -> Staff | None:
    """The member of staff of a session that began at `since`, unless disabled since or their
    password changed after it."""
    row = connection.execute(select(_STAFF).where(_STAFF.c.id == staff_id)).first()
    if row is None or row.disabled_at is not None or row.password_changed_at > since:
        return None
    return Staff(row.id, row.username, Role(row.role), row.office)


def count(connection: Connection) -> int:
    return connection.execute(select(func.count()).select_from(_STAFF)).scalar_one()
