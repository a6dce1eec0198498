"""The counter's lookups on a real database: what was typed, where it leads (a visit or the
families), what an operator of another office finds (nothing), and the day's list."""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import count

import pytest
from sqlalchemy import insert

from sms_ktp.backoffice import counter
from sms_ktp.models import Application, Family, PickupVisit

_FAMILY = Family.__table__
_APPLICATION = Application.__table__
_VISIT = PickupVisit.__table__
NIK = "3271014501900001"
NIK_3 = "3271015507880003"
KK = "3271010101200003"
KK_2 = "3271060202190004"
PHONE = "+6281234567890"
TUESDAY_8 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # 08.00 WIB
_numbers = count(1)


def family(connection, clock, kk: str = KK, phone: str = PHONE, kecamatan: str = "01") -> int:
    return connection.execute(insert(_FAMILY).values(
        kk=kk, phone=phone, kecamatan_code=kecamatan, created_at=clock.now())
        .returning(_FAMILY.c.id)).scalar_one()


def visit(connection, clock, family_id: int, code: str | None, office: str = "01",
          starts_at: datetime | None = TUESDAY_8) -> int:
    return connection.execute(insert(_VISIT).values(
        family_id=family_id, office=office, starts_at=starts_at, code=code or "UUUUUU",
        open_code=code, created_at=clock.now()).returning(_VISIT.c.id)).scalar_one()


def card(connection, clock, family_id: int, nik: str, visit_id: int | None = None,
         stage: str = "pickup_scheduled") -> str:
    reference = f"{200000000 + next(_numbers)}"
    connection.execute(insert(_APPLICATION).values(
        reference=reference, nik=nik, active_nik=nik, family_id=family_id, reason="baru",
        stage=stage, language="id", channel="sms", created_at=clock.now(),
        updated_at=clock.now(), visit_id=visit_id,
        pickup_at=TUESDAY_8 if visit_id else None))
    return reference


@pytest.mark.parametrize(("typed", "kind", "value", "shown"), [
    ("akd 34f", "code", "AKD34F", "kode ambil"),
    ("AKD-34F", "code", "AKD34F", "kode ambil"),
    ("346797", "code", "346797", "kode ambil"),  # a code of digits only is still a code
    ("kmtw 4ucr", "link", "KMTW4UCR", "kode dokumen"),  # a signed PDF's code: 8 letters
    ("123 456 789", "reference", "123456789", "123456789"),
    ("3271 0145 0190 0001", "number", NIK, "***0001"),
    ("0812-3456-7890", "phone", PHONE, "+62***890"),
    ("", "empty", "", ""),
    ("AKD34", "unknown", "", "AKD34"),  # five letters: neither a code nor a number
    ("ABCDE0", "unknown", "", "ABCDE0"),  # 0 and B are never in a code
])
def test_what_was_typed_at_the_counter(typed, kind, value, shown):
    query = counter.parse_counter_query(typed)
    assert (query.kind, query.value, query.shown) == (kind, value, shown)


def find(connection, typed: str, office: str | None = None) -> counter.Found:
    return counter.find(connection, counter.parse_counter_query(typed), office)


def test_every_thing_the_family_brings_leads_to_its_visit(database, clock):
    with database.connect() as connection:
        home = family(connection, clock)
        visit_id = visit(connection, clock, home, "AKD34F")
        first = card(connection, clock, home, NIK, visit_id)
        card(connection, clock, home, NIK_3, visit_id)
        for typed in ("akd34f", first, NIK, KK, PHONE):
            assert find(connection, typed).visit_id == visit_id, typed
            assert find(connection, typed, office="01").visit_id == visit_id, typed
            assert find(connection, typed, office="06") == counter.Found(), typed
        shown = counter.visit(connection, visit_id, office=None)
        assert [c.nik for c in shown.cards] == ["***0001", "***0003"]
        assert (shown.kk, shown.phone) == ("***0003", "+62***890")
        assert counter.visit(connection, visit_id, office="06") is None
        assert counter.code_opens(connection, visit_id, "AKD34F")
        assert not counter.code_opens(connection, visit_id, "AKD34E")


def test_a_family_with_two_visits_or_none_opens_the_family(database, clock):
    with database.connect() as connection:
        home = family(connection, clock)
        early = visit(connection, clock, home, "AKD34F")
        late = visit(connection, clock, home, "MNP679", starts_at=None)  # held at the office
        first = card(connection, clock, home, NIK, early)
        held = card(connection, clock, home, NIK_3, late, stage="missed_pickup")
        # A card leads to its own visit; the family, with two, to the family.
        assert find(connection, first).visit_id == early
        assert find(connection, held).visit_id == late
        assert find(connection, PHONE) == counter.Found(family_ids=(home,))
        shown = counter.family(connection, home, office=None)
        assert [summary.id for summary in shown.visits] == [early, late]  # held ones last
        other = family(connection, clock, kk=KK_2, phone="+6285711112222", kecamatan="06")
        card(connection, clock, other, "3173021208850002", stage="submitted")
        assert find(connection, KK_2) == counter.Found(family_ids=(other,))
        assert counter.family(connection, other, office="01") is None


def test_a_used_code_is_told_apart_from_an_unknown_one(database, clock):
    with database.connect() as connection:
        home = family(connection, clock)
        used = visit(connection, clock, home, None)
        card(connection, clock, home, NIK, used, stage="collected")
        assert find(connection, "UUUUUU") == counter.Found(family_ids=(home,), used_code=True)
        assert find(connection, "UUUUUU", office="06") == counter.Found()
        assert find(connection, "CDEFHJ") == counter.Found()
        assert counter.visit(connection, used, office=None) is None  # nothing to hand over


def test_the_days_list_is_by_slot_then_family_visit(database, clock):
    with database.connect() as connection:
        home = family(connection, clock)
        later = visit(connection, clock, home, "AKD34F",
                      starts_at=datetime(2026, 12, 1, 2, 30, tzinfo=UTC))
        card(connection, clock, home, NIK, later)
        other = family(connection, clock, kk=KK_2, phone="+6285711112222")
        early = visit(connection, clock, other, "MNP679")
        card(connection, clock, other, NIK_3, early)
        card(connection, clock, other, "3271012808750007", early)
        held = visit(connection, clock, other, "CDEFHJ", starts_at=None)
        card(connection, clock, other, "3271011203800006", held, stage="missed_pickup")
        wednesday = visit(connection, clock, home, "TUVWXY",
                          starts_at=datetime(2026, 12, 2, 1, 0, tzinfo=UTC))
        card(connection, clock, home, "3271011203800009", wednesday)
        listed = counter.day_list(connection, "01", date(2026, 12, 1))
    assert [(start, [v.id for v in visits]) for start, visits in listed.slots] == [
        (TUESDAY_8, [early]), (datetime(2026, 12, 1, 2, 30, tzinfo=UTC), [later])]
    assert (listed.total, listed.families) == (3, 2)
    assert [v.id for v in listed.held] == [held]
    assert [c.nik for c in listed.slots[0][1][0].cards] == ["***0003", "***0007"]
