"""`sms-ktp privacy ...`: a resident's requests about their data from the server's shell, as the
back office's Privasi page handles them (`export`, `erase`: `sms_ktp.privacy.requests`, audited
with the NIK masked), and the keys of the encryption at rest (`rotate-key`:
`sms_ktp.privacy.key_rotation`).
Exit codes: 0 done, 1 refused or nothing held, 2 bad usage."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from sms_ktp.privacy import key_rotation
from sms_ktp.privacy import requests as privacy
from sms_ktp.runtime import Runtime

NIK_HELP = "the resident's NIK, or - to read it from standard input (kept out of the history)"


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser(
        "privacy", help="a resident's data (a copy, its erasure); the keys of its encryption")
    actions = parser.add_subparsers(dest="action", required=True)
    exporting = actions.add_parser("export", help="everything held about a resident, as JSON")
    exporting.add_argument("nik", help=NIK_HELP)
    exporting.add_argument("--output", type=Path,
                           help="write it into this file (readable by its owner only) instead "
                                "of standard output")
    erasing = actions.add_parser(
        "erase", help="erase a resident's personal data (without --yes: what would happen)")
    erasing.add_argument("nik", help=NIK_HELP)
    erasing.add_argument("--yes", action="store_true", help="erase it")
    key_rotation.add_command(actions)


def run(runtime: Runtime, args: argparse.Namespace, stdin: TextIO = sys.stdin) -> int:
    if args.action == "rotate-key":
        return key_rotation.run(runtime, args)
    nik = privacy.parse_nik(stdin.readline() if args.nik == "-" else args.nik)
    if nik is None:
        print("sms-ktp: a NIK is 16 digits", file=sys.stderr)
        return 2
    if args.action == "export":
        return _export(runtime, nik, args.output)
    return _erase(runtime, nik, args.yes)


def _export(runtime: Runtime, nik: str, output: Path | None) -> int:
    document = privacy.export(runtime.db, runtime.clock, nik, _actor())
    if not document["applications"]:
        print(f"sms-ktp: nothing is held for {privacy.target(nik)}", file=sys.stderr)
        return 1
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
        return 0
    # It holds the full NIK and KK: created readable by its owner only.
    with os.fdopen(os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w",
                   encoding="utf-8") as written:
        written.write(text)
    output.chmod(0o600)  # a file that existed before, too
    print(f"{privacy.target(nik)}: {len(document['applications'])} application(s) and "
          f"{len(document['sms'])} SMS written to {output}")
    return 0


def _erase(runtime: Runtime, nik: str, yes: bool) -> int:
    if not yes:
        return _show_plan(runtime, nik)
    try:
        done = privacy.erase(runtime.db, runtime.clock, runtime.quiet_hours, nik, _actor())
    except privacy.ErasureRefused as refused:
        if not refused.references:
            print(f"sms-ktp: nothing is held for {privacy.target(nik)}", file=sys.stderr)
        else:
            print(f"sms-ktp: nothing erased: {_refs(refused.references)} being printed or "
                  "waiting at the office (hand the card over or cancel it first)",
                  file=sys.stderr)
        return 1
    print(f"{privacy.target(nik)} erased: {done.applications} application(s), "
          f"{done.cancelled} cancelled first, {done.families} family card(s) and phone(s), "
          f"{done.sms} SMS emptied")
    return 0


def _show_plan(runtime: Runtime, nik: str) -> int:
    plan = privacy.plan(runtime.db, nik)
    if not plan.applications:
        print(f"sms-ktp: nothing is held for {privacy.target(nik)}", file=sys.stderr)
        return 1
    print(f"Erasing {plan.nik_masked} would do this:")
    for application in plan.applications:
        what = ("kept: the card is being printed or waits at the office" if application.blocked
                else "cancelled, then erased" if application.cancel_first else "erased")
        print(f"  ref {application.reference} ({application.stage}): {what}")
    print("  the family's KK and phone: " + ("erased too (no other member's data is kept)"
                                            if plan.family_goes else "kept for the others"))
    if plan.blocked:
        print(f"sms-ktp: {_refs(a.reference for a in plan.blocked)} must be handed over or "
              "cancelled first", file=sys.stderr)
        return 1
    print("Nothing was changed: run again with --yes to erase.")
    return 0


def _refs(references: Iterable[str]) -> str:
    return ", ".join(f"ref {reference}" for reference in references)


def _actor() -> str:
    return f"operator:{getpass.getuser()}"
