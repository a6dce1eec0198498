"""`sms-ktp application ...`: one application of any document from the server's shell. Exit
codes as the other operator commands: 0 done, 1 refused, 2 bad usage."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from sqlalchemy import Connection, select

from sms_ktp.applications import document_files
from sms_ktp.applications.document_files import DocumentRefused
from sms_ktp.cli import application_stages
from sms_ktp.cli.common import Argument, Group, actor, with_runtime
from sms_ktp.models import Application
from sms_ktp.runtime import Runtime


@click.group("application", cls=Group,
             help="one application of any document: what it is at, its next stage, its "
                  "signed PDF")
def group() -> None:
    pass


for command in application_stages.commands:
    group.add_command(command)


@group.command("attach", help="attach a signed PDF (a KK, an akta) to its application: the "
                              "family gets its link and PIN when it is ready (audited)")
@click.argument("reference", cls=Argument, metavar="REF",
                help="the application's reference (9 digits, in the family's SMS)")
@click.argument("file", cls=Argument, metavar="FILE",
                type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path),
                help="the PDF signed electronically (TTE); several files: attach each")
@with_runtime
def attach(runtime: Runtime, reference: str, file: Path) -> int:
    limit = document_files.max_bytes(runtime.settings)
    with file.open("rb") as opened:
        content = opened.read(limit + 1)
    try:
        with runtime.db.connect() as connection:
            attached = document_files.attach(
                connection, reference, file.name, content, settings=runtime.settings,
                actor=actor(), now=runtime.clock.now())
            count = len(document_files.files(connection, _application_id(connection,
                                                                          reference)))
    except DocumentRefused as refused:
        print(f"sms-ktp: {file.name}: {refused}", file=sys.stderr)
        return 1
    print(f"attached to ref {reference.strip()}: {attached.name} ({attached.size} bytes, "
          f"sha256 {attached.sha256[:16]}); {count} file(s) now")
    return 0


def _application_id(connection: Connection, reference: str) -> int:
    table = Application.__table__
    return connection.execute(select(table.c.id)
                              .where(table.c.reference == reference.strip())).scalar_one()
