"""Staff accounts: argon2 hashes only, roles checked, sessions that end when they must."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from sms_ktp.backoffice import sessions
from sms_ktp.backoffice.staff import (
    Role,
    StaffError,
    add_staff,
    authenticate,
    disable,
    enable,
    set_password,
)
from sms_ktp.models import StaffSession, StaffUser

PASSWORD = "sandi-yang-panjang"


def test_an_account_keeps_an_argon2_hash_and_signs_in(database, clock):
    with database.connect() as connection:
        add_staff(connection, " Rina.K ", "operator", PASSWORD, clock.now(), office="03")
        stored = connection.execute(select(StaffUser.__table__)).one()
        person = authenticate(connection, "rina.k", PASSWORD, clock.now())
    assert stored.username == "rina.k" and stored.password_hash.startswith("$argon2id$")
    assert PASSWORD not in stored.password_hash
    assert (person.username, person.role, person.office) == ("rina.k", Role.OPERATOR, "03")
    assert person.actor == "staff:rina.k"


@pytest.mark.parametrize(("username", "role", "password", "office", "problem"), [
    ("x", "admin", PASSWORD, None, "user name"),
    ("rina", "boss", PASSWORD, None, "unknown role"),
    ("rina", "admin", "short", None, "at least 10"),
    ("rina", "operator", PASSWORD, None, "one office"),
])
def test_a_bad_account_is_refused(database, clock, username, role, password, office, problem):
    with database.connect() as connection, pytest.raises(StaffError, match=problem):
        add_staff(connection, username, role, password, clock.now(), office)


def test_a_name_is_taken_once(database, clock):
    with database.connect() as connection:
        add_staff(connection, "rina", "viewer", PASSWORD, clock.now())
        with pytest.raises(StaffError, match="exists"):
            add_staff(connection, "RINA", "admin", PASSWORD, clock.now())


def test_wrong_password_unknown_name_and_disabled_account_do_not_sign_in(database, clock):
    with database.connect() as connection:
        add_staff(connection, "rina", "viewer", PASSWORD, clock.now())
        assert authenticate(connection, "rina", "wrong password", clock.now()) is None
        assert authenticate(connection, "nobody", PASSWORD, clock.now()) is None
        disable(connection, "rina", clock.now())
        assert authenticate(connection, "rina", PASSWORD, clock.now()) is None
        enable(connection, "rina")
        assert authenticate(connection, "rina", PASSWORD, clock.now()) is not None


IDLE = timedelta(minutes=30)


def opens(connection, token: str, moment) -> str | None:  # type: ignore[no-untyped-def]
    """Whose session the token opens at `moment`, if any."""
    person = sessions.resume(connection, token, moment, IDLE).person
    return person.username if person else None


def test_a_session_ends_with_a_new_password_or_a_disabled_account_for_good(database, clock):
    with database.connect() as connection:
        staff_id = add_staff(connection, "rina", "viewer", PASSWORD, clock.now())
        later = clock.now() + timedelta(minutes=1)
        token = sessions.start(connection, staff_id, later)
        assert opens(connection, token, later) == "rina"
        set_password(connection, "rina", "another-long-one", later)
        assert opens(connection, token, later) is None
        assert authenticate(connection, "rina", "another-long-one", later) is not None
        token = sessions.start(connection, staff_id, later)
        assert opens(connection, token, later) == "rina"
        disable(connection, "rina", later)
        enable(connection, "rina")
        assert opens(connection, token, later) is None  # enabling again revives nothing
        with pytest.raises(StaffError, match="no user"):
            disable(connection, "ghost", later)
        ended = connection.execute(select(StaffSession.__table__.c.ended_why)
                                   .order_by(StaffSession.__table__.c.started_at)).scalars()
        assert sorted(ended) == ["disabled", "password"]


def test_a_session_ends_at_sign_out_and_after_the_idle_time(database, clock):
    with database.connect() as connection:
        staff_id = add_staff(connection, "rina", "viewer", PASSWORD, clock.now())
        first = sessions.start(connection, staff_id, clock.now())
        second = sessions.start(connection, staff_id, clock.now())
        sessions.end(connection, first, clock.now())
        assert opens(connection, first, clock.now()) is None
        assert opens(connection, second, clock.now() + IDLE) == "rina"  # the other browser
        idle = sessions.resume(connection, second, clock.now() + 2 * IDLE + timedelta(
            seconds=1), IDLE)
        assert idle.person is None and idle.timed_out
        assert opens(connection, second, clock.now() + IDLE) is None  # ended, not just late
        assert opens(connection, "a-token-never-issued", clock.now()) is None


def test_the_database_keeps_no_token_and_forgets_old_sessions(database, clock):
    with database.connect() as connection:
        staff_id = add_staff(connection, "rina", "viewer", PASSWORD, clock.now())
        old = sessions.start(connection, staff_id, clock.now())
        sessions.end(connection, old, clock.now())
        kept = sessions.start(connection, staff_id, clock.now() + timedelta(days=8))
        ids = connection.execute(select(StaffSession.__table__.c.id)).scalars().all()
    assert len(ids) == 1 and kept not in ids and old not in ids
    assert len(ids[0]) == 64


def test_a_new_hashing_cost_still_signs_in_old_hashes_and_renews_them(database, clock):
    from sms_ktp.backoffice import staff

    try:
        staff.configure_hashing(1, 32)
        with database.connect() as connection:
            add_staff(connection, "rina", "viewer", PASSWORD, clock.now())
            before = connection.execute(select(StaffUser.__table__.c.password_hash)).scalar()
        staff.configure_hashing(2, 64)
        with database.connect() as connection:
            assert authenticate(connection, "rina", PASSWORD, clock.now()) is not None
            after = connection.execute(select(StaffUser.__table__.c.password_hash)).scalar()
        assert "m=32,t=1" in before and "m=64,t=2" in after
    finally:
        staff.configure_hashing(1, 32)
