"""The national-system integration: penunggalan results as JSON behind a bearer token."""

from __future__ import annotations

import re

from live_service import KK, NIK, PHONE
from sqlmodel import select

from sms_ktp.models import Application

REF = re.compile(r"ref (\d{9})")
TOKEN = "integration-secret-0123456789"


def post(service, body, token: str | None = TOKEN):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return service.http.post(f"{service.base_url}/integration/penunggalan", json=body,
                             headers=headers, timeout=10)


def test_the_endpoint_applies_results_and_answers_the_summary(service):
    service.runtime.settings.integration.token = TOKEN
    service.sms(PHONE, f"DAFTAR {NIK}#{KK}#2")
    service.sms(PHONE, "YA")
    body = {"results": [{"nik": NIK, "result": "PRR", "note": ""},
                        {"nik": "3271014501909999", "result": "DUPLICATE"},
                        {"nik": "123", "result": "PRR"}, "nonsense"]}
    response = post(service, body)
    assert response.status_code == 200
    assert response.json() == {
        "applied": 1, "unknown_nik": 1, "already_applied": 0,
        "invalid": [{"line": 3, "reason": "NIK harus 16 angka (tertulis '***')"},
                    {"line": 4, "reason": "setiap hasil harus berupa objek JSON"}]}
    with service.runtime.db.transaction() as session:
        assert session.exec(select(Application.stage)).one() == "print_queue"
    assert post(service, body).json()["already_applied"] == 1


def test_the_endpoint_refuses_strangers_and_bad_bodies(service):
    assert post(service, {"results": []}).status_code == 404  # no token configured: no endpoint
    service.runtime.settings.integration.token = TOKEN
    assert post(service, {"results": []}, token=None).status_code == 401
    assert post(service, {"results": []}, token="guess").status_code == 401
    response = post(service, {"rows": []})
    assert response.status_code == 400 and "results" in response.json()["error"]
    response = service.http.post(f"{service.base_url}/integration/penunggalan", data="{oops",
                                 headers={"Authorization": f"Bearer {TOKEN}",
                                          "Content-Type": "application/json"})
    assert response.status_code == 400
