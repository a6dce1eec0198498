"""Printing in the browser over real HTTP: a batch made within the free blangko, its printed
list, marking it printed in part after a confirmation, and what follows: the families' pickup
SMS, the failed card back in the queue, the blangko accounted for, the audit log."""

from __future__ import annotations

import re

import pytest
from live_service import KK, KK_2, NIK, NIK_2, PHONE, PHONE_2, LiveService
from sqlalchemy import select
from staff_browser import signed_in

from sms_ktp.applications import penunggalan, printing
from sms_ktp.models import Application, AuditEntry, BlangkoMovement

# What staff see and do; the queries behind the page run on both engines in
# tests/sms_ktp/applications/test_printing.py.
pytestmark = pytest.mark.parametrize("database", ["sqlite"], indirect=True)

REF = re.compile(r"ref (\d{9})")
NIK_3 = "3271015507880003"  # a second member of the first family


def register(service: LiveService, nik: str, kk: str, phone: str) -> str:
    service.sms(phone, f"DAFTAR {nik}#{kk}#2")
    return REF.search(service.sms(phone, "YA")[0]).group(1)


def print_ready(service: LiveService, *niks: str) -> None:
    """Kemendagri's PRR for these NIKs: their cards join the print queue."""
    runtime = service.runtime
    summary = penunggalan.Summary()
    rows = list(penunggalan.read_csv(
        "nik,result,note\n" + "".join(f"{nik},PRR,\n" for nik in niks), summary))
    penunggalan.apply(runtime.db, runtime.clock, runtime.quiet_hours, rows, summary, "test")




def stages(service: LiveService) -> dict[str, tuple[str, int | None]]:
    with service.runtime.db.connect() as connection:
        return {row.reference: (row.stage, row.print_batch_id) for row in connection.execute(
            select(Application.reference, Application.stage, Application.print_batch_id))}


def audit(service: LiveService) -> list[tuple[str, str, str, str]]:
    table = AuditEntry.__table__
    with service.runtime.db.connect() as connection:
        rows = connection.execute(select(table).where(table.c.action.like("print.%"))
                                  .order_by(table.c.id)).all()
    return [(row.actor, row.action, row.target, row.detail) for row in rows]


def words(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.fixture
def queue(service) -> list[str]:
    """Three print-ready cards (two of one family, one of another) and three blangko."""
    references = [register(service, NIK, KK, PHONE), register(service, NIK_3, KK, PHONE),
                  register(service, NIK_2, KK_2, PHONE_2)]
    print_ready(service, NIK, NIK_3, NIK_2)
    printing.add_blangko(service.runtime.db, service.runtime.clock, "disdukcapil", 3, "test")
    service.worker.run_once()
    service.received(PHONE), service.received(PHONE_2)  # the penunggalan notices
    return references


def test_an_operator_prints_a_batch_with_one_failed_card(service, queue):
    first, second, other = queue
    operator = signed_in(service, "op01", "operator", "01")
    page = operator.get("/staff/printing")
    assert page.status_code == 200
    text = words(page.text)
    assert "Antre cetak, belum masuk batch 3" in text
    assert "Blangko KTP-el bebas di disdukcapil 3" in text

    made = operator.post("/staff/printing/batches", {"limit": "3"}, allow_redirects=False)
    assert made.status_code == 303 and "/staff/printing/batches/" in made.headers["Location"]
    batch = operator.get(made.headers["Location"])
    batch_id = int(made.headers["Location"].rsplit("/", 1)[1])
    # The printed list: every card, masked; nothing a stranger could use.
    for reference in queue:
        assert f"<code>{reference}</code>" in batch.text
    assert "***0001" in batch.text and NIK not in batch.text and NIK_2 not in batch.text
    assert "3 kartu menunggu dicetak" in words(batch.text)

    path = f"/staff/printing/batches/{batch_id}/done"
    confirm = operator.post(path, {"failed": other})
    assert confirm.status_code == 200
    said = words(confirm.text)
    assert "2 KTP-el ditandai tercetak" in said
    assert "1 keluarga akan menerima SMS jadwal ambil" in said
    assert "1 kartu gagal kembali ke depan antrean cetak" in said
    assert stages(service)[first][0] == "print_queue"  # nothing done before the confirmation

    unanswered = operator.post(path, {"failed": other, "confirmed": "1"})
    assert unanswered.status_code == 400 and 'role="alert"' in unanswered.text
    assert stages(service)[first][0] == "print_queue"

    done = operator.post(path, {"failed": other, "confirmed": "1", f"blangko-{other}": "rusak",
                                "note": "printer macet"}, allow_redirects=False)
    assert done.status_code == 303 and done.headers["Location"].startswith("/staff/printing")
    landing = words(operator.get(done.headers["Location"]).text)
    assert (f"Batch {batch_id}: 2 KTP-el ditandai tercetak; 1 keluarga akan menerima SMS "
            "jadwal ambil; 1 kartu kembali ke depan antrean cetak; 1 blangko rusak dicatat "
            "terpakai.") in landing
    now = stages(service)
    assert now[first] == ("printed", batch_id) and now[second] == ("printed", batch_id)
    assert now[other] == ("print_queue", None)
    with service.runtime.db.connect() as connection:
        assert printing.stock(connection, "disdukcapil").total == 0  # 2 printed, 1 spoiled
        reasons = connection.execute(select(BlangkoMovement.reason)).scalars().all()
    assert f"spoiled batch {batch_id}: printer macet" in reasons
    assert audit(service) == [
        ("staff:op01", "print.reserve", f"print batch {batch_id}",
         "site disdukcapil; 3 cards; free blangko left 0"),
        ("staff:op01", "print.done", f"print batch {batch_id}",
         f"site disdukcapil; printed 2; back in the print queue 1 ({other}); "
         "spoiled blangko 1; note: printer macet")]

    # The worker books the printed cards: one pickup SMS for the family, none for the other.
    service.worker.run_once()
    pickup = service.received(PHONE)
    assert len(pickup) == 1 and "siap diambil" in pickup[0]
    assert service.received(PHONE_2) == []

    again = operator.post(path, {"confirmed": "1"})
    assert "sudah ditandai tercetak sebelumnya" in again.text
    assert len(audit(service)) == 2


def test_a_batch_takes_no_more_than_the_free_blangko_and_says_when_none(service, queue):
    admin = signed_in(service, "admin1", "admin")
    admin.get("/staff/printing")
    wrong = admin.post("/staff/printing/batches", {"limit": "-4"})
    assert wrong.status_code == 400 and 'role="alert"' in wrong.text
    made = admin.post("/staff/printing/batches", {"limit": ""})  # every free blangko
    assert "Batch" in made.text and made.url.rsplit("/", 1)[1].isdigit()
    assert sum(1 for stage, batch in stages(service).values() if batch) == 3
    admin.get("/staff/printing")
    refused = admin.post("/staff/printing/batches", {"limit": "5"})
    assert "Batch tidak dibuat: tidak ada blangko KTP-el bebas" in words(refused.text)
    assert [action for _, action, _, _ in audit(service)] == ["print.reserve"]


def test_an_operator_works_only_on_their_own_site(service, queue):
    service.runtime.settings.printing.sites = ["disdukcapil", "06"]
    printing.add_blangko(service.runtime.db, service.runtime.clock, "06", 1, "test")
    own = signed_in(service, "op06", "operator", "06")
    assert "Lokasi cetak: 06" in words(own.get("/staff/printing").text)
    made = own.post("/staff/printing/batches", {"site": "disdukcapil", "limit": "1"},
                    allow_redirects=False)
    location = made.headers["Location"]
    batch_id = int(location.rsplit("/", 1)[1])
    with service.runtime.db.connect() as connection:
        assert printing.batch(connection, batch_id).site == "06"  # not the site it asked for
    stranger = signed_in(service, "op01", "operator", "01")
    assert stranger.get(location).status_code == 404
    stranger.get("/staff/printing")
    assert stranger.post(f"{location}/done", {"confirmed": "1"}).status_code == 404
    assert signed_in(service, "admin1", "admin").get(location).status_code == 200


def test_viewers_and_helpers_are_refused_and_a_post_needs_its_token(service, queue):
    for username, role, office in (("viewer1", "viewer", None),
                                   ("helper1", "helper", "3271011001")):
        browser = signed_in(service, username, role, office)
        assert browser.get("/staff/printing").status_code == 403
        assert browser.post("/staff/printing/batches", {"limit": "1"}).status_code == 403
    operator = signed_in(service, "op01", "operator", "01")
    forged = operator.post("/staff/printing/batches", {"limit": "1"}, csrf=False)
    assert forged.status_code == 400
    assert all(batch is None for _, batch in stages(service).values())


def kia_ready(service: LiveService, phone: str, born: str) -> str:
    """A child's KIA in the print queue, its papers checked: the parent's NIK, the child's birth
    date in its details (the family of `phone`)."""
    from datetime import timedelta

    from sqlalchemy import insert

    from sms_ktp.models import Family

    now = service.runtime.clock.now()
    with service.runtime.db.connect() as connection:
        family_id = connection.execute(select(Family.__table__.c.id).where(
            Family.__table__.c.phone == phone)).scalar_one()
        connection.execute(insert(Application.__table__).values(
            reference="900000001", nik=NIK, family_id=family_id, document="kia",
            details={"birth_date": born, "sex": "L"}, reason="baru", stage="print_queue",
            language="id", channel="sms", created_at=now, updated_at=now,
            ready_at=now - timedelta(days=30)))
    return "900000001"


def test_a_kia_is_printed_in_a_batch_of_its_own_on_kia_blangko(service, queue):
    kia = kia_ready(service, PHONE, "2019-03-12")
    operator = signed_in(service, "op01", "operator", "01")
    ktp_page = words(operator.get("/staff/printing").text)
    assert "Antre cetak, belum masuk batch 3" in ktp_page  # the KIA is not a KTP-el's
    assert "Cetak KIA 1 menunggu blangko" in ktp_page
    page = words(operator.get("/staff/printing?card=kia").text)
    assert page.startswith("Cetak KIA")
    assert "Antre cetak, belum masuk batch 1" in page
    assert "Blangko KIA bebas di disdukcapil 0" in page and "Menunggu blangko KIA 1" in page
    refused = operator.post("/staff/printing/batches", {"card": "kia", "limit": ""})
    assert "Batch tidak dibuat: tidak ada blangko KIA bebas" in words(refused.text)
    assert refused.url.endswith("card=kia")

    printing.add_blangko(service.runtime.db, service.runtime.clock, "disdukcapil", 1, "test",
                         "kia")
    operator.get("/staff/printing?card=kia")
    made = operator.post("/staff/printing/batches", {"card": "kia", "limit": ""},
                         allow_redirects=False)
    location = made.headers["Location"]
    batch_id = int(location.rsplit("/", 1)[1])
    batch = operator.get(location)
    assert f"Batch cetak {batch_id} (KIA)" in words(batch.text)
    assert f"<code>{kia}</code>" in batch.text and queue[0] not in batch.text
    now = stages(service)
    assert now[kia] == ("print_queue", batch_id)
    assert all(now[reference] == ("print_queue", None) for reference in queue)
    path = f"{location}/done"
    assert "1 KIA ditandai tercetak" in words(operator.post(path, {}).text)
    done = operator.post(path, {"confirmed": "1"}, allow_redirects=False)
    assert done.headers["Location"].endswith("card=kia")
    landing = words(operator.get(done.headers["Location"]).text)
    assert f"Batch {batch_id}: 1 KIA ditandai tercetak; 1 keluarga" in landing
    assert audit(service) == [
        ("staff:op01", "print.reserve", f"print batch {batch_id}",
         "site disdukcapil (kia); 1 cards; free blangko left 0"),
        ("staff:op01", "print.done", f"print batch {batch_id}",
         "site disdukcapil (kia); printed 1; back in the print queue 0; spoiled blangko 0")]
    with service.runtime.db.connect() as connection:
        assert printing.stock(connection, "disdukcapil", "kia").total == 0
        assert printing.stock(connection, "disdukcapil").total == 3  # the KTP-el's untouched

    # The pickup SMS names the child's card by the birth date, not by the parent's NIK.
    service.worker.run_once()
    [sms] = service.received(PHONE)
    assert sms.startswith("KIA lhr 12-03-2019 siap diambil") and "***0001" not in sms
