"""The family's phone changed in the browser: a helper finds the family by its old phone (a
POST: no number in a URL), types the KK from the card and the new phone, reads the code back
from the new phone; the family's SMS go to the new phone, the old phone is told, it is audited.
Helpers reach the families of their kecamatan only."""

from __future__ import annotations

import re

import pytest
from live_service import KK, KK_2, NIK, NIK_2, PHONE, PHONE_2, LiveService
from sqlalchemy import select
from staff_browser import signed_in

from sms_ktp.models import AuditEntry, Family

# What staff see and do; the queries behind the page run on both engines in
# tests/sms_ktp/applications/test_phone_change.py.
pytestmark = pytest.mark.parametrize("database", ["sqlite"], indirect=True)

REF = re.compile(r"ref (\d{9})")
NEW = "+6281311112222"


def register(service: LiveService, nik: str, kk: str = KK, phone: str = PHONE) -> str:
    service.sms(phone, f"DAFTAR {nik}#{kk}#2")
    return REF.search(service.sms(phone, "YA")[0]).group(1)




def family_id(service: LiveService, phone: str) -> int:
    with service.runtime.db.connect() as connection:
        return connection.execute(select(Family.id).where(Family.phone == phone)).scalar_one()


def test_a_helper_changes_a_familys_phone_with_the_code_from_the_new_phone(service):
    reference = register(service, NIK)
    service.received(PHONE)
    helper = signed_in(service, "pendamping", "helper", "3271011001")  # kecamatan 01
    found = helper.post("/staff/phone", {"q": "0812 3456 7890"})
    assert "Hasil: 1 keluarga" in found.text and "KK ***0003" in found.text
    assert reference in found.text and KK not in found.text and PHONE not in found.text
    family = family_id(service, PHONE)
    path = f"/staff/families/{family}/phone"
    assert f'href="{path}"' in found.text
    wrong_kk = helper.post(path, {"kk": KK_2, "phone": "0813 1111 2222"})
    assert "tidak cocok dengan keluarga ini" in wrong_kk.text
    assert service.received(NEW) == []
    sent = helper.post(path, {"kk": KK, "phone": "0813 1111 2222"}, allow_redirects=False)
    assert sent.status_code == 303 and sent.headers["Location"].endswith(path)
    page = helper.get(path).text
    assert "Kode dikirim lewat SMS ke +62***222" in page and "Langkah 2" in page
    service.worker.run_once()
    [sms] = service.received(NEW)
    code = re.search(r"(\d{6})", sms).group(1)
    assert code not in page
    # nor on the messages page, where an admin reads every SMS sent
    admin = signed_in(service, "admin1", "admin")
    messages = admin.get("/staff/messages").text
    assert "ganti nomor HP" in messages and code not in messages
    wrong = helper.post(f"{path}/confirm", {"code": "12345" if code != "12345" else "54321"})
    assert "Kode salah. Sisa 4 kali coba." in wrong.text
    done = helper.post(f"{path}/confirm", {"code": code}).text
    assert "Nomor HP keluarga diganti ke +62***222" in done
    assert '<dd class="nowrap" id="current-phone">+62***222</dd>' in done
    with service.runtime.db.connect() as connection:
        assert connection.execute(select(Family.phone).where(Family.id == family)
                                  ).scalar_one() == NEW
        audit = connection.execute(select(AuditEntry.actor, AuditEntry.action,
                                          AuditEntry.target, AuditEntry.detail)
                                   .where(AuditEntry.action.like("family.%"))
                                   .order_by(AuditEntry.id)).all()
    assert [tuple(row[:3]) for row in audit] == [
        ("staff:pendamping", "family.phone_code", f"family {family}"),
        ("staff:pendamping", "family.phone_change", f"family {family}")]
    assert all(PHONE not in row.detail and NEW not in row.detail for row in audit)
    service.worker.run_once()
    assert service.received(PHONE) == [
        "SMS KTP-el keluarga KK ***0003 kini dikirim ke +62***222, diganti petugas. Bila "
        "keluarga tidak meminta, segera datang ke kelurahan membawa KK asli."]
    # the family's next SMS reach the new phone, and its status answers there
    assert f"Ref {reference}" in " ".join(service.sms(NEW, f"STATUS {reference}"))
    timeline = helper.get(f"/staff/applications/{reference}").text
    assert "nomor HP keluarga diganti ke +62***222" in timeline


def test_staff_reach_only_the_families_of_their_area(service):
    register(service, NIK_2, KK_2, PHONE_2)  # kecamatan 06
    other = family_id(service, PHONE_2)
    helper = signed_in(service, "pendamping", "helper", "3271011001")
    assert "Hasil: 0 keluarga" in helper.post("/staff/phone", {"q": KK_2}).text
    assert helper.get(f"/staff/families/{other}/phone").status_code == 404
    refused = helper.post(f"/staff/families/{other}/phone", {"kk": KK_2, "phone": NEW})
    assert refused.status_code == 404
    operator = signed_in(service, "op06", "operator", "06")
    assert "Hasil: 1 keluarga" in operator.post("/staff/phone", {"q": KK_2}).text
    viewer = signed_in(service, "pemantau", "viewer")
    assert viewer.get("/staff/phone").status_code == 403
    service.worker.run_once()
    assert service.received(NEW) == []
