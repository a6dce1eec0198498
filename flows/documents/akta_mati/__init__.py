"""Akta Kematian: the reporter's NIK (an heir or a relative of the deceased), the NIK of the
deceased, the date of death and the KK of the deceased; the akta is then signed electronically
(TTE) and issued as a PDF together with the updated KK. One open report per deceased."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flows.dialogue import Conversation, Invalid, Route, Step
from flows.documents.common import (
    DATE,
    NUMBER,
    DocumentFlow,
    confirm_step,
    dialogue_of,
    family_kk,
    finish,
    masked,
    nik_step,
    read_date,
    refuse_open,
    shown_date,
)
from flows.ports import ApplicationDraft, Services
from flows.registration import nik_value
from sms_ktp.domain.identity import IdentityError, parse_nik
from sms_ktp.domain.masking import mask_id

CODE = "akta_mati"
REASON = "kematian"  # the only reason: a death reported


def active_key(deceased_nik: str) -> str:
    """One open Akta Kematian per deceased, whoever reports it."""
    return f"{CODE}:{deceased_nik}"


# --- the rules of each answer -------------------------------------------------------------------
def read_deceased(text: str, services: Services, conversation: Conversation) -> str:
    """The NIK of the deceased: a well-formed NIK, not the reporter's; a report of the same
    deceased open for the family gets its reference back and the dialogue ends."""
    nik = nik_value(text, services.today())
    if nik == conversation.answers.get("nik"):
        raise Invalid(f"{CODE}.error.same_nik")
    refuse_open(CODE, active_key(nik), nik, services, conversation)
    return nik


def read_death_date(text: str, services: Services, conversation: Conversation) -> str:
    """The date of death (ISO): readable, not in the future, not before the birth date the NIK
    of the deceased holds. The NIK has the birth year in two digits, read in the latest century
    that puts the birth on or before a day: here the day of death (12-08-24 is 1924 for a
    death in June 2024)."""
    died = read_date(text, services.today())
    deceased = conversation.answers.get("deceased")
    if deceased is not None:
        try:
            parse_nik(deceased, died)
        except IdentityError:  # born after the death in either century
            born = parse_nik(deceased, services.today()).birth_date
            raise Invalid(f"{CODE}.error.before_birth",
                          born=born.strftime("%d-%m-%Y")) from None
    return died.isoformat()


def read_kk(text: str, services: Services, conversation: Conversation) -> str:
    """The KK of the deceased: of the regency, one this phone may speak for, and neither the
    reporter's NIK nor the deceased's."""
    kk = family_kk(text, services, conversation)
    if kk == conversation.answers.get("deceased"):
        raise Invalid("error.kk.same_as_nik")
    return kk


# --- the summary and the application ------------------------------------------------------------
def summary(answers: Mapping[str, Any]) -> dict[str, Any]:
    return {**masked(answers, "nik", "kk"), "deceased": mask_id(answers["deceased"]),
            "died": shown_date(answers["died"])}


def draft(conversation: Conversation) -> ApplicationDraft:
    answers = conversation.answers
    return ApplicationDraft(CODE, answers["nik"], answers["kk"], REASON,
                            details={"deceased_nik": answers["deceased"],
                                     "death_date": answers["died"]},
                            active_key=active_key(answers["deceased"]))


DIALOGUE = dialogue_of(CODE, [
    nik_step(CODE, to="deceased"),  # the reporter: the heir, a relative, the Ketua RT
    Step("deceased", f"{CODE}.ask.deceased", read_deceased, (Route("died"),)),
    Step("died", f"{CODE}.ask.died", read_death_date, (Route("kk"),)),
    Step("kk", f"{CODE}.ask.kk", read_kk, (Route("confirm"),)),
    confirm_step(CODE, summary),
], finish(CODE, draft), nik_steps=("nik", "deceased"))

# AKTA MATI NIK#NIK ALMARHUM#TANGGAL#KK
FLOW = DocumentFlow(CODE, DIALOGUE, (("nik", NUMBER), ("deceased", NUMBER), ("died", DATE),
                                     ("kk", NUMBER)))
