"""No full NIK or KK in any log line, at any level: every logger of the service, its libraries
and the database engine at DEBUG while residents and staff go through whole dialogues over HTTP
(SMS and one-message registration, USSD, status, assisted registration, penunggalan by upload
and by the integration endpoint, printing and pickup allocation by family visit, a card handed
over, a family visit handed over but for a member who did not come, whose card gets a visit of
its own, a search by NIK, a reveal, a resident's export and erasure)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest
from live_service import KK, KK_2, NIK, NIK_2, PHONE, PHONE_2, LiveService
from sqlalchemy import select
from staff_browser import StaffBrowser, make_staff

from sms_ktp.applications import printing
from sms_ktp.models import Application, PickupVisit

NIK_3 = "3271015507880003"  # a second member of the first family, by USSD
NIK_4 = "3271024501900004"  # registered at the counter
KK_3 = "3271030303200005"
PHONE_3 = "+6281398765432"
NUMBERS = (NIK, NIK_2, NIK_3, NIK_4, KK, KK_2, KK_3)
LOGGERS = ("", "sms_ktp", "flows", "gateway", "werkzeug", "transitions", "apscheduler",
           "sqlalchemy.engine", "sqlalchemy.pool", "alembic", "africastalking")
# The test's own HTTP client (the phones' operator, the staff's browser) is not the service.
CLIENT = "urllib3"
REF = re.compile(r"ref (\d{9})")


def spelt_out(number: str) -> re.Pattern[str]:
    """The number with or without separators between its digits ("3271 0145.0190-0001")."""
    return re.compile(r"[\s.\-/]?".join(number))


@pytest.fixture
def everything_logged(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every logger at DEBUG (the service turns some down when it starts: turned up again)."""
    levels = {name: logging.getLogger(name).level for name in LOGGERS}
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    yield caplog
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def reference_of(service: LiveService, nik: str) -> str:
    with service.runtime.db.connect() as connection:
        return connection.execute(select(Application.__table__.c.reference)
                                  .where(Application.__table__.c.nik_hash == nik)).scalar_one()


def open_code_of(service: LiveService, nik: str) -> str:
    """The pickup code of the open visit of the card of `nik` (kept on the visit)."""
    application, visit = Application.__table__, PickupVisit.__table__
    with service.runtime.db.connect() as connection:
        return connection.execute(select(visit.c.open_code)
                                  .join(application, application.c.visit_id == visit.c.id)
                                  .where(application.c.nik_hash == nik)).scalar_one()


def visit_of(service: LiveService, nik: str) -> int:
    with service.runtime.db.connect() as connection:
        return connection.execute(select(Application.visit_id)
                                  .where(Application.nik_hash == nik)).scalar_one()


def residents_and_staff_at_work(service: LiveService) -> None:
    # SMS, guided, the NIK typed with spaces; then the one-message form from another family.
    for text in ("DAFTAR", "3271 0145 0190 0001", KK, "1", "470/12/KEC.BS/2026", "YA"):
        service.sms(PHONE, text)
    service.sms(PHONE_2, f"REG {NIK_2}#{KK_2}#2")
    service.sms(PHONE_2, "YA")
    service.sms(PHONE_2, f"DAFTAR {NIK_2}#{KK_2}#2")  # refused: already active
    # USSD: a second member of the first family.
    text = ""
    for value in ("1", NIK_3, KK, "2", "1"):
        text = f"{text}*{value}" if text else value
        service.ussd("ATUid_logs", text)
    first = reference_of(service, NIK)
    for text in ("STATUS", f"STATUS {first}", "JADWAL"):
        service.sms(PHONE, text)

    make_staff(service.runtime.db, "admin1", "admin")
    admin = StaffBrowser(service.base_url)
    admin.login("admin1")
    admin.get("/staff/register")
    admin.post("/staff/register", {"nik": NIK_4, "kk": KK_3, "reason": "rusak", "suket": "",
                                   "phone": PHONE_3, "language": "id"})
    admin.post("/staff/register", {"nik": NIK_4, "kk": KK_3, "reason": "rusak", "suket": "",
                                   "phone": PHONE_3, "language": "id"})  # sent twice
    admin.get("/staff/penunggalan")
    csv = (f"nik,result,note\n{NIK},PRR,\n{NIK_3},PRR,\n{NIK_2},DUPLICATE,rekam ganda\n"
           f"{NIK_4},LATER,\n3271014501909999,PRR,\nPRR,{KK},\n")
    response = admin.http.post(service.base_url + "/staff/penunggalan",
                               data={"csrf_token": admin.token},
                               files={"file": ("hasil.csv", csv.encode(), "text/csv")},
                               timeout=30)
    assert response.status_code == 200, response.text

    runtime = service.runtime
    runtime.settings.integration.token = "integration-token-for-tests"
    answer = service.http.post(service.base_url + "/integration/penunggalan", json={"results": [
        {"nik": NIK_4, "result": "PRR", "note": ""}, {"nik": KK_3, "result": "MAYBE"}]},
        headers={"Authorization": "Bearer integration-token-for-tests"}, timeout=10)
    assert answer.status_code == 200, answer.text
    printing.add_blangko(runtime.db, runtime.clock, "disdukcapil", 5, "operator:test")
    batch = printing.reserve_next(runtime.db, runtime.clock, "disdukcapil", None)
    printing.mark_printed(runtime.db, runtime.clock, runtime.quiet_hours, batch.batch_id,
                          "operator:test")
    service.worker.run_once()  # pickup allocation, its SMS
    service.sms(PHONE, "JADWAL")
    # At the counter: the family found by the NIK typed into the search box, its visit's
    # cards handed over with the code from the resident's SMS, after the confirmation.
    found = admin.post("/staff/counter", {"q": NIK_4})
    assert "***0004" in found.text and NIK_4 not in found.url
    fourth = reference_of(service, NIK_4)
    visit = f"/staff/counter/visits/{visit_of(service, NIK_4)}"
    admin.post(f"{visit}/handover", {"code": open_code_of(service, NIK_4), "cards": [fourth]})
    handed = admin.post(f"{visit}/handover/confirm", {"cards": [fourth]})
    assert "sudah diambil" in handed.text
    # The first family's visit (NIK and NIK_3): its page lists both cards; only the first
    # member came, the other card is allocated a visit of its own, with its SMS.
    visit = f"/staff/counter/visits/{visit_of(service, NIK)}"
    family_page = admin.get(visit)
    assert "***0001" in family_page.text and "***0003" in family_page.text
    admin.post(f"{visit}/handover", {"code": open_code_of(service, NIK), "cards": [first]})
    kept = admin.post(f"{visit}/handover/confirm", {"cards": [first]})
    assert "1 KTP-el tercatat sudah diambil. 1 lainnya dijadwalkan lagi" in kept.text
    service.received(PHONE)
    service.worker.run_once()
    [new_visit] = service.received(PHONE)
    assert new_visit.startswith("KTP-el NIK ***0003 siap diambil")
    assert service.sms(PHONE, "JADWAL") == [new_visit]

    admin.get("/staff/applications", params={"q": NIK})
    admin.get("/staff/applications", params={"q": "3271 0145 0190 0001"})
    admin.get(f"/staff/applications/{first}")
    revealed = admin.post(f"/staff/applications/{first}/reveal", {})
    assert NIK in revealed.text  # shown to the admin, never logged
    admin.get("/staff/privacy")
    assert admin.post("/staff/privacy/export", {"nik": NIK_2}).status_code == 200
    admin.post("/staff/privacy/erase", {"nik": NIK_2})
    admin.post("/staff/privacy/erase", {"nik": NIK_2, "confirm": "1"})
    admin.get("/staff/audit")
    admin.get("/staff/messages")


def test_no_nik_or_kk_in_any_log_line(service, everything_logged):
    residents_and_staff_at_work(service)

    records = [r for r in everything_logged.records if not r.name.startswith(CLIENT)]
    assert len(records) > 100  # the levels took: the engine and the web server did talk
    assert {"sms_ktp", "sqlalchemy", "werkzeug"} <= {r.name.split(".")[0] for r in records}
    formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
    lines = []
    for record in records:  # as a handler writes it (tracebacks too), and what it was given
        lines += [formatter.format(record), repr(record.msg), repr(record.args)]
    written = "\n".join(lines)
    leaks = {number: spelt_out(number).findall(written) for number in NUMBERS}
    assert {number: found for number, found in leaks.items() if found} == {}
