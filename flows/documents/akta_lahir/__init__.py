"""Akta Kelahiran: the parent's NIK, the family's KK, the child's birth date and sex. A birth
reported more than 60 days after it is a late registration (UU 23/2006 Ps. 27): the same papers,
the Kepala Dinas decides, and the resident is told so before confirming. The akta is signed
electronically (TTE) and issued as a PDF, usually with the family's updated KK and the child's
KIA. A family may apply for two children at once (twins): no one-open-at-a-time key."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from flows.catalogue import Msg
from flows.dialogue import Conversation, Invalid, Route, Step
from flows.documents.common import (
    DATE,
    NUMBER,
    SEXES,
    WORDS,
    DocumentFlow,
    choices_of,
    confirm_step,
    dialogue_of,
    finish,
    kk_step,
    masked,
    nik_step,
    read_date,
    read_sex,
    shown_date,
)
from flows.keywords import clean
from flows.ports import ApplicationDraft, Services

CODE = "akta_lahir"
ON_TIME, LATE = "tepat", "terlambat"
# A birth is reported within 60 days; after that it is a late registration.
REPORT_DAYS = 60
# The day the birth date was read, kept beside the answers: the summary and the application
# then agree on whether the report is late, whatever day the YA comes.
READ_ON = "read_on"
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def reason_of(born: date, today: date) -> str:
    return LATE if (today - born).days > REPORT_DAYS else ON_TIME


def read_birth_date(text: str, services: Services, conversation: Conversation) -> str:
    """The child's birth date, not in the future (as typed, or an ISO date kept by the
    dialogue when an earlier answer is asked again), as an ISO date."""
    today = services.today()
    typed = clean(text).strip()
    if _ISO.match(typed):
        try:
            born = date.fromisoformat(typed)
        except ValueError:
            raise Invalid("error.date.unreadable") from None
        if born > today:
            raise Invalid("error.date.future")
    else:
        born = read_date(text, today)
    conversation.answers[READ_ON] = today.isoformat()
    return born.isoformat()


def read_child_sex(text: str, services: Services, conversation: Conversation) -> str:
    return read_sex(text)


def _born(answers: Mapping[str, Any]) -> date:
    return date.fromisoformat(answers["birth_date"])


def _reason(answers: Mapping[str, Any]) -> str:
    return reason_of(_born(answers), date.fromisoformat(answers[READ_ON]))


def say_born(answers: Mapping[str, Any]) -> str:
    return shown_date(answers["birth_date"])


def timing(answers: Mapping[str, Any]) -> dict[str, Any]:
    """The birth date as read and whether its report is late, before the sex is asked."""
    return {"born": say_born(answers), "timing": Msg(f"{CODE}.timing.{_reason(answers)}")}


def summary(answers: Mapping[str, Any]) -> dict[str, Any]:
    return {**masked(answers, "nik", "kk"), "born": say_born(answers),
            "sex": Msg(f"{CODE}.sex.{answers['sex']}"),
            "reason": Msg(f"{CODE}.reason.{_reason(answers)}")}


def draft(conversation: Conversation) -> ApplicationDraft:
    answers = conversation.answers
    return ApplicationDraft(CODE, answers["nik"], answers["kk"], _reason(answers),
                            details={"birth_date": answers["birth_date"], "sex": answers["sex"]})


DIALOGUE = dialogue_of(CODE, [
    nik_step(CODE),
    kk_step(CODE, "birth_date"),
    Step("birth_date", f"{CODE}.ask.birth_date", read_birth_date, (Route("sex"),)),
    Step("sex", f"{CODE}.ask.sex", read_child_sex, (Route("confirm"),),
         choices=choices_of(CODE, "sex", SEXES), describe=timing),
    confirm_step(CODE, summary),
], finish(CODE, draft))

FLOW = DocumentFlow(CODE, DIALOGUE, (("nik", NUMBER), ("kk", NUMBER), ("birth_date", DATE),
                                     ("sex", WORDS)))
