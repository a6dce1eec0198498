"""Any regency with one setting, through the real webhook: the regency's own KKs are accepted and
another's refused with the regency named, and the pickup SMS is in the regency's local time
(WIB, WITA or WIT) while the database keeps UTC, and one SMS even where the kecamatan and the
regency have the longest names of the country."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from live_service import PHONE, LiveService, start_service
from sqlalchemy import select

from flows.catalogue import render
from gsm7.encoding import GSM7_SINGLE, septets
from sms_ktp.domain import region
from sms_ktp.models import Application, Family

REF = re.compile(r"ref (\d{9})")
MONDAY_0900_WIB = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
KOTA_BOGOR_KK = "3271010101200003"


def kk_of(code: str, kecamatan: str) -> str:
    return f"{code}{kecamatan}0101200003"


def nik_of(code: str, kecamatan: str) -> str:
    return f"{code}{kecamatan}4501900001"  # a woman born 5 January 1990


# (regency, a kecamatan of it, its zone, its offset from UTC in hours)
REGENCIES = [
    ("3271", "06", "WIB", 7),   # Kota Bogor, the default
    ("3201", "40", "WIB", 7),   # Kabupaten Bogor: a kecamatan code above 30
    ("3276", "11", "WIB", 7),   # Kota Depok
    ("7371", "15", "WITA", 8),  # Kota Makassar
    ("9171", "05", "WIT", 9),   # Kota Jayapura, Papua
    ("1609", "12", "WIB", 7),   # Kab. Ogan Komering Ulu Selatan: the longest kecamatan name
]


@pytest.fixture(params=REGENCIES, ids=[code for code, *_ in REGENCIES])
def regency(request: pytest.FixtureRequest) -> tuple[str, str, str, int]:
    return request.param


@pytest.fixture
def served(regency, database, clock, tmp_path) -> Iterator[LiveService]:
    code = regency[0]

    def configure(settings) -> None:
        settings.region.code = code

    yield from start_service(database, clock, tmp_path, configure=configure)


def test_the_regencys_kk_is_accepted_and_anothers_refused(served, regency):
    code, kecamatan, _, _ = regency
    name = region.region(code).name
    assert region.current().code == code
    served.sms(PHONE, "DAFTAR")
    served.sms(PHONE, nik_of(code, kecamatan))
    other = KOTA_BOGOR_KK if code != "3271" else kk_of("3201", "40")
    [refused] = served.sms(PHONE, other)
    assert refused == render("id", "error.kk.not_resident") and name in refused
    served.sms(PHONE, kk_of(code, kecamatan))
    served.sms(PHONE, "2")
    [done] = served.sms(PHONE, "YA")
    assert REF.search(done), done
    with served.runtime.db.connect() as connection:
        kecamatan_codes = connection.execute(select(Family.__table__.c.kecamatan_code)
                                             ).scalars().all()
    assert kecamatan_codes == [kecamatan]


def test_the_pickup_sms_is_in_local_time_and_the_database_in_utc(served, regency, clock):
    code, kecamatan, zone, offset = regency
    clock.set(MONDAY_0900_WIB)
    nik = nik_of(code, kecamatan)
    served.sms(PHONE, f"DAFTAR {nik}#{kk_of(code, kecamatan)}#2")
    assert REF.search(served.sms(PHONE, "YA")[0])
    served.print_cards(nik)
    served.worker.run_once()  # allocation, then the outbox
    [ticket] = [text for text in served.received(PHONE) if "Bawa SMS ini" in text]
    with served.runtime.db.connect() as connection:
        stored = connection.execute(select(Application.__table__.c.pickup_at)).scalar_one()
    stored = stored.replace(tzinfo=UTC) if stored.tzinfo is None else stored
    local = stored + timedelta(hours=offset)
    # The office opens at 08.00 local time: the first slot of the next working day.
    assert (local.hour, local.minute) == (8, 0)
    assert stored.hour == (8 - offset) % 24
    assert f"{local:%H.%M} {zone}" in ticket, ticket
    assert region.region(code).kecamatan[kecamatan] in ticket
    assert septets(ticket) <= GSM7_SINGLE, ticket
