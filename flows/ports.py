"""What the dialogues need from the service, as plain protocols: the flows stay free of the
database, and tests can drive them with any object that keeps these promises."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class ApplicationView:
    """An application as a resident may see it: masked numbers only."""

    reference: str
    nik_masked: str
    stage: str
    details: Mapping[str, Any] = field(default_factory=dict)  # placeholders of the stage text
    document: str = "ktp"  # `sms_ktp.domain.documents`


@dataclass(frozen=True)
class ActiveApplication:
    """The application a NIK has open, and the family phone that speaks for it."""

    reference: str
    phone: str


@dataclass(frozen=True)
class ApplicationDraft:
    """Another document's application as its dialogue hands it over: the applicant's NIK, the
    family's KK, the reason code, the document's other answers, and the key that allows one
    open application at a time (None: a family may ask for two at once, as for twins)."""

    document: str
    nik: str
    kk: str
    reason: str
    details: Mapping[str, Any] = field(default_factory=dict)
    active_key: str | None = None


@dataclass(frozen=True)
class PapersVisitView:
    """Where and when the papers of an application are handed in: `at` local, or None when no
    slot is free in the search window (any working day then)."""

    at: datetime | None
    office: str
    address: str
    code: str


@dataclass(frozen=True)
class Submitted:
    reference: str
    visit: PapersVisitView | None


class Services(Protocol):
    def today(self) -> date: ...

    def active_application(self, nik: str) -> ActiveApplication | None:
        """The open application of this NIK, if any (one at a time per NIK)."""

    def recent_registration(self, phone: str, since: datetime) -> str | None:
        """The reference of the newest registration of this phone's family made since `since`
        (to answer a YA sent twice)."""

    def family_problem(self, kk: str, phone: str) -> str | None:
        """A catalogue key when this phone may not register for this family."""

    def submit_registration(self, phone: str, answers: Mapping[str, Any], language: str) -> str:
        """Store the application and return its reference; raises `Invalid` when refused."""

    def submit_document(self, phone: str, draft: ApplicationDraft, language: str) -> Submitted:
        """Store another document's application and book its papers visit; raises `Invalid`
        when refused (`<document>.exists` with `ref` when its key has an open one)."""

    def family_pickups(self, phone: str) -> list[ApplicationView]:
        """The family's visits to collect its cards, one view each (the first card's reference
        and masked NIK); `details` hold `at` (local datetime, or None when the cards are held
        at the office), `office`, `address`, `code`, `niks` (every card's masked NIK) and
        `references` (every card's)."""

    def pickups_told(self, phone: str, texts: list[str]) -> None:
        """These pickup SMS were just sent as the answer to JADWAL: the same SMS still waiting
        as a notification (quiet hours) is not sent a second time."""

    def move_pickup(self, phone: str, reference: str, on: date | None = None) -> ApplicationView:
        """Move the visit of that card, all its cards, to the first free slot of day `on`
        (local), or without it of the first working day after its own; raises `Invalid` when
        it may not move (a `date` among its params is a day to word in the reader's
        language)."""

    def family_applications(self, phone: str) -> list[ApplicationView]:
        """The applications of the family this phone speaks for, newest first."""

    def family_references_of_nik(self, phone: str, nik: str) -> set[str]:
        """The references of this phone's family's applications for `nik` (`KTP#<NIK>`), found
        by the NIK's keyed hash; empty when the NIK is none of this family's, whether another
        family has it or nobody."""

    def post_offer(self) -> Mapping[str, Any] | None:
        """`{courier}` and `{fee}` of the messages about posting; None where the regency does
        not post cards."""

    def request_post(self, phone: str, dry_run: bool = False) -> Mapping[str, Any]:
        """Post the family's cards to collect instead (`dry_run`: only say which); the
        placeholders of `post.done` (`niks`: the masked NIKs named as `{cards}`). Raises
        `Invalid` with the key that says why not (`niks` among its params when it names
        cards)."""

    def language_of(self, phone: str) -> str | None: ...

    def set_language(self, phone: str, language: str) -> None: ...

    def set_broadcast_opt_out(self, phone: str, opted_out: bool) -> None:
        """BERHENTI / MULAI: whether broadcasts skip this phone (transactional SMS never do)."""
