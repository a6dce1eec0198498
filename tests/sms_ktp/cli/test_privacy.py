"""`sms-ktp privacy export|erase NIK`: the back office's resident requests from the command
line, with the same rules, exit codes scripts can rely on, and the audit log."""

from __future__ import annotations

import json
import re

from click.testing import CliRunner, Result
from live_service import KK, NIK, PHONE
from sqlalchemy import select

from sms_ktp.cli.common import Service
from sms_ktp.cli.main import cli
from sms_ktp.models import Application, AuditEntry


def privacy(service, *args: str, stdin: str = "") -> Result:  # type: ignore[no-untyped-def]
    """`sms-ktp privacy ARGS` on the running service's database."""
    return CliRunner().invoke(cli, ["privacy", *args], input=stdin, catch_exceptions=False,
                              obj=Service(runtime=service.runtime))


def test_export_then_erase_from_the_command_line(service, tmp_path):
    service.sms(PHONE, f"DAFTAR {NIK}#{KK}#2")
    reference = re.search(r"ref (\d{9})", service.sms(PHONE, "YA")[0]).group(1)

    exported = privacy(service, "export", "-", stdin=NIK + "\n")  # kept out of the history
    assert exported.exit_code == 0, exported.stderr
    document = json.loads(exported.stdout)
    assert [a["reference"] for a in document["applications"]] == [reference]
    output = tmp_path / "warga.json"
    written = privacy(service, "export", NIK, "--output", str(output))
    assert written.exit_code == 0
    assert json.loads(output.read_text())["nik"] == NIK
    assert output.stat().st_mode & 0o077 == 0
    assert NIK not in written.stdout

    planned = privacy(service, "erase", NIK)  # without --yes: what would happen
    assert planned.exit_code == 0
    assert f"ref {reference}" in planned.stdout and "cancelled, then erased" in planned.stdout
    assert "run again with --yes" in planned.stdout
    erased = privacy(service, "erase", NIK, "--yes")
    assert erased.exit_code == 0
    assert "NIK ***0001 erased: 1 application(s), 1 cancelled first, 1 family" in erased.stdout
    with service.runtime.db.connect() as connection:
        assert connection.execute(select(Application.__table__.c.erased_at)).scalar_one()
        entries = connection.execute(select(AuditEntry.__table__)
                                     .where(AuditEntry.action.like("privacy.%"))).all()
    assert [entry.action for entry in entries] == ["privacy.export", "privacy.export",
                                                   "privacy.erase"]
    assert all(entry.actor.startswith("operator:") and entry.target == "NIK ***0001"
               for entry in entries)

    gone = privacy(service, "export", NIK)  # nothing held any more
    assert gone.exit_code == 1 and gone.stderr == "sms-ktp: nothing is held for NIK ***0001\n"
    assert privacy(service, "erase", NIK, "--yes").exit_code == 1
    wrong = privacy(service, "export", "12345")
    assert wrong.exit_code == 2 and wrong.stderr == "sms-ktp: a NIK is 16 digits\n"
