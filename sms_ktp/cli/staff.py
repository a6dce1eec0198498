"""`sms-ktp staff ...`: the accounts of the back office, managed from the server's shell (the
first admin cannot be made from the browser). Exit codes: 0 done, 1 refused, 2 bad usage."""

from __future__ import annotations

import getpass
import sys
from datetime import datetime

import click
from sqlalchemy import select

from sms_ktp.backoffice import staff
from sms_ktp.cli.common import Group, actor, with_runtime
from sms_ktp.domain.local_time import local_zone, zone_label
from sms_ktp.models import StaffUser
from sms_ktp.platform import audit
from sms_ktp.runtime import Runtime


@click.group("staff", cls=Group, help="accounts of the staff back office")
def group() -> None:
    pass


@group.command("add", help="create an account")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice([role.value for role in staff.Role]))
@click.option("--office", help="operators: the kecamatan code of their office (two digits: "
              "`sms-ktp region show` lists them); kelurahan helpers: the 10-digit code of "
              "their kelurahan or desa (`sms-ktp region kelurahan WORDS` finds it), for their "
              "home page and the list of families without a phone")
@click.option("--password-stdin", is_flag=True,
              help="read the password from standard input instead of asking")
@with_runtime
def add(runtime: Runtime, name: str, role: str, office: str | None,
        password_stdin: bool) -> int:
    return _change(runtime, "add", name, role=role, office=office,
                   password_stdin=password_stdin)


@group.command("password", help="set a new password (ends its sessions)")
@click.argument("name")
@click.option("--password-stdin", is_flag=True)
@with_runtime
def password(runtime: Runtime, name: str, password_stdin: bool) -> int:
    return _change(runtime, "password", name, password_stdin=password_stdin)


@group.command("disable", help="stop an account from signing in")
@click.argument("name")
@with_runtime
def disable(runtime: Runtime, name: str) -> int:
    return _change(runtime, "disable", name)


@group.command("enable", help="let a disabled account sign in again")
@click.argument("name")
@with_runtime
def enable(runtime: Runtime, name: str) -> int:
    return _change(runtime, "enable", name)


@group.command("unlock", help="lift the lock after too many failed sign-ins")
@click.argument("name")
@with_runtime
def unlock(runtime: Runtime, name: str) -> int:
    return _change(runtime, "unlock", name)


@group.command("list", help="the accounts and their roles")
@with_runtime
def list_accounts(runtime: Runtime) -> int:
    table = StaffUser.__table__
    now = runtime.clock.now()
    with runtime.db.connect() as connection:
        rows = connection.execute(select(table).order_by(table.c.username)).all()
        locks = {row.username: staff.locked_until(connection, row.username, now,
                                                  _limits(runtime)) for row in rows}
    print(f"{'name':<20} {'role':<9} {'office':<10} state")
    for row in rows:
        until = locks[row.username]
        state = ("disabled" if row.disabled_at
                 else f"locked until {_local(until)}" if until else "active")
        print(f"{row.username:<20} {row.role:<9} {row.office or '-':<10} {state}")
    return 0


def _change(runtime: Runtime, action: str, name: str, *, role: str = "",
            office: str | None = None, password_stdin: bool = False) -> int:
    now = runtime.clock.now()
    try:
        secret = _password(password_stdin) if action in ("add", "password") else ""
        with runtime.db.connect() as connection:
            if action == "add":
                staff.add_staff(connection, name, role, secret, now, office)
                detail = f"role {role}" + (f", office {office}" if office else "")
            elif action == "password":
                staff.set_password(connection, name, secret, now)
                detail = "password set"
            elif action == "disable":
                staff.disable(connection, name, now)
                detail = "disabled"
            elif action == "unlock":
                name = staff.login_name(name)  # the name the lock is kept under
                until = staff.unlock(connection, name, now, _limits(runtime))
                detail = (f"unlocked (was locked until {_local(until)})" if until
                          else "unlocked (was not locked); failed sign-ins count from zero")
            else:
                staff.enable(connection, name)
                detail = "enabled"
            audit.record(connection, now, actor(), f"staff.{action}", f"staff {name.lower()}",
                         detail)
    except staff.StaffError as error:
        print(f"sms-ktp: {error}", file=sys.stderr)
        return 1
    print(f"staff {name.lower()}: {detail}")
    return 0


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise staff.StaffError("the two passwords differ")
    return first


def _limits(runtime: Runtime) -> staff.LoginLimits:
    return staff.LoginLimits.from_settings(runtime.settings.staff)


def _local(moment: datetime) -> str:
    return f"{moment.astimezone(local_zone()):%Y-%m-%d %H.%M} {zone_label()}"
