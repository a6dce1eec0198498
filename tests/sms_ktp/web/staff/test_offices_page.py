"""The pickup-office page over real HTTP: a change (capacity, hours, a closed date) is checked
with the configuration's rules, stored over the configuration file, audited, and used by the
next pickup allocation; an operator manages only their own office."""

from __future__ import annotations

import re
from datetime import datetime
from html import unescape

import pytest
from live_service import KK, NIK, NIK_2, PHONE, PHONE_2, LiveService
from sqlalchemy import select
from staff_browser import StaffBrowser, signed_in

from flows.dates import say_day
from gsm7.encoding import segments, septets
from sms_ktp.applications import office_settings, pickup, sms_budget
from sms_ktp.domain.pickup_calendar import WEEKDAYS, default_offices, local
from sms_ktp.models import Application, AuditEntry, OfficeSetting

NIK_3 = "3271015507880003"
KK_3 = "3271010101200077"  # a second family of kecamatan 01


def register(service: LiveService, phone: str, nik: str, kk: str) -> None:
    service.sms(phone, f"DAFTAR {nik}#{kk}#2")
    service.sms(phone, "YA")


def print_cards(service: LiveService, *niks: str) -> None:
    """Penunggalan passed, blangko in stock, printed: the cards wait for a pickup slot."""
    service.print_cards(*niks)
    service.worker.dispatch_outbox()
    service.received(PHONE)


def pickups(service: LiveService) -> dict[str, datetime | None]:
    with service.runtime.db.connect() as connection:
        rows = connection.execute(select(Application.__table__)).all()
    return {row.nik: local(row.pickup_at).replace(tzinfo=None) if row.pickup_at else None
            for row in rows}


def form(code: str = "01", **changes: str) -> dict[str, str]:
    """The office's form as the page fills it in (the defaults), with some fields changed."""
    entry = office_settings.as_entry(default_offices()[code])
    fields = {"name": entry["name"], "address": entry["address"],
              "slot_minutes": str(entry["slot_minutes"]), "capacity": str(entry["capacity"]),
              "add_dates": ""}
    fields.update({f"hours_{day}": entry["hours"].get(day, "") for day in WEEKDAYS})
    fields.update(changes)
    return fields


def stored(service: LiveService) -> dict[str, dict]:
    with service.runtime.db.connect() as connection:
        return office_settings.stored(connection)


def audit(service: LiveService) -> list[tuple[str, str, str, str]]:
    with service.runtime.db.connect() as connection:
        rows = connection.execute(select(AuditEntry.__table__).where(
            AuditEntry.__table__.c.action != "staff.login")).all()
    return [(row.actor, row.action, row.target, row.detail) for row in rows]


def text_of(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))




@pytest.fixture
def admin(service) -> StaffBrowser:
    return signed_in(service, "admin1", "admin")


def test_a_change_is_stored_audited_and_used_by_the_next_allocation(service, admin):
    register(service, PHONE, NIK, KK)
    register(service, PHONE_2, NIK_3, KK_3)
    print_cards(service, NIK, NIK_3)
    page = admin.get("/staff/offices")
    assert page.status_code == 200
    assert len(re.findall(r'<tr class="office"', page.text)) == 6
    assert "Senin–Kamis 08:00–15:00" in page.text and "Jumat 08:00–11:00" in page.text
    assert "selalu tutup" in page.text and "Cuti Bersama Hari Raya Natal" in page.text
    edit = admin.get("/staff/offices/01")
    assert 'name="capacity" type="number" min="1" max="1000" value="10"' in edit.text
    # Monday 30 November, 09:00: Tuesday is now closed, Wednesday opens at 09:00 with one card
    # an hour, so the two families get 09:00 and 10:00 on Wednesday.
    response = admin.post("/staff/offices/01", form(
        capacity="1", slot_minutes="60", hours_wednesday="09:00-12:00",
        address="Batutulis", add_dates="2026-12-01"))
    assert response.status_code == 200 and response.url.endswith("/staff/offices")
    assert "Pengaturan Kantor Kec. Bogor Selatan disimpan" in response.text
    assert stored(service) == {"01": {
        "address": "Batutulis", "capacity": 1, "slot_minutes": 60,
        "closed_dates": ["2026-12-01"],
        "hours": {"monday": "08:00-15:00", "tuesday": "08:00-15:00",
                  "wednesday": "09:00-12:00", "thursday": "08:00-15:00",
                  "friday": "08:00-11:00"}}}
    assert audit(service) == [(
        "staff:admin1", "office.update", "office 01",
        "address Kota Bogor->Batutulis; slot_minutes 30->60; capacity 10->1; "
        "hours.wednesday 08:00-15:00->09:00-12:00; closed +2026-12-01")]
    row = text_of(response.text.split('id="office-01"')[1].split("</tr>")[0])
    assert "Batutulis" in row and "60 menit" in row and "1 kartu" in row
    assert "Senin–Selasa 08:00–15:00 Rabu 09:00–12:00 Kamis 08:00–15:00" in row
    assert "2026-12-01" in row and "diubah petugas" in row
    assert "staff:admin1, 30 Nov 2026 09.00" in row

    runtime = service.runtime
    assert pickup.allocate(runtime.db, runtime.clock, runtime.pickup_policy()) == 2
    assert pickups(service) == {NIK: datetime(2026, 12, 2, 9, 0),
                                NIK_3: datetime(2026, 12, 2, 10, 0)}
    service.worker.dispatch_outbox()
    [sms] = service.received(PHONE)
    assert "Rabu, 2 Desember 2026, 09.00 WIB" in sms and "Batutulis" in sms


def test_a_closed_date_is_removed_and_the_office_reset(service, admin):
    admin.post("/staff/offices/02", form("02", add_dates="2026-12-07, 2026-12-08"))
    assert stored(service)["02"]["closed_dates"] == ["2026-12-07", "2026-12-08"]
    page = admin.get("/staff/offices/02")
    assert 'name="remove_date" value="2026-12-07"' in page.text
    admin.post("/staff/offices/02", {**form("02"), "remove_date": "2026-12-07"})
    assert stored(service) == {"02": {"closed_dates": ["2026-12-08"]}}
    assert service.runtime.pickup_policy().offices["02"].closed_dates == {
        datetime(2026, 12, 8).date()}
    reset = admin.post("/staff/offices/02/reset")
    assert "dikembalikan ke file konfigurasi" in reset.text
    assert stored(service) == {}
    assert service.runtime.pickup_policy().offices["02"].closed_dates == frozenset()
    assert [entry[3] for entry in audit(service)] == [
        "closed +2026-12-07; closed +2026-12-08", "closed -2026-12-07",
        "reset to the configuration file: closed -2026-12-08"]


def test_saving_without_a_change_records_nothing(service, admin):
    response = admin.post("/staff/offices/03", form("03"))
    assert "Tidak ada perubahan" in response.text
    assert stored(service) == {} and audit(service) == []


NAME_BUDGET = sms_budget.budget("office")
BOTH_BUDGET = sms_budget.budget("office", "address")
NAME = "Kantor Kec. Bogor Selatan"  # the default name of office 01


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"name": "Kantor Kecamatan Bogor Selatan, Kota Bogor, Jawa Barat"}, "name",
     f"Nama kantor 54 karakter GSM-7; paling banyak {NAME_BUDGET}"),
    ({"address": "Jl. Batutulis No. 1, Kel. Batutulis, Bogor Selatan"}, "address",
     f"Nama dan alamat kantor bersama {len(NAME) + 50} karakter GSM-7; paling banyak "
     f"{BOTH_BUDGET}"),
    # Fewer characters than the budget, but [ ] { } ~ ^ take two septets each in an SMS.
    ({"address": "[]{}~^[]{}~^[]{}"}, "address",
     f"Nama dan alamat kantor bersama {len(NAME) + 32} karakter GSM-7"),
])
def test_a_name_or_address_too_long_for_one_sms_is_refused(service, admin, changes, field,
                                                           message):
    response = admin.post("/staff/offices/01", form(**changes))
    assert response.status_code == 400
    assert f'href="#f-{field}"' in response.text and message in unescape(response.text)
    assert stored(service) == {} and audit(service) == []


def test_a_real_name_and_street_address_fit(service, admin):
    response = admin.post("/staff/offices/01", form(name=NAME, address="Jl. Batutulis No. 1"))
    assert response.status_code == 200 and response.url.endswith("/staff/offices")


def test_the_longest_name_and_address_the_form_takes_still_make_one_sms(service, admin):
    """At the budgets exactly, saved; the pickup SMS the family then gets is one SMS."""
    name = "Kec. Bogor Selatan"
    address = "Batutulis " + "x" * (BOTH_BUDGET - len(name) - len("Batutulis "))
    response = admin.post("/staff/offices/01", form(name=name, address=address))
    assert response.status_code == 200 and response.url.endswith("/staff/offices")
    assert stored(service)["01"]["address"] == address
    one_over = admin.post("/staff/offices/01", form(name=name, address=address + "y"))
    assert one_over.status_code == 400
    register(service, PHONE, NIK, KK)
    print_cards(service, NIK)
    runtime = service.runtime
    assert pickup.allocate(runtime.db, runtime.clock, runtime.pickup_policy()) == 1
    service.worker.run_once()
    [sms] = [text for text in service.received(PHONE) if "Bawa SMS ini" in text]
    assert address in sms and segments(sms) == 1 and septets(sms) <= 160


def test_the_form_counts_each_budget_for_the_browser(service, admin):
    page = admin.get("/staff/offices/01").text
    assert f'data-septets-of="name" data-septets-budget="{NAME_BUDGET}"' in page
    assert f'data-septets-of="name address" data-septets-budget="{BOTH_BUDGET}"' in page
    assert "septets.js" in page


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"capacity": "0"}, "capacity", "Isi bilangan bulat 1 sampai 1000."),
    ({"capacity": "banyak"}, "capacity", "Isi bilangan bulat 1 sampai 1000."),
    ({"slot_minutes": "241"}, "slot_minutes", "Isi bilangan bulat 5 sampai 240."),
    ({"hours_monday": "8-15"}, "hours_monday", "Tulis jam buka-tutup seperti 08:00-15:00"),
    ({"hours_monday": "15:00-08:00"}, "hours_monday", "Tulis jam buka-tutup seperti"),
    ({"slot_minutes": "240"}, "hours_friday", "Lebih pendek dari satu slot (240 menit)."),
    ({f"hours_{day}": "" for day in WEEKDAYS}, "hours",
     "Kantor harus buka paling sedikit satu hari dalam seminggu."),
    ({"add_dates": "31-12-2026"}, "add_dates", "31-12-2026 bukan tanggal TTTT-BB-HH"),
    ({"add_dates": "2026-02-30"}, "add_dates", "2026-02-30 bukan tanggal TTTT-BB-HH"),
    ({"add_dates": "2026-11-29"}, "add_dates", "2026-11-29 sudah lewat."),
    ({"name": " "}, "name", "Wajib diisi."),
])
def test_a_wrong_value_is_explained_on_the_form_and_nothing_stored(service, admin, changes,
                                                                   field, message):
    response = admin.post("/staff/offices/01", form(**changes))
    assert response.status_code == 400
    assert "Pengaturan belum disimpan" in response.text
    assert f'href="#f-{field}"' in response.text
    assert message in unescape(response.text)
    assert stored(service) == {} and audit(service) == []
    # what was typed stays in the form
    for key, value in changes.items():
        if key.startswith(("hours_", "capacity", "add_dates")) and value:
            assert f'value="{value}"' in response.text


def test_an_operator_manages_only_their_own_office(service):
    operator = signed_in(service, "op02", "operator", office="02")
    page = operator.get("/staff/offices")
    assert re.findall(r'<tr class="office" id="office-(\d\d)"', page.text) == ["02"]
    assert operator.get("/staff/offices/02").status_code == 200
    assert operator.get("/staff/offices/03").status_code == 403
    refused = operator.post("/staff/offices/03", form("03", capacity="50"))
    assert refused.status_code == 403
    assert operator.post("/staff/offices/03/reset").status_code == 403
    assert stored(service) == {}
    done = operator.post("/staff/offices/02", form("02", capacity="12"))
    assert done.status_code == 200
    assert stored(service) == {"02": {"capacity": 12}}
    assert audit(service) == [("staff:op02", "office.update", "office 02",
                               "capacity 10->12")]
    assert operator.get("/staff/offices/99").status_code == 404


def test_announced_pickups_on_a_newly_closed_day_are_pointed_out(service, admin):
    register(service, PHONE, NIK, KK)
    print_cards(service, NIK)
    runtime = service.runtime
    pickup.allocate(runtime.db, runtime.clock, runtime.pickup_policy())
    day = pickups(service)[NIK].date()
    response = admin.post("/staff/offices/01", form(add_dates=day.isoformat()))
    assert "Perhatian: 1 jadwal ambil yang sudah dikirim" in response.text
    assert pickups(service)[NIK].date() == day  # not moved until staff say so
    row = text_of(response.text.split('id="stranded-01"')[1].split("</tr>")[0])
    assert "1 jadwal ambil yang sudah dikirim jatuh pada hari atau jam yang kini tutup" in row


def test_pickups_on_a_newly_closed_day_are_moved_on_request_and_the_families_told(service,
                                                                                 admin):
    register(service, PHONE, NIK, KK)
    register(service, PHONE_2, NIK_3, KK_3)
    print_cards(service, NIK, NIK_3)
    runtime = service.runtime
    pickup.allocate(runtime.db, runtime.clock, runtime.pickup_policy())
    before = pickups(service)
    day = before[NIK].date()
    admin.post("/staff/offices/01", form(add_dates=day.isoformat()))
    service.worker.dispatch_outbox()
    already = len(service.sent())

    response = admin.post("/staff/offices/01/move-closed", {})
    assert response.status_code == 200 and response.url.endswith("/staff/offices")
    assert "2 jadwal ambil Kantor Kec. Bogor Selatan dipindah" in response.text
    assert 'id="stranded-01"' not in response.text
    after = pickups(service)
    assert all(after[nik].date() > day for nik in (NIK, NIK_3))
    assert runtime.pickup_policy().offices["01"].closed_dates == {day}
    service.worker.dispatch_outbox()
    told = service.sent()[already:]
    for phone, nik in ((PHONE, NIK), (PHONE_2, NIK_3)):
        [sms] = [message["text"] for message in told if message["to"] == phone]
        assert sms.startswith(f"Jadwal baru KTP-el NIK ***{nik[-4:]}:")
        assert say_day("id", after[nik].date()) in sms
    assert audit(service)[-1] == ("staff:admin1", "office.pickups_moved", "office 01",
                                  "2 moved to the next free slot, 0 without a free slot")
    again = admin.post("/staff/offices/01/move-closed", {})
    assert "Tidak ada jadwal ambil pada hari atau jam tutup." in again.text


def test_a_family_visit_on_a_newly_closed_day_moves_once_with_all_its_cards(service, admin):
    register(service, PHONE, NIK, KK)
    register(service, PHONE, NIK_2, KK)  # the same family, the same phone
    print_cards(service, NIK, NIK_2)
    runtime = service.runtime
    pickup.allocate(runtime.db, runtime.clock, runtime.pickup_policy())
    day = pickups(service)[NIK].date()
    admin.post("/staff/offices/01", form(add_dates=day.isoformat()))
    service.worker.dispatch_outbox()
    already = len(service.sent())

    response = admin.post("/staff/offices/01/move-closed", {})

    assert "1 jadwal ambil Kantor Kec. Bogor Selatan dipindah" in response.text
    after = pickups(service)
    assert after[NIK] == after[NIK_2] and after[NIK].date() > day
    service.worker.dispatch_outbox()
    [sms] = [message["text"] for message in service.sent()[already:]]
    assert sms.startswith(f"Jadwal baru 2 KTP-el (NIK ***{NIK[-4:]}, ***{NIK_2[-4:]}):")


@pytest.mark.parametrize("role", ["viewer", "helper"])
def test_viewers_and_helpers_are_refused(service, role):
    browser = signed_in(service, "someone", role, "01" if role == "operator" else None)
    assert browser.get("/staff/offices").status_code == 403
    assert browser.get("/staff/offices/01").status_code == 403
    assert browser.post("/staff/offices/01", form(capacity="50")).status_code == 403
    assert stored(service) == {}


def test_a_post_without_the_csrf_token_is_refused(service, admin):
    response = admin.post("/staff/offices/01", form(capacity="50"), csrf=False)
    assert response.status_code == 400 and "Formulir tidak dapat diproses" in response.text
    assert stored(service) == {}


def test_a_change_reaches_a_worker_in_another_process(service, admin):
    """The worker's runtime is its own (another process): it reads the change within its
    check interval."""
    from sms_ktp.runtime import Runtime

    worker = Runtime(service.runtime.settings, service.runtime.db, service.runtime.clock)
    ticks = [0.0]
    worker.monotonic = lambda: ticks[0]
    assert worker.pickup_policy().offices["04"].capacity == 10
    admin.post("/staff/offices/04", form("04", capacity="25"))
    assert worker.pickup_policy().offices["04"].capacity == 10  # within the interval
    ticks[0] += worker.office_check_seconds
    assert worker.pickup_policy().offices["04"].capacity == 25
    with service.runtime.db.connect() as connection:
        row = connection.execute(select(OfficeSetting.__table__)).one()
    assert row.updated_by == "staff:admin1"
    assert row.updated_at == service.runtime.clock.now()
