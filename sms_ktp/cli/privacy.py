"""`sms-ktp privacy ...`: a resident's requests about their data from the server's shell, as the
back office's Privasi page handles them (`export`, `erase`: `sms_ktp.privacy.requests`, audited
with the NIK masked), and the keys of the encryption at rest (`rotate-key`:
`sms_ktp.privacy.key_rotation`).
Exit codes: 0 done, 1 refused or nothing held, 2 bad usage."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path

import click

from sms_ktp import crypto
from sms_ktp.cli.common import Argument, Group, Service, actor, runtime_of, with_runtime
from sms_ktp.privacy import key_rotation, requests
from sms_ktp.runtime import Runtime

NIK_HELP = "the resident's NIK, or - to read it from standard input (kept out of the history)"
# The new lookup key is better given here than on the command line (kept out of the history).
NEW_LOOKUP_KEY_ENV = "SMS_KTP_NEW_LOOKUP_KEY"


@click.group("privacy", cls=Group,
             help="a resident's data (a copy, its erasure); the keys of its encryption")
def group() -> None:
    pass


@group.command("export", help="everything held about a resident, as JSON")
@click.argument("nik", cls=Argument, help=NIK_HELP)
@click.option("--output", type=click.Path(path_type=Path),
              help="write it into this file (readable by its owner only) instead of standard "
                   "output")
@with_runtime
def export(runtime: Runtime, nik: str, output: Path | None) -> int:
    parsed = _nik(nik)
    if parsed is None:
        return 2
    return _export(runtime, parsed, output)


@group.command("erase", help="erase a resident's personal data (without --yes: what would happen)")
@click.argument("nik", cls=Argument, help=NIK_HELP)
@click.option("--yes", is_flag=True, help="erase it")
@with_runtime
def erase(runtime: Runtime, nik: str, yes: bool) -> int:
    parsed = _nik(nik)
    if parsed is None:
        return 2
    return _erase(runtime, parsed, yes)


@group.command("rotate-key",
               help="encrypt again under the current data key what older keys encrypted")
@click.option("--lookup", is_flag=True,
              help="also recompute every keyed hash under a new lookup key (service stopped)")
@click.option("--new-lookup-key",
              help=f"the new lookup key (better: {NEW_LOOKUP_KEY_ENV} in the environment; "
                   "neither: one is made and printed)")
@click.option("--batch", type=int, default=key_rotation.BATCH, hidden=True)
@click.pass_context
def rotate_key_command(ctx: click.Context, lookup: bool, new_lookup_key: str | None,
                       batch: int) -> None:
    ctx.ensure_object(Service).unreadable_ok = True
    ctx.exit(rotate_key(runtime_of(ctx), lookup, new_lookup_key, batch))


def rotate_key(runtime: Runtime, lookup: bool, new_lookup_key: str | None, batch: int) -> int:
    if batch < 1:
        print("sms-ktp: --batch must be at least 1", file=sys.stderr)
        return 2
    if new_lookup_key and not lookup:
        print("sms-ktp: --new-lookup-key is used only with --lookup", file=sys.stderr)
        return 2
    new_lookup, made = None, False
    if lookup:
        new_lookup = new_lookup_key or os.environ.get(NEW_LOOKUP_KEY_ENV, "")
        if not new_lookup:
            new_lookup, made = crypto.new_key(), True
        problem = key_rotation.new_lookup_key_problem(new_lookup)
        if problem:
            print(f"sms-ktp: {problem}", file=sys.stderr)
            return 2
    return key_rotation.rotate(runtime, actor(), batch, new_lookup, shown=made)


def _nik(given: str) -> str | None:
    """The NIK given, or read from standard input for `-`; None (said why) if it is none."""
    nik = requests.parse_nik(sys.stdin.readline() if given == "-" else given)
    if nik is None:
        print("sms-ktp: a NIK is 16 digits", file=sys.stderr)
    return nik


def _export(runtime: Runtime, nik: str, output: Path | None) -> int:
    document = requests.export(runtime.db, runtime.clock, nik, actor())
    if not document["applications"]:
        print(f"sms-ktp: nothing is held for {requests.target(nik)}", file=sys.stderr)
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
    print(f"{requests.target(nik)}: {len(document['applications'])} application(s) and "
          f"{len(document['sms'])} SMS written to {output}")
    return 0


def _erase(runtime: Runtime, nik: str, yes: bool) -> int:
    if not yes:
        return _show_plan(runtime, nik)
    try:
        done = requests.erase(runtime.db, runtime.clock, runtime.quiet_hours, nik, actor())
    except requests.ErasureRefused as refused:
        if not refused.references:
            print(f"sms-ktp: nothing is held for {requests.target(nik)}", file=sys.stderr)
        else:
            print(f"sms-ktp: nothing erased: {_refs(refused.references)} being printed or "
                  "waiting at the office (hand the card over or cancel it first)",
                  file=sys.stderr)
        return 1
    print(f"{requests.target(nik)} erased: {done.applications} application(s), "
          f"{done.cancelled} cancelled first, {done.families} family card(s) and phone(s), "
          f"{done.sms} SMS emptied")
    return 0


def _show_plan(runtime: Runtime, nik: str) -> int:
    plan = requests.plan(runtime.db, nik)
    if not plan.applications:
        print(f"sms-ktp: nothing is held for {requests.target(nik)}", file=sys.stderr)
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
