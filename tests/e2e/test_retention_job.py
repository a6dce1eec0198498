"""The worker's daily purge over the whole service: an application over for longer than
`[privacy] retention_days` loses its personal data, the family phone no longer hears about it,
staff still find it (without a number) and the resident may register again."""

from __future__ import annotations

import re
from datetime import timedelta

from live_service import KK, NIK, PHONE
from sqlalchemy import select
from staff_browser import StaffBrowser, make_staff

from sms_ktp.applications import decisions
from sms_ktp.models import Application, JobLease
from sms_ktp.privacy.retention import RETENTION_NOTE


def test_the_worker_purges_what_is_kept_past_the_period(service):
    runtime = service.runtime
    service.sms(PHONE, f"DAFTAR {NIK}#{KK}#2")
    reference = re.search(r"ref (\d{9})", service.sms(PHONE, "YA")[0]).group(1)
    decisions.cancel(runtime.db, runtime.clock, runtime.quiet_hours, reference,
                     "warga minta batal", "staff:op1")
    service.worker.run_once()
    service.received(PHONE)
    assert runtime.settings.privacy.retention_days == 90  # the default

    runtime.clock.advance(timedelta(days=89))
    assert service.worker.purge_personal_data() == 0
    runtime.clock.advance(timedelta(days=2))
    assert service.worker.purge_personal_data() > 0

    with runtime.db.connect() as connection:
        application = connection.execute(select(Application.__table__)).one()
        leases = connection.execute(select(JobLease.__table__)).all()
    assert application.erased_at == runtime.clock.now() and application.nik is None
    assert leases == []  # the job's lease (SQLite) is given back
    assert service.sms(PHONE, "STATUS") == [
        "Belum ada pendaftaran KTP-el untuk nomor HP ini. Ketik DAFTAR untuk mendaftar."]

    make_staff(runtime.db, "admin1", "admin")
    admin = StaffBrowser(service.base_url)
    admin.login("admin1")
    shown = admin.get(f"/staff/applications/{reference}")
    # the timeline's note in words
    assert shown.status_code == 200 and "Data pribadi dihapus: masa simpan berakhir" in shown.text
    assert RETENTION_NOTE not in shown.text
    assert NIK not in shown.text and KK not in shown.text

    service.sms(PHONE, f"DAFTAR {NIK}#{KK}#2")
    assert service.sms(PHONE, "YA")[0].startswith("Pendaftaran diterima")
