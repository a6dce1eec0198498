"""The dialogues' services on a real database, arranged and inspected like the in-memory
`FakeServices` of tests/flows/conftest.py, so that every dialogue test runs against both and the
fake cannot drift from the real `sms_ktp.applications.services.SqlServices`.

`SqlTwin` keeps the fake's helpers (`add_application`, `applications`, `families`, ...) but
writes and reads rows: an application is arranged with the columns the service writes at its
stage (a print-queue card waits for blangko unless `add_blangko` stocked some; a card to collect
has its office, a booked slot and a code). Each protocol call runs on a new `SqlServices`, as
each message does; the calls that read or write the phone's state (its language, its opt-out)
load it before and save it after, as a message does.

What both sides share is here too: the record an application is read back as, the clock they
start at and the pickup policy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, func, insert, select

from flows.ports import ActiveApplication, ApplicationDraft, ApplicationView, Submitted
from sms_ktp import crypto
from sms_ktp.applications.pickup import PickupPolicy, SlotBook, new_codes
from sms_ktp.applications.registration_attempts import KIND as ATTEMPT_KIND
from sms_ktp.applications.services import SqlServices
from sms_ktp.domain.identity import parse_kk
from sms_ktp.domain.local_time import local_date
from sms_ktp.domain.pickup_calendar import WorkingCalendar, default_offices
from sms_ktp.domain.quiet_hours import QuietHours
from sms_ktp.domain.reference import new_reference
from sms_ktp.domain.stages import CLOSED_STAGES, Stage
from sms_ktp.messaging.phone_state import PhoneStateStore
from sms_ktp.models import (
    Application,
    ApplicationEvent,
    BlangkoMovement,
    Family,
    OutboxMessage,
    PhoneState,
    PickupVisit,
)
from sms_ktp.platform.clock import FixedClock
from sms_ktp.platform.db import Database

T = TypeVar("T")
# Thursday 7 November 2024, 09:00 in Bogor: both sides' clock when a test starts.
NOW = datetime(2024, 11, 7, 2, 0, tzinfo=UTC)
SITE = "disdukcapil"  # the printing site of the default configuration
ARRANGED_BY = "staff:test"  # who filed an application a test arranges

# Stages reached through printing and pickup (the columns their steps write).
_READY = frozenset({Stage.PRINT_READY, Stage.PRINT_QUEUE, Stage.PRINTED, Stage.PICKUP_SCHEDULED,
                    Stage.MISSED_PICKUP, Stage.COLLECTED})
_PRINTED = frozenset({Stage.PRINTED, Stage.PICKUP_SCHEDULED, Stage.MISSED_PICKUP,
                      Stage.COLLECTED})
_APPLICATION = Application.__table__
_FAMILY = Family.__table__
_VISIT = PickupVisit.__table__


@cache
def policy() -> PickupPolicy:
    """The pickup policy of the default configuration (six offices, holidays, quiet hours)."""
    return PickupPolicy(default_offices(), WorkingCalendar(), QuietHours.parse("20:00-07:00"))


def nik_for(serial: int) -> str:
    """A distinct valid NIK per serial (1..9999), for families with many applications."""
    return f"327102150685{serial:04d}"


@dataclass
class StoredApplication:
    """An application as a test inspects it (full numbers: the test's own data)."""

    reference: str
    nik: str
    kk: str
    reason: str
    suket: str | None
    stage: str
    language: str
    order: int  # creation order
    submitted: bool = False  # through the dialogue (not arranged by a test)
    created_at: datetime = NOW
    in_batch: bool = False  # reserved for a print batch (its blangko set aside)
    pickup_office: str | None = None
    pickup_at: datetime | None = None  # UTC; None for a card held at the office
    pickup_code: str | None = None
    pickup_changes: int = 0
    document: str = "ktp"
    active_key: str | None = None  # another document's key of one open application at a time


# --- the database -------------------------------------------------------------------------------
def configure_keys() -> None:
    """The test keys of the encryption at rest (tests/conftest.py sets them before every test;
    the flows' tests may run without it)."""
    from live_service import DATA_KEY, LOOKUP_KEY  # the heavier import, only when needed

    crypto.configure(DATA_KEY, (), LOOKUP_KEY)


def schema_database(folder: Path) -> Database:
    """A SQLite database with the newest schema, made the way the other tests make theirs."""
    configure_keys()
    database = Database(f"sqlite:///{folder / 'sms-ktp.db'}")
    database.create_schema()
    return database


@contextmanager
def rolled_back(database: Database) -> Iterator[Connection]:
    """A connection in a transaction that is rolled back at the end: one test's rows, gone."""
    configure_keys()
    with database.engine.connect() as connection:
        transaction = connection.begin()
        try:
            yield connection
        finally:
            transaction.rollback()


# --- the twin -----------------------------------------------------------------------------------
class SqlTwin:
    """`flows.ports.Services` through `SqlServices` on `connection`, with the fake's helpers."""

    nik_for = staticmethod(nik_for)

    def __init__(self, connection: Connection, clock: FixedClock | None = None) -> None:
        self.connection = connection
        self.clock = clock or FixedClock(NOW)
        self.submissions = 0

    def _run(self, phone: str, call: Callable[[SqlServices], T], state: bool = False) -> T:
        """One message's services for `phone`; with `state`, the phone's state (its language)
        loaded before and saved after, as a message does (the other calls do not touch it)."""
        store = PhoneStateStore(self.connection, phone)
        if state:
            store.load()
        services = SqlServices(self.connection, self.clock, store, policy(), channel="sms")
        try:
            return call(services)
        finally:
            if state:
                store.save(None, services.now)

    # --- the protocol -----------------------------------------------------------------------
    def today(self) -> date:
        return local_date(self.clock.now())

    def active_application(self, nik: str) -> ActiveApplication | None:
        return self._run("", lambda s: s.active_application(nik))

    def recent_registration(self, phone: str, since: datetime) -> str | None:
        return self._run(phone, lambda s: s.recent_registration(phone, since))

    def family_problem(self, kk: str, phone: str) -> str | None:
        return self._run(phone, lambda s: s.family_problem(kk, phone))

    def submit_registration(self, phone: str, answers: Mapping[str, Any], language: str) -> str:
        self.submissions += 1
        return self._run(phone, lambda s: s.submit_registration(phone, answers, language),
                         state=True)

    def submit_document(self, phone: str, draft: ApplicationDraft, language: str) -> Submitted:
        self.submissions += 1
        return self._run(phone, lambda s: s.submit_document(phone, draft, language),
                         state=True)

    def family_pickups(self, phone: str) -> list[ApplicationView]:
        return self._run(phone, lambda s: s.family_pickups(phone))

    def pickups_told(self, phone: str, texts: list[str]) -> None:
        self._run(phone, lambda s: s.pickups_told(phone, texts))

    def move_pickup(self, phone: str, reference: str, on: date | None = None) -> ApplicationView:
        return self._run(phone, lambda s: s.move_pickup(phone, reference, on))

    def family_applications(self, phone: str) -> list[ApplicationView]:
        return self._run(phone, lambda s: s.family_applications(phone))

    def family_references_of_nik(self, phone: str, nik: str) -> set[str]:
        return self._run(phone, lambda s: s.family_references_of_nik(phone, nik))

    def post_offer(self) -> dict[str, Any] | None:
        return self._run("", lambda s: s.post_offer())

    def request_post(self, phone: str, dry_run: bool = False) -> dict[str, Any]:
        return self._run(phone, lambda s: s.request_post(phone, dry_run))

    def language_of(self, phone: str) -> str | None:
        return self._run(phone, lambda s: s.language_of(phone), state=True)

    def set_language(self, phone: str, language: str) -> None:
        self._run(phone, lambda s: s.set_language(phone, language), state=True)

    def set_broadcast_opt_out(self, phone: str, opted_out: bool) -> None:
        self._run(phone, lambda s: s.set_broadcast_opt_out(phone, opted_out), state=True)

    # --- helpers for arranging a test -------------------------------------------------------
    def add_application(self, phone: str, nik: str, kk: str, stage: str = Stage.SUBMITTED,
                        reason: str = "hilang") -> str:
        """An application filed earlier (e.g. by staff), already at `stage`, with the columns
        the steps up to that stage write."""
        now, stage = self.clock.now(), Stage(stage)
        family = self.connection.execute(
            select(_FAMILY.c.id, _FAMILY.c.phone).where(_FAMILY.c.kk_hash == kk)).first()
        if family is None:
            family_id = self.connection.execute(insert(_FAMILY).returning(_FAMILY.c.id), {
                "kk": kk, "phone": phone, "kecamatan_code": parse_kk(kk).kecamatan_code,
                "created_at": now}).scalar_one()
        else:
            assert family.phone == phone, "a family has one phone"
            family_id = family.id
        reference = new_reference()
        while self.connection.execute(select(_APPLICATION.c.id).where(
                _APPLICATION.c.reference == reference)).first() is not None:
            reference = new_reference()
        values: dict[str, Any] = {
            "reference": reference, "nik": nik, "family_id": family_id, "reason": reason,
            "suket_number": None, "stage": stage.value, "language": "id", "channel": "staff",
            "created_at": now, "updated_at": now, "consent_at": now,
            "active_nik": None if stage in CLOSED_STAGES else nik}
        if stage in _READY:
            values["ready_at"] = now
        if stage in _PRINTED:
            values["printed_at"] = now
            values.update(self._pickup(kk, stage, family_id))
        if stage == Stage.COLLECTED:
            values["collected_at"] = now
        application_id = self.connection.execute(
            insert(_APPLICATION).returning(_APPLICATION.c.id), values).scalar_one()
        self.connection.execute(insert(ApplicationEvent.__table__), [
            {"application_id": application_id, "at": now, "stage": step, "actor": ARRANGED_BY,
             "note": "arranged by the test"}
            for step in dict.fromkeys((Stage.SUBMITTED.value, stage.value))])
        return reference

    def _pickup(self, kk: str, stage: Stage, family_id: int) -> dict[str, Any]:
        """The pickup columns: a visit of its own in an office's slot booked as the allocation
        books it, and a code (open while the card is to be collected)."""
        if stage == Stage.PRINTED:
            return {}
        office = policy().offices[parse_kk(kk).kecamatan_code]
        taken = set(self.connection.execute(select(_VISIT.c.open_code).where(
            _VISIT.c.open_code.is_not(None))).scalars())
        code = next(new_codes(taken))
        visit: dict[str, Any] = {"family_id": family_id, "office": office.code, "code": code,
                                 "open_code": None if stage == Stage.COLLECTED else code,
                                 "reschedules": 0, "changes": 0, "starts_at": None,
                                 "created_at": self.clock.now()}
        if stage == Stage.PICKUP_SCHEDULED:
            book = SlotBook(self.connection, office, policy(), self.today())
            visit["starts_at"] = book.book(1)
            book.write(self.connection)
        elif stage == Stage.MISSED_PICKUP:  # rescheduled as often as allowed, then held
            visit["reschedules"] = policy().max_reschedules
        visit_id = self.connection.execute(insert(_VISIT).returning(_VISIT.c.id),
                                           visit).scalar_one()
        return {"pickup_office": office.code, "pickup_code": code,
                "pickup_at": visit["starts_at"], "visit_id": visit_id}

    def add_blangko(self, count: int) -> None:
        """Blank cards added to the printing site's stock."""
        self.connection.execute(insert(BlangkoMovement.__table__), {
            "site": SITE, "delta": count, "reason": "added", "actor": ARRANGED_BY,
            "at": self.clock.now()})

    def add_opt_out(self, phone: str) -> None:
        """A phone that left the broadcasts earlier."""
        self._run(phone, lambda s: s.set_broadcast_opt_out(phone, True), state=True)

    # --- what a test inspects ---------------------------------------------------------------
    @property
    def applications(self) -> list[StoredApplication]:
        """Every application, oldest first."""
        a = _APPLICATION.c
        rows = self.connection.execute(
            select(a.reference, a.nik, _FAMILY.c.kk, a.reason, a.suket_number, a.stage,
                   a.language, a.id, a.channel, a.created_at, a.print_batch_id, a.pickup_office,
                   a.pickup_at, a.pickup_code,
                   func.coalesce(_VISIT.c.changes, 0).label("pickup_changes"), a.document,
                   a.active_nik)
            .join(_FAMILY, _FAMILY.c.id == a.family_id)
            .outerjoin(_VISIT, _VISIT.c.id == a.visit_id).order_by(a.id)).all()
        return [StoredApplication(
            row.reference, row.nik, row.kk, row.reason, row.suket_number, row.stage,
            row.language, row.id, row.channel != "staff", row.created_at,
            row.print_batch_id is not None, row.pickup_office, row.pickup_at, row.pickup_code,
            row.pickup_changes, row.document, row.active_nik) for row in rows]

    def application(self, reference: str) -> StoredApplication:
        (found,) = [a for a in self.applications if a.reference == reference]
        return found

    @property
    def families(self) -> dict[str, str]:
        """KK -> the family's phone."""
        rows = self.connection.execute(select(_FAMILY.c.kk, _FAMILY.c.phone)).all()
        return {row.kk: row.phone for row in rows}

    @property
    def languages(self) -> dict[str, str]:
        rows = self.connection.execute(select(PhoneState.phone, PhoneState.language)
                                       .where(PhoneState.language.is_not(None))).all()
        return {row.phone: row.language for row in rows}

    @property
    def opted_out(self) -> set[str]:
        """The phones that left the broadcasts."""
        return set(self.connection.execute(select(PhoneState.phone).where(
            PhoneState.broadcast_opt_out_at.is_not(None))).scalars())

    @property
    def attempts_told(self) -> list[tuple[str, str]]:
        """(family phone, reference) for each notice that another phone tried the NIK of that
        application (`sms_ktp.applications.registration_attempts`)."""
        references = [a.reference for a in self.applications]
        rows = self.connection.execute(
            select(OutboxMessage.phone, OutboxMessage.text)
            .where(OutboxMessage.kind == ATTEMPT_KIND).order_by(OutboxMessage.id)).all()
        return [(row.phone, reference) for row in rows
                for reference in references if reference in row.text]
