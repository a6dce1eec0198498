"""Dates and times in each language's own style, as the pickup SMS say them."""

from datetime import date, datetime

import pytest

from flows.catalogue import render
from flows.dates import say_day, say_time

MONDAY = datetime(2026, 11, 30, 9, 30)


@pytest.mark.parametrize(
    ("language", "expected"),
    [("id", "Senin, 30 November 2026, 09.30 WIB"),
     ("su", "Senén, 30 Nopémber 2026, 09.30 WIB"),
     ("jv", "Senen, 30 November 2026, 09.30 WIB"),
     ("en", "Monday, 30 November 2026, 09:30 WIB")],
)
def test_a_day_and_time_in_each_language(language: str, expected: str) -> None:
    assert f"{say_day(language, MONDAY.date())}, {say_time(language, MONDAY)}" == expected


@pytest.mark.parametrize(("code", "zone"), [("3271", "WIB"), ("7371", "WITA"), ("9171", "WIT")])
def test_a_time_carries_the_zone_of_the_regency_served(serve, code: str, zone: str) -> None:
    serve(code)  # Kota Bogor, Kota Makassar, Kota Jayapura
    assert say_time("id", MONDAY) == f"09.30 {zone}"
    assert say_time("en", MONDAY) == f"09:30 {zone}"


@pytest.mark.parametrize("language", ["id", "su", "jv", "en"])
def test_every_weekday_and_month_has_its_own_name(language: str) -> None:
    weekdays = {say_day(language, date(2026, 11, 30 - 6 + offset)).split(",")[0]
                for offset in range(7)}
    months = {say_day(language, date(2026, month, 1)).split(" ")[-2] for month in range(1, 13)}
    assert len(weekdays) == 7 and len(months) == 12


def test_the_pickup_sms_carries_the_date_in_the_readers_style() -> None:
    text = render("id", "notify.pickup_scheduled", cards="KTP-el NIK ***0001",
                  day=say_day("id", MONDAY), time=say_time("id", MONDAY),
                  office="Kantor Kec. Bogor Selatan", address="Jl. Batutulis No. 1",
                  code="ABC123")
    assert "siap diambil Senin, 30 November 2026, 09.30 WIB di Kantor Kec. Bogor Selatan" in text
