"""The audit log: who changed what or saw a full NIK, when and from where. Written in the same
transaction as the action it records, so an action never happens unrecorded."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, insert

from sms_ktp.domain.masking import redact
from sms_ktp.models import AuditEntry

_AUDIT = AuditEntry.__table__


def record(connection: Connection, now: datetime, actor: str, action: str, target: str = "",
           detail: str = "", address: str = "") -> None:
    """One entry. `detail` is redacted (no full NIK or KK ever lands in the log)."""
    connection.execute(insert(_AUDIT).values(
        at=now, actor=actor[:60], action=action[:40], target=redact(target)[:80],
        detail=redact(detail)[:500], address=(address or "")[:64]))
