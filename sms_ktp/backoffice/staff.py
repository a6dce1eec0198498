"""Staff accounts of the back office: who may sign in, with which role, for which office.
Passwords are kept as argon2 hashes only."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, func, insert, select, update

from sms_ktp.applications.kelurahan_contact import kelurahan_of_regency
from sms_ktp.backoffice import sessions
from sms_ktp.backoffice.roles import Role, Staff
from sms_ktp.domain import region
from sms_ktp.domain.local_time import local_zone, zone_label
from sms_ktp.domain.masking import redact
from sms_ktp.models import AuditEntry, StaffUser

if TYPE_CHECKING:
    from sms_ktp.platform.config import StaffSettings
    from sms_ktp.platform.db import Database

_STAFF = StaffUser.__table__
_AUDIT = AuditEntry.__table__
_HASHER = PasswordHasher()
# Checked against when the user name is unknown, so that a wrong name costs as long as a wrong
# password and does not tell which names exist (made with the hasher in use, when first needed).
_DUMMY_HASH: str | None = None
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")
MIN_PASSWORD = 10


class StaffError(ValueError):
    pass


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
    problem = _office_problem(role, office)
    if problem:
        raise StaffError(problem)
    if connection.execute(select(_STAFF.c.id).where(_STAFF.c.username == username)).first():
        raise StaffError(f"user {username!r} exists already")
    return connection.execute(insert(_STAFF).values(
        username=username, role=role.value, office=office or None,
        password_hash=_HASHER.hash(check_password(password)), created_at=now,
        password_changed_at=now).returning(_STAFF.c.id)).scalar_one()


def _office_problem(role: Role, office: str | None) -> str | None:
    """An operator works for one kecamatan office of the regency; a helper, when given one, for
    one kelurahan or desa of it (their home lists its registrations and its notices)."""
    served = region.current()
    if role is Role.OPERATOR:
        if not office:
            return ("an operator works for one office: give --office, the kecamatan code "
                    "(`sms-ktp region show` lists them)")
        if office not in served.kecamatan:
            return (f"{office!r} is no kecamatan of {served.name} "
                    "(`sms-ktp region show` lists them)")
    if role is Role.HELPER and office and not kelurahan_of_regency(office, served.code):
        return (f"{office!r} is no kelurahan or desa of {served.name}: give its 10-digit code "
                "(`sms-ktp region kelurahan WORDS` finds it)")
    return None


def set_password(connection: Connection, username: str, password: str, now: datetime) -> None:
    """A new password; every session signed in before it ends."""
    staff_id = _change(connection, username,
                       password_hash=_HASHER.hash(check_password(password)),
                       password_changed_at=now)
    _end_sessions(connection, staff_id, now, "password")


def disable(connection: Connection, username: str, now: datetime) -> None:
    """No more sign-ins, and every session ends: enabling the account again later does not
    bring them back."""
    staff_id = _change(connection, username, disabled_at=now)
    _end_sessions(connection, staff_id, now, "disabled")


def enable(connection: Connection, username: str) -> None:
    _change(connection, username, disabled_at=None)


def _change(connection: Connection, username: str, **values: object) -> int:
    """Change the account; returns its id."""
    changed = connection.execute(update(_STAFF).where(_STAFF.c.username == username.lower())
                                 .values(**values).returning(_STAFF.c.id)).scalar()
    if changed is None:
        raise StaffError(f"no user {username!r}")
    return int(changed)


def _end_sessions(connection: Connection, staff_id: int, now: datetime, why: str) -> None:
    sessions.end_all(connection, staff_id, now, why)


def authenticate(connection: Connection, username: str, password: str,
                 now: datetime) -> Staff | None:
    """The member of staff these credentials belong to, or None (unknown, wrong or disabled).
    No limits: the back office signs in through `sign_in`."""
    row = connection.execute(select(_STAFF).where(
        _STAFF.c.username == username.strip().lower())).first()
    if not _password_matches(row, password):
        return None
    return _signed_in_now(connection, row, password, now)


def _password_matches(row: Any, password: str) -> bool:
    """Whether `password` is the account's; argon2 runs for an unknown name too (against a dummy
    hash), so that the time taken does not tell which names exist."""
    try:
        _HASHER.verify(row.password_hash if row else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return row is not None and row.disabled_at is None


def _signed_in_now(connection: Connection, row: Any, password: str, now: datetime) -> Staff:
    if _HASHER.check_needs_rehash(row.password_hash):
        connection.execute(update(_STAFF).where(_STAFF.c.id == row.id)
                           .values(password_hash=_HASHER.hash(password)))
    connection.execute(update(_STAFF).where(_STAFF.c.id == row.id).values(last_login_at=now))
    return Staff(row.id, row.username, Role(row.role), row.office)


def count(connection: Connection) -> int:
    return connection.execute(select(func.count()).select_from(_STAFF)).scalar_one()


# Sign-in limits against password guessing. Failed sign-ins are counted in the audit log, which
# records every attempt with its time and source address anyway: nothing more to keep, and every
# web process and node sees the same counts.
LOGIN = "staff.login"
LOGIN_FAILED = "staff.login_failed"
LOGIN_REFUSED = "staff.login_refused"  # the password was not checked: name or address waits
LOCKOUT = "staff.lockout"  # a name locked after too many failures
ADDRESS_LOCKOUT = "staff.address_lockout"  # an address made to wait after too many failures
UNLOCK = "staff.unlock"  # an admin lifted a name's lock (and restarted its count)


@dataclass(frozen=True)
class LoginLimits:
    """How many failed sign-ins are tolerated (`[staff] login_*`); a maximum of 0 is no limit."""

    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)
    max_failures_per_address: int = 20

    @classmethod
    def from_settings(cls, settings: StaffSettings) -> LoginLimits:
        return cls(settings.login_max_failures,
                   timedelta(minutes=settings.login_window_minutes),
                   timedelta(minutes=settings.login_lockout_minutes),
                   settings.login_max_failures_per_address)


@dataclass(frozen=True)
class SignIn:
    """What a sign-in came to: the member of staff, or None; `wait_until` is set when sign-ins
    for this name or from this address now wait (whatever the password)."""

    person: Staff | None
    wait_until: datetime | None = None

    def minutes_to_wait(self, now: datetime) -> int:
        if self.wait_until is None:
            return 0
        return max(1, math.ceil((self.wait_until - now).total_seconds() / 60))


@dataclass(frozen=True)
class _Tally:
    until: datetime | None  # locked until then
    failures: int  # within the window, since the last lock, unlock or successful sign-in


def login_name(username: str) -> str:
    """A typed user name as accounts keep it, and as the audit log names the attempt."""
    return username.strip().lower()[:40]


def sign_in(database: Database, username: str, password: str, address: str, now: datetime,
            limits: LoginLimits) -> SignIn:
    """Sign in to the back office, within the limits: after `max_failures` failures for one
    name within `window`, the name is locked for `lockout` (even the right password is refused);
    after `max_failures_per_address` failures from one address within `window`, every sign-in
    from it waits `lockout`. Unknown names count and lock exactly like real ones, so nothing
    tells them apart.

    The attempt is written to the audit log as a failure and committed before anything is
    counted or checked: parallel attempts then each count the others, so a burst of requests
    gets no more guesses than requests one after the other. The entry becomes `staff.login`
    when the password is right, `staff.login_refused` when the name or address waits (the
    password is then not checked: a locked name costs no argon2). Argon2 runs outside any
    transaction, since SQLite has one writer."""
    name = login_name(username)
    with database.connect() as connection:
        attempt = connection.execute(insert(_AUDIT).values(
            at=now, actor=f"staff:{name}", action=LOGIN_FAILED, target="", detail="",
            address=address[:64]).returning(_AUDIT.c.id)).scalar_one()
    with database.connect() as connection:
        wait = _waiting(connection, name, address, now, limits)
        row = connection.execute(select(_STAFF).where(_STAFF.c.username == name)).first()
        if wait is not None:
            _settle(connection, attempt, LOGIN_REFUSED,
                    f"not checked: sign-ins wait until {_local(wait)}")
            return SignIn(None, wait)
    if _password_matches(row, password):
        with database.connect() as connection:
            _settle(connection, attempt, LOGIN)
            return SignIn(_signed_in_now(connection, row, password, now))
    with database.connect() as connection:
        return SignIn(None, _lock_if_over(connection, name, address, now, limits))


def locked_until(connection: Connection, username: str, now: datetime,
                 limits: LoginLimits) -> datetime | None:
    """Until when sign-ins for this name wait, if they do."""
    if not limits.max_failures:
        return None
    return _account(connection, login_name(username), now, limits).until


def unlock(connection: Connection, username: str, now: datetime,
           limits: LoginLimits) -> datetime | None:
    """Check that the account exists and say until when it was locked; the caller records
    `staff.unlock` (target "staff NAME"), which lifts the lock and restarts the count."""
    name = login_name(username)
    if connection.execute(select(_STAFF.c.id).where(_STAFF.c.username == name)).first() is None:
        raise StaffError(f"no user {username!r}")
    return locked_until(connection, name, now, limits)


def _waiting(connection: Connection, name: str, address: str, now: datetime,
             limits: LoginLimits) -> datetime | None:
    """Until when this attempt must wait. The counts include the attempt itself and those
    still in flight: more than the maximum means others got there first."""
    waits = []
    if limits.max_failures:
        account = _account(connection, name, now, limits)
        if account.until is None and account.failures > limits.max_failures:
            account = _Tally(now + limits.lockout, account.failures)
        waits.append(account.until)
    if limits.max_failures_per_address and address:
        source = _address(connection, address, now, limits)
        if source.until is None and source.failures > limits.max_failures_per_address:
            source = _Tally(now + limits.lockout, source.failures)
        waits.append(source.until)
    return max((wait for wait in waits if wait is not None), default=None)


def _lock_if_over(connection: Connection, name: str, address: str, now: datetime,
                  limits: LoginLimits) -> datetime | None:
    """After a failure: lock the name, or make the address wait, when this failure reached the
    maximum (recorded in the audit log, which is also what keeps the lock)."""
    until = now + limits.lockout
    waits = []
    if limits.max_failures:
        account = _account(connection, name, now, limits)
        waits.append(account.until)
        if account.until is None and account.failures >= limits.max_failures:
            connection.execute(insert(_AUDIT).values(
                at=now, actor=f"staff:{name}", action=LOCKOUT, target=redact(f"staff {name}"),
                detail=f"{account.failures} failed sign-ins within {_minutes(limits.window)}: "
                       f"locked until {_local(until)}", address=address[:64]))
            waits.append(until)
    if limits.max_failures_per_address and address:
        source = _address(connection, address, now, limits)
        waits.append(source.until)
        if source.until is None and source.failures >= limits.max_failures_per_address:
            connection.execute(insert(_AUDIT).values(
                at=now, actor=f"staff:{name}", action=ADDRESS_LOCKOUT, target="",
                detail=f"{source.failures} failed sign-ins from this address within "
                       f"{_minutes(limits.window)}: sign-ins from it wait until {_local(until)}",
                address=address[:64]))
            waits.append(until)
    return max((wait for wait in waits if wait is not None), default=None)


def _account(connection: Connection, name: str, now: datetime, limits: LoginLimits) -> _Tally:
    audit, actor = _AUDIT.c, f"staff:{name}"
    lock = connection.execute(select(audit.id, audit.at).where(
        audit.actor == actor, audit.action == LOCKOUT).order_by(audit.id.desc()).limit(1)).first()
    success = connection.execute(select(func.max(audit.id)).where(
        audit.actor == actor, audit.action == LOGIN)).scalar()
    unlocked = connection.execute(select(func.max(audit.id)).where(
        audit.action == UNLOCK, audit.target == redact(f"staff {name}"))).scalar()
    return _tally(connection, audit.actor == actor, lock, max(success or 0, unlocked or 0),
                  now, limits)


def _address(connection: Connection, address: str, now: datetime,
             limits: LoginLimits) -> _Tally:
    """An address has no unlock, and a successful sign-in from it does not restart its count
    (or one account of one's own would reset it between guesses at others): it waits out its
    time."""
    audit = _AUDIT.c
    lock = connection.execute(select(audit.id, audit.at).where(
        audit.action == ADDRESS_LOCKOUT, audit.address == address[:64])
        .order_by(audit.id.desc()).limit(1)).first()
    return _tally(connection, audit.address == address[:64], lock, 0, now, limits)


def _tally(connection: Connection, whose: Any, lock: Any, cleared: int, now: datetime,
           limits: LoginLimits) -> _Tally:
    """Entries are ordered by id, not time: several can share one instant."""
    audit = _AUDIT.c
    until = None
    if lock is not None and lock.id > cleared and now < lock.at + limits.lockout:
        until = lock.at + limits.lockout
    since = max(cleared, lock.id if lock is not None else 0)
    failures = connection.execute(select(func.count()).select_from(_AUDIT).where(
        whose, audit.action == LOGIN_FAILED, audit.id > since,
        audit.at > now - limits.window)).scalar_one()
    return _Tally(until, failures)


def _settle(connection: Connection, attempt: int, action: str, detail: str = "") -> None:
    """The outcome of an attempt recorded before it was checked."""
    connection.execute(update(_AUDIT).where(_AUDIT.c.id == attempt)
                       .values(action=action, detail=detail))


def _local(moment: datetime) -> str:
    return f"{moment.astimezone(local_zone()):%H.%M} {zone_label()}"


def _minutes(span: timedelta) -> str:
    return f"{round(span.total_seconds() / 60)} minutes"
