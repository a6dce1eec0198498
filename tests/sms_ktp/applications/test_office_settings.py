"""Office settings changed by staff over the configuration file: only what differs is stored, the
configuration's rules apply, and a stored change that no longer fits is left out."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy import insert, select

from sms_ktp.applications import office_settings, sms_budget
from sms_ktp.domain import region, wilayah
from sms_ktp.domain.pickup_calendar import default_offices, default_places, offices_from_config
from sms_ktp.models import OfficeSetting

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
CONFIG = [{"code": "03", "address": "Jl. Ir. H. Juanda, Bogor Tengah", "capacity": 15}]


def rows(database) -> dict[str, tuple[dict, str]]:
    with database.connect() as connection:
        found = connection.execute(select(OfficeSetting.__table__)).all()
    return {row.office: (row[1], row.updated_by) for row in found}


def entry(code: str = "03", **changes) -> dict:
    values = office_settings.as_entry(offices_from_config(CONFIG)[code])
    values.update(changes)
    return values


def test_only_what_differs_from_the_file_is_stored(database):
    with database.connect() as connection:
        office = office_settings.save(
            connection, "03", entry(capacity=20, closed_dates=["2026-12-31"],
                                    hours={"monday": "08:00-12:00", "tuesday": "08:00-15:00"}),
            CONFIG, "staff:admin1", NOW)
    assert office.capacity == 20
    assert office.address == "Jl. Ir. H. Juanda, Bogor Tengah"  # from the file, untouched
    assert office.hours == {0: (time(8), time(12)), 1: (time(8), time(15))}
    assert office.closed_dates == frozenset({date(2026, 12, 31)})
    changes = {"capacity": 20, "closed_dates": ["2026-12-31"],
               "hours": {"monday": "08:00-12:00", "tuesday": "08:00-15:00"}}
    assert rows(database) == {"03": (changes, "staff:admin1")}
    with database.connect() as connection:
        assert office_settings.stored(connection) == {"03": changes}
        current = office_settings.effective_offices(CONFIG, office_settings.stored(connection))
    assert current["03"] == office
    assert current["01"] == offices_from_config(CONFIG)["01"]


def test_saving_the_file_values_again_forgets_the_change(database):
    with database.connect() as connection:
        office_settings.save(connection, "03", entry(capacity=20), CONFIG, "staff:a", NOW)
        office_settings.save(connection, "03", entry(capacity=15), CONFIG, "staff:a", NOW)
    assert rows(database) == {}


def test_a_second_save_replaces_the_first(database):
    with database.connect() as connection:
        office_settings.save(connection, "01", entry("01", capacity=20), CONFIG, "staff:a", NOW)
        office_settings.save(connection, "01", entry("01", slot_minutes=15), CONFIG, "staff:b",
                             NOW)
    assert rows(database) == {"01": ({"slot_minutes": 15}, "staff:b")}


@pytest.mark.parametrize(("changes", "message"), [
    ({"capacity": 0}, "capacity must be a whole number from 1 to 1000"),
    ({"slot_minutes": 300}, "slot_minutes must be a whole number from 5 to 240"),
    ({"hours": {}}, "an empty table would close the office on every day"),
    ({"hours": {"monday": "15:00-08:00"}}, "closes before it opens"),
    ({"hours": {"friday": "08:00-08:20"}}, "shorter than one slot"),
    ({"closed_dates": ["31-12-2026"]}, "is not a date YYYY-MM-DD"),
])
def test_the_configuration_rules_apply(database, changes, message):
    with database.connect() as connection, pytest.raises(ValueError, match=message):
        office_settings.save(connection, "03", entry(**changes), CONFIG, "staff:a", NOW)
    assert rows(database) == {}


def test_unknown_keys_and_offices_are_refused(database):
    with database.connect() as connection:
        with pytest.raises(ValueError, match="unknown key 'code'"):
            office_settings.save(connection, "03", {"code": "04"}, CONFIG, "staff:a", NOW)
        with pytest.raises(ValueError, match="not a kecamatan of Kota Bogor"):
            office_settings.save(connection, "07", {}, CONFIG, "staff:a", NOW)


def test_a_stored_change_that_no_longer_fits_is_left_out(database, caplog):
    with database.connect() as connection:
        connection.execute(insert(OfficeSetting.__table__), [
            {"office": "01", "values": {"capacity": 0}, "updated_by": "x", "updated_at": NOW},
            {"office": "02", "values": {"capacity": 7}, "updated_by": "x", "updated_at": NOW}])
        with caplog.at_level(logging.ERROR):
            current = office_settings.effective_offices(CONFIG,
                                                        office_settings.stored(connection))
    assert current["01"].capacity == 10 and current["02"].capacity == 7
    assert "office 01: the settings changed in the back office are not used" in caplog.text


def test_reset_and_the_words_of_a_change(database):
    before = offices_from_config(CONFIG)["03"]
    with database.connect() as connection:
        after = office_settings.save(
            connection, "03", entry(capacity=20, closed_dates=["2026-12-31"],
                                    hours={"monday": "08:00-12:00"}), CONFIG, "staff:a", NOW)
        assert office_settings.describe_changes(before, after) == (
            "capacity 15->20; hours.monday 08:00-15:00->08:00-12:00; hours.tuesday "
            "08:00-15:00->closed; hours.wednesday 08:00-15:00->closed; hours.thursday "
            "08:00-15:00->closed; hours.friday 08:00-11:00->closed; closed +2026-12-31")
        assert office_settings.reset(connection, "03") is True
        assert office_settings.reset(connection, "03") is False
    assert rows(database) == {}


def test_saving_the_same_change_again_writes_nothing(database):
    later = NOW.replace(hour=5)
    with database.connect() as connection:
        office_settings.save(connection, "03", entry(capacity=20), CONFIG, "staff:a", NOW)
        office_settings.save(connection, "03", entry(capacity=20), CONFIG, "staff:b", later)
        assert office_settings.changed_by(connection) == {"03": ("staff:a", NOW)}


def test_every_default_office_of_the_country_leaves_the_pickup_sms_one_sms():
    """All 514 regencies: the default name and address fit the room the catalogues leave, and
    keep the regency's full name wherever it fits."""
    room = sms_budget.budget("office", "address")
    shortened = 0
    for code in wilayah.regencies():
        served = region.region(code)
        for office in default_offices(served, office_settings.fits_one_sms).values():
            used = sms_budget.length(office.name) + sms_budget.length(office.address)
            assert used <= room, (code, office.name, office.address)
            fullest = default_places(served.kecamatan[office.code], served.name)[0]
            if (office.name, office.address) != fullest:
                shortened += 1
                assert sum(map(sms_budget.length, fullest)) > room, office
    assert shortened > 0


def test_kota_bogor_keeps_its_full_default_offices():
    offices = office_settings.configured([])
    assert {office.address for office in offices.values()} == {"Kota Bogor"}
    assert offices["06"].name == "Kantor Kec. Tanah Sareal"
