"""The operator commands of `sms-ktp`: penunggalan results, blangko stock, printing, pickups.
Scripts rely on these names and exit codes (0 done, 1 refused, 2 bad usage)."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from sms_ktp.applications import penunggalan, pickup, printing
from sms_ktp.domain.phones import normalise_msisdn
from sms_ktp.messaging.outbox import requeue_failed
from sms_ktp.runtime import Runtime

PROGRESS_FROM = 1000  # rows; smaller files need no progress bar


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    results = commands.add_parser("penunggalan", help="penunggalan results from Kemendagri")
    results_commands = results.add_subparsers(dest="action", required=True)
    importing = results_commands.add_parser("import", help="apply a nik,result,note CSV file")
    importing.add_argument("file", type=Path)

    blangko = commands.add_parser("blangko", help="blank-card stock")
    blangko_commands = blangko.add_subparsers(dest="action", required=True)
    adding = blangko_commands.add_parser("add", help="add N blank cards to a site's stock")
    adding.add_argument("count", type=int)
    adding.add_argument("--site", help="printing site (default: the first configured)")

    printing_ = commands.add_parser("print", help="print batches")
    print_commands = printing_.add_subparsers(dest="action", required=True)
    following = print_commands.add_parser("next", help="reserve the next batch for printing")
    following.add_argument("--limit", type=int)
    following.add_argument("--site", help="printing site (default: the first configured)")
    done = print_commands.add_parser("done", help="mark a reserved batch printed")
    which = done.add_mutually_exclusive_group(required=True)
    which.add_argument("--batch", type=int)
    which.add_argument("--all", action="store_true")

    outbox = commands.add_parser("outbox", help="SMS waiting or failed")
    outbox_commands = outbox.add_subparsers(dest="action", required=True)
    requeue = outbox_commands.add_parser(
        "requeue", help="give SMS parked as failed a fresh set of attempts (after an outage)")
    requeue.add_argument("--phone", help="only the SMS to this number")

    pickups = commands.add_parser("pickup", help="pickups at the counter")
    pickup_commands = pickups.add_subparsers(dest="action", required=True)
    verifying = pickup_commands.add_parser("verify", help="mark the card with CODE collected")
    verifying.add_argument("code")


def _actor() -> str:
    return f"operator:{getpass.getuser()}"


def _progress(total: int, out: TextIO) -> Callable[[int], None] | None:
    if total < PROGRESS_FROM:
        return None

    def show(done: int) -> None:
        filled = 30 * done // total
        out.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{total} baris")
        if done >= total:
            out.write("\n")
        out.flush()

    return show


def run(runtime: Runtime, args: argparse.Namespace) -> int:
    site = getattr(args, "site", None) or runtime.settings.printing.sites[0]
    if getattr(args, "site", None) and args.site not in runtime.settings.printing.sites:
        print(f"sms-ktp: unknown printing site {args.site!r} (configured: "
              f"{', '.join(runtime.settings.printing.sites)})", file=sys.stderr)
        return 2
    if args.command == "penunggalan":
        return _import(runtime, args.file)
    if args.command == "outbox":
        return _requeue(runtime, args.phone)
    if args.command == "pickup":
        try:
            reference = pickup.verify(runtime.db, runtime.clock, args.code, _actor())
        except pickup.VerifyError as error:
            print(f"sms-ktp: {error}", file=sys.stderr)
            return 1
        print(f"collected: ref {reference}")
        return 0
    if args.command == "blangko":
        if args.count <= 0:
            print("sms-ktp: the number of blangko to add must be positive", file=sys.stderr)
            return 2
        stock = printing.add_blangko(runtime.db, runtime.clock, site, args.count, _actor())
        print(f"added {args.count} blangko at {site}: stock {stock.total}, "
              f"reserved {stock.reserved}, free {stock.free}")
        return 0
    if args.action == "next":
        if args.limit is not None and args.limit <= 0:
            print("sms-ktp: --limit must be positive", file=sys.stderr)
            return 2
        return _print_next(runtime, site, args.limit)
    count = printing.mark_printed(runtime.db, runtime.clock, runtime.quiet_hours,
                                  None if args.all else args.batch, _actor())
    if count == 0 and not args.all:
        print(f"sms-ktp: batch {args.batch} is unknown or already printed", file=sys.stderr)
        return 1
    print(f"{count} card(s) marked printed")
    return 0


def _requeue(runtime: Runtime, number: str | None) -> int:
    phone = normalise_msisdn(number) if number else None
    if number and phone is None:
        print(f"sms-ktp: not a mobile number: {number}", file=sys.stderr)
        return 2
    with runtime.db.transaction() as session:
        count = requeue_failed(session, runtime.clock.now(), phone)
    print(f"{count} failed SMS queued again")
    return 0


def _import(runtime: Runtime, path: Path) -> int:
    """The summary in Indonesian, as the back office's page shows it; exit 1 when every row was
    refused (nothing was taken: a wrong file, most likely), 2 when the file cannot be read."""
    try:
        text = path.read_text("utf-8-sig")
    except UnicodeDecodeError:
        print(f"sms-ktp: {path} bukan teks UTF-8: simpan sebagai CSV UTF-8 lalu coba lagi",
              file=sys.stderr)
        return 2
    except OSError as error:
        print(f"sms-ktp: {path} tidak bisa dibaca: {error.strerror or error}", file=sys.stderr)
        return 2
    summary = penunggalan.Summary()
    rows = list(penunggalan.read_csv(text, summary))
    penunggalan.apply(runtime.db, runtime.clock, runtime.quiet_hours, rows, summary, _actor(),
                      progress=_progress(len(rows), sys.stderr))
    print("\n".join(summary.lines()))
    if summary.all_rejected:
        print(f"sms-ktp: {penunggalan.ALL_REJECTED}", file=sys.stderr)
        return 1
    return 0


def _print_next(runtime: Runtime, site: str, limit: int | None) -> int:
    reserved = printing.reserve_next(runtime.db, runtime.clock, site, limit)
    if reserved.batch_id is None:
        reason = ("no free blangko" if reserved.stock.free == 0
                  else "no print-ready card is waiting")
        print(f"nothing to print at {site}: {reason} (stock {reserved.stock.total}, "
              f"reserved {reserved.stock.reserved})")
        return 0
    print(f"batch {reserved.batch_id} at {site}: {len(reserved.cards)} card(s)")
    print(f"{'#':>4}  {'ref':<9}  {'NIK':<7}  ready since (UTC)")
    for number, (reference, nik, ready_at) in enumerate(reserved.cards, start=1):
        print(f"{number:>4}  {reference:<9}  {nik:<7}  {ready_at:%Y-%m-%d %H:%M}")
    print(f"free blangko left at {site}: {reserved.stock.free}")
    return 0
