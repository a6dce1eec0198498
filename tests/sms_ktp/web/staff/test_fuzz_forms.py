"""Property-based fuzzing of the staff back office's forms over real HTTP, signed in as an
admin (CSRF tokens followed as a browser would): sign-in, searches, assisted registration,
broadcast compose, office settings and the penunggalan upload get arbitrary Unicode, control
characters, huge values, injection strings and random extra or missing fields.

Whatever arrives: never a 500 and nothing logged at ERROR, every SMS queued is one GSM-7 SMS,
no template is evaluated, and the tables are all still there.
"""

from __future__ import annotations

from collections.abc import Iterator
from html import unescape
from typing import Any

import pytest
import requests
from fuzzing import EXAMPLES, FUZZ, NASTY, ErrorLog, error_log, evaluated, texts
from hypothesis import given, settings
from hypothesis import strategies as st
from live_service import KK, NIK, PHONE, LiveService
from sqlalchemy import inspect, select
from sqlmodel import SQLModel
from staff_browser import StaffBrowser, make_staff

from gsm7.encoding import GSM7_SINGLE, septets
from sms_ktp.domain.pickup_calendar import WEEKDAYS
from sms_ktp.models import OutboxMessage

FEW = settings(FUZZ, max_examples=max(1, EXAMPLES * 2 // 5))
VALUES = texts(120)


@pytest.fixture
def errors() -> Iterator[ErrorLog]:
    with error_log() as handler:
        yield handler


@pytest.fixture
def admin(service: LiveService) -> StaffBrowser:
    make_staff(service.runtime.db, "admin1", "admin")
    browser = StaffBrowser(service.base_url)
    assert browser.login("admin1").status_code == 200
    return browser


def forms(fields: dict[str, st.SearchStrategy[str]]) -> st.SearchStrategy[dict[str, str]]:
    """The form's fields, each present or not, plus a few strangers."""
    return st.tuples(st.fixed_dictionaries({}, optional=fields),
                     st.dictionaries(st.text(max_size=12), texts(40), max_size=3)
                     ).map(lambda parts: {**parts[1], **parts[0]})


def answered(response: requests.Response, errors: ErrorLog) -> None:
    assert response.status_code < 500, response.text[:500]
    assert not errors.records, errors.messages()


def check_outbox(service: LiveService) -> None:
    with service.runtime.db.connect() as connection:
        queued = connection.execute(select(OutboxMessage.__table__.c.text)).scalars().all()
    for text in queued:
        length = septets(text)
        assert length is not None and length <= GSM7_SINGLE, text
        assert not evaluated(text), text


def check_still_whole(service: LiveService, errors: ErrorLog) -> None:
    assert errors.messages() == []
    tables = set(inspect(service.runtime.db.engine).get_table_names())
    assert set(SQLModel.metadata.tables) <= tables


def test_sign_in_survives_anything(service, errors):
    make_staff(service.runtime.db, "admin1", "admin")
    stranger = StaffBrowser(service.base_url)

    @FEW
    @given(form=forms({"username": st.sampled_from(["admin1", "", "ADMIN1"]) | VALUES,
                       "password": VALUES, "next": st.sampled_from(["/staff/", "//evil.example",
                                                                    "javascript:x"]) | VALUES}))
    def sign_in(form: dict[str, str]) -> None:
        response = stranger.post("/staff/login", form, allow_redirects=False)
        answered(response, errors)
        assert response.status_code != 302 or not response.headers["Location"].startswith(
            ("//", "http", "javascript")), response.headers["Location"]

    sign_in()
    check_still_whole(service, errors)


def test_searches_survive_anything(service, admin, errors):
    service.sms(PHONE, f"DAFTAR {NIK}#{KK}#2")
    pages = st.sampled_from(["1", "0", "-1", "2", "99999999999999999999"]) | texts(10)

    @FUZZ
    @given(path=st.sampled_from(["/staff/applications", "/staff/messages", "/staff/audit",
                                 "/staff/broadcasts", "/staff/blangko",
                                 "/staff/broadcasts/recipients"]),
           query=forms({"q": VALUES, "phone": VALUES, "status": VALUES, "direction": VALUES,
                        "page": pages, "audience": VALUES}))
    def search(path: str, query: dict[str, str]) -> None:
        # Cut so that the URL stays within what the HTTP server reads (it answers 414 itself).
        query = {name[:40]: value[:500] for name, value in query.items()}
        answered(admin.get(path, params=query), errors)

    search()
    check_still_whole(service, errors)


@pytest.mark.parametrize("payload", ["{{7*7}}", "${7*7}", "{% raw %}"])
def test_a_search_shows_what_was_typed_and_evaluates_nothing(service, admin, payload):
    page = admin.get("/staff/applications", params={"q": payload})
    assert page.status_code < 500
    assert payload in unescape(page.text)


def test_assisted_registration_survives_anything(service, admin, errors):
    numbers = st.sampled_from([NIK, KK, "3271014501900000", ""]) | VALUES

    @FUZZ
    @given(form=forms({"nik": numbers, "kk": numbers,
                       "reason": st.sampled_from(["baru", "hilang", "rusak", "perubahan", "1"])
                       | VALUES, "suket": VALUES,
                       "phone": st.sampled_from([PHONE, "081234567891", "4444"]) | VALUES,
                       "language": st.sampled_from(["id", "en", "xx"]) | VALUES,
                       "consent": st.sampled_from(["1", "yes", "on"]) | VALUES}))
    def register(form: dict[str, str]) -> None:
        answered(admin.post("/staff/register", form), errors)

    register()
    check_outbox(service)
    check_still_whole(service, errors)


def test_broadcast_compose_survives_anything(service, admin, errors):
    service.sms(PHONE, f"DAFTAR {NIK}#{KK}#2")
    service.sms(PHONE, "YA")  # one family to broadcast to

    @FUZZ
    @given(form=forms({"text": VALUES, "audience": st.sampled_from(
                          ["all", "kecamatan:01", "stage:submitted", "kecamatan:99",
                           "stage:nope", ""]) | VALUES,
                       "when": st.sampled_from(["now", "later"]) | VALUES,
                       "send_at": st.sampled_from(["2026-12-01T09:00", "2020-01-01T00:00",
                                                   "9999-99-99T99:99"]) | VALUES,
                       "action": st.sampled_from(["preview", "send"]) | VALUES}))
    def compose(form: dict[str, str]) -> None:
        answered(admin.post("/staff/broadcasts/new", form), errors)

    compose()
    check_outbox(service)
    check_still_whole(service, errors)


def test_office_settings_survive_anything(service, admin, errors):
    hours = st.sampled_from(["08:00-15:00", "15:00-08:00", "25:00-26:00", "", "08:00-08:05"])
    fields: dict[str, st.SearchStrategy[Any]] = {
        "name": VALUES, "address": VALUES,
        "slot_minutes": st.integers(-5, 10**6).map(str) | VALUES,
        "capacity": st.integers(-5, 10**6).map(str) | VALUES,
        "add_dates": st.sampled_from(["2027-01-04", "2020-01-01", "2027-02-30",
                                      "2027-01-04, 2027-01-05"]) | VALUES,
        "remove_date": VALUES,
        **{f"hours_{day}": hours | VALUES for day in WEEKDAYS}}

    @FEW
    @given(code=st.sampled_from(["01", "06", "07", "00"]) | texts(8), form=forms(fields))
    def office(code: str, form: dict[str, str]) -> None:
        path = f"/staff/offices/{requests.utils.quote(code[:100], safe='')}"
        answered(admin.post(path, form), errors)

    office()
    check_still_whole(service, errors)


def test_penunggalan_upload_survives_anything(service, admin, errors):
    service.sms(PHONE, f"DAFTAR {NIK}#{KK}#2")
    service.sms(PHONE, "YA")  # a NIK the results can apply to (timeline notes, SMS)
    rows = st.lists(st.tuples(st.sampled_from([NIK, "3271014501909999", ""]) | texts(30),
                              st.sampled_from(["PRR", "DUPLICATE", "prr", "MAYBE"]) | texts(20),
                              texts(40)), max_size=6)
    csv_text = rows.map(lambda found: "nik,result,note\n" + "\n".join(
        ",".join(row) for row in found))
    contents = st.one_of(csv_text.map(lambda text: text.encode("utf-8", "surrogatepass")),
                         st.binary(max_size=400),
                         st.sampled_from(NASTY).map(lambda text: text.encode()))

    @FEW
    @given(content=contents, name=st.sampled_from(["hasil.csv", "", "../../x.csv"]) | texts(30),
           extra=forms({"note": VALUES}))
    def upload(content: bytes, name: str, extra: dict[str, str]) -> None:
        response = admin.post("/staff/penunggalan", extra,
                              files={"file": (name, content, "text/csv")})
        answered(response, errors)

    upload()
    check_outbox(service)
    check_still_whole(service, errors)
