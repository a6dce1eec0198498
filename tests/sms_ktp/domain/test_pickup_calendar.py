"""Pickup offices and the working calendar: the dates below are the ones the installed `holidays`
package (0.109) lists for Indonesia, checked against SKB 3 Menteri 2026."""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import holidays
import pytest

from sms_ktp.domain import region
from sms_ktp.domain.local_time import local_zone
from sms_ktp.domain.pickup_calendar import (
    Office,
    WorkingCalendar,
    default_offices,
    default_places,
    local,
    offices_from_config,
    slot_starts,
)
from sms_ktp.domain.wilayah import kecamatan_of

# Weekdays used below (2026): Friday 27 Nov, Saturday 28 Nov, Sunday 29 Nov, Monday 30 Nov.
FRIDAY = date(2026, 11, 27)
MONDAY = date(2026, 11, 30)


@pytest.fixture(scope="module")
def calendar() -> WorkingCalendar:
    return WorkingCalendar(years=[2026, 2027])


@pytest.fixture
def office() -> Office:
    return default_offices()["03"]


# --- default offices ---------------------------------------------------------------------------

def test_six_default_offices_named_from_the_csv() -> None:
    offices = default_offices()
    assert list(offices) == ["01", "02", "03", "04", "05", "06"]
    for code, kecamatan in kecamatan_of("3271").items():
        assert offices[code].code == code
        assert offices[code].name == f"Kantor Kec. {kecamatan}"
        assert offices[code].address == "Kota Bogor"
    assert offices["01"].name == "Kantor Kec. Bogor Selatan"
    assert offices["06"].name == "Kantor Kec. Tanah Sareal"


def test_a_default_office_takes_the_fullest_place_that_fits() -> None:
    served = region.region("1609")  # Kabupaten Ogan Komering Ulu Selatan
    places = default_places("Buay Pematang Ribu Ranau Tengah", served.name)
    assert places == (
        ("Kantor Kec. Buay Pematang Ribu Ranau Tengah", "Kabupaten Ogan Komering Ulu Selatan"),
        ("Kantor Kec. Buay Pematang Ribu Ranau Tengah", "Kab. Ogan Komering Ulu Selatan"),
        ("Kec. Buay Pematang Ribu Ranau Tengah", "Kab. Ogan Komering Ulu Selatan"),
        ("Kantor Kecamatan", "Buay Pematang Ribu Ranau Tengah"))
    assert default_places("Tanah Sareal", "Kota Administrasi Jakarta Pusat")[1] == (
        "Kantor Kec. Tanah Sareal", "Kota Adm. Jakarta Pusat")
    assert default_places("Kepulauan Seribu Utara", "Kabupaten Administrasi Kepulauan Seribu"
                          )[1][1] == "Kab. Adm. Kep. Seribu"

    def room(size: int):
        return lambda name, address: len(name) + len(address) <= size

    for size, chosen in ((78, 0), (77, 1), (73, 1), (72, 2), (66, 2), (65, 3), (10, 3)):
        office = default_offices(served, room(size))["12"]
        assert (office.name, office.address) == places[chosen], size
    assert default_offices(served)["12"].address == served.name  # no room given: the fullest


def test_default_capacity_slot_and_week() -> None:
    for office in default_offices().values():
        assert office.slot_minutes == 30
        assert office.capacity == 10
        assert office.closed_dates == frozenset()
        assert dict(office.hours) == {
            0: (time(8), time(15)),
            1: (time(8), time(15)),
            2: (time(8), time(15)),
            3: (time(8), time(15)),
            4: (time(8), time(11)),
        }


def test_office_is_immutable_hashable_and_picklable(office: Office) -> None:
    with pytest.raises(TypeError):
        office.hours[5] = (time(8), time(12))  # type: ignore[index]
    assert hash(office) == hash(default_offices()["03"])
    assert pickle.loads(pickle.dumps(office)) == office


# --- week and slots ----------------------------------------------------------------------------

def test_weekends_closed(calendar: WorkingCalendar, office: Office) -> None:
    assert calendar.is_open(office, FRIDAY)
    assert not calendar.is_open(office, date(2026, 11, 28))  # Saturday
    assert not calendar.is_open(office, date(2026, 11, 29))  # Sunday
    assert calendar.is_open(office, MONDAY)
    assert slot_starts(office, date(2026, 11, 28)) == []
    assert slot_starts(office, date(2026, 11, 29)) == []


def test_friday_slots_in_wib_and_utc(office: Office) -> None:
    starts = slot_starts(office, FRIDAY)
    assert [local(start).strftime("%H:%M") for start in starts] == [
        "08:00", "08:30", "09:00", "09:30", "10:00", "10:30",
    ]
    assert starts[0] == datetime(2026, 11, 27, 1, 0, tzinfo=UTC)  # 08:00 WIB
    assert starts[-1] == datetime(2026, 11, 27, 3, 30, tzinfo=UTC)  # last slot ends 11:00 WIB
    assert all(start.utcoffset() == timedelta(0) for start in starts)


def test_monday_slots_stop_before_closing(office: Office) -> None:
    starts = slot_starts(office, MONDAY)
    assert len(starts) == 14
    assert local(starts[-1]).time() == time(14, 30)


def test_slot_that_would_run_past_closing_is_not_offered() -> None:
    office = offices_from_config(
        [{"code": "01", "slot_minutes": 45, "hours": {"monday": "08:00-10:00"}}]
    )["01"]
    assert [local(start).time() for start in slot_starts(office, MONDAY)] == [
        time(8, 0), time(8, 45),
    ]


def test_slots_ignore_holidays(office: Office) -> None:
    # Independence Day 2026 is a Monday: the weekly hours still give slots; is_open says no.
    assert len(slot_starts(office, date(2026, 8, 17))) == 14


def test_local_is_the_jakarta_view() -> None:
    instant = datetime(2026, 11, 30, 17, 30, tzinfo=UTC)
    assert local(instant) == instant
    assert local(instant).tzinfo == local_zone()
    assert (local(instant).date(), local(instant).time()) == (date(2026, 12, 1), time(0, 30))
    assert local(datetime(2026, 11, 30, 9, 0, tzinfo=timezone(timedelta(hours=8)))).hour == 8
    with pytest.raises(ValueError, match="naive"):
        local(datetime(2026, 11, 30, 1, 0))


# --- holidays and cuti bersama -----------------------------------------------------------------

@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2026, 1, 1), "Tahun Baru Masehi"),  # New Year's Day, a Thursday
        (date(2026, 8, 17), "Hari Kemerdekaan Republik Indonesia"),  # Independence Day, Monday
        (date(2026, 5, 27), "Hari Raya Idul Adha"),  # Eid al-Adha, Wednesday
    ],
)
def test_public_holidays_closed(
    calendar: WorkingCalendar, office: Office, day: date, name: str
) -> None:
    assert day.weekday() < 5
    assert calendar.is_holiday(day)
    assert calendar.holiday_name(day) == name
    assert not calendar.is_open(office, day)


@pytest.mark.parametrize(
    ("day", "name"),
    [
        # Cuti bersama 2026 (SKB 3 Menteri), the package's "government" category:
        (date(2026, 2, 16), "Cuti Bersama Tahun Baru Imlek"),  # Monday before Chinese New Year
        (date(2026, 3, 23), "Cuti Bersama Hari Raya Idul Fitri"),  # Monday after Lebaran
        (date(2026, 12, 24), "Cuti Bersama Hari Raya Natal"),  # Thursday, Christmas Eve
    ],
)
def test_cuti_bersama_closed(
    calendar: WorkingCalendar, office: Office, day: date, name: str
) -> None:
    government = holidays.country_holidays("ID", categories=("government",), years=2026)
    public = holidays.country_holidays("ID", categories=("public",), years=2026)
    assert day in government and day not in public  # collective leave, not a public holiday
    assert day.weekday() < 5
    assert calendar.holiday_name(day) == name
    assert not calendar.is_open(office, day)


def test_working_day_is_no_holiday(calendar: WorkingCalendar, office: Office) -> None:
    assert not calendar.is_holiday(MONDAY)
    assert calendar.holiday_name(MONDAY) is None
    assert calendar.is_open(office, MONDAY)


def test_names_in_other_language() -> None:
    english = WorkingCalendar(years=[2026], language="en_US")
    assert english.holiday_name(date(2026, 12, 24)) == "Christmas Joint Holiday"
    assert english.holiday_name(date(2026, 8, 17)) == "Independence Day"


def test_years_are_loaded_when_asked() -> None:
    calendar = WorkingCalendar(years=[2026])
    assert calendar.holiday_name(date(2027, 12, 24)) == "Cuti Bersama Hari Raya Natal"
    lazy = WorkingCalendar()
    assert lazy.is_holiday(date(2027, 1, 1))  # New Year's Day 2027
    assert not lazy.is_holiday(date(2027, 1, 4))


def test_datetimes_are_refused(calendar: WorkingCalendar, office: Office) -> None:
    # 17 Aug 2026 00:30 WIB is still 16 Aug in UTC: the caller must pick the Jakarta date.
    instant = datetime(2026, 8, 16, 17, 30, tzinfo=UTC)
    with pytest.raises(TypeError, match="local_date"):
        calendar.is_holiday(instant)
    with pytest.raises(TypeError):
        calendar.is_open(office, instant)
    with pytest.raises(TypeError):
        slot_starts(office, instant)


# --- closed dates, next open day, open days ----------------------------------------------------

def test_closed_dates_honoured(calendar: WorkingCalendar) -> None:
    office = offices_from_config([{"code": "02", "closed_dates": ["2026-11-30"]}])["02"]
    assert not calendar.is_open(office, MONDAY)
    assert calendar.next_open_day(office, FRIDAY) == date(2026, 12, 1)
    assert calendar.is_open(default_offices()["01"], MONDAY)


def test_next_open_day_is_strictly_after(calendar: WorkingCalendar, office: Office) -> None:
    assert calendar.next_open_day(office, MONDAY) == date(2026, 12, 1)
    assert calendar.next_open_day(office, FRIDAY) == MONDAY


def test_next_open_day_skips_long_weekends(calendar: WorkingCalendar, office: Office) -> None:
    # Sat 15, Sun 16, Mon 17 Aug 2026 (Independence Day): Friday 14 -> Tuesday 18.
    assert calendar.next_open_day(office, date(2026, 8, 14)) == date(2026, 8, 18)
    # Thu 24 Dec (cuti bersama), Fri 25 Dec (Christmas), weekend: Wednesday 23 -> Monday 28.
    assert calendar.next_open_day(office, date(2026, 12, 23)) == date(2026, 12, 28)
    # Lebaran 2026: 18 (cuti), 19 (Nyepi), 20 (cuti), 21-22 (Idul Fitri), 23-24 (cuti) March.
    assert calendar.next_open_day(office, date(2026, 3, 17)) == date(2026, 3, 25)


def test_next_open_day_crosses_into_a_new_year(office: Office) -> None:
    calendar = WorkingCalendar(years=[2026])
    # Thu 31 Dec 2026 -> Fri 1 Jan 2027 is New Year's Day -> Monday 4 Jan 2027.
    assert calendar.next_open_day(office, date(2026, 12, 31)) == date(2027, 1, 4)


def test_next_open_day_gives_up_after_a_year(calendar: WorkingCalendar) -> None:
    # Open on Saturdays only, and closed on every Saturday of the coming year.
    saturdays = [date(2026, 11, 28) + timedelta(weeks=week) for week in range(60)]
    office = Office(
        code="04", name="Test", address="Test", hours={5: (time(8), time(12))},
        slot_minutes=30, capacity=1, closed_dates=frozenset(saturdays),
    )
    with pytest.raises(ValueError, match=r"'04'.*366 days"):
        calendar.next_open_day(office, FRIDAY)


def test_open_days(calendar: WorkingCalendar, office: Office) -> None:
    assert calendar.open_days(office, MONDAY, 0) == []
    assert calendar.open_days(office, MONDAY, 1) == [MONDAY]  # start itself counts
    assert calendar.open_days(office, date(2026, 11, 28), 3) == [
        MONDAY, date(2026, 12, 1), date(2026, 12, 2),
    ]
    # Across Christmas 2026 and New Year 2027.
    assert calendar.open_days(office, date(2026, 12, 22), 5) == [
        date(2026, 12, 22), date(2026, 12, 23), date(2026, 12, 28),
        date(2026, 12, 29), date(2026, 12, 30),
    ]
    assert len(calendar.open_days(office, MONDAY, 40)) == 40
    with pytest.raises(ValueError, match="count"):
        calendar.open_days(office, MONDAY, -1)


# --- configuration -----------------------------------------------------------------------------

def test_empty_config_gives_defaults() -> None:
    assert offices_from_config([]) == default_offices()


def test_override_one_office_keeps_the_others(calendar: WorkingCalendar) -> None:
    offices = offices_from_config([{
        "code": "03",
        "name": "Kantor Kecamatan Bogor Tengah (loket KTP)",
        "address": "Jl. Contoh 1, Bogor Tengah",
        "hours": {"tuesday": "09:00-12:00", "saturday": "08:00-10:00"},
        "capacity": 25,
        "closed_dates": ["2026-12-01", date(2026, 12, 31)],  # a string and a TOML date
    }])
    defaults = default_offices()
    for code in ("01", "02", "04", "05", "06"):
        assert offices[code] == defaults[code]
    office = offices["03"]
    assert office.name == "Kantor Kecamatan Bogor Tengah (loket KTP)"
    assert office.address == "Jl. Contoh 1, Bogor Tengah"
    assert dict(office.hours) == {1: (time(9), time(12)), 5: (time(8), time(10))}
    assert office.capacity == 25
    assert office.slot_minutes == 30  # not given: the default
    assert office.closed_dates == {date(2026, 12, 1), date(2026, 12, 31)}
    # The given week replaced the default one entirely: closed on Monday, open on Saturday.
    assert not calendar.is_open(office, MONDAY)
    assert calendar.is_open(office, date(2026, 11, 28))
    assert not calendar.is_open(office, date(2026, 12, 1))  # closed date
    assert calendar.next_open_day(office, MONDAY) == date(2026, 12, 5)


def test_config_slot_length_only() -> None:
    office = offices_from_config([{"code": "05", "slot_minutes": 60}])["05"]
    assert office.slot_minutes == 60
    assert office.capacity == 10
    assert len(slot_starts(office, FRIDAY)) == 3


def _valid(**changes: Any) -> dict[str, Any]:
    return {"code": "04", **changes}


@pytest.mark.parametrize(
    ("entry", "office", "key"),
    [
        ({"code": "07"}, "office '07'", "code is not a kecamatan of Kota Bogor"),
        ({"code": "3271"}, "office '3271'", "code is not"),
        ({"code": 4}, "office 4", "code is not"),
        ({"code": "4"}, "office '4'", "code is not"),
        (_valid(opening="08:00"), "office '04'", "unknown key 'opening'"),
        (_valid(name=""), "office '04'", "name"),
        (_valid(address=42), "office '04'", "address"),
        (_valid(hours="08:00-15:00"), "office '04'", "hours"),
        (_valid(hours={}), "office '04'", "hours"),
        (_valid(hours={"senin": "08:00-15:00"}), "office '04'", r"hours\.senin"),
        (_valid(hours={"Monday": "08:00-15:00"}), "office '04'", r"hours\.Monday"),
        (_valid(hours={"monday": "8-15"}), "office '04'", r"hours\.monday"),
        (_valid(hours={"monday": "08:00-25:00"}), "office '04'", r"hours\.monday"),
        (_valid(hours={"monday": "08:70-15:00"}), "office '04'", r"hours\.monday"),
        (_valid(hours={"monday": "15:00-08:00"}), "office '04'", r"hours\.monday"),
        (_valid(hours={"monday": "08:00-08:00"}), "office '04'", r"hours\.monday"),
        (_valid(hours={"monday": ["08:00", "15:00"]}), "office '04'", r"hours\.monday"),
        (_valid(slot_minutes=4), "office '04'", "slot_minutes"),
        (_valid(slot_minutes=241), "office '04'", "slot_minutes"),
        (_valid(slot_minutes=30.0), "office '04'", "slot_minutes"),
        (_valid(slot_minutes=True), "office '04'", "slot_minutes"),
        (_valid(capacity=0), "office '04'", "capacity"),
        (_valid(capacity=1001), "office '04'", "capacity"),
        (_valid(capacity="10"), "office '04'", "capacity"),
        # Friday's default 08:00-11:00 holds no 4-hour slot.
        (_valid(slot_minutes=240), "office '04'", r"hours\.friday.*slot_minutes 240"),
        (_valid(hours={"monday": "08:00-08:20"}), "office '04'", r"hours\.monday.*slot_minutes 30"),
        (_valid(closed_dates="2026-12-31"), "office '04'", "closed_dates"),
        (_valid(closed_dates=["2026-02-30"]), "office '04'", "closed_dates"),
        (_valid(closed_dates=["31-12-2026"]), "office '04'", "closed_dates"),
        (_valid(closed_dates=["20261231"]), "office '04'", "closed_dates"),
        (_valid(closed_dates=[datetime(2026, 12, 31, 8, 0)]), "office '04'", "closed_dates"),
    ],
)
def test_invalid_entry_names_office_and_key(
    entry: dict[str, Any], office: str, key: str
) -> None:
    with pytest.raises(ValueError, match=rf"^pickup\.offices\[1\]: {office}: .*{key}"):
        offices_from_config([{"code": "01", "capacity": 12}, entry])


def test_invalid_entries_shape() -> None:
    with pytest.raises(ValueError, match=r"pickup\.offices\[0\]: code missing"):
        offices_from_config([{"name": "Kantor X"}])
    with pytest.raises(ValueError, match=r"pickup\.offices\[1\]: must be a table"):
        offices_from_config([{"code": "01"}, "02"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match=r"pickup\.offices\[1\]: office '01': code listed twice"):
        offices_from_config([{"code": "01"}, {"code": "01", "capacity": 5}])
    with pytest.raises(ValueError, match="list of tables"):
        offices_from_config({"code": "01"})  # type: ignore[arg-type]


def test_office_checks_itself() -> None:
    with pytest.raises(ValueError, match=r"office '09': hours\.sunday: closes"):
        Office(code="09", name="X", address="Y", hours={6: (time(12), time(8))},
               slot_minutes=30, capacity=5)
    with pytest.raises(ValueError, match=r"office '09': hours\[7\]"):
        Office(code="09", name="X", address="Y", hours={7: (time(8), time(12))},
               slot_minutes=30, capacity=5)
    with pytest.raises(ValueError, match="office '09': hours: open on no day"):
        Office(code="09", name="X", address="Y", hours={}, slot_minutes=30, capacity=5)
