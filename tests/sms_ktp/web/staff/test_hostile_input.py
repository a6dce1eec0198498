"""Hostile input to the back office that once failed with a 500 (found by the fuzz tests), kept
here as plain cases: NUL characters anywhere in a request, page numbers past what a database
OFFSET holds, a penunggalan CSV with a lone carriage return or a huge field, and a NUL in a
penunggalan note (the upload, the CLI and the integration endpoint share that import)."""

from __future__ import annotations

import pytest
from live_service import KK, NIK, PHONE
from sqlalchemy import select

from sms_ktp.applications import penunggalan
from sms_ktp.models import ApplicationEvent


@pytest.mark.parametrize(("method", "path", "data"), [
    ("get", "/staff/audit?q=a%00b", None),
    ("get", "/staff/applications?q=%00", None),
    ("get", "/staff/applications/1234%0056789", None),
    ("post", "/staff/register", {"nik": NIK, "kk": KK, "reason": "hilang", "phone": PHONE,
                                 "language": "id\x00"}),
    ("post", "/staff/broadcasts/new", {"text": "Kantor\x00 tutup", "audience": "all",
                                       "when": "now"}),
    ("post", "/staff/offices/01", {"name": "Kantor\x00", "address": "Jl. X"}),
    ("post", "/staff/login", {"username": "admin1\x00", "password": "x"}),
])
def test_a_nul_character_anywhere_is_refused_with_400(service, admin, method, path, data):
    response = admin.get(path) if method == "get" else admin.post(path, data)
    assert response.status_code == 400
    assert response.text.startswith("bad request: NUL character in field")


def test_an_uploaded_file_named_with_a_nul_is_refused(service, admin):
    response = admin.post("/staff/penunggalan",
                          files={"file": ("hasil\x00.csv", b"nik,result,note\n", "text/csv")})
    assert response.status_code == 400


@pytest.mark.parametrize("path", ["/staff/audit", "/staff/applications", "/staff/messages",
                                  "/staff/broadcasts", "/staff/blangko"])
def test_a_page_number_past_any_list_shows_an_empty_page(service, admin, path):
    response = admin.get(path, params={"page": "99999999999999999999"})
    assert response.status_code == 200


def test_a_csv_with_a_lone_carriage_return_is_read_not_refused(service, admin):
    response = admin.post("/staff/penunggalan", files={"file": (
        "hasil.csv", f"nik,result,note\n{NIK},PRR,\r0".encode(), "text/csv")})
    assert response.status_code == 200


def test_a_csv_field_over_the_readers_limit_is_an_invalid_line():
    summary = penunggalan.Summary()
    text = f"nik,result,note\n{NIK},PRR,\n{NIK},PRR,\"{'x' * 200_000}\"\n"
    assert [row.line for row in penunggalan.read_csv(text, summary)] == [2]
    assert summary.invalid == [(3, "tidak terbaca sebagai CSV: satu kolom lebih panjang dari "
                                   "131072 karakter")]


def test_a_nul_in_a_penunggalan_note_is_dropped_not_stored(service):
    service.sms(PHONE, f"DAFTAR {NIK}#{KK}#2")
    service.sms(PHONE, "YA")
    service.runtime.settings.integration.token = "integration-secret-0123456789"
    response = service.http.post(
        f"{service.base_url}/integration/penunggalan",
        json={"results": [{"nik": NIK, "result": "DUPLICATE", "note": "rekam\u0000 ganda"}]},
        headers={"Authorization": "Bearer integration-secret-0123456789"}, timeout=10)
    assert response.status_code == 200 and response.json()["applied"] == 1
    with service.runtime.db.connect() as connection:
        notes = connection.execute(select(ApplicationEvent.__table__.c.note)).scalars().all()
    assert "penunggalan DUPLICATE: rekam ganda" in notes
