"""The services behind `flows.ports.Services` that the dialogue tests run against: the in-memory
`FakeServices` below and `SqlTwin` (tests/support/sql_services.py), the real
`sms_ktp.applications.services.SqlServices` on a SQLite database. The `services` fixture gives
each test both in turn, so the fake cannot drift from the real one.

The fake keeps the promises of `SqlServices`: one phone per family (KK), one active application
per NIK, references drawn with `new_reference` (seeded here, so tests are reproducible),
applications listed newest first with the open ones before the closed ones, a print-queue card
not yet in a batch shown as waiting for blangko while none is free, a card to collect with its
office, slot and code, a language per phone, and the phones that left the broadcasts.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pytest
from sql_services import (
    NOW,
    SqlTwin,
    StoredApplication,
    nik_for,
    policy,
    rolled_back,
    schema_database,
)

from flows.dialogue import Invalid
from flows.ports import ActiveApplication, ApplicationDraft, ApplicationView, Submitted
from flows.registration import refusal_of_active
from sms_ktp.applications.pickup import CODE_ALPHABET, CODE_LENGTH
from sms_ktp.domain import region
from sms_ktp.domain.identity import parse_kk, require_valid_pair
from sms_ktp.domain.local_time import local_date
from sms_ktp.domain.masking import mask_id
from sms_ktp.domain.pickup_calendar import local, slot_starts
from sms_ktp.domain.reference import new_reference
from sms_ktp.domain.stages import CLOSED_STAGES, Stage
from sms_ktp.platform.clock import FixedClock
from sms_ktp.platform.db import Database


@dataclass
class FakeServices:
    """Remembers families (kk -> phone), applications and languages, like the database does."""

    clock: FixedClock = field(default_factory=lambda: FixedClock(NOW))
    seed: int = 20181107
    families: dict[str, str] = field(default_factory=dict)
    applications: list[StoredApplication] = field(default_factory=list)
    languages: dict[str, str] = field(default_factory=dict)
    submissions: int = 0
    # (family phone, reference) told that another phone tried to register the same NIK
    attempts_told: list[tuple[str, str]] = field(default_factory=list)
    opted_out: set[str] = field(default_factory=set)
    blangko: int = 0  # the blank cards in stock, all sites together
    booked: dict[tuple[str, datetime], int] = field(default_factory=dict)  # pickup slots

    nik_for = staticmethod(nik_for)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    # --- the protocol -------------------------------------------------------------------------
    def today(self) -> date:
        return local_date(self.clock.now())

    def active_application(self, nik: str) -> ActiveApplication | None:
        for a in self.applications:
            key = a.active_key if a.document != "ktp" else a.nik
            if key == nik and Stage(a.stage) not in CLOSED_STAGES:
                return ActiveApplication(a.reference, self.families[a.kk])
        return None

    def recent_registration(self, phone: str, since: datetime) -> str | None:
        """However it was filed (a YA may answer the SMS of a registration made by staff)."""
        if since.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")  # as the database
        mine = [a for a in self.applications
                if self.families.get(a.kk) == phone and a.created_at >= since]
        return max(mine, key=lambda a: a.order).reference if mine else None

    def family_problem(self, kk: str, phone: str) -> str | None:
        owner = self.families.get(kk)
        return "error.kk.other_phone" if owner is not None and owner != phone else None

    def submit_registration(self, phone: str, answers: Mapping[str, Any], language: str) -> str:
        self.submissions += 1
        # Checked again, as the real one does: the state may have changed since the question.
        active = self.active_application(answers["nik"])
        if active is not None:
            refused = refusal_of_active(active, answers["nik"], phone)
            if refused.key == "error.nik.elsewhere" \
                    and (active.phone, active.reference) not in self.attempts_told:  # once a day
                self.attempts_told.append((active.phone, active.reference))
            raise refused
        problem = self.family_problem(answers["kk"], phone)
        if problem:
            raise Invalid(problem)
        require_valid_pair(answers["nik"], answers["kk"], self.today())
        self.families.setdefault(answers["kk"], phone)
        reference = self._store(answers["nik"], answers["kk"], answers["reason"],
                                answers.get("suket") if answers["reason"] == "baru" else None,
                                Stage.SUBMITTED, language)
        self.application(reference).submitted = True
        # Registering in a language is choosing it, for a phone that had not chosen one.
        self.languages.setdefault(phone, language)
        return reference

    def submit_document(self, phone: str, draft: ApplicationDraft, language: str) -> Submitted:
        """As the real one: the document's key, the family's phone; the papers visit is the
        real booking's business (tests/e2e), so none here."""
        self.submissions += 1
        if draft.active_key is not None:
            active = self.active_application(draft.active_key)
            if active is not None:
                if active.phone == phone:
                    raise Invalid(f"{draft.document}.exists", ref=active.reference,
                                  nik=mask_id(draft.nik))
                raise Invalid("error.nik.elsewhere")
        problem = self.family_problem(draft.kk, phone)
        if problem:
            raise Invalid(problem)
        require_valid_pair(draft.nik, draft.kk, self.today())
        self.families.setdefault(draft.kk, phone)
        reference = self._store(draft.nik, draft.kk, draft.reason, None, Stage.SUBMITTED,
                                language)
        stored = self.application(reference)
        stored.submitted, stored.document, stored.active_key = True, draft.document, \
            draft.active_key
        self.languages.setdefault(phone, language)
        return Submitted(reference, None)

    def family_applications(self, phone: str) -> list[ApplicationView]:
        mine = [a for a in self.applications if self.families.get(a.kk) == phone]
        newest_first = sorted(mine, key=lambda a: a.order, reverse=True)
        open_first = sorted(newest_first, key=lambda a: Stage(a.stage) in CLOSED_STAGES)
        queued = [a for a in open_first if a.stage == Stage.PRINT_QUEUE and not a.in_batch]
        no_blangko = bool(queued) and self.blangko - self._reserved() <= 0
        return [self._pickup_view(a) if a.stage == Stage.PICKUP_SCHEDULED
                else ApplicationView(a.reference, mask_id(a.nik),
                                     "waiting_blangko" if no_blangko and a in queued else a.stage,
                                     document=a.document)
                for a in open_first]

    def family_references_of_nik(self, phone: str, nik: str) -> set[str]:
        return {a.reference for a in self.applications
                if a.nik == nik and self.families.get(a.kk) == phone}

    def post_offer(self) -> dict[str, Any] | None:
        return None  # the default regency does not post cards

    def request_post(self, phone: str, dry_run: bool = False) -> dict[str, Any]:
        raise Invalid("post.off")

    def family_pickups(self, phone: str) -> list[ApplicationView]:
        mine = [a for a in self.applications if self.families.get(a.kk) == phone
                and a.stage in (Stage.PICKUP_SCHEDULED, Stage.MISSED_PICKUP)]
        # By slot, a card held at the office (no slot) first, as SQLite sorts NULL.
        mine.sort(key=lambda a: (a.pickup_at is not None, a.pickup_at or NOW, a.order))
        return [self._pickup_view(a) for a in mine]

    def pickups_told(self, phone: str, texts: list[str]) -> None:
        """The fake queues no notifications: nothing waits to be superseded."""

    def move_pickup(self, phone: str, reference: str, on: date | None = None) -> ApplicationView:
        """`sms_ktp.applications.pickup.move`: to the first free slot of `on`, or of the first
        working day with one after the pickup's own day; never another time of the same day."""
        (moving,) = [a for a in self.applications if a.reference == reference
                     and self.families.get(a.kk) == phone and a.stage == Stage.PICKUP_SCHEDULED]
        rules = policy()
        if moving.pickup_changes >= rules.max_resident_changes:
            raise Invalid("pickup.no_more_changes" if rules.max_resident_changes
                          else "pickup.no_changes", n=rules.max_resident_changes)
        office = rules.offices.get(moving.pickup_office or "")
        if office is None or moving.pickup_at is None:
            raise Invalid("pickup.full")
        current = local(moving.pickup_at).date()
        if on == current:
            raise Invalid("pickup.same_day")
        free = [day for day in self._free_days(office.code) if day != current]
        if on is None:
            day = next((day for day in free if day > current), None)
            if day is None:
                raise Invalid("pickup.full")
        elif on not in free:
            if not free:
                raise Invalid("pickup.full")
            raise Invalid("pickup.day_unavailable",
                          day=min(free, key=lambda day: (abs(day - on), day < on)))
        else:
            day = on
        start = self._book(office.code, day)
        self.booked[(office.code, moving.pickup_at)] -= 1
        moving.pickup_at, moving.pickup_changes = start, moving.pickup_changes + 1
        return self._pickup_view(moving)

    def language_of(self, phone: str) -> str | None:
        return self.languages.get(phone)

    def set_language(self, phone: str, language: str) -> None:
        """The phone's replies, and the family's open applications, from now on in it."""
        self.languages[phone] = language
        for a in self.applications:
            if self.families.get(a.kk) == phone and Stage(a.stage) not in CLOSED_STAGES:
                a.language = language

    def set_broadcast_opt_out(self, phone: str, opted_out: bool) -> None:
        if opted_out:
            self.opted_out.add(phone)
        else:
            self.opted_out.discard(phone)

    # --- helpers for arranging a test ---------------------------------------------------------
    def add_application(self, phone: str, nik: str, kk: str, stage: str = Stage.SUBMITTED,
                        reason: str = "hilang") -> str:
        """An application filed earlier (e.g. by staff), already at `stage`."""
        owner = self.families.setdefault(kk, phone)
        assert owner == phone, "a family has one phone"
        reference = self._store(nik, kk, reason, None, stage, "id")
        stored = self.application(reference)
        if stage in (Stage.PICKUP_SCHEDULED, Stage.MISSED_PICKUP, Stage.COLLECTED):
            stored.pickup_office = parse_kk(kk).kecamatan_code
            stored.pickup_code = "".join(self.rng.choice(CODE_ALPHABET)
                                         for _ in range(CODE_LENGTH))
        if stage == Stage.PICKUP_SCHEDULED:
            office = stored.pickup_office or ""
            day = next(iter(self._free_days(office)))
            stored.pickup_at = self._book(office, day)
        return reference

    def add_blangko(self, count: int) -> None:
        self.blangko += count

    def add_opt_out(self, phone: str) -> None:
        self.opted_out.add(phone)

    def application(self, reference: str) -> StoredApplication:
        (found,) = [a for a in self.applications if a.reference == reference]
        return found

    def _store(self, nik: str, kk: str, reason: str, suket: str | None, stage: str,
               language: str) -> str:
        taken = {a.reference for a in self.applications}
        reference = new_reference(self.rng)
        while reference in taken:
            reference = new_reference(self.rng)
        self.applications.append(StoredApplication(reference, nik, kk, reason, suket, str(stage),
                                                   language, len(self.applications),
                                                   created_at=self.clock.now()))
        return reference

    def _reserved(self) -> int:
        return sum(a.in_batch and a.stage == Stage.PRINT_QUEUE for a in self.applications)

    def _slots(self, office_code: str) -> Iterator[datetime]:
        """The office's slots over the search window, from its first open day after today."""
        rules = policy()
        office = rules.offices[office_code]
        first = rules.calendar.next_open_day(office, self.today())
        for day in rules.calendar.open_days(office, first, rules.search_days):
            yield from slot_starts(office, day)

    def _free_days(self, office_code: str) -> list[date]:
        capacity = policy().offices[office_code].capacity
        days = [local(start).date() for start in self._slots(office_code)
                if self.booked.get((office_code, start), 0) < capacity]
        return list(dict.fromkeys(days))

    def _book(self, office_code: str, day: date) -> datetime:
        capacity = policy().offices[office_code].capacity
        start = next(start for start in self._slots(office_code) if local(start).date() == day
                     and self.booked.get((office_code, start), 0) < capacity)
        self.booked[(office_code, start)] = self.booked.get((office_code, start), 0) + 1
        return start

    def _pickup_view(self, a: StoredApplication) -> ApplicationView:
        office = policy().offices.get(a.pickup_office or "")
        return ApplicationView(a.reference, mask_id(a.nik), a.stage, {
            "at": local(a.pickup_at) if a.pickup_at else None,
            "office": office.name if office else a.pickup_office,
            "address": office.address if office else "", "code": a.pickup_code})


# --- the fixture ------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def flows_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """One SQLite database per worker for the SQL half; each test's rows are rolled back."""
    database = schema_database(tmp_path_factory.mktemp("flows-db"))
    yield database
    database.dispose()


@pytest.fixture
def services_pair(flows_database: Database
                  ) -> Callable[[], AbstractContextManager[tuple[FakeServices, SqlTwin]]]:
    """Fresh services of both kinds side by side, as often as asked (a property test compares
    them example by example)."""

    @contextmanager
    def pair() -> Iterator[tuple[FakeServices, SqlTwin]]:
        with rolled_back(flows_database) as connection:
            yield FakeServices(), SqlTwin(connection)

    return pair


@pytest.fixture(params=["fake", "sql"])
def services(request: pytest.FixtureRequest) -> Iterator[FakeServices | SqlTwin]:
    """The dialogues' services, in memory and on SQL: every test runs against both."""
    if request.param == "fake":
        yield FakeServices()
        return
    with rolled_back(request.getfixturevalue("flows_database")) as connection:
        yield SqlTwin(connection)


@pytest.fixture
def serve() -> Iterator[Callable[..., region.Region]]:
    """Serve another regency for the rest of the test, as `[region] code` does: `serve("7371")`
    is Kota Makassar (its province's languages unless `languages` are given). Kota Bogor, the
    default, again afterwards (tests/conftest.py resets it after every test too)."""

    def serving(code: str, languages: tuple[str, ...] | None = None) -> region.Region:
        served = region.region(code, languages)
        region.configure(served)
        return served

    yield serving
    region._configured = None
