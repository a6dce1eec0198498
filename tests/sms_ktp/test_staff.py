"""Staff accounts: argon2 hashes only, roles checked, sessions that end when they must."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from sms_ktp.models import StaffUser
from sms_ktp.staff import (
    Role,
    StaffError,
    add_staff,
    authenticate,
    disable,
    enable,
    set_password,
    signed_in,
)

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


def test_a_session_ends_with_a_new_password_or_a_disabled_account(database, clock):
    with database.connect() as connection:
        staff_id = add_staff(connection, "rina", "viewer", PASSWORD, clock.now())
        since = clock.now() + timedelta(minutes=1)
        assert signed_in(connection, staff_id, since) is not None
        set_password(connection, "rina", "another-long-one", since + timedelta(minutes=1))
        assert signed_in(connection, staff_id, since) is None
        assert authenticate(connection, "rina", "another-long-one", clock.now()) is not None
        later = since + timedelta(minutes=2)
        assert signed_in(connection, staff_id, later) is not None
        disable(connection, "rina", later)
        assert signed_in(connection, staff_id, later) is None
        with pytest.raises(StaffError, match="no user"):
            disable(connection, "ghost", later)


def test_a_new_hashing_cost_still_signs_in_old_hashes_and_renews_them(database, clock):
    from sms_ktp import staff

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
