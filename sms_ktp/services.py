"""The use cases the dialogues call (`flows.ports.Services`), on one database session: they run
inside the transaction of the message that caused them, so a reply and the change it reports
commit together or not at all."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, select

from flows.dialogue import Invalid
from flows.ports import ApplicationView
from sms_ktp.clock import Clock, jakarta_date
from sms_ktp.domain.identity import parse_kk
from sms_ktp.domain.reference import new_reference
from sms_ktp.domain.stages import CLOSED_STAGES, Stage
from sms_ktp.masking import mask_id
from sms_ktp.models import Application, ApplicationEvent, Family
from sms_ktp.phone_state import PhoneStateStore


class SqlServices:
    def __init__(self, session: Session, clock: Clock, phone_state: PhoneStateStore,
                 channel: str = "sms") -> None:
        self.session = session
        self.clock = clock
        self.channel = channel
        self.phone_state = phone_state
        self._now: datetime | None = None
        self._families: dict[str, Family | None] = {}

    @property
    def now(self) -> datetime:
        if self._now is None:  # one instant for the whole message
            self._now = self.clock.now()
        return self._now

    def today(self) -> date:
        return jakarta_date(self.now)

    # --- registration -------------------------------------------------------------------------
    def nik_problem(self, nik: str) -> str | None:
        active = self.session.exec(select(Application.id).where(Application.active_nik == nik))
        return "error.nik.active" if active.first() is not None else None

    def family_problem(self, kk: str, phone: str) -> str | None:
        family = self._family(kk)
        if family is not None and family.phone != phone:
            return "error.kk.other_phone"
        return None

    def submit_registration(self, phone: str, answers: Mapping[str, Any], language: str) -> str:
        # Checked again here: the state may have changed since the question was answered.
        problem = self.nik_problem(answers["nik"]) or self.family_problem(answers["kk"], phone)
        if problem:
            raise Invalid(problem)
        family = self._family(answers["kk"])
        if family is None:
            family = Family(kk=answers["kk"], phone=phone,
                            kecamatan_code=parse_kk(answers["kk"]).kecamatan_code,
                            created_at=self.now)
            self.session.add(family)
            self.session.flush()
            self._families[family.kk] = family
        application = Application(
            reference=self._unused_reference(),
            nik=answers["nik"],
            active_nik=answers["nik"],
            family_id=family.id,
            reason=answers["reason"],
            suket_number=answers.get("suket") if answers["reason"] == "baru" else None,
            stage=Stage.SUBMITTED,
            language=language,
            channel=self.channel,
            created_at=self.now,
            updated_at=self.now,
        )
        self.session.add(application)
        self.session.flush()
        self.session.add(ApplicationEvent(application_id=application.id, at=self.now,
                                          stage=Stage.SUBMITTED, actor=f"resident:{self.channel}",
                                          note="registered by the family phone"))
        return application.reference

    def _family(self, kk: str) -> Family | None:
        if kk not in self._families:
            self._families[kk] = self.session.exec(select(Family).where(Family.kk == kk)).first()
        return self._families[kk]

    def _unused_reference(self) -> str:
        while True:
            reference = new_reference()
            taken = self.session.exec(
                select(Application.id).where(Application.reference == reference)
            ).first()
            if taken is None:
                return reference

    # --- status -------------------------------------------------------------------------------
    def family_applications(self, phone: str) -> list[ApplicationView]:
        rows = self.session.exec(
            select(Application)
            .join(Family, Family.id == Application.family_id)
            .where(Family.phone == phone)
            .order_by(Application.created_at.desc(), Application.id.desc())
        ).all()
        open_first = sorted(rows, key=lambda a: Stage(a.stage) in CLOSED_STAGES)
        return [ApplicationView(a.reference, mask_id(a.nik), a.stage) for a in open_first]

    # --- language -----------------------------------------------------------------------------
    def language_of(self, phone: str) -> str | None:
        return self._state(phone).language

    def set_language(self, phone: str, language: str) -> None:
        self._state(phone).language = language  # written with the rest of the phone's state

    def _state(self, phone: str) -> PhoneStateStore:
        if self.phone_state.phone != phone:
            raise ValueError("the services of one message speak for that message's phone only")
        return self.phone_state
