"""The operator commands of `sms-ktp`: penunggalan results, blangko stock, printing, pickups.
Scripts rely on these names and exit codes (0 done, 1 refused, 2 bad usage)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from tqdm import tqdm

from sms_ktp.applications import penunggalan, pickup, printing
from sms_ktp.cli.common import Group, actor, runtime_of, with_runtime
from sms_ktp.domain.documents import CARDS
from sms_ktp.domain.masking import mask_id
from sms_ktp.domain.phones import normalise_msisdn
from sms_ktp.messaging.outbox import requeue_failed
from sms_ktp.runtime import Runtime

PROGRESS_FROM = 1000  # rows; smaller files need no progress bar
SITE_HELP = "printing site (default: the first configured)"
CARD_HELP = "the kind of blank card: ktp (KTP-el) or kia (KIA)"
card_option = click.option("--card", type=click.Choice(CARDS), default=printing.KTP,
                           show_default=True, help=CARD_HELP)


@click.group("penunggalan", cls=Group, help="penunggalan results from Kemendagri")
def results() -> None:
    pass


@results.command("import", help="apply a results file: CSV (; or ,) or XLSX, with the columns "
                                "nik, result (or hasil) and note (or keterangan)")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--rows", "every_row", is_flag=True,
              help="also print the outcome of every line (masked NIK)")
@with_runtime
def import_results(runtime: Runtime, file: Path, every_row: bool) -> int:
    return _import(runtime, file, every_row)


@click.group("blangko", cls=Group, help="blank-card stock")
def blangko() -> None:
    pass


# A negative count reaches the command, which says it must be positive, as for 0.
@blangko.command("add", help="add N blank cards to a site's stock",
                 context_settings={"ignore_unknown_options": True})
@click.argument("count", type=int)
@click.option("--site", help=SITE_HELP)
@card_option
@with_runtime
def add_blangko(runtime: Runtime, count: int, site: str | None, card: str) -> int:
    chosen = _site(runtime, site)
    if chosen is None:
        return 2
    if count <= 0:
        print("sms-ktp: the number of blangko to add must be positive", file=sys.stderr)
        return 2
    stock = printing.add_blangko(runtime.db, runtime.clock, chosen, count, actor(), card)
    print(f"added {count} blangko at {_at(chosen, card)}: stock {stock.total}, "
          f"reserved {stock.reserved}, free {stock.free}")
    return 0


@click.group("print", cls=Group, help="print batches")
def print_batches() -> None:
    pass


@print_batches.command("next", help="reserve the next batch for printing")
@click.option("--limit", type=int)
@click.option("--site", help=SITE_HELP)
@card_option
@with_runtime
def print_next(runtime: Runtime, limit: int | None, site: str | None, card: str) -> int:
    chosen = _site(runtime, site)
    if chosen is None:
        return 2
    if limit is not None and limit <= 0:
        print("sms-ktp: --limit must be positive", file=sys.stderr)
        return 2
    return _print_next(runtime, chosen, limit, card)


@print_batches.command("done", help="mark a reserved batch printed\n\n"
                                    "Give one of --batch and --all.")
@click.option("--batch", type=int, help="the batch reserved by `print next`")
@click.option("--all", "every", is_flag=True, help="every reserved batch")
@click.pass_context
def print_done(ctx: click.Context, batch: int | None, every: bool) -> None:
    # Exactly one of the two: a usage error otherwise, before any configuration is read.
    if batch is None and not every:
        raise click.UsageError("one of the arguments --batch --all is required", ctx)
    if batch is not None and every:
        raise click.UsageError("argument --all: not allowed with argument --batch", ctx)
    ctx.exit(_mark_printed(runtime_of(ctx), None if every else batch))


@click.group("outbox", cls=Group, help="SMS waiting or failed")
def outbox() -> None:
    pass


@outbox.command("requeue",
                help="give SMS parked as failed a fresh set of attempts (after an outage)")
@click.option("--phone", help="only the SMS to this number")
@with_runtime
def requeue(runtime: Runtime, phone: str | None) -> int:
    return _requeue(runtime, phone)


@click.group("pickup", cls=Group, help="pickups at the counter")
def pickups() -> None:
    pass


@pickups.command("verify", help="hand over the cards of the family visit with CODE")
@click.argument("code")
@click.option("--only", "only", multiple=True, metavar="REF",
              help="hand over only this card (repeat for several); the visit's other cards "
                   "get a visit of their own, with an SMS")
@with_runtime
def verify(runtime: Runtime, code: str, only: tuple[str, ...]) -> int:
    try:
        with runtime.db.connect() as connection:
            _, cards = pickup.visit_by_code(connection, code)
        print(f"visit {code.strip().upper()}: {len(cards)} card(s)")
        for card in cards:
            print(f"  ref {card.reference}  NIK {mask_id(card.nik)}")
        handover = pickup.verify(runtime.db, runtime.clock, code, actor(),
                                 only=set(only) if only else None)
    except pickup.VerifyError as error:
        print(f"sms-ktp: {error}", file=sys.stderr)
        return 1
    for reference in handover.handed:
        print(f"collected: ref {reference}")
    for reference in handover.kept:
        print(f"kept for a new visit: ref {reference}")
    return 0


# In the order `sms-ktp --help` lists them.
groups = (results, blangko, print_batches, outbox, pickups)


def _site(runtime: Runtime, site: str | None) -> str | None:
    """The printing site asked for, else the first configured; None (said why) if unknown."""
    sites = runtime.settings.printing.sites
    if site and site not in sites:
        print(f"sms-ktp: unknown printing site {site!r} (configured: {', '.join(sites)})",
              file=sys.stderr)
        return None
    return site or sites[0]


def _at(site: str, card: str) -> str:
    """A site's stock of one kind of card as the output names it: the site alone for the
    KTP-el's (as it always was), "disdukcapil (kia)" for another kind."""
    return site if card == printing.KTP else f"{site} ({card})"


def _mark_printed(runtime: Runtime, batch: int | None) -> int:
    """The cards of `batch` (None: of every reserved batch) marked printed."""
    count = printing.mark_printed(runtime.db, runtime.clock, runtime.quiet_hours, batch, actor())
    if count == 0 and batch is not None:
        print(f"sms-ktp: batch {batch} is unknown or already printed", file=sys.stderr)
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


def _import(runtime: Runtime, path: Path, every_row: bool = False) -> int:
    """The summary in Indonesian, as the back office's page shows it (and, asked for, every
    line's outcome); exit 1 when every row was refused (nothing was taken: a wrong file, most
    likely), 2 when the file cannot be read."""
    try:
        data = path.read_bytes()
    except OSError as error:
        print(f"sms-ktp: {path} tidak bisa dibaca: {error.strerror or error}", file=sys.stderr)
        return 2
    summary = penunggalan.Summary()
    try:
        rows = list(penunggalan.read_file(data, summary))
    except penunggalan.UnreadableFile as error:
        print(f"sms-ktp: {path}: {error}", file=sys.stderr)
        return 2
    # On a terminal only (tqdm's disable=None): a log or a script reads the summary.
    with tqdm(total=len(rows), disable=None if len(rows) >= PROGRESS_FROM else True,
              bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} baris [{elapsed}<{remaining}]"
              ) as bar:
        penunggalan.apply(runtime.db, runtime.clock, runtime.quiet_hours, rows, summary,
                          actor(), progress=lambda done: bar.update(done - bar.n))
    print("\n".join(summary.lines()))
    if every_row:
        for outcome in summary.by_line():
            print(f"baris {outcome.line}\t{outcome.nik}\t{outcome.words}")
    if summary.all_rejected:
        print(f"sms-ktp: {penunggalan.ALL_REJECTED}", file=sys.stderr)
        return 1
    return 0


def _print_next(runtime: Runtime, site: str, limit: int | None, card: str) -> int:
    reserved = printing.reserve_next(runtime.db, runtime.clock, site, limit, card)
    at = _at(site, card)
    if reserved.batch_id is None:
        reason = ("no free blangko" if reserved.stock.free == 0
                  else "no print-ready card is waiting")
        print(f"nothing to print at {at}: {reason} (stock {reserved.stock.total}, "
              f"reserved {reserved.stock.reserved})")
        return 0
    print(f"batch {reserved.batch_id} at {at}: {len(reserved.cards)} card(s)")
    print(f"{'#':>4}  {'ref':<9}  {'NIK':<7}  ready since (UTC)")
    for number, (reference, nik, ready_at) in enumerate(reserved.cards, start=1):
        print(f"{number:>4}  {reference:<9}  {nik:<7}  {ready_at:%Y-%m-%d %H:%M}")
    print(f"free blangko left at {at}: {reserved.stock.free}")
    return 0
