"""`sms-ktp region ...`: which regency this installation serves (`[region] code`), and the codes
of the others, for the person installing it. Exit codes: 0 done, 1 nothing found."""

from __future__ import annotations

import click

from sms_ktp.applications.kelurahan_contact import kelurahan_names
from sms_ktp.backoffice.search import kecamatan_name
from sms_ktp.cli.common import Argument, Group, with_runtime
from sms_ktp.domain import region as regions
from sms_ktp.runtime import Runtime


@click.group("region", cls=Group, help="the regency served ([region] code) and the others")
def group() -> None:
    pass


@group.command("show", help="the regency served: code, name, province, time zone, kecamatan, "
               "pickup offices and languages")
@with_runtime
def show(runtime: Runtime) -> int:
    served = regions.current()
    offices = runtime.pickup_policy().offices
    print(f"regency     {served.code} {served.name}")
    print(f"province    {served.province_code} {served.province_name}")
    print(f"time zone   {served.zone_label} ({served.zone.key})")
    print(f"kecamatan   {len(served.kecamatan)}: KKs starting "
          f"{', '.join(served.code + code for code in served.kecamatan)}")
    print(f"languages   {', '.join(served.languages)}")
    print(f"offices     {len(offices)}")
    for code, office in sorted(offices.items()):
        print(f"  {code}  {office.name} ({office.address})")
    return 0


@group.command("find", help="regencies whose name holds every word (or whose code starts with "
               "the digits given), with their codes")
@click.argument("words", nargs=-1, required=True, cls=Argument,
                help="e.g. bogor, or kota makassar, or 73")
def find(words: tuple[str, ...]) -> None:
    found = regions.find(" ".join(words))
    for code, name in found:
        print(f"{code}  {name}")
    if not found:
        click.echo(f"sms-ktp: no regency matches {' '.join(words)!r}", err=True)
        raise click.exceptions.Exit(1)


@group.command("kelurahan", help="the kelurahan and desa of the regency served whose name holds "
               "every word (all of them without words), with their 10-digit codes")
@click.argument("words", nargs=-1)
@with_runtime
def kelurahan(runtime: Runtime, words: tuple[str, ...]) -> int:
    served = regions.current()
    wanted = [word.lower() for word in words]
    found = sorted((code, name) for code, name in kelurahan_names(served.code).items()
                   if all(word in name.lower() for word in wanted))
    for code, name in found:
        print(f"{code}  {name} (Kec. {kecamatan_name(code[4:6])})")
    if not found:
        click.echo(f"sms-ktp: no kelurahan or desa of {served.name} matches "
                   f"{' '.join(words)!r}", err=True)
        return 1
    return 0

