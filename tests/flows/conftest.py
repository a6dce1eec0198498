"""An in-memory stand-in for the database behind `flows.ports.Services`.

It keeps the promises of the real `sms_ktp.services.SqlServices`: one phone per family (KK), one
active application per NIK, references drawn with `new_reference` (seeded here, so tests are
reproducible), applications listed newest first with the open ones before the closed ones, and a
language per phone.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest

from flows.dialogue import Invalid
from flows.ports import ApplicationView
from sms_ktp.domain.reference import new_reference
from sms_ktp.domain.stages import CLOSED_STAGES, Stage
from sms_ktp.masking import mask_id

TODAY = date(2024, 11, 7)  # the fake's "today", used to check NIK birth dates


@dataclass
class StoredApplication:
    reference: str
    nik: str
    kk: str
    reason: str
    suket: str | None
    stage: str
    language: str
    order: int  # creation order, the fake's clock


@dataclass
class FakeServices:
    """Remembers families (kk -> phone), applications and languages, like the database does."""

    today_: date = TODAY
    seed: int = 20181107
    families: dict[str, str] = field(default_factory=dict)
    applications: list[StoredApplication] = field(default_factory=list)
    languages: dict[str, str] = field(default_factory=dict)
    submissions: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    # --- the protocol -------------------------------------------------------------------------
    def today(self) -> date:
        return self.today_

    def nik_problem(self, nik: str) -> str | None:
        active = any(
            a.nik == nik and Stage(a.stage) not in CLOSED_STAGES for a in self.applications
        )
        return "error.nik.active" if active else None

    def family_problem(self, kk: str, phone: str) -> str | None:
        owner = self.families.get(kk)
        return "error.kk.other_phone" if owner is not None and owner != phone else None

    def submit_registration(self, phone: str, answers: Mapping[str, Any], language: str) -> str:
        self.submissions += 1
        # Checked again, as the real one does: the state may have changed since the question.
        problem = self.nik_problem(answers["nik"]) or self.family_problem(answers["kk"], phone)
        if problem:
            raise Invalid(problem)
        self.families.setdefault(answers["kk"], phone)
        return self._store(answers["nik"], answers["kk"], answers["reason"],
                           answers.get("suket") if answers["reason"] == "baru" else None,
                           Stage.SUBMITTED, language)

    def family_applications(self, phone: str) -> list[ApplicationView]:
        mine = [a for a in self.applications if self.families.get(a.kk) == phone]
        newest_first = sorted(mine, key=lambda a: a.order, reverse=True)
        open_first = sorted(newest_first, key=lambda a: Stage(a.stage) in CLOSED_STAGES)
        return [ApplicationView(a.reference, mask_id(a.nik), a.stage) for a in open_first]

    def language_of(self, phone: str) -> str | None:
        return self.languages.get(phone)

    def set_language(self, phone: str, language: str) -> None:
        self.languages[phone] = language

    # --- helpers for arranging a test ---------------------------------------------------------
    def add_application(self, phone: str, nik: str, kk: str, stage: str = Stage.SUBMITTED,
                        reason: str = "hilang") -> str:
        """An application filed earlier (e.g. by staff), already at `stage`."""
        owner = self.families.setdefault(kk, phone)
        assert owner == phone, "a family has one phone"
        return self._store(nik, kk, reason, None, stage, "id")

    @staticmethod
    def nik_for(serial: int) -> str:
        """A distinct valid NIK per serial (1..9999), for families with many applications."""
        return f"327102150685{serial:04d}"

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
                                                   language, len(self.applications)))
        return reference


@pytest.fixture
def services() -> FakeServices:
    return FakeServices()
