"""`sms-ktp staff ...`: the accounts of the back office, managed from the server's shell (the
first admin cannot be made from the browser). Exit codes: 0 done, 1 refused, 2 bad usage."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import datetime
from typing import TextIO

from sqlalchemy import select

from sms_ktp.backoffice import staff
from sms_ktp.domain.local_time import JAKARTA
from sms_ktp.models import StaffUser
from sms_ktp.platform import audit
from sms_ktp.runtime import Runtime


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser("staff", help="accounts of the staff back office")
    actions = parser.add_subparsers(dest="action", required=True)
    adding = actions.add_parser("add", help="create an account")
    adding.add_argument("name")
    adding.add_argument("--role", required=True, choices=[role.value for role in staff.Role])
    adding.add_argument("--office", help="operators: the kecamatan code of their office (01-06)")
    adding.add_argument("--password-stdin", action="store_true",
                        help="read the password from standard input instead of asking")
    password = actions.add_parser("password", help="set a new password (ends its sessions)")
    password.add_argument("name")
    password.add_argument("--password-stdin", action="store_true")
    for name, help_text in (("disable", "stop an account from signing in"),
                            ("enable", "let a disabled account sign in again"),
                            ("unlock", "lift the lock after too many failed sign-ins")):
        actions.add_parser(name, help=help_text).add_argument("name")
    actions.add_parser("list", help="the accounts and their roles")


def run(runtime: Runtime, args: argparse.Namespace, stdin: TextIO = sys.stdin) -> int:
    now = runtime.clock.now()
    actor = f"operator:{getpass.getuser()}"
    if args.action == "list":
        return _list(runtime)
    try:
        secret = (_password(stdin, args.password_stdin)
                  if args.action in ("add", "password") else "")
        with runtime.db.connect() as connection:
            if args.action == "add":
                staff.add_staff(connection, args.name, args.role, secret, now, args.office)
                detail = f"role {args.role}" + (f", office {args.office}" if args.office else "")
            elif args.action == "password":
                staff.set_password(connection, args.name, secret, now)
                detail = "password set"
            elif args.action == "disable":
                staff.disable(connection, args.name, now)
                detail = "disabled"
            elif args.action == "unlock":
                args.name = staff.login_name(args.name)  # the name the lock is kept under
                until = staff.unlock(connection, args.name, now, _limits(runtime))
                detail = (f"unlocked (was locked until {_wib(until)})" if until
                          else "unlocked (was not locked); failed sign-ins count from zero")
            else:
                staff.enable(connection, args.name)
                detail = "enabled"
            audit.record(connection, now, actor, f"staff.{args.action}",
                         f"staff {args.name.lower()}", detail)
    except staff.StaffError as error:
        print(f"sms-ktp: {error}", file=sys.stderr)
        return 1
    print(f"staff {args.name.lower()}: {detail}")
    return 0


def _password(stdin: TextIO, from_stdin: bool) -> str:
    if from_stdin:
        return stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise staff.StaffError("the two passwords differ")
    return first


def _list(runtime: Runtime) -> int:
    table = StaffUser.__table__
    now = runtime.clock.now()
    with runtime.db.connect() as connection:
        rows = connection.execute(select(table).order_by(table.c.username)).all()
        locks = {row.username: staff.locked_until(connection, row.username, now,
                                                  _limits(runtime)) for row in rows}
    print(f"{'name':<20} {'role':<9} {'office':<6} state")
    for row in rows:
        until = locks[row.username]
        state = ("disabled" if row.disabled_at
                 else f"locked until {_wib(until)}" if until else "active")
        print(f"{row.username:<20} {row.role:<9} {row.office or '-':<6} {state}")
    return 0


def _limits(runtime: Runtime) -> staff.LoginLimits:
    return staff.LoginLimits.from_settings(runtime.settings.staff)


def _wib(moment: datetime) -> str:
    return f"{moment.astimezone(JAKARTA):%Y-%m-%d %H.%M} WIB"
