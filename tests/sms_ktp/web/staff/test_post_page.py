"""The Kiriman pos page over real HTTP: a family asks by SMS (KIRIM), staff see the parcel with
masked NIKs only, record its tracking number (the family gets one SMS) and its delivery, each
step audited; an operator sees and acts on their own office's parcels only, and the roles that
do not hand cards over do not reach the page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from live_service import KK, KK_2, NIK, NIK_2, PHONE, PHONE_2, LiveService, start_service
from sqlalchemy import select
from staff_browser import signed_in

from sms_ktp.models import Application, AuditEntry

REF = re.compile(r"ref (\d{9})")
MONDAY_0900 = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
NIK_3 = "3271015507880003"  # a second member of the first family


@pytest.fixture
def posting(database, clock, tmp_path) -> Iterator[LiveService]:
    def configure(settings) -> None:
        settings.delivery.post = True

    yield from start_service(database, clock, tmp_path, configure=configure)


def asked_to_post(service: LiveService, phone: str, kk: str, *niks: str) -> list[str]:
    """A family's cards printed, scheduled, and asked to be posted (KIRIM); references."""
    references = []
    for nik in niks:
        service.sms(phone, f"DAFTAR {nik}#{kk}#2")
        references.append(REF.search(service.sms(phone, "YA")[0]).group(1))
    service.print_cards(*niks)
    service.worker.run_once()
    service.received(phone)
    assert service.sms(phone, "KIRIM")[0].endswith("Balas YA untuk kirim pos, TIDAK untuk tetap "
                                                   "ambil.")
    assert "akan dikirim Pos Indonesia" in service.sms(phone, "YA")[0]
    return references




def stages(service: LiveService, *references: str) -> list[str]:
    with service.runtime.db.connect() as connection:
        return list(connection.execute(select(Application.stage)
                                       .where(Application.reference.in_(references))
                                       .order_by(Application.id)).scalars())


def audit(service: LiveService) -> list[tuple[str, str, str]]:
    with service.runtime.db.connect() as connection:
        return [tuple(row) for row in connection.execute(
            select(AuditEntry.action, AuditEntry.target, AuditEntry.detail)
            .where(AuditEntry.action.like("application.post%")).order_by(AuditEntry.id))]


def test_staff_post_a_family_parcel_and_record_its_delivery(posting, clock):
    service = posting
    clock.set(MONDAY_0900)
    first, second = asked_to_post(service, PHONE, KK, NIK, NIK_3)
    admin = signed_in(service, "admin1", "admin")

    page = admin.get("/staff/post")
    assert page.status_code == 200
    assert ">Kiriman pos</a>" in page.text  # in the navigation
    assert "Menunggu dikirim: 1 kiriman" in page.text
    assert first in page.text and second in page.text and "***0001" in page.text
    assert NIK not in page.text and NIK_3 not in page.text and KK not in page.text

    refused = admin.post(f"/staff/post/{second}/sent", {"tracking": NIK})
    assert "Nomor kiriman tidak sah" in refused.text
    assert stages(service, first, second) == ["post_requested"] * 2

    done = admin.post(f"/staff/post/{second}/sent", {"tracking": "p2212 0100 123"})
    assert "2 KTP-el tercatat dikirim, nomor kiriman P22120100123." in done.text
    assert "Dalam perjalanan: 1 kiriman" in done.text and "P22120100123" in done.text
    assert stages(service, first, second) == ["posted"] * 2
    service.worker.run_once()
    assert service.received(PHONE) == [
        "2 KTP-el (NIK ***0001, ***0003) sudah diserahkan ke Pos Indonesia untuk dikirim ke "
        "alamat di KK. Nomor kiriman: P22120100123. Bayar Rp 9.000 ke kurir."]

    arrived = admin.post(f"/staff/post/{first}/delivered")
    assert "2 KTP-el tercatat sudah sampai di alamat KK." in arrived.text
    assert "Tidak ada kiriman dalam perjalanan." in arrived.text
    assert stages(service, first, second) == ["delivered"] * 2
    service.worker.run_once()
    assert service.received(PHONE) == []
    # The log masks any long run of digits, a tracking number's too (it never holds a NIK).
    assert audit(service) == [
        ("application.post_sent", f"application {first}",
         "diserahkan ke kurir, nomor kiriman P***0123"),
        ("application.post_sent", f"application {second}",
         "diserahkan ke kurir, nomor kiriman P***0123"),
        ("application.post_delivered", f"application {first}", "kiriman sampai di alamat KK"),
        ("application.post_delivered", f"application {second}", "kiriman sampai di alamat KK")]


def test_an_operator_works_on_their_own_offices_parcels_only(posting, clock):
    service = posting
    clock.set(MONDAY_0900)
    [ours] = asked_to_post(service, PHONE, KK, NIK)  # kecamatan 01
    [theirs] = asked_to_post(service, PHONE_2, KK_2, NIK_2)  # kecamatan 06
    operator = signed_in(service, "op6", "operator", office="06")

    page = operator.get("/staff/post")
    assert theirs in page.text and ours not in page.text
    refused = operator.post(f"/staff/post/{ours}/sent", {"tracking": "P22120100123"})
    assert "Kiriman ini tidak (lagi) menunggu langkah ini." in refused.text
    assert stages(service, ours) == ["post_requested"]
    operator.post(f"/staff/post/{theirs}/sent", {"tracking": "P22120100999"})
    assert stages(service, theirs) == ["posted"]


@pytest.mark.parametrize("role", ["helper", "viewer"])
def test_the_roles_that_hand_no_cards_over_are_refused(service, role):
    browser = signed_in(service, f"{role}1", role)
    assert browser.get("/staff/post").status_code == 403
    assert browser.post("/staff/post/123456789/delivered").status_code == 403


def test_without_posting_the_page_stays_for_the_parcels_left_and_leaves_the_menu(service):
    admin = signed_in(service, "admin1", "admin")
    page = admin.get("/staff/post")
    assert page.status_code == 200 and "Pengiriman pos sedang tidak ditawarkan" in page.text
    assert ">Kiriman pos</a>" not in page.text
    assert admin.post("/staff/post/123456789/sent", {"tracking": "P22120100123"},
                      csrf=False).status_code == 400  # every form needs its CSRF token
