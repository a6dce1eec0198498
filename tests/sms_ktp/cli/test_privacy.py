"""`sms-ktp privacy export|erase NIK`: the back office's resident requests from the command
line, with the same rules, exit codes scripts can rely on, and the audit log."""

from __future__ import annotations

import io
import json
import re

from live_service import KK, NIK, PHONE
from sqlalchemy import select

from sms_ktp.cli.main import _parser
from sms_ktp.cli.privacy import run
from sms_ktp.models import Application, AuditEntry


def privacy(service, *args: str, stdin: str = "") -> int:  # type: ignore[no-untyped-def]
    return run(service.runtime, _parser().parse_args(["privacy", *args]), io.StringIO(stdin))


def test_export_then_erase_from_the_command_line(service, capsys, tmp_path):
    service.sms(PHONE, f"DAFTAR {NIK}#{KK}#2")
    reference = re.search(r"ref (\d{9})", service.sms(PHONE, "YA")[0]).group(1)

    assert privacy(service, "export", "-", stdin=NIK + "\n") == 0  # kept out of the history
    document = json.loads(capsys.readouterr().out)
    assert [a["reference"] for a in document["applications"]] == [reference]
    output = tmp_path / "warga.json"
    assert privacy(service, "export", NIK, "--output", str(output)) == 0
    assert json.loads(output.read_text())["nik"] == NIK
    assert output.stat().st_mode & 0o077 == 0
    assert NIK not in capsys.readouterr().out

    assert privacy(service, "erase", NIK) == 0  # without --yes: what would happen
    told = capsys.readouterr().out
    assert f"ref {reference}" in told and "cancelled, then erased" in told
    assert "run again with --yes" in told
    assert privacy(service, "erase", NIK, "--yes") == 0
    assert "NIK ***0001 erased: 1 application(s), 1 cancelled first, 1 family" in (
        capsys.readouterr().out)
    with service.runtime.db.connect() as connection:
        assert connection.execute(select(Application.__table__.c.erased_at)).scalar_one()
        entries = connection.execute(select(AuditEntry.__table__)
                                     .where(AuditEntry.action.like("privacy.%"))).all()
    assert [entry.action for entry in entries] == ["privacy.export", "privacy.export",
                                                   "privacy.erase"]
    assert all(entry.actor.startswith("operator:") and entry.target == "NIK ***0001"
               for entry in entries)

    assert privacy(service, "export", NIK) == 1  # nothing held any more
    assert privacy(service, "erase", NIK, "--yes") == 1
    assert privacy(service, "export", "12345") == 2
    assert "16 digits" in capsys.readouterr().err
