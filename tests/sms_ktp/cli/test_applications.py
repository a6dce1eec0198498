"""`sms-ktp application attach REF FILE` on a running service, end to end: a KK applied for by
SMS, moved by the operator, its signed PDF attached from the shell (refusals with exit status
1), the family's one SMS at ready, then the download page over HTTP with a wrong and a right
PIN, and the application collected."""

from __future__ import annotations

import re

import requests
from click.testing import CliRunner, Result
from live_service import KK, NIK, PHONE
from sqlalchemy import select

from sms_ktp.cli.common import Service
from sms_ktp.cli.main import cli
from sms_ktp.models import Application, AuditEntry

REF = re.compile(r"ref (\d{9})")
PDF = b"%PDF-1.7\n% Kartu Keluarga, TTE\n%%EOF\n"


def application(service, *args: str) -> Result:  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["application", *args], catch_exceptions=False,
                              obj=Service(runtime=service.runtime))


def test_the_operator_attaches_the_signed_kk_and_the_family_downloads_it(service, tmp_path):
    service.runtime.settings.server.public_url = service.base_url
    service.sms(PHONE, f"KK {NIK}#{KK}#hilang")
    reference = REF.search(service.sms(PHONE, "YA")[0]).group(1)
    pdf, other = tmp_path / "KK 3271 baru.pdf", tmp_path / "foto.jpg"
    pdf.write_bytes(PDF)
    other.write_bytes(b"\xff\xd8\xff\xe0 JFIF")

    early = application(service, "attach", reference, str(pdf))
    assert early.exit_code == 1 and "papers are checked" in early.stderr
    for _ in range(2):  # papers_checked, signed
        assert application(service, "advance", reference).exit_code == 0
    wrong = application(service, "attach", reference, str(other))
    assert (wrong.exit_code, wrong.stderr) == (
        1, "sms-ktp: foto.jpg: not a PDF (it does not begin with %PDF-)\n")
    unknown = application(service, "attach", "999999999", str(pdf))
    assert unknown.exit_code == 1 and "no application with ref 999999999" in unknown.stderr
    missing = application(service, "attach", reference, str(tmp_path / "none.pdf"))
    assert missing.exit_code == 2

    done = application(service, "attach", reference, str(pdf))
    assert done.exit_code == 0, done.stderr
    assert re.fullmatch(rf"attached to ref {reference}: KK 3271 baru\.pdf \({len(PDF)} bytes, "
                        r"sha256 [0-9a-f]{16}\); 1 file\(s\) now\n", done.stdout), done.stdout
    service.worker.run_once()
    service.received(PHONE)
    assert application(service, "advance", reference).exit_code == 0  # ready
    service.worker.run_once()
    [sms] = service.received(PHONE)
    found = re.search(r"/d/([A-Z0-9]{8}) PIN (\d{6})", sms)
    assert found and sms.startswith(f"KK ref {reference} sudah jadi. Unduh {service.base_url}")
    code, pin = found.groups()

    browser = requests.Session()
    page = browser.get(f"{service.base_url}/d/{code}", timeout=10)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    bad = browser.post(f"{service.base_url}/d/{code}",
                       data={"pin": "000000" if pin != "000000" else "111111",
                             "csrf_token": token}, timeout=10)
    assert bad.status_code == 403 and "PIN salah, sisa 4 kali" in bad.text
    right = browser.post(f"{service.base_url}/d/{code}", data={"pin": pin, "csrf_token": token},
                         timeout=10)
    assert right.content == PDF and right.headers["Content-Type"] == "application/pdf"

    with service.runtime.db.connect() as connection:
        stage = connection.execute(select(Application.__table__.c.stage)).scalar_one()
        actions = connection.execute(select(AuditEntry.__table__.c.actor,
                                            AuditEntry.__table__.c.action)
                                     .where(AuditEntry.action.like("document.%"))
                                     .order_by(AuditEntry.id)).all()
    assert stage == "collected"
    assert [action for _, action in actions] == ["document.attach", "document.wrong_pin",
                                                 "document.download"]
    assert actions[0].actor.startswith("operator:")
    shown = application(service, "show", reference)
    assert "downloaded by the family" in shown.stdout or "collected" in shown.stdout
    assert code not in shown.stdout and pin not in shown.stdout
