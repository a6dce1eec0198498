"""The steps the tests of the other documents (KK, akta, KIA) take again and again: the
reference read from the SMS, a KK applied for, the application's rows and stage read, a stage set
as the command line sets it, signed PDFs attached, STATUS of one reference, and a PIN typed on the
download link's page."""

from __future__ import annotations

import re
from typing import Any

import requests
import sqlmodel
from live_service import KK, NIK, PHONE, LiveService
from sqlalchemy import select

from sms_ktp.applications import document_files, document_stages
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


def advance(service: LiveService, reference: str, to: Stage, actor: str = "operator:root",
            send: bool = True) -> None:
    """The application set to `to` as `sms-ktp application advance` sets it, then (`send`) the
    worker's run that sends what the stage tells the family."""
    runtime = service.runtime
    with runtime.db.connect() as connection:
        document_stages.advance(connection, runtime.pickup_policy(), runtime.settings,
                                reference, to, actor=actor, now=runtime.clock.now())
    if send:
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
