"""Print batches on both databases: a batch marked printed in part sends its failed cards back
to the front of the queue, and the blangko add up (released, consumed, or spoiled)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from sms_ktp.applications import printing
from sms_ktp.domain.quiet_hours import QuietHours
from sms_ktp.domain.stages import Stage
from sms_ktp.models import Application, ApplicationEvent, BlangkoMovement, Family

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
SITE = "disdukcapil"
_numbers = itertools.count(1)


def family(database) -> int:
    serial = next(_numbers)
    with database.connect() as connection:
        return connection.execute(insert(Family.__table__).values(
            kk=f"327101{serial:010d}", phone=f"+62812{serial:07d}", kecamatan_code="01",
            created_at=NOW).returning(Family.__table__.c.id)).scalar_one()


def ready(database, family_id: int, days_ago: int, document: str = "ktp") -> str:
    """A card in the print queue: a KTP-el, or a child's KIA (the parent's NIK, the child's
    birth date in its details)."""
    serial = next(_numbers)
    reference = f"{serial:09d}"
    kia = document == "kia"
    with database.connect() as connection:
        connection.execute(insert(Application.__table__).values(
            reference=reference, nik=f"3271014501{serial:06d}", family_id=family_id,
            document=document, details={"birth_date": "2019-03-12"} if kia else None,
            reason="baru" if kia else "hilang", stage="print_queue", language="id",
            channel="sms", created_at=NOW, updated_at=NOW,
            ready_at=NOW - timedelta(days=days_ago)))
    return reference


def add(database, count: int, card: str) -> None:
    with database.connect() as connection:
        connection.execute(insert(BlangkoMovement.__table__).values(
            site=SITE, card=card, delta=count, reason="added", actor="test", at=NOW))


@pytest.fixture
def stocked(database):
    with database.connect() as connection:
        connection.execute(insert(BlangkoMovement.__table__).values(
            site=SITE, delta=10, reason="added", actor="test", at=NOW))
    return database


def stage_of(database) -> dict[str, tuple[str, int | None]]:
    with database.connect() as connection:
        return {row.reference: (row.stage, row.print_batch_id) for row in connection.execute(
            select(Application.reference, Application.stage, Application.print_batch_id))}


def test_a_partly_printed_batch_returns_its_failed_cards_to_the_front(stocked):
    database = stocked
    one, two = family(database), family(database)
    cards = [ready(database, one, 9), ready(database, one, 8), ready(database, two, 7),
             ready(database, two, 6)]
    later = ready(database, family(database), 1)
    with database.connect() as connection:
        batch = printing.reserve(connection, NOW, SITE, 4)
    assert [card[0] for card in batch.cards] == cards and batch.stock.free == 6

    jammed, torn = cards[1], cards[3]
    with database.connect() as connection:
        finished = printing.finish_batch(connection, NOW, QuietHours(), batch.batch_id, "op",
                                         {jammed: False, torn: True}, "printer macet")
    assert (finished.printed, finished.families, finished.returned, finished.spoiled) == (
        2, 2, 2, 1)
    stages = stage_of(database)
    assert stages[cards[0]] == ("printed", batch.batch_id)
    assert stages[jammed] == ("print_queue", None) and stages[torn] == ("print_queue", None)
    with database.connect() as connection:
        stock = printing.stock(connection, SITE)
        movements = connection.execute(select(BlangkoMovement.delta, BlangkoMovement.reason)
                                       .order_by(BlangkoMovement.id)).all()
        notes = connection.execute(select(ApplicationEvent.note).join(
            Application, Application.id == ApplicationEvent.application_id)
            .where(Application.reference == torn)).scalars().all()
        # The failed cards kept their readiness: the next batch takes them before `later`.
        again = printing.reserve(connection, NOW, SITE, 2)
    # 10 in, 2 printed, 1 spoiled: 7 on the shelf, the jammed card's blangko free again.
    assert (stock.total, stock.reserved, stock.free) == (7, 0, 7)
    assert movements[1:] == [(-2, f"printed batch {batch.batch_id}"),
                             (-1, f"spoiled batch {batch.batch_id}: printer macet")]
    assert any("print failed" in note and "spoiled" in note for note in notes)
    assert sorted(card[0] for card in again.cards) == sorted([jammed, torn])
    assert later not in [card[0] for card in again.cards]


def test_a_batch_is_marked_printed_once(stocked):
    database = stocked
    reference = ready(database, family(database), 3)
    with database.connect() as connection:
        batch = printing.reserve(connection, NOW, SITE, None)
    with database.connect() as connection:
        assert printing.finish_batch(connection, NOW, QuietHours(), batch.batch_id,
                                     "op").printed == 1
    with database.connect() as connection:
        assert printing.finish_batch(connection, NOW, QuietHours(), batch.batch_id,
                                     "op") is None
        assert printing.stock(connection, SITE).total == 9
    assert stage_of(database)[reference][0] == Stage.PRINTED.value


def test_open_batches_count_the_cards_still_in_them(stocked):
    database = stocked
    people = family(database)
    for days in (5, 4, 3):
        ready(database, people, days)
    with database.connect() as connection:
        first = printing.reserve(connection, NOW, SITE, 2)
        second = printing.reserve(connection, NOW, SITE, 1)
        listed = printing.open_batches(connection, SITE)
        assert [(batch.id, cards) for batch, cards in listed] == [
            (first.batch_id, 2), (second.batch_id, 1)]
        assert printing.open_batches(connection, "elsewhere") == []
        assert [card.reference for card in printing.batch_cards(connection, first.batch_id)
                ] == [card[0] for card in first.cards]


def test_a_kia_is_printed_on_kia_blangko_only(stocked):
    """The KTP-el stock (10) and the KIA stock (2) of one site are two stocks: a batch of one
    kind takes only its own documents, oldest ready first, and uses only its own blangko."""
    database = stocked
    people = family(database)
    ktp = [ready(database, people, days) for days in (9, 7, 5)]
    kia = [ready(database, people, days, "kia") for days in (10, 8, 6)]
    with database.connect() as connection:
        assert printing.reserve(connection, NOW, SITE, None, "kia").batch_id is None
        assert printing.stock(connection, SITE, "kia") == printing.Stock(SITE, 0, 0, "kia")
    add(database, 2, "kia")
    with database.connect() as connection:
        children = printing.reserve(connection, NOW, SITE, None, "kia")
        adults = printing.reserve(connection, NOW, SITE, None)
    assert [card[0] for card in children.cards] == kia[:2]
    assert (children.stock.card, children.stock.total, children.stock.free) == ("kia", 2, 0)
    assert [card[0] for card in adults.cards] == ktp
    assert (adults.stock.card, adults.stock.total, adults.stock.free) == ("ktp", 10, 7)
    with database.connect() as connection:
        assert printing.batch(connection, children.batch_id).card == "kia"
        assert [batch.id for batch, _ in printing.open_batches(connection, SITE, "kia")] == [
            children.batch_id]
        assert printing.free_by_card(connection, [SITE]) == {"ktp": 7, "kia": 0}
        finished = printing.finish_batch(connection, NOW, QuietHours(), children.batch_id,
                                         "op", {kia[1]: True})
    assert (finished.printed, finished.returned, finished.spoiled) == (1, 1, 1)
    with database.connect() as connection:
        kia_stock = printing.stock(connection, SITE, "kia")
        ktp_stock = printing.stock(connection, SITE)
        kia_moves = connection.execute(
            select(BlangkoMovement.delta, BlangkoMovement.reason)
            .where(BlangkoMovement.card == "kia").order_by(BlangkoMovement.id)).all()
    # 2 KIA blangko in, 1 printed, 1 spoiled; the KTP-el stock only promised to its batch.
    assert (kia_stock.total, kia_stock.reserved, kia_stock.free) == (0, 0, 0)
    assert (ktp_stock.total, ktp_stock.reserved, ktp_stock.free) == (10, 3, 7)
    assert kia_moves == [(2, "added"), (-1, f"printed batch {children.batch_id}"),
                         (-1, f"spoiled batch {children.batch_id}")]
    stages = stage_of(database)
    assert stages[kia[0]] == ("printed", children.batch_id)
    assert stages[kia[1]] == stages[kia[2]] == ("print_queue", None)


def test_an_unknown_kind_of_card_is_refused(stocked):
    with stocked.connect() as connection, pytest.raises(printing.UnknownCard):
        printing.stock(connection, SITE, "sim")
