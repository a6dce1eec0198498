"""`sms-ktp whatsapp templates`: the wordings to submit to Meta for approval, one per notice,
taken from the catalogue, and which of them `[gateway.whatsapp.templates]` names. Exit code 0."""

from __future__ import annotations

import click

from flows.catalogue import written_in
from sms_ktp.cli.common import Group, with_runtime
from sms_ktp.messaging.whatsapp_templates import (
    GENERAL,
    approval_warnings,
    example_values,
    general_template,
    notice_keys,
    notice_template,
)
from sms_ktp.runtime import Runtime


@click.group("whatsapp", cls=Group, help="the WhatsApp channel ([gateway.whatsapp])")
def group() -> None:
    pass


@group.command("templates", help="each notice's wording as a template to submit to Meta "
               "(category utility), its variables with a sample, and whether it is configured")
@click.option("--language", default="id", show_default=True,
              help="the template's language at Meta (id, en, en_US)")
@with_runtime
def templates(runtime: Runtime, language: str) -> int:
    written = written_in(language)
    if written is None:
        click.echo(f"sms-ktp: no catalogue is written in {language!r}", err=True)
        return 2
    configured = runtime.settings.gateway.whatsapp.templates
    for kind in sorted(GENERAL):
        print(f"{kind}  {_configured(configured.get(kind))}")
        print(f"  body: {general_template(kind, written)}")
        print("  {{1}} = the whole message")
    for key in notice_keys():
        template = notice_template(key, written)
        print(f"{key}  {_configured(configured.get(key))}")
        print(f"  body: {template.body}")
        for number, sample in example_values(template).items():
            print(f"  {number} = {sample}")
        for warning in approval_warnings(template):
            print(f"  note: {warning} (Meta asks for a sample)")
    return 0


def _configured(template: dict[str, str] | None) -> str:
    if template is None:
        return "(not configured)"
    return f"(configured: {template['name']}, {template['language']})"
