"""Property-based fuzzing of the four Africa's Talking webhooks over real HTTP: arbitrary
Unicode, control characters, huge values, injection strings, missing and extra fields, other
content types and encodings.

Whatever arrives: never a 500 and nothing logged at ERROR; every SMS queued is one GSM-7 SMS
(at most 160 septets); every USSD screen starts `CON `/`END ` and fits 182 characters; no
template is ever evaluated (`{{7*7}}` never comes back as 49); the tables are all still there.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from fuzzing import EXAMPLES, FUZZ, TEMPLATE_INJECTION, ErrorLog, error_log, evaluated, texts
from hypothesis import given, settings
from hypothesis import strategies as st
from live_service import KK, NIK, PHONE, PHONE_2, LiveService
from sqlalchemy import inspect, select
from sqlmodel import SQLModel

from gsm7.encoding import GSM7_SINGLE, septets
from sms_ktp.models import OutboxMessage

PHONES = st.one_of(
    st.sampled_from([PHONE, PHONE_2, "081234567890", "0812-3456-7890", "6281234567890"]),
    st.integers(10_000_000, 99_999_999).map(lambda n: f"+62812{n}"),  # a fresh mobile
    st.sampled_from(["4444", "98765", "TELKOMSEL", "+62251123456", "+", "", "0" * 41,
                     "+6281234567890\x00", "+62 812 3456 7890'; --"]),
    texts(40),
)
CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "application/json",
                 "text/plain", "application/octet-stream", "",
                 "application/x-www-form-urlencoded; charset=latin-1",
                 "multipart/form-data; boundary=", "application/x-www-form-urlencoded; garbage")


@st.composite
def callbacks(draw: st.DrawFn, fields: dict[str, st.SearchStrategy[str]]) -> dict[str, Any]:
    """A callback's form: the endpoint's fields, each present or not, plus a few strangers; and
    how it travels (encoding, content type)."""
    form = draw(st.fixed_dictionaries({}, optional=fields))
    form.update(draw(st.dictionaries(st.text(max_size=12), texts(50), max_size=3)))
    return {"form": form, "how": draw(st.sampled_from(
        ["form"] * 6 + ["multipart", "json", "latin-1", "raw", "wrong-type"])),
        "content_type": draw(st.sampled_from(CONTENT_TYPES)),
        "raw": draw(st.binary(max_size=300))}


def post(service: LiveService, path: str, call: dict[str, Any]) -> requests.Response:
    url, form, how = service.url(path), call["form"], call["how"]
    if how == "form":
        return service.http.post(url, data=form, timeout=30)
    if how == "multipart":
        files = {name: (None, value.encode("utf-8", "surrogatepass"))
                 for name, value in form.items()} or {"x": (None, b"")}
        return service.http.post(url, files=files, timeout=30)
    if how == "json":
        return service.http.post(url, data=json.dumps(form),
                                 headers={"Content-Type": "application/json"}, timeout=30)
    if how == "latin-1":
        body = urlencode(form, encoding="latin-1", errors="replace")
        return service.http.post(url, data=body, timeout=30, headers={
            "Content-Type": "application/x-www-form-urlencoded"})
    body = call["raw"] if how == "raw" else urlencode(form).encode()
    return service.http.post(url, data=body, headers={"Content-Type": call["content_type"]},
                             timeout=30)


@pytest.fixture
def errors() -> Iterator[ErrorLog]:
    with error_log() as handler:
        yield handler


class Outbox:
    """The SMS queued since the last look."""

    def __init__(self, service: LiveService) -> None:
        self.service = service
        self.seen = 0

    def new(self) -> list[str]:
        table = OutboxMessage.__table__
        with self.service.runtime.db.connect() as connection:
            found = connection.execute(select(table.c.id, table.c.text)
                                       .where(table.c.id > self.seen)
                                       .order_by(table.c.id)).all()
        if found:
            self.seen = found[-1].id
        return [row.text for row in found]


def check_sms(texts_queued: list[str], sent: str) -> None:
    for text in texts_queued:
        length = septets(text)
        assert length is not None, f"not GSM-7: {text!r}"
        assert length <= GSM7_SINGLE, f"{length} septets: {text!r}"
        if "7*7" in sent or "7*'7'" in sent:
            assert not evaluated(text), text


def check_still_whole(service: LiveService, errors: ErrorLog) -> None:
    assert errors.messages() == []
    tables = set(inspect(service.runtime.db.engine).get_table_names())
    assert set(SQLModel.metadata.tables) <= tables


def answered(response: requests.Response, errors: ErrorLog) -> None:
    assert response.status_code < 500, response.text[:300]
    assert response.status_code in (200, 400, 413), (response.status_code, response.text[:300])
    assert not errors.records, errors.messages()


ids = itertools.count(1)


def fresh_id(value: str | None) -> str | None:
    """Mostly a new provider id (so that the SMS is handled, not taken for a retry)."""
    return f"ATXid_fuzz_{next(ids)}" if value == "new" else value


SMS_FIELDS = {"id": st.sampled_from(["new"] * 8 + ["ATXid_same"]) | texts(110),
              "from": PHONES, "to": st.sampled_from(["98765", "4444", ""]) | texts(50),
              "text": texts(), "date": st.just("2026-11-30 09:00:00") | texts(50),
              "linkId": texts(120), "networkCode": st.just("51010") | texts(30)}


def test_the_sms_webhook_survives_anything(service, errors):
    outbox = Outbox(service)

    @FUZZ
    @given(call=callbacks(SMS_FIELDS))
    def sms(call: dict[str, Any]) -> None:
        if "id" in call["form"]:
            call["form"]["id"] = fresh_id(call["form"]["id"])
        response = post(service, "/sms", call)
        answered(response, errors)
        check_sms(outbox.new(), call["form"].get("text") or "")

    sms()
    check_still_whole(service, errors)


USSD_INPUTS = st.lists(st.sampled_from(["1", "2", "3", "4", "0", "00", "9", "", NIK, KK,
                                        "3271014501900000", "99", "1*2"]) | texts(30),
                       max_size=8).map("*".join)
USSD_FIELDS = {"sessionId": st.sampled_from(["ATUid_1", "ATUid_2", "ATUid_3"]) | texts(110),
               "serviceCode": st.just("*123*45#") | texts(50), "phoneNumber": PHONES,
               "networkCode": st.just("51010") | texts(30),
               "text": USSD_INPUTS | texts(300)}


def test_the_ussd_webhook_survives_anything(service, errors):
    outbox = Outbox(service)

    @FUZZ
    @given(call=callbacks(USSD_FIELDS))
    def ussd(call: dict[str, Any]) -> None:
        response = post(service, "/ussd", call)
        answered(response, errors)
        if response.status_code == 200:
            screen = response.text
            assert screen.startswith(("CON ", "END ")), screen
            assert len(screen) <= 182, screen
            if "7*7" in (call["form"].get("text") or ""):
                assert not evaluated(screen), screen
        check_sms(outbox.new(), call["form"].get("text") or "")

    ussd()
    check_still_whole(service, errors)


DELIVERY_FIELDS = {
    "id": st.sampled_from(["ATXid_1", "ATXid_unknown"]) | texts(110),
    "status": st.sampled_from(["Success", "Sent", "Buffered", "Failed", "Rejected",
                               "Submitted", "Expired", "AbsentSubscriber"]) | texts(50),
    "failureReason": texts(400), "phoneNumber": PHONES, "networkCode": texts(30),
    "retryCount": st.integers(-5, 10**12).map(str) | texts(20)}


def test_the_delivery_webhook_survives_anything(service, errors):
    service.sms(PHONE, "DAFTAR")  # a message with a provider id to report on

    @settings(FUZZ, max_examples=max(1, EXAMPLES * 3 // 5))
    @given(call=callbacks(DELIVERY_FIELDS))
    def delivery(call: dict[str, Any]) -> None:
        answered(post(service, "/delivery", call), errors)

    delivery()
    check_still_whole(service, errors)


NUMBERS = st.integers(-10, 10**12).map(str) | st.sampled_from(["²", "٣", "1e3", "0x10", " 1"])
USSD_END_FIELDS = {
    "sessionId": st.sampled_from(["ATUid_1", "ATUid_new"]) | texts(110),
    "phoneNumber": PHONES, "serviceCode": texts(50), "networkCode": texts(30),
    "status": st.sampled_from(["Success", "Incomplete", "Failed"]) | texts(50),
    "durationInMillis": NUMBERS | texts(12), "hopsCount": NUMBERS | texts(8),
    "input": texts(300), "errorMessage": texts(400), "cost": texts(20)}


def test_the_ussd_end_webhook_survives_anything(service, errors):
    @settings(FUZZ, max_examples=max(1, EXAMPLES * 3 // 5))
    @given(call=callbacks(USSD_END_FIELDS))
    def ussd_end(call: dict[str, Any]) -> None:
        answered(post(service, "/ussd/end", call), errors)

    ussd_end()
    check_still_whole(service, errors)


@pytest.mark.parametrize("payload", TEMPLATE_INJECTION)
def test_template_injection_comes_back_as_typed_or_not_at_all(service, payload):
    replies = service.sms(PHONE, payload) + service.sms(PHONE_2, f"DAFTAR {payload}")
    screen = service.ussd("ATUid_t", payload)
    for text in [*replies, screen]:
        assert not evaluated(text), text
