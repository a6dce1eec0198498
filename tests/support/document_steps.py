"""The steps the tests of the other documents (KK, akta, KIA) take again and again: the
reference read from the SMS, a KK applied for, the application's rows and stage read, a stage set
and signed PDFs attached (directly, by the operator's command `sms-ktp application`, or by staff
at the back office over HTTP), STATUS of one reference, and a PIN typed on the download link's
page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import requests
import sqlmodel
from click.testing import CliRunner, Result
from live_service import KK, NIK, PHONE, LiveService
from sqlalchemy import select
from staff_browser import StaffBrowser, signed_in

from sms_ktp.applications import document_files, document_stages
from sms_ktp.cli.common import Service
from sms_ktp.cli.main import cli
from sms_ktp.domain.stages import Stage
from sms_ktp.models import Application

REF = re.compile(r"ref (\d{9})")
LINK = re.compile(r"/d/([A-Z0-9]{8}) PIN (\d{6})")
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def reference_in(sms: str) -> str:
    """The reference number an SMS gives (`... ref 123456789 ...`)."""
    return REF.search(sms).group(1)


def apply_for_a_kk(service: LiveService) -> str:
    """A KK applied for by SMS (lost), in its one-message form and confirmed: its reference."""
    service.sms(PHONE, f"KK {NIK}#{KK}#hilang")
    return reference_in(service.sms(PHONE, "YA")[0])


def rows(service: LiveService, model: type) -> list[Any]:
    with service.runtime.db.transaction() as session:
        return list(session.exec(sqlmodel.select(model)).all())


def stage_of(service: LiveService, reference: str) -> str:
    with service.runtime.db.connect() as connection:
        return connection.execute(select(Application.stage)
                                  .where(Application.reference == reference)).scalar_one()


def advance(service: LiveService, reference: str, to: Stage,
            actor: str = "operator:root") -> None:
    """The application set to `to` as `sms-ktp application advance` sets it, then the worker's
    run that sends what the stage tells the family."""
    runtime = service.runtime
    with runtime.db.connect() as connection:
        document_stages.advance(connection, runtime.pickup_policy(), runtime.settings,
                                reference, to, actor=actor, now=runtime.clock.now())
    service.worker.run_once()


def attach(service: LiveService, reference: str, files: dict[str, bytes],
           actor: str = "staff:op1") -> None:
    """`files` (name: content) attached to the application as the back office's upload does."""
    runtime = service.runtime
    with runtime.db.connect() as connection:
        for name, content in files.items():
            document_files.attach(connection, reference, name, content,
                                  settings=runtime.settings, actor=actor,
                                  now=runtime.clock.now())


def sms_ktp(service: LiveService, *args: str) -> Result:
    """`sms-ktp ARGS` run by the operator on the service's database (the command's own code, in
    this process)."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False,
                              obj=Service(runtime=service.runtime))


def command(service: LiveService, *args: str) -> str:
    """`sms-ktp application ARGS`: what it printed. It must succeed."""
    result = sms_ktp(service, "application", *args)
    assert result.exit_code == 0, result.output
    return result.stdout


def advance_by_command(service: LiveService, reference: str, to: Stage | None = None,
                       note: str = "") -> str:
    """`sms-ktp application advance REF [--to STAGE] [--note TEXT]`, then the worker's run that
    sends what the stage tells the family: what the command printed."""
    printed = command(service, "advance", reference,
                      *(["--to", to.value] if to else []), *(["--note", note] if note else []))
    service.worker.run_once()
    return printed


def attach_by_command(service: LiveService, reference: str, folder: Path, name: str,
                      content: bytes) -> str:
    """`sms-ktp application attach REF FILE` of a PDF saved as `name` in `folder`."""
    pdf = folder / name
    pdf.write_bytes(content)
    return command(service, "attach", reference, str(pdf))


def at_the_office(service: LiveService) -> StaffBrowser:
    """An operator of the Kecamatan Bogor Selatan (the family's), signed in to the back office."""
    return signed_in(service, "op01", "operator", "01")


def office_decides(service: LiveService, staff: StaffBrowser, reference: str, action: str,
                   **form: str) -> str:
    """A decision on the application's page (`advance`, `papers/complete`, ...) confirmed, then
    the worker's run: the page staff land on."""
    answer = staff.post(f"/staff/applications/{reference}/{action}", {**form, "confirmed": "1"},
                        allow_redirects=False)
    assert answer.status_code == 303, answer.text
    service.worker.run_once()
    return staff.get(answer.headers["Location"].removeprefix(staff.base_url)).text


def office_uploads(staff: StaffBrowser, reference: str, name: str, content: bytes) -> str:
    """A signed PDF uploaded on the application's page: the page staff land on."""
    answer = staff.post(f"/staff/applications/{reference}/documents",
                        files={"file": (name, content, "application/pdf")})
    assert answer.status_code == 200, answer.text
    return answer.text


def status(service: LiveService, reference: str) -> str:
    [text] = service.sms(PHONE, f"STATUS {reference}")
    return text


def a_wrong_pin(pin: str) -> str:
    return "000000" if pin != "000000" else "111111"


def type_pin(family: requests.Session, url: str, shown: requests.Response,
             pin: str) -> requests.Response:
    """`pin` sent from the link's page `shown` (its form's token with it)."""
    token = _CSRF.search(shown.text).group(1)
    return family.post(url, data={"pin": pin, "csrf_token": token}, timeout=10)
