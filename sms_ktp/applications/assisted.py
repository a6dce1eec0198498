"""Assisted registration: a kelurahan helper (or an operator or admin) registers a resident who
cannot use SMS, at the counter.

The rules and messages are the SMS dialogue's own (`flows.registration` and `SqlServices`), so a
resident is never told one thing at the counter and another by SMS. One transaction stores the
application (with the resident's consent, given to the member of staff who sends the form), its
timeline entry, the audit entry and the confirmation SMS to the family phone: either all of it
happens or none.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.exc import IntegrityError

from flows.catalogue import offered, render
from flows.dialogue import Invalid
from flows.messages import CONSENT_VERSION
from flows.registration import (
    STEP_OF_PROBLEM,
    asks_suket,
    check_kk,
    check_nik,
    check_reason,
    check_suket,
    done_params,
    kk_value,
    nik_value,
)
from sms_ktp.applications.counter_wording import for_staff
from sms_ktp.applications.pickup import PickupPolicy
from sms_ktp.applications.services import SqlServices
from sms_ktp.domain.masking import mask_id, mask_phone
from sms_ktp.domain.phones import normalise_msisdn
from sms_ktp.messaging.outbox import enqueue
from sms_ktp.messaging.phone_state import PhoneStateStore
from sms_ktp.models import Application
from sms_ktp.platform import audit
from sms_ktp.platform.clock import Clock
from sms_ktp.platform.db import Database, retry_after_disconnect

log = logging.getLogger(__name__)

CHANNEL = "staff"  # `application.channel`: registered at the counter, not from the phone
ACTION = "application.register"
FIELDS = ("nik", "kk", "reason", "suket", "phone", "language")
MAX_INPUT = 100  # characters kept of each field: a NIK typed with spaces fits easily
# What only the form can get wrong (a resident's own phone and language need no typing): staff
# wording, in Indonesian like the rest of the back office.
PHONE_PROBLEM = ("Nomor HP tidak dikenali. Tulis nomor HP seluler Indonesia, misalnya "
                 "0812 3456 7890 atau +62 812 3456 7890.")
LANGUAGE_PROBLEM = "Pilih bahasa SMS untuk warga."
STAFF_LANGUAGE = "id"  # the back office speaks Indonesian

_APPLICATION = Application.__table__
_ACTIVE_REFERENCE = select(_APPLICATION.c.reference).where(
    _APPLICATION.c.active_nik == bindparam("nik"))


@dataclass(frozen=True)
class AssistedForm:
    """What the helper typed, as typed (kept to fill the form again after a refusal)."""

    nik: str = ""
    kk: str = ""
    reason: str = ""
    suket: str = ""
    phone: str = ""
    language: str = "id"

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> AssistedForm:
        return cls(**{name: str(values.get(name) or "")[:MAX_INPUT] for name in FIELDS
                      if values.get(name) is not None})


@dataclass(frozen=True)
class Problem:
    """Why one field was refused: `key` names the catalogue message (None for a staff-only
    problem), `message` is what the helper reads next to the field."""

    key: str | None
    message: str


class Refused(Exception):
    """Nothing was stored. `problems` maps a field to its problem; `already` is the reference of
    the application this very helper stored moments ago for the same NIK (a form sent twice)."""

    def __init__(self, problems: Mapping[str, Problem], already: str | None = None) -> None:
        super().__init__(", ".join(problems))  # field names only: never a number
        self.problems = dict(problems)
        self.already = already


@dataclass(frozen=True)
class Registered:
    """The stored application as the helper may see it: masked numbers only."""

    reference: str
    nik_masked: str
    reason: str
    phone: str  # E.164: the family's number, which the helper typed
    language: str
    sms: str  # the confirmation queued to the family phone


@retry_after_disconnect
def register_assisted(db: Database, clock: Clock, policy: PickupPolicy, form: AssistedForm,
                      actor: str, address: str = "", recent: Collection[str] = ()) -> Registered:
    """Check the form with the dialogue's rules, store the application for the family phone,
    record who did it, and queue the confirmation SMS that a resident registering by SMS gets.

    `actor` is "staff:<username>"; `recent` are references this helper stored lately, so that a
    form sent twice is recognised as such. Raises `Refused` when anything is wrong.
    """
    try:
        return _register_once(db, clock, policy, form, actor, address, recent)
    except IntegrityError:
        # Another transaction stored the same NIK (or the same family) between our checks and
        # our insert, e.g. a double click. Everything rolled back: run again, so the refusal is
        # the one the rules give.
        return _register_once(db, clock, policy, form, actor, address, recent)


def _register_once(db: Database, clock: Clock, policy: PickupPolicy, form: AssistedForm,
                   actor: str, address: str, recent: Collection[str]) -> Registered:
    now = clock.now()
    phone = normalise_msisdn(form.phone)
    with db.connect() as connection:
        services = SqlServices(connection, clock, PhoneStateStore(connection, phone or ""),
                               policy, channel=CHANNEL, actor=actor,
                               note="registered at the counter by staff for the family phone; "
                                    "the resident's consent given to staff")
        answers, problems = _check(form, services, phone)
        if problems or phone is None:
            raise Refused(problems, _already(connection, services, form, problems, recent))
        try:
            reference = services.submit_registration(phone, answers, form.language)
        except Invalid as refused:  # the rules changed their mind since the checks
            step = STEP_OF_PROBLEM.get(refused.key, "nik")
            problems = {step: _problem(refused)}
            raise Refused(problems, _already(connection, services, form, problems,
                                             recent)) from None
        sms = render(form.language, "register.done",
                     **done_params(reference, answers["reason"]))
        enqueue(connection, phone, sms, now, kind="reply")  # a direct answer: no quiet hours
        audit.record(connection, now, actor, ACTION, f"application {reference}",
                     _detail(answers, phone, form.language), address)
    log.info("assisted registration %s by %s", reference, actor)
    return Registered(reference, mask_id(answers["nik"]), answers["reason"], phone,
                      form.language, sms)


def _check(form: AssistedForm, services: SqlServices,
           phone: str | None) -> tuple[dict[str, Any], dict[str, Problem]]:
    """Every field checked (not only up to the first refusal), so the helper sees all that is
    wrong at once."""
    answers: dict[str, Any] = {}
    problems: dict[str, Problem] = {}
    if phone is None:
        problems["phone"] = Problem(None, PHONE_PROBLEM)
    if form.language not in offered():
        problems["language"] = Problem(None, LANGUAGE_PROBLEM)
    checks = {
        "nik": lambda: check_nik(form.nik, services),
        # Without a usable phone, the one-phone-per-family rule cannot be asked yet.
        "kk": lambda: (check_kk(form.kk, services, phone, answers.get("nik"))
                       if phone is not None
                       else kk_value(form.kk, services.today(), answers.get("nik"))),
        "reason": lambda: check_reason(form.reason),
    }
    for name, check in checks.items():
        try:
            answers[name] = check()
        except Invalid as refused:
            problems[name] = _problem(refused)
    if "reason" in answers and asks_suket(answers):
        try:
            answers["suket"] = check_suket(form.suket)
        except Invalid as refused:
            problems["suket"] = _problem(refused)
    return answers, problems


def _problem(refused: Invalid) -> Problem:
    """The refusal in the words a resident would get by SMS (in Indonesian), less what the
    resident is told to type or send: the helper fills in a form (`counter_wording`)."""
    sms = render(STAFF_LANGUAGE, refused.key, **refused.params)
    return Problem(refused.key, for_staff(refused.key, sms))


def _already(connection: Connection, services: SqlServices, form: AssistedForm,
             problems: Mapping[str, Problem], recent: Collection[str]) -> str | None:
    """The reference of the active application of this NIK, when this helper stored it lately."""
    nik = problems.get("nik")
    if nik is None or nik.key != "error.nik.active" or not recent:
        return None
    reference = connection.execute(_ACTIVE_REFERENCE, {
        "nik": nik_value(form.nik, services.today())}).scalar_one_or_none()
    return reference if reference in recent else None


def _detail(answers: Mapping[str, Any], phone: str, language: str) -> str:
    """The audit detail: enough to tell registrations apart, no full NIK, KK or phone."""
    return (f"NIK {mask_id(answers['nik'])}, KK {mask_id(answers['kk'])}, "
            f"alasan {answers['reason']}, HP {mask_phone(phone)}, bahasa {language}, "
            f"channel {CHANNEL}, persetujuan warga lewat petugas (versi {CONSENT_VERSION})")
