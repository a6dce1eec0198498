"""The work queues on both databases: which applications a filter keeps, in which order, how a
keyset page follows another, and how the print queue splits between blangko and batches."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select, text, update
from staff_browser import make_staff

from sms_ktp.backoffice.worklist import (
    _APPLICATION,
    _ROW,
    DateField,
    Filters,
    PrintWait,
    Sort,
    count,
    export_rows,
    filtered,
    page,
    parse_filters,
)
from sms_ktp.domain.stages import Stage
from sms_ktp.models import Application, ApplicationEvent, BlangkoMovement, Family, PrintBatch

_FAMILY = Family.__table__

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # Monday 09:00 WIB
WIB = timedelta(hours=7)


def wib(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC) - WIB


class Seed:
    def __init__(self, database) -> None:
        self.database = database
        self.numbers = itertools.count(1)

    def family(self, kecamatan: str) -> int:
        serial = next(self.numbers)
        with self.database.connect() as connection:
            return connection.execute(insert(Family.__table__).values(
                kk=f"3271{kecamatan}{serial:010d}", phone=f"+62812{serial:07d}",
                kecamatan_code=kecamatan, created_at=NOW).returning(Family.__table__.c.id)
            ).scalar_one()

    def applications(self, kecamatan: str, stage: str, count: int = 1,
                     **values) -> list[str]:
        """Returns the references, in the order made (ids ascending)."""
        family_id = self.family(kecamatan)
        rows = []
        for _ in range(count):
            serial = next(self.numbers)
            rows.append({"reference": f"{serial:09d}", "nik": f"3271014501{serial:06d}",
                         "family_id": family_id, "reason": "hilang", "stage": stage,
                         "language": "id", "channel": "sms", "created_at": NOW,
                         "updated_at": NOW, **values})
        with self.database.connect() as connection:
            connection.execute(insert(Application.__table__), rows)
        return [row["reference"] for row in rows]


@pytest.fixture
def seed(database) -> Seed:
    return Seed(database)


def listed(database, filters: Filters, **cursor) -> tuple[list[str], object]:
    with database.connect() as connection:
        found = page(connection, filters, **cursor)
    return [row.reference for row in found.rows], found


def test_filters_keep_the_stage_the_kecamatan_and_the_local_days(database, seed):
    early = seed.applications("01", "submitted", 2, created_at=wib(28, 0, 10))  # 28 Nov WIB
    late = seed.applications("01", "submitted", 1, created_at=wib(28, 23, 50))
    next_day = seed.applications("01", "submitted", 1, created_at=wib(29, 0, 5))
    other_stage = seed.applications("01", "duplicate", 1, created_at=wib(28, 12))
    other_kecamatan = seed.applications("06", "submitted", 1, created_at=wib(28, 12))

    day = Filters(stage=Stage.SUBMITTED, kecamatan="01", since=date(2026, 11, 28),
                  until=date(2026, 11, 28))
    references, found = listed(database, day)
    assert references == early + late and found.total == 3
    assert listed(database, Filters(kecamatan="06"))[0] == other_kecamatan
    assert listed(database, Filters(stage=Stage.DUPLICATE))[0] == other_stage
    everything, found = listed(database, Filters(sort=Sort.OLDEST))
    assert everything == early + late + next_day + other_stage + other_kecamatan
    assert found.total == 6


def test_a_date_range_reads_the_chosen_day_column(database, seed):
    printed = seed.applications("01", "printed", 2, printed_at=wib(27, 10),
                                created_at=wib(1, 9))
    seed.applications("01", "printed", 1, printed_at=wib(26, 10))
    collected = seed.applications("01", "collected", 1, collected_at=wib(30, 8),
                                  pickup_office="01", pickup_at=wib(30, 8))
    on = {"since": date(2026, 11, 27), "until": date(2026, 11, 27), "sort": Sort.OLDEST}
    assert listed(database, Filters(date_field=DateField.PRINTED, **on))[0] == printed
    assert listed(database, Filters(date_field=DateField.CREATED, **on))[0] == []
    today = {"since": date(2026, 11, 30), "until": date(2026, 11, 30)}
    assert listed(database, Filters(date_field=DateField.COLLECTED, office="01",
                                    **today))[0] == collected
    assert listed(database, Filters(date_field=DateField.PICKUP, office="06",
                                    **today))[0] == []


def test_keyset_pages_go_forward_back_and_to_either_end(database, seed):
    references = seed.applications("02", "submitted", 7)
    queue = Filters(stage=Stage.SUBMITTED)  # a work queue: the longest wait first
    first, found = listed(database, queue, size=3)
    assert first == references[:3] and (found.newer, found.older) == (False, True)
    second, found = listed(database, queue, after=found.last_id, size=3)
    assert second == references[3:6] and (found.newer, found.older) == (True, True)
    third, found = listed(database, queue, after=found.last_id, size=3)
    assert third == references[6:] and (found.newer, found.older) == (True, False)
    back, found = listed(database, queue, before=found.first_id, size=3)
    assert back == references[3:6] and (found.newer, found.older) == (True, True)
    back, found = listed(database, queue, before=found.first_id, size=3)
    assert back == references[:3] and (found.newer, found.older) == (False, True)
    last, found = listed(database, queue, last=True, size=3)
    assert last == references[4:] and (found.newer, found.older) == (True, False)
    assert found.total == 7

    newest = Filters(stage=Stage.SUBMITTED, sort=Sort.NEWEST)
    first, found = listed(database, newest, size=3)
    assert first == references[::-1][:3]
    second, found = listed(database, newest, after=found.last_id, size=3)
    assert second == references[::-1][3:6]


def test_the_whole_list_opens_newest_first_and_a_queue_oldest_first():
    assert Filters().order is Sort.NEWEST
    assert Filters(stage=Stage.PRINT_QUEUE).order is Sort.OLDEST
    assert Filters(print_wait=PrintWait.BLANGKO).order is Sort.OLDEST
    assert Filters(stage=Stage.PRINT_QUEUE, sort=Sort.NEWEST).order is Sort.NEWEST


def add_blangko(database, count: int) -> None:
    with database.connect() as connection:
        connection.execute(insert(BlangkoMovement.__table__).values(
            site="disdukcapil", delta=count, reason="added", actor="test", at=NOW))


def test_the_print_queue_splits_into_blangko_batch_and_reserved(database, seed):
    with database.connect() as connection:
        batch = connection.execute(insert(PrintBatch.__table__).values(
            site="disdukcapil", size=1, created_at=NOW).returning(PrintBatch.__table__.c.id)
        ).scalar_one()
    reserved = seed.applications("01", "print_queue", 1, ready_at=wib(20, 9),
                                 print_batch_id=batch)
    # Made later but ready earlier: the free blangko go to readiness, not to the order made.
    newer_but_ready_first = seed.applications("06", "print_queue", 1, ready_at=wib(21, 9))
    oldest = seed.applications("01", "print_queue", 2, ready_at=wib(22, 9))
    youngest = seed.applications("01", "print_queue", 2, ready_at=wib(23, 9))
    add_blangko(database, 4)  # 1 reserved by the batch, 3 free

    def waiting(wait: PrintWait, **more) -> list[str]:
        with database.connect() as connection:
            found = page(connection, Filters(print_wait=wait, **more), free=3)
            assert count(connection, Filters(print_wait=wait, **more), free=3) == found.total
        return sorted(row.reference for row in found.rows)

    assert waiting(PrintWait.RESERVED) == reserved
    assert waiting(PrintWait.BATCH) == sorted(newer_but_ready_first + oldest)
    assert waiting(PrintWait.BLANGKO) == youngest
    assert waiting(PrintWait.BATCH, kecamatan="01") == oldest


def test_each_kind_of_card_waits_for_its_own_blangko(database, seed):
    """Free blangko of each kind (`printing.free_by_card`): a KIA ready before every KTP-el
    takes no KTP-el blangko, and the KTP-el cards take none of the KIA's."""
    kia = seed.applications("01", "print_queue", 2, ready_at=wib(20, 9), document="kia",
                            details={"birth_date": "2019-03-12"})
    ktp = seed.applications("01", "print_queue", 3, ready_at=wib(21, 9))
    free = {"ktp": 2, "kia": 1}

    def waiting(wait: PrintWait, **more) -> list[str]:
        with database.connect() as connection:
            found = page(connection, Filters(print_wait=wait, **more), free=free)
            assert count(connection, Filters(print_wait=wait, **more), free=free) == found.total
        return sorted(row.reference for row in found.rows)

    assert waiting(PrintWait.BATCH) == sorted(kia[:1] + ktp[:2])
    assert waiting(PrintWait.BLANGKO) == sorted(kia[1:] + ktp[2:])
    assert waiting(PrintWait.BLANGKO, document="kia") == kia[1:]


def test_the_export_reads_every_row_in_chunks_masked_unless_full(database, seed, monkeypatch):
    monkeypatch.setattr("sms_ktp.backoffice.worklist.EXPORT_CHUNK", 4)
    references = seed.applications("03", "penunggalan", 9)
    with database.connect() as connection:
        masked = list(export_rows(connection, Filters(stage=Stage.PENUNGGALAN)))
        full = list(export_rows(connection, Filters(stage=Stage.PENUNGGALAN), full=True))
        niks = dict(connection.execute(select(Application.reference, Application.nik)).all())
    assert [row.reference for row in masked] == references
    assert all(row.nik.startswith("*") and len(row.nik) < 16 for row in masked)
    assert [row.nik for row in full] == [niks[reference] for reference in references]
    assert all(len(row.kk) == 16 and row.kk.startswith("327103") for row in full)


def test_query_strings_that_make_no_sense_are_dropped_and_said():
    parsed = parse_filters({"stage": "printed", "kecamatan": "99", "since": "2026-13-01",
                            "until": "2026-11-30", "sort": "sideways"})
    assert parsed.filters == Filters(stage=Stage.PRINTED, until=date(2026, 11, 30))
    assert len(parsed.errors) == 3
    swapped = parse_filters({"since": "2026-11-30", "until": "2026-11-01"})
    assert (swapped.filters.since, swapped.filters.until) == (date(2026, 11, 1),
                                                              date(2026, 11, 30))
    assert parse_filters({"wait": "blangko", "stage": "printed"}).filters.print_wait is None
    clean = parse_filters({"stage": "print_queue", "wait": "batch", "kecamatan": "01"})
    assert clean.errors == () and parse_filters(clean.filters.as_query()).filters == \
        clean.filters


def test_a_kelurahan_keeps_what_its_helpers_registered_and_its_phoneless_families(database,
                                                                                 seed):
    """A KK does not say its kelurahan: the list knows it from who registered the application
    (a helper of that kelurahan) or from a family whose contact the kelurahan is."""
    for username, role, office in (("sari", "helper", "3271011001"),
                                   ("budi", "helper", "3271011002"), ("op01", "operator", "01")):
        make_staff(database, username, role, office)
    by_sari, by_budi, by_resident, by_operator = (
        seed.applications("01", "submitted")[0] for _ in range(4))
    phoneless = seed.applications("01", "submitted")[0]
    with database.connect() as connection:
        ids = dict(connection.execute(select(Application.reference, Application.id)).all())
        connection.execute(insert(ApplicationEvent.__table__), [
            {"application_id": ids[reference], "at": NOW, "stage": "submitted", "actor": actor,
             "note": ""}
            for reference, actor in ((by_sari, "staff:sari"), (by_budi, "staff:budi"),
                                     (by_resident, "resident:sms"), (by_operator, "staff:op01"),
                                     (phoneless, "staff:op01"))])
        connection.execute(update(Family.__table__).where(Family.__table__.c.id == select(
            Application.family_id).where(Application.reference == phoneless).scalar_subquery())
            .values(phone="kel:3271011001"))
    kept, found = listed(database, Filters(kelurahan="3271011001"))
    assert sorted(kept) == sorted([by_sari, phoneless]) and found.total == 2
    assert listed(database, Filters(kelurahan="3271011002"))[0] == [by_budi]
    parsed = parse_filters({"kelurahan": "3201011001"})  # Kabupaten Bogor's, not Kota Bogor's
    assert parsed.filters.kelurahan is None and parsed.errors == (
        "Kelurahan tidak dikenal; filter ini diabaikan.",)
    # an operator's list keeps a kelurahan of their own kecamatan only
    assert Filters(kelurahan="3271041015").scoped("01").kelurahan is None
    assert Filters(kelurahan="3271011001").scoped("01").kelurahan == "3271011001"


def test_a_document_filter_keeps_its_applications_and_its_stages(database, seed):
    ktp = seed.applications("01", "submitted", 2)
    kk = seed.applications("01", "submitted", 2, document="kk", reason="pisah")
    kk_signed = seed.applications("06", "signed", 1, document="kk", reason="hilang")
    kia = seed.applications("01", "print_queue", 1, document="kia", reason="baru",
                            ready_at=wib(20, 9))
    everything, found = listed(database, Filters(sort=Sort.OLDEST))
    assert everything == ktp + kk + kk_signed + kia
    assert [row.document for row in found.rows] == ["ktp"] * 2 + ["kk"] * 3 + ["kia"]
    kept, found = listed(database, Filters(document="kk"))
    assert kept == (kk + kk_signed)[::-1] and found.total == 3
    assert listed(database, Filters(document="kk", stage=Stage.SUBMITTED))[0] == kk
    assert listed(database, Filters(document="kk", kecamatan="06"))[0] == kk_signed
    assert listed(database, Filters(document="ktp", stage=Stage.SUBMITTED))[0] == ktp
    assert listed(database, Filters(document="kia", stage=Stage.PRINT_QUEUE))[0] == kia
    assert listed(database, Filters(document="akta_mati"))[0] == []
    with database.connect() as connection:
        assert count(connection, Filters(document="kk")) == 3
        exported = list(export_rows(connection, Filters(document="kk", sort=Sort.OLDEST)))
    assert [(row.reference, row.document) for row in exported] == [
        (reference, "kk") for reference in kk + kk_signed]


def test_each_document_offers_its_own_stages():
    from sms_ktp.backoffice.worklist import stages_of

    assert stages_of("kk") == (Stage.SUBMITTED, Stage.PAPERS_CHECKED, Stage.SIGNED, Stage.READY,
                               Stage.COLLECTED, Stage.REJECTED, Stage.CANCELLED)
    assert stages_of("kk") == stages_of("akta_lahir") == stages_of("akta_mati")
    kia = stages_of("kia")
    assert Stage.PAPERS_CHECKED in kia and Stage.PRINT_QUEUE in kia
    assert Stage.MISSED_PICKUP in kia and Stage.PENUNGGALAN not in kia
    ktp = stages_of("ktp")
    assert Stage.PENUNGGALAN in ktp and Stage.DUPLICATE in ktp and Stage.SIGNED not in ktp
    assert set(stages_of("ktp", "kk")) == set(ktp) | set(stages_of("kk"))


def test_a_document_filter_that_makes_no_sense_is_dropped_and_said():
    parsed = parse_filters({"document": "pindah", "stage": "submitted"})
    assert parsed.filters == Filters(stage=Stage.SUBMITTED)
    assert parsed.errors == ("Dokumen tidak dikenal; filter ini diabaikan.",)
    parsed = parse_filters({"document": "kk", "stage": "penunggalan"})
    assert parsed.filters == Filters(document="kk")
    assert parsed.errors == ("Tahap “penunggalan” bukan tahap KK; filter tahap diabaikan.",)
    parsed = parse_filters({"document": "akta_lahir", "wait": "blangko"})
    assert parsed.filters == Filters(document="akta_lahir")
    assert parsed.errors == ("Akta Kelahiran tidak dicetak di sini; filter antre cetak "
                             "diabaikan.",)
    clean = parse_filters({"document": "kia", "stage": "print_queue", "wait": "batch"})
    assert clean.errors == () and clean.filters.as_query()["document"] == "kia"
    assert parse_filters(clean.filters.as_query()).filters == clean.filters


def plan(connection, statement) -> str:
    """The database's plan for `statement`, as tests/sms_ktp/test_models.py reads it."""
    sql = str(statement.compile(connection, compile_kwargs={"literal_binds": True}))
    if connection.dialect.name == "postgresql":
        connection.execute(text("SET LOCAL enable_seqscan = off"))
        return "\n".join(connection.execute(text("EXPLAIN " + sql)).scalars())
    return "\n".join(row[-1] for row in connection.execute(text("EXPLAIN QUERY PLAN " + sql)))


@pytest.mark.parametrize("filters", [Filters(document="kk"),
                                     Filters(document="kk", stage=Stage.COLLECTED),
                                     Filters(document="kk", kecamatan="04")],
                         ids=["document", "document-stage", "document-kecamatan"])
def test_a_document_page_is_read_through_an_index(database, filters):
    """A page of one document is read through an index (its own, or the primary key in order),
    never by reading the whole table; its keyset cursor stays a range on the id."""
    key = _APPLICATION.c.id
    statement = filtered(_ROW, filters).where(key < 1_000).order_by(key.desc()).limit(51)
    with database.connect() as connection:
        read = plan(connection, statement)
    assert "ix_application_document" in read or "application_pkey" in read, read
    assert "SCAN application" not in read and "Seq Scan on application" not in read, read


QUEUE_INDEXES = {Stage.SUBMITTED: "ix_application_submitted",
                 Stage.DUPLICATE: "ix_application_duplicate",
                 Stage.PRINT_QUEUE: "ix_application_print_queue",
                 Stage.PRINTED: "ix_application_printed",
                 Stage.PICKUP_SCHEDULED: "ix_application_pickup"}


@pytest.mark.parametrize("stage", list(QUEUE_INDEXES), ids=[stage.value for stage in QUEUE_INDEXES])
def test_a_documents_queue_is_read_as_the_queue_itself(database, stage):
    """A queue with its own partial index narrowed to one document (the KTP-el, most of the
    table) reads the queue's rows, not every application of the document: its total through
    the queue's index, its page as the queue's own page."""
    from sms_ktp.backoffice.worklist import INDEXED_STAGES

    assert set(QUEUE_INDEXES) == INDEXED_STAGES
    key = _APPLICATION.c.id
    counted = select(func.count()).select_from(
        _APPLICATION.join(_FAMILY, _FAMILY.c.id == _APPLICATION.c.family_id))

    def indexes(statement) -> set[str]:
        with database.connect() as connection:
            return set(re.findall(r"\b(ix_application_\w+|application_pkey)",
                                  plan(connection, statement)))

    ktp, queue = Filters(document="ktp", stage=stage), Filters(stage=stage)
    assert indexes(filtered(counted, ktp)) == {QUEUE_INDEXES[stage]}
    assert indexes(filtered(_ROW, ktp).order_by(key.desc()).limit(51)) == \
        indexes(filtered(_ROW, queue).order_by(key.desc()).limit(51))
