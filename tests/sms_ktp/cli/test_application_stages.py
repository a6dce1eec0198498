"""`sms-ktp application show REF` and `sms-ktp application advance REF [--to STAGE] [--note
TEXT]` on a running service: a KK applied for by SMS moved along its stages by the operator,
the SMS the family gets at each step, the masked numbers, the JSON scripts read, the one-line
refusals with exit status 1, and the audit log."""

from __future__ import annotations

import json
import re

from click.testing import CliRunner, Result
from live_service import KK, NIK, PHONE
from sqlalchemy import select

from flows.catalogue import messages, render
from sms_ktp.applications import document_files
from sms_ktp.cli.common import Service
from sms_ktp.cli.main import cli
from sms_ktp.domain.masking import mask_phone
from sms_ktp.models import AuditEntry

REF = re.compile(r"ref (\d{9})")


def application(service, *args: str) -> Result:  # type: ignore[no-untyped-def]
    """`sms-ktp application ARGS` on the running service's database."""
    return CliRunner().invoke(cli, ["application", *args], catch_exceptions=False,
                              obj=Service(runtime=service.runtime))


def apply_for_a_kk(service) -> str:  # type: ignore[no-untyped-def]
    service.sms(PHONE, f"KK {NIK}#{KK}#hilang")
    done, _ = service.sms(PHONE, "YA")
    return REF.search(done).group(1)


def told(service) -> list[str]:  # type: ignore[no-untyped-def]
    """What the family phone received since the last look."""
    service.worker.run_once()
    return service.received(PHONE)


def notice(key: str, reference: str) -> list[str]:
    """The family's SMS of a step: the document's own notice, when its catalogue has one."""
    return [render("id", key, ref=reference, nik="***0001", document="KK")] \
        if key in messages("id") else []


def test_a_kk_shown_and_moved_to_the_family_s_download_by_the_operator(service):
    reference = apply_for_a_kk(service)
    shown = application(service, "show", reference)
    assert shown.exit_code == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[:5] == [f"ref {reference}  KK (kk)", "stage: submitted (diterima)",
                         "reason: hilang",
                         f"NIK ***0001  KK ***0003  family phone {mask_phone(PHONE)}",
                         "path: submitted > papers_checked > signed > ready > collected"]
    assert lines[5] == f"next: papers_checked (sms-ktp application advance {reference})"
    assert re.fullmatch(r"papers visit: \d{4}-\d\d-\d\d \d\d:\d\d WIB, Kantor Kec\. Bogor "
                        r"Selatan, .+", lines[6]), lines[6]
    assert lines[7:9] == ["files: 0", "timeline:"] and len(lines) == 10  # one entry
    assert re.fullmatch(r"  \d{4}-\d\d-\d\d \d\d:\d\d WIB  submitted  resident:sms(  .*)?",
                        lines[9]), lines[9]
    assert NIK not in shown.stdout and KK not in shown.stdout and PHONE not in shown.stdout

    skipped = application(service, "advance", reference, "--to", "signed")
    assert skipped.exit_code == 1 and skipped.stdout == ""
    assert skipped.stderr == (f"sms-ktp: application {reference} is submitted: its next stage "
                              "is papers_checked, not signed (submitted > papers_checked > "
                              "signed > ready > collected)\n")
    told(service)
    checked = application(service, "advance", reference, "--note", "berkas asli lengkap")
    assert checked.exit_code == 0, checked.stderr
    sms = notice("kk.notify.papers_checked", reference)
    assert checked.stdout.splitlines() == [
        f"ref {reference} (kk): submitted -> papers_checked",
        *([f"SMS to {mask_phone(PHONE)}: {text}" for text in sms] or ["no SMS"])]
    assert told(service) == sms
    signed = application(service, "advance", reference, "--to", "SIGNED")
    assert signed.exit_code == 0, signed.stderr
    assert told(service) == notice("kk.notify.signed", reference)

    no_pdf = application(service, "advance", reference)
    assert (no_pdf.exit_code, no_pdf.stderr) == (1, f"sms-ktp: application {reference} has no "
                                                    "signed PDF: attach it first (sms-ktp "
                                                    "application attach REF FILE)\n")
    with service.runtime.db.connect() as connection:
        document_files.attach(connection, reference, "kk.pdf", b"%PDF-1.7 KK",
                              settings=service.runtime.settings, actor="operator:root",
                              now=service.runtime.clock.now())
    ready = application(service, "advance", reference)
    assert ready.exit_code == 0, ready.stderr
    [sent] = told(service)
    pin = re.search(r"PIN (\d{6})", sent)[1]
    first, shown_sms = ready.stdout.splitlines()
    assert first == f"ref {reference} (kk): signed -> ready"
    assert shown_sms.startswith(f"SMS to {mask_phone(PHONE)}: ") and pin not in shown_sms
    assert "PIN ******" in shown_sms

    as_json = application(service, "show", reference, "--json")
    assert as_json.exit_code == 0, as_json.stderr
    facts = json.loads(as_json.stdout)
    assert {key: facts[key] for key in ("reference", "document", "document_name", "stage",
                                        "stage_words", "nik", "kk", "next_stage")} == {
        "reference": reference, "document": "kk", "document_name": "KK", "stage": "ready",
        "stage_words": "siap diunduh", "nik": "***0001", "kk": "***0003",
        "next_stage": "collected"}
    assert [(event["stage"], event["actor"], event["note"]) for event in facts["timeline"]][1:] \
        == [("papers_checked", "operator:root", "berkas asli lengkap"),
            ("signed", "operator:root", ""), ("ready", "operator:root", "")]
    # local times with their offset (ISO 8601), and the zone's name
    assert all(event["at"].endswith("+07:00") for event in facts["timeline"])
    assert facts["zone"] == "WIB"
    assert [each["name"] for each in facts["files"]] == ["kk.pdf"]
    assert facts["papers_visit"]["office"] == "Kantor Kec. Bogor Selatan"
    assert NIK not in as_json.stdout and KK not in as_json.stdout

    collected = application(service, "advance", reference, "--note", "dicetak di kelurahan")
    assert collected.exit_code == 0 and collected.stdout.startswith(
        f"ref {reference} (kk): ready -> collected\n")
    again = application(service, "advance", reference)
    assert (again.exit_code, again.stderr) == (
        1, f"sms-ktp: application {reference} is already collected\n")
    with service.runtime.db.connect() as connection:
        audited = connection.execute(select(AuditEntry.__table__.c.action,
                                            AuditEntry.__table__.c.target,
                                            AuditEntry.__table__.c.detail)
                                     .where(AuditEntry.action == "application.advance")
                                     .order_by(AuditEntry.id)).all()
    assert [(action, target, detail) for action, target, detail in audited] == [
        ("application.advance", f"application {reference}",
         "submitted -> papers_checked: berkas asli lengkap"),
        ("application.advance", f"application {reference}", "papers_checked -> signed"),
        ("application.advance", f"application {reference}", "signed -> ready"),
        ("application.advance", f"application {reference}",
         "ready -> collected: dicetak di kelurahan")]


def test_a_rejection_names_the_document_and_needs_a_reason(service):
    reference = apply_for_a_kk(service)
    told(service)
    bare = application(service, "advance", reference, "--to", "rejected")
    assert (bare.exit_code, bare.stderr) == (1, "sms-ktp: --to rejected needs --note with the "
                                                "reason\n")
    rejected = application(service, "advance", reference, "--to", "rejected", "--note",
                           "surat polisi tidak ada")
    assert rejected.exit_code == 0, rejected.stderr
    text = (f"KK ref {reference} (NIK ***0001) ditolak petugas: surat polisi tidak ada. Tanya "
            "kelurahan, lalu ajukan lagi.")
    assert rejected.stdout == (f"ref {reference} (kk): submitted -> rejected\n"
                               f"SMS to {mask_phone(PHONE)}: {text}\n")
    assert told(service) == [text]
    with service.runtime.db.connect() as connection:
        assert connection.execute(select(AuditEntry.__table__.c.action)
                                  .where(AuditEntry.target == f"application {reference}")
                                  ).scalars().all() == ["application.reject"]


def test_the_ktp_s_machinery_steps_are_refused_with_the_command_to_use(service):
    service.sms(PHONE, f"DAFTAR {NIK}#{KK}#2")
    reference = REF.search(service.sms(PHONE, "YA")[0]).group(1)
    told(service)
    verified = application(service, "advance", reference)
    assert verified.stdout == f"ref {reference} (ktp): submitted -> penunggalan\nno SMS\n"
    assert told(service) == []
    refused = application(service, "advance", reference)
    assert (refused.exit_code, refused.stderr) == (
        1, "sms-ktp: penunggalan -> print_queue is not set by hand: penunggalan results come "
           "from Kemendagri: sms-ktp penunggalan import FILE\n")
    shown = application(service, "show", reference).stdout
    assert "next: penunggalan results come from Kemendagri: sms-ktp penunggalan import FILE" \
        in shown
    assert "papers visit" not in shown and "files:" not in shown


def test_unknown_stages_and_references_are_one_line_refusals(service):
    reference = apply_for_a_kk(service)
    wrong = application(service, "advance", reference, "--to", "printed_out")
    assert wrong.exit_code == 1 and wrong.stderr.startswith(
        "sms-ktp: unknown stage 'printed_out' (one of submitted, papers_checked, ")
    assert wrong.stderr.count("\n") == 1
    other = application(service, "advance", reference, "--to", "print_queue")
    assert (other.exit_code, other.stderr) == (
        1, "sms-ktp: print_queue is no stage of the kk path (submitted > papers_checked > "
           "signed > ready > collected; or rejected, cancelled)\n")
    for command in (["show", "999999999"], ["advance", "999999999"], ["show", "abc"]):
        unknown = application(service, *command)
        assert unknown.exit_code == 1, command
        assert unknown.stderr == f"sms-ktp: unknown reference {command[1]}\n"

