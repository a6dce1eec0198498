"""`sms-ktp post`: cards posted to families instead of collected (`[delivery] post`): the
parcels to post, the tracking number of one handed to the courier (the family gets it by SMS),
its delivery. Exit codes as the other operator commands: 0 done, 1 refused, 2 bad usage."""

from __future__ import annotations

import sys
from datetime import datetime

import click

from sms_ktp.applications import delivery
from sms_ktp.backoffice.search import kecamatan_name
from sms_ktp.cli.common import Argument, Group, actor, with_runtime
from sms_ktp.domain import region
from sms_ktp.domain.pickup_calendar import local
from sms_ktp.runtime import Runtime

REF_HELP = "the reference of any card of the parcel"


@click.group("post", cls=Group, help="cards posted to families instead of collected")
def group() -> None:
    pass


@group.command("list", help="the parcels to post, then those on their way")
@with_runtime
def list_parcels(runtime: Runtime) -> int:
    with runtime.db.connect() as connection:
        to_post, on_its_way = delivery.parcels(connection)
    zone = region.current().zone_label
    print(f"to post: {len(to_post)} parcel(s)")
    for parcel in to_post:
        print(f"  {_office(parcel.office)}, asked {_when(parcel.requested_at)} {zone}: "
              f"{len(parcel.cards)} card(s)")
        _cards(parcel)
    print(f"on their way: {len(on_its_way)} parcel(s)")
    for parcel in on_its_way:
        print(f"  {_office(parcel.office)}, tracking {parcel.tracking}, posted "
              f"{_when(parcel.posted_at)} {zone}: {len(parcel.cards)} card(s)")
        _cards(parcel)
    return 0


@group.command("sent", help="record the tracking number of a parcel handed to the courier "
                            "(the family gets it by SMS)")
@click.argument("reference", cls=Argument, metavar="REF", help=REF_HELP)
@click.argument("tracking", cls=Argument, metavar="TRACKING",
                help="the courier's tracking number")
@with_runtime
def sent(runtime: Runtime, reference: str, tracking: str) -> int:
    try:
        references = delivery.sent(runtime.db, runtime.clock, runtime.pickup_policy(),
                                   reference.strip(), tracking, actor())
    except delivery.DeliveryError as error:
        print(f"sms-ktp: {error}", file=sys.stderr)
        return 2 if error.why == "tracking" else 1
    for posted in references:
        print(f"posted: ref {posted}")
    return 0


@group.command("delivered", help="record that a parcel was delivered (its cards are closed)")
@click.argument("reference", cls=Argument, metavar="REF", help=REF_HELP)
@with_runtime
def delivered(runtime: Runtime, reference: str) -> int:
    try:
        references = delivery.delivered(runtime.db, runtime.clock, runtime.pickup_policy(),
                                        reference.strip(), actor())
    except delivery.DeliveryError as error:
        print(f"sms-ktp: {error}", file=sys.stderr)
        return 1
    for done in references:
        print(f"delivered: ref {done}")
    return 0


def _cards(parcel: delivery.Parcel) -> None:
    for reference, nik in parcel.cards:
        print(f"    ref {reference}  NIK {nik}")


def _office(code: str) -> str:
    return f"Kec. {kecamatan_name(code)} ({code})"


def _when(moment: datetime | None) -> str:
    return f"{local(moment):%Y-%m-%d %H:%M}" if moment is not None else "-"
