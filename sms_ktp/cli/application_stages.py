"""`sms-ktp application show REF` and `sms-ktp application advance REF [--to STAGE] [--note
TEXT]`: one application of any document as staff see it (numbers masked, never a full NIK or
KK), and its next stage set by hand (`sms_ktp.applications.document_stages`). Scripts rely on
the `--json` output and the exit codes: 0 done, 1 refused (an unknown reference or stage, a
closed application, a step the machinery takes), 2 bad usage."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import click
from sqlalchemy import Connection, select

from sms_ktp.applications import document_files, document_stages, papers_visit
from sms_ktp.applications.document_stages import StageRefused
from sms_ktp.backoffice import wording
from sms_ktp.backoffice.search import ApplicationDetail, detail
from sms_ktp.cli.common import Argument, Command, actor, with_runtime
from sms_ktp.domain import documents, region
from sms_ktp.domain.pickup_calendar import local
from sms_ktp.domain.stages import Stage
from sms_ktp.models import Application
from sms_ktp.platform import audit
from sms_ktp.runtime import Runtime

REF_HELP = "the application's reference (9 digits, in the family's SMS)"
ADVANCE_ACTION = "application.advance"
_APPLICATION = Application.__table__
# The audit action of a step: closing ones as the back office records them.
_ACTIONS = {Stage.REJECTED: "application.reject", Stage.CANCELLED: "application.cancel"}


@dataclass(frozen=True)
class Shown:
    """One application as `show` prints it."""

    found: ApplicationDetail
    document: str
    visit: papers_visit.PapersVisit | None
    files: list[document_files.FileInfo] | None  # None: the document is a card


def _read(runtime: Runtime, connection: Connection, reference: str) -> Shown | None:
    found = detail(connection, reference)
    if found is None:
        return None
    visit_id = connection.execute(select(_APPLICATION.c.papers_visit_id)
                                  .where(_APPLICATION.c.id == found.id)).scalar_one()
    visit = (papers_visit.view(connection, runtime.pickup_policy(), visit_id)
             if visit_id is not None else None)
    pdf = documents.document(found.document).output is documents.Output.PDF
    return Shown(found, found.document, visit,
                 document_files.files(connection, found.id) if pdf else None)


@click.command("show", cls=Command, help="one application: its document, stage, masked "
                                         "numbers, papers visit, files and timeline")
@click.argument("reference", cls=Argument, metavar="REF", help=REF_HELP)
@click.option("--json", "as_json", is_flag=True, help="as JSON (for scripts)")
@with_runtime
def show(runtime: Runtime, reference: str, as_json: bool) -> int:
    reference = reference.strip()
    with runtime.db.connect() as connection:
        shown = _read(runtime, connection, reference)
    if shown is None:
        print(f"sms-ktp: unknown reference {reference[:20]}", file=sys.stderr)
        return 1
    facts = _facts(shown)
    if as_json:
        print(json.dumps(facts, ensure_ascii=False, indent=2))
        return 0
    for line in _lines(facts):
        print(line)
    return 0


def _iso(moment: datetime | None) -> str | None:
    """A moment in the regency's local time with its offset: "2026-11-30T09:00:00+07:00"."""
    return local(moment).isoformat() if moment is not None else None


def _facts(shown: Shown) -> dict[str, Any]:
    """What `show --json` gives scripts (times local, ISO 8601 with their offset)."""
    found = shown.found
    document = documents.document(shown.document)
    stage = Stage(found.stage)
    following = document_stages.by_hand(document, stage)
    way = document_stages.machinery(document, stage)
    visit = shown.visit
    return {
        "reference": found.reference,
        "document": shown.document,
        "document_name": wording.document_words(shown.document),
        "stage": found.stage,
        "stage_words": wording.stage_words(found.stage),
        "stage_note": found.stage_note,
        "reason": found.reason,
        "nik": found.nik,
        "kk": found.kk,
        "phone": found.phone,
        "kecamatan": found.kecamatan_code,
        "channel": found.channel,
        "language": found.language,
        "zone": region.current().zone_label,
        "created_at": _iso(found.created_at),
        "path": [each.value for each in document.path],
        "next_stage": following.value if following and not found.closed else None,
        "next_by": way.command if way and not found.closed else None,
        "papers_visit": None if visit is None else {
            "at": _iso(visit.at), "office": visit.office, "address": visit.address},
        "pickup": None if found.pickup_at is None else {
            "at": _iso(found.pickup_at), "office": found.pickup_office},
        "files": None if shown.files is None else [
            {"name": each.name, "size": each.size, "sha256": each.sha256,
             "uploaded_by": each.uploaded_by, "uploaded_at": _iso(each.uploaded_at)}
            for each in shown.files],
        "timeline": [{"at": _iso(event.at), "stage": event.stage, "actor": event.actor,
                      "note": event.note} for event in found.events],
    }


def _shown(iso: str | None, zone: str) -> str:
    """An ISO moment of `_facts` as the terminal shows it: "2026-11-30 09:00 WIB"."""
    if iso is None:
        return "-"
    return f"{datetime.fromisoformat(iso):%Y-%m-%d %H:%M} {zone}"


def _lines(facts: dict[str, Any]) -> list[str]:
    zone = facts["zone"]
    lines = [f"ref {facts['reference']}  {facts['document_name']} ({facts['document']})",
             f"stage: {facts['stage']} ({facts['stage_words']})"
             + (f": {facts['stage_note']}" if facts["stage_note"] else ""),
             f"reason: {facts['reason']}",
             f"NIK {facts['nik']}  KK {facts['kk']}  family phone {facts['phone']}",
             f"path: {' > '.join(facts['path'])}"]
    if facts["next_stage"]:
        lines.append(f"next: {facts['next_stage']} (sms-ktp application advance "
                     f"{facts['reference']})")
    elif facts["next_by"]:
        lines.append(f"next: {facts['next_by']}")
    visit = facts["papers_visit"]
    if visit is not None:
        when = _shown(visit["at"], zone) if visit["at"] else "any working day"
        lines.append(f"papers visit: {when}, {visit['office']}, "
                     f"{visit['address']}")
    if facts["pickup"] is not None:
        lines.append(f"pickup: {_shown(facts['pickup']['at'], zone)}, office "
                     f"{facts['pickup']['office']}")
    if facts["files"] is not None:
        lines.append(f"files: {len(facts['files'])}")
        lines += [f"  {each['name']}  {each['size']} bytes  {_shown(each['uploaded_at'], zone)}"
                  for each in facts["files"]]
    lines.append("timeline:")
    lines += [f"  {_shown(event['at'], zone)}  {event['stage']}  {event['actor']}"
              + (f"  {event['note']}" if event["note"] else "") for event in facts["timeline"]]
    return lines


@click.command("advance", cls=Command,
               help="move an application to its next stage, or reject or cancel it with a "
                    "reason\n\nThe steps of penunggalan, print batches, pickup allocation and "
                    "the counter are refused with the command that takes them.")
@click.argument("reference", cls=Argument, metavar="REF", help=REF_HELP)
@click.option("--to", "to", metavar="STAGE",
              help="the stage to set (default: the next of the document's path); rejected "
                   "or cancelled need --note")
@click.option("--note", default="", help="the reason (sent to the family when rejected), or a "
                                         "remark for the timeline")
@with_runtime
def advance(runtime: Runtime, reference: str, to: str | None, note: str) -> int:
    reference = reference.strip()
    try:
        stage = Stage(to.strip().lower()) if to is not None else None
    except ValueError:
        print(f"sms-ktp: unknown stage {to!r} (one of {', '.join(Stage)})", file=sys.stderr)
        return 1
    now = runtime.clock.now()
    try:
        with runtime.db.connect() as connection:
            done = document_stages.advance(connection, runtime.pickup_policy(),
                                           runtime.settings, reference, stage, note=note,
                                           actor=actor(), now=now)
            audit.record(connection, now, actor(), _ACTIONS.get(done.stage, ADVANCE_ACTION),
                         f"application {done.reference}",
                         f"{done.was.value} -> {done.stage.value}"
                         + (f": {note.strip()}" if note.strip() else ""))
    except StageRefused as refused:
        print(f"sms-ktp: {refused}", file=sys.stderr)
        return 1
    print(f"ref {done.reference} ({done.document}): {done.was.value} -> {done.stage.value}")
    if not done.sms:
        print("no SMS")
    for sent in done.sms:
        print(f"SMS to {sent.phone}: {sent.text}")
    return 0


# In the order `sms-ktp application --help` lists them, after `attach`.
commands = (show, advance)
