"""The counter (loket) over real HTTP: a family found by whatever the resident brings, its visit on
one screen without the code, the hand-over confirmed before it happens, a member who did not
come scheduled again, the visit moved to a slot staff choose with one SMS, and another office's
families out of an operator's reach."""

from __future__ import annotations

import re

import pytest
from live_service import KK, KK_2, NIK, NIK_2, PHONE, PHONE_2, LiveService
from sqlalchemy import select
from staff_browser import StaffBrowser, signed_in

from sms_ktp.domain.pickup_calendar import local
from sms_ktp.models import Application, AuditEntry, PickupVisit

# What staff see and do; the queries behind the page run on both engines in
# tests/sms_ktp/backoffice/test_counter.py.
pytestmark = pytest.mark.parametrize("database", ["sqlite"], indirect=True)

REF = re.compile(r"ref (\d{9})")
CODE = re.compile(r"Kode ([A-Z0-9]{6})")
NIK_3 = "3271015507880003"  # a second member of the first family
VISIT = re.compile(r"/staff/counter/visits/(\d+)$")


def register(service: LiveService, nik: str, kk: str = KK, phone: str = PHONE) -> str:
    service.sms(phone, f"DAFTAR {nik}#{kk}#2")
    return REF.search(service.sms(phone, "YA")[0]).group(1)


def scheduled(service: LiveService, *niks: str, kk: str = KK,
              phone: str = PHONE) -> tuple[list[str], str]:
    """One family's cards printed and in one visit: their references and the visit's code, as
    the family's phone received it."""
    references = [register(service, nik, kk, phone) for nik in niks]
    service.print_cards(*niks)
    service.worker.run_once()
    [sms] = service.received(phone)
    return references, CODE.search(sms).group(1)




@pytest.fixture
def operator(service) -> StaffBrowser:
    return signed_in(service, "op.selatan", "operator", "01")


def search(browser: StaffBrowser, text: str) -> str:
    """The search posts and answers 303 to a GET page (Back never resends a form): its path."""
    response = browser.post("/staff/counter", {"q": text}, allow_redirects=False)
    assert response.status_code == 303, response.text
    location = response.headers["Location"]
    assert text.strip() not in location
    return location.removeprefix(browser.base_url)


def stages(service: LiveService, references: list[str]) -> list[str]:
    with service.runtime.db.connect() as connection:
        found = dict(connection.execute(select(Application.reference, Application.stage)
                                        .where(Application.reference.in_(references))).all())
    return [found[reference] for reference in references]


def audit(service: LiveService, prefix: str = "") -> list[tuple[str, str, str]]:
    table = AuditEntry.__table__
    with service.runtime.db.connect() as connection:
        rows = connection.execute(select(table).order_by(table.c.id)).all()
    return [(row.action, row.target, row.detail) for row in rows
            if row.action.startswith(prefix)]


def test_each_thing_the_resident_brings_opens_the_same_visit(service, operator):
    (first, second), code = scheduled(service, NIK, NIK_3)
    spaced = f"{code[:3].lower()} {code[3:]}"
    paths = {search(operator, typed) for typed in
             (spaced, first, f"{NIK[:8]} {NIK[8:]}", KK, "0812-3456-7890")}
    [path] = paths
    assert VISIT.fullmatch(path)
    page = operator.get(path).text
    assert f"/staff/applications/{first}" in page and f"/staff/applications/{second}" in page
    assert "***0001" in page and "***0003" in page
    assert "surat kehilangan dari polisi" in page
    assert code not in page and NIK not in page and KK not in page
    assert "Yang boleh mengambil" in page and "datang sendiri" in page
    # Who looked a person up by NIK or KK is recorded, the number masked.
    assert audit(service, "counter.search") == [
        ("counter.search", "", "cari dengan NIK/KK ***0001"),
        ("counter.search", "", "cari dengan NIK/KK ***0003")]


def test_the_code_typed_in_the_search_hands_the_visit_over_after_a_confirmation(service,
                                                                                operator):
    references, code = scheduled(service, NIK, NIK_3)
    path = search(operator, code)
    visit_page = operator.get(path).text
    assert "Kode ambil sudah cocok" in visit_page and 'name="code"' not in visit_page
    checked = operator.post(f"{path}/handover", {"cards": references}, allow_redirects=False)
    assert checked.status_code == 303
    confirm = operator.get(checked.headers["Location"].removeprefix(operator.base_url))
    assert "Diserahkan sekarang: 2 KTP-el" in confirm.text
    assert "Tidak diserahkan" not in confirm.text and code not in confirm.text
    assert stages(service, references) == ["pickup_scheduled"] * 2  # nothing done yet
    done = operator.post(f"{path}/handover/confirm", {"cards": references},
                         allow_redirects=False)
    assert done.status_code == 303 and "/staff/counter/families/" in done.headers["Location"]
    family = operator.get(done.headers["Location"].removeprefix(operator.base_url)).text
    assert "2 KTP-el tercatat sudah diambil." in family and code not in family
    assert stages(service, references) == ["collected"] * 2
    assert [entry for entry in audit(service, "application.")] == [
        ("application.collect", f"application {reference}",
         "diserahkan di loket, kode ambil cocok") for reference in references]
    service.worker.run_once()
    assert service.received(PHONE) == []  # a hand-over sends no SMS
    # The proof is spent: the visit is gone and the same form hands nothing over again.
    assert operator.get(path).status_code == 404
    again = operator.post(f"{path}/handover/confirm", {"cards": references})
    assert again.status_code == 404


def test_a_member_who_did_not_come_gets_a_visit_of_their_own(service, operator):
    (came, absent), code = scheduled(service, NIK, NIK_3)
    path = search(operator, came)  # by reference: the code is asked on the visit's page
    assert 'name="code"' in operator.get(path).text
    wrong = operator.post(f"{path}/handover", {"code": "XXXXXX", "cards": [came]})
    assert "tidak cocok" in wrong.text and stages(service, [came]) == ["pickup_scheduled"]
    assert audit(service, "counter.code_refused")[0][2] == "kode ambil yang diketik tidak cocok"
    nothing = operator.post(f"{path}/handover", {"code": code.lower(), "cards": []})
    assert "belum ada yang diserahkan" in nothing.text
    confirm = operator.post(f"{path}/handover", {"code": code.lower(), "cards": [came]}).text
    assert "Diserahkan sekarang: 1 KTP-el" in confirm and "Tidak diserahkan: 1 KTP-el" in confirm
    assert "1 SMS</strong> jadwal ambil baru" in confirm and code not in confirm
    operator.post(f"{path}/handover/confirm", {"cards": [came]})
    assert stages(service, [came, absent]) == ["collected", "printed"]
    service.worker.run_once()
    [sms] = service.received(PHONE)
    assert "***0003" in sms and "***0001" not in sms
    assert CODE.search(sms).group(1) != code


def test_a_family_without_a_visit_shows_its_applications(service, operator):
    reference = register(service, NIK)
    path = search(operator, "081234567890")
    assert path.startswith("/staff/counter/families/")
    page = operator.get(path).text
    assert reference in page and "Tidak ada KTP-el keluarga ini yang menunggu" in page
    assert "Kec. Bogor Selatan" in page  # the family's kecamatan by its name
    missing = operator.post("/staff/counter", {"q": "3271019999990001"}).text
    assert "Tidak ditemukan di kecamatan Anda: ***0001" in missing


def test_another_office_is_out_of_an_operators_reach(service):
    (reference,), code = scheduled(service, NIK_2, kk=KK_2, phone=PHONE_2)  # kecamatan 06
    other = signed_in(service, "op.selatan", "operator", "01")
    assert "Tidak ditemukan" in other.post("/staff/counter", {"q": code}).text
    assert "Tidak ditemukan" in other.post("/staff/counter", {"q": reference}).text
    with service.runtime.db.connect() as connection:
        visit_id = connection.execute(select(PickupVisit.id)).scalar_one()
    base = f"/staff/counter/visits/{visit_id}"
    for path in (base, f"{base}/move", f"{base}/handover?kartu={reference}"):
        assert other.get(path).status_code == 404
    for path in (f"{base}/handover", f"{base}/handover/confirm", f"{base}/move"):
        assert other.post(path, {"code": code, "cards": [reference],
                                 "slot": "2026-12-02T08.00"}).status_code == 404
    assert stages(service, [reference]) == ["pickup_scheduled"]
    own = signed_in(service, "op.sareal", "operator", "06")
    assert VISIT.fullmatch(search(own, code))


def test_a_visit_moves_to_the_slot_staff_choose_with_one_sms(service, operator):
    references, code = scheduled(service, NIK, NIK_3)
    path = search(operator, references[0])
    choices = operator.get(f"{path}/move").text
    slots = re.findall(r'name="slot" value="([^"]+)"', choices)
    assert "2026-12-01T08.00" not in slots  # its own slot
    assert slots[0] == "2026-12-01T08.30" and "2026-12-02T08.00" in slots
    confirm = operator.get(f"{path}/move/confirm?slot=2026-12-02T10.00")
    assert confirm.status_code == 200
    assert "Keluarga menerima 1 SMS" in confirm.text and code not in confirm.text
    assert "Rabu, 2 Desember 2026, 10.00 WIB" in confirm.text
    price = service.runtime.settings.gateway.price_per_segment
    assert f"1 SMS &times; Rp {price} = <strong>Rp {price}</strong>" in confirm.text
    moved = operator.post(f"{path}/move", {"slot": "2026-12-02T10.00"}, allow_redirects=False)
    assert moved.status_code == 303 and moved.headers["Location"].endswith(path)
    with service.runtime.db.connect() as connection:
        starts = connection.execute(select(PickupVisit.starts_at)).scalar_one()
    assert local(starts).strftime("%Y-%m-%d %H.%M") == "2026-12-02 10.00"
    service.worker.run_once()
    [sms] = service.received(PHONE)
    assert sms.startswith("Jadwal baru 2 KTP-el (NIK ***0001, ***0003): Rabu, 2 Desember 2026")
    assert f"Kode {code}" in sms
    assert [action for action, _, _ in audit(service, "application.")] == [
        "application.reschedule"] * 2
    # A slot not offered is refused, nothing moves.
    refused = operator.get(f"{path}/move/confirm?slot=2026-12-05T10.00").text
    assert "sudah tidak kosong" in refused


def test_another_familys_code_opens_nothing_on_this_visit(service):
    admin = signed_in(service, "admin1", "admin")
    (reference,), _ = scheduled(service, NIK)
    (other,), other_code = scheduled(service, NIK_2, kk=KK_2, phone=PHONE_2)
    path = search(admin, reference)
    refused = admin.post(f"{path}/handover", {"code": other_code}).text
    assert "tidak cocok" in refused and other_code not in refused
    assert admin.get(f"{path}/handover?kartu={reference}").status_code == 200  # asks again
    assert 'name="code"' in admin.get(path).text
    assert stages(service, [reference, other]) == ["pickup_scheduled"] * 2
