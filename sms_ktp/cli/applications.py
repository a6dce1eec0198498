"""`sms-ktp application ...`: one application of any document from the server's shell. Exit
codes as the other operator commands: 0 done, 1 refused, 2 bad usage."""

from __future__ import annotations

import click

from sms_ktp.cli import application_stages
from sms_ktp.cli.common import Group


@click.group("application", cls=Group,
             help="one application of any document: what it is at, its next stage")
def group() -> None:
    pass


for command in application_stages.commands:
    group.add_command(command)
