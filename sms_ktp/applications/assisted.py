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
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, func, select
from sqlalchemy.exc import IntegrityError

from flows.catalogue import Msg, offered, render
from flows.dialogue import DONE, Conversation, Dialogue, Invalid, Step
from flows.documents import flows
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
from sms_ktp.applications.kelurahan_contact import contact_problem, family_address
from sms_ktp.applications.pickup import PickupPolicy
from sms_ktp.applications.services import SqlServices
from sms_ktp.domain import documents
from sms_ktp.domain.contact_address import kelurahan_in
from sms_ktp.domain.local_time import local_date
from sms_ktp.domain.masking import mask_id, mask_phone
from sms_ktp.domain.phones import normalise_msisdn
from sms_ktp.domain.stages import Stage
from sms_ktp.messaging.outbox import enqueue
from sms_ktp.messaging.phone_state import PhoneStateStore
from sms_ktp.models import Application, Family
from sms_ktp.platform import audit
from sms_ktp.platform.clock import Clock
from sms_ktp.platform.db import Database, retry_after_disconnect

log = logging.getLogger(__name__)

CHANNEL = "staff"  # `application.channel`: registered at the counter, not from the phone
ACTION = "application.register"
FIELDS = ("nik", "kk", "reason", "suket", "phone", "language", "family", "no_phone",
          "collected_ok")
MAX_INPUT = 100  # characters kept of each field: a NIK typed with spaces fits easily
# What only the form can get wrong (a resident's own phone and language need no typing): staff
# wording, in Indonesian like the rest of the back office.
PHONE_PROBLEM = ("Nomor HP tidak dikenali. Tulis nomor HP seluler Indonesia, misalnya "
                 "0812 3456 7890 atau +62 812 3456 7890.")
LANGUAGE_PROBLEM = "Pilih bahasa SMS untuk warga."
STAFF_LANGUAGE = "id"  # the back office speaks Indonesian
FAMILY_GONE = ("Keluarga ini tidak bisa dipakai lagi untuk pendaftaran berikutnya. Isi nomor KK "
               "dan nomor HP keluarga.")
# A card collected this recently and registered again is most likely a mistake (the same person
# registered twice, or a relative's NIK typed): 90 days covers the first weeks in which a lost
# or damaged new card is reported, and a pickup day missed and moved, while a card lost after
# months is registered without a warning, as any other.
JUST_COLLECTED = timedelta(days=90)
REASONS_AFTER_COLLECTION = ("hilang", "rusak", "perubahan_data")
DOCUMENT_PROBLEM = "Dokumen ini tidak dilayani di sini."
CONFIRM_STEP = "confirm"  # a document dialogue's summary (`flows.documents.common`)
COLLECTED_REASON_PROBLEM = ("KTP-el NIK ini baru diambil. Cetak lagi hanya karena hilang, rusak, "
                            "atau perubahan data: tanyakan kepada warga dan pilih alasannya.")

_APPLICATION = Application.__table__
_FAMILY = Family.__table__
_ACTIVE_REFERENCE = select(_APPLICATION.c.reference).where(
    _APPLICATION.c.active_nik == bindparam("nik"))
_LAST_COLLECTED = select(func.max(_APPLICATION.c.collected_at)).where(
    _APPLICATION.c.nik_hash == bindparam("nik"),
    _APPLICATION.c.stage == Stage.COLLECTED.value,
    _APPLICATION.c.collected_at >= bindparam("since"))
_KEPT_FAMILY = select(_FAMILY.c.id, _FAMILY.c.kk, _FAMILY.c.phone,
                      _FAMILY.c.kecamatan_code).where(
    _FAMILY.c.id == bindparam("family"))


@dataclass(frozen=True)
class AssistedForm:
    """What the helper typed, as typed (kept to fill the form again after a refusal)."""

    nik: str = ""
    kk: str = ""
    reason: str = ""
    suket: str = ""
    phone: str = ""
    language: str = "id"
    # The next member of a family registered moments ago: the family's id (one this helper
    # registered lately: `families`), whose KK and phone are read from its row, never typed.
    family: str = ""
    no_phone: str = ""  # "1": the family has no phone; its kelurahan is its contact
    # "1": the helper saw that this NIK's card was just collected and asked the reason.
    collected_ok: str = ""

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
    phone: str  # E.164: the family's number, or the kelurahan's address for a phoneless one
    language: str
    sms: str  # the confirmation queued to the family phone ("" for a family without a phone)
    family_id: int = 0
    collected_on: date | None = None  # the card of this NIK collected lately, when warned
    document: str = "ktp"
    papers: str = ""  # another document's second SMS: the papers to bring
    papers_id: str = ""  # the same in Indonesian, for the page
    papers_key: str = ""  # its catalogue key (a KIA's depends on the child's age)


@retry_after_disconnect
def register_assisted(db: Database, clock: Clock, policy: PickupPolicy, form: AssistedForm,
                      actor: str, address: str = "", recent: Collection[str] = (), *,
                      kelurahan: str | None = None,
                      families: Collection[int] = ()) -> Registered:
    """Check the form with the dialogue's rules, store the application for the family phone,
    record who did it, and queue the confirmation SMS that a resident registering by SMS gets.

    `actor` is "staff:<username>"; `recent` are references this helper stored lately, so that a
    form sent twice is recognised as such; `families` the families they registered lately,
    whose next member may be registered without typing the KK and phone again (`form.family`);
    `kelurahan` the helper's kelurahan, which a family without a phone may take as its contact
    (`form.no_phone`). Raises `Refused` when anything is wrong.
    """
    try:
        return _register_once(db, clock, policy, form, actor, address, recent, kelurahan,
                              families)
    except IntegrityError:
        # Another transaction stored the same NIK (or the same family) between our checks and
        # our insert, e.g. a double click. Everything rolled back: run again, so the refusal is
        # the one the rules give.
        return _register_once(db, clock, policy, form, actor, address, recent, kelurahan,
                              families)


def kept_family(connection: Connection, family: str, families: Collection[int]) -> Any:
    """The row (id, kk, phone) of a family this helper registered lately, or None: an id sent
    by the browser opens only a family the server itself handed to this helper's session."""
    if not family.isdigit() or int(family) not in families:
        return None
    row = connection.execute(_KEPT_FAMILY, {"family": int(family)}).first()
    return row if row is not None and row.kk is not None and row.phone else None


def _contact_of(connection: Connection, family_id: str, no_phone: str, typed_phone: str,
                kelurahan: str | None, families: Collection[int]
                ) -> tuple[Any, str | None, dict[str, Problem]]:
    """The family kept from an earlier registration (its row, or None), the phone the family
    is told on (None when unusable), and what is wrong with them."""
    problems: dict[str, Problem] = {}
    family = kept_family(connection, family_id, families) if family_id else None
    if family_id and family is None:
        problems["family"] = Problem(None, FAMILY_GONE)
    if family is not None:
        return family, family.phone, problems
    if no_phone:
        problem = contact_problem(kelurahan)
        if problem:
            problems["phone"] = Problem(None, problem)
        return None, family_address(kelurahan), problems
    return None, normalise_msisdn(typed_phone), problems


def _register_once(db: Database, clock: Clock, policy: PickupPolicy, form: AssistedForm,
                   actor: str, address: str, recent: Collection[str], kelurahan: str | None,
                   families: Collection[int]) -> Registered:
    now = clock.now()
    with db.connect() as connection:
        family, phone, problems = _contact_of(connection, form.family, form.no_phone,
                                              form.phone, kelurahan, families)
        # A kept family's KK is checked as if typed again: the rules (the KK's family, its
        # phone) stay the same.
        checked = replace(form, kk=family.kk) if family is not None else form
        services = SqlServices(connection, clock, PhoneStateStore(connection, phone or ""),
                               policy, channel=CHANNEL, actor=actor,
                               note=_note(phone))
        answers, found = _check(checked, services, phone)
        problems = {**found, **problems}
        collected = _just_collected(connection, answers.get("nik"), now)
        if collected is not None:
            problems.update(_collection_problems(collected, checked, answers))
        if problems or phone is None:
            raise Refused(problems, _already(connection, services, checked, problems, recent))
        if collected is not None:
            services.note += (f"; the card of this NIK was collected on {collected.isoformat()}"
                              f", registered again for: {answers['reason']}")
        try:
            reference = services.submit_registration(phone, answers, form.language)
        except Invalid as refused:  # the rules changed their mind since the checks
            step = STEP_OF_PROBLEM.get(refused.key, "nik")
            problems = {step: _problem(refused)}
            raise Refused(problems, _already(connection, services, checked, problems,
                                             recent)) from None
        family_id = connection.execute(
            select(_APPLICATION.c.family_id).where(_APPLICATION.c.reference == reference)
        ).scalar_one()
        sms = ""
        if kelurahan_in(phone) is None:
            # A family without a phone gets the printed receipt instead, in the helper's hand.
            sms = render(form.language, "register.done",
                         **done_params(reference, answers["reason"]))
            enqueue(connection, phone, sms, now, kind="reply")  # a direct answer: no quiet hours
        audit.record(connection, now, actor, ACTION, f"application {reference}",
                     _detail(answers, phone, form.language, collected), address)
    log.info("assisted registration %s by %s", reference, actor)
    return Registered(reference, mask_id(answers["nik"]), answers["reason"], phone,
                      form.language, sms, family_id, collected)


def _note(phone: str | None) -> str:
    if kelurahan_in(phone) is not None:
        return ("registered at the counter by staff for a family without a phone, its "
                "kelurahan as its contact; the resident's consent given to staff")
    return ("registered at the counter by staff for the family phone; the resident's consent "
            "given to staff")


def _just_collected(connection: Connection, nik: str | None, now: datetime) -> date | None:
    """The local day this NIK's card was last collected, when that was within `JUST_COLLECTED`."""
    if nik is None:
        return None
    at = connection.execute(_LAST_COLLECTED, {"nik": nik, "since": now - JUST_COLLECTED}
                            ).scalar_one_or_none()
    return local_date(at) if at is not None else None


def _collection_problems(collected: date, form: AssistedForm,
                         answers: Mapping[str, Any]) -> dict[str, Problem]:
    """A card collected lately is printed again only for a reason the helper confirmed: the
    warning until they tick that they asked, and a first card ("baru") never."""
    problems: dict[str, Problem] = {}
    if not form.collected_ok:
        problems["collected"] = Problem(None, collected_warning(collected))
    if "reason" in answers and answers["reason"] not in REASONS_AFTER_COLLECTION:
        problems["reason"] = Problem(None, COLLECTED_REASON_PROBLEM)
    return problems


def collected_warning(collected: date) -> str:
    month = render("id", f"when.month.{collected.month}")
    return (f"KTP-el NIK ini baru diambil pada {collected.day} {month} {collected.year}. "
            "Tanyakan kepada warga mengapa perlu dicetak lagi: hilang, rusak, "
            "atau perubahan data.")


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


def _detail(answers: Mapping[str, Any], phone: str, language: str,
            collected: date | None = None) -> str:
    """The audit detail: enough to tell registrations apart, no full NIK, KK or phone."""
    again = (f", KTP-el NIK ini diambil {collected.isoformat()}: dicetak lagi karena "
             f"{answers['reason']}, alasan ditanyakan petugas" if collected else "")
    return (f"NIK {mask_id(answers['nik'])}, KK {mask_id(answers['kk'])}, "
            f"alasan {answers['reason']}, HP {mask_phone(phone)}, bahasa {language}, "
            f"channel {CHANNEL}, persetujuan warga lewat petugas (versi {CONSENT_VERSION})"
            f"{again}")


# --- another document (`flows.documents`) ------------------------------------------------------

@dataclass(frozen=True)
class DocumentForm:
    """A form for another document than the KTP-el: its dialogue's answers by step, as typed,
    and how the family is told (as `AssistedForm`)."""

    document: str
    answers: Mapping[str, str] = field(default_factory=dict)
    phone: str = ""
    language: str = "id"
    family: str = ""
    no_phone: str = ""

    @classmethod
    def from_mapping(cls, document: str, values: Mapping[str, Any]) -> DocumentForm:
        def typed(name: str) -> str:
            return str(values.get(name) or "")[:MAX_INPUT]

        return cls(document, {step.name: typed(step.name) for step in document_steps(document)},
                   typed("phone"), typed("language") or "id", typed("family"),
                   typed("no_phone"))


def document_dialogue(code: str) -> Dialogue:
    """The dialogue the SMS channel runs for this document."""
    return flows()[code].dialogue


def document_steps(code: str) -> tuple[Step, ...]:
    """The questions of a document's dialogue in the order it asks them, up to its summary
    (the form asks them all at once; the summary is the form itself, read out to the
    resident)."""
    dialogue = document_dialogue(code)
    steps: list[Step] = []
    name = dialogue.first
    while name in dialogue.steps and name != CONFIRM_STEP:
        step = dialogue.steps[name]
        steps.append(step)
        name = step.routes[0].to
    return tuple(steps)


def documents_offered() -> tuple[str, ...]:
    """The documents besides the KTP-el that the regency offers and that have a dialogue."""
    return tuple(code for code in documents.enabled() if code in flows())


@retry_after_disconnect
def register_document(db: Database, clock: Clock, policy: PickupPolicy, form: DocumentForm,
                      actor: str, address: str = "", *, kelurahan: str | None = None,
                      families: Collection[int] = ()) -> Registered:
    """Another document registered at the counter: every answer checked by its dialogue's own
    readers (the SMS refusals, in staff words), the application stored by the dialogue's own
    finish (its papers visit booked), and the two SMS a resident registering by SMS gets (the
    reference with the visit, then the papers to bring) queued to the family phone. Raises
    `Refused` when anything is wrong; nothing is stored then."""
    if not documents.is_enabled(form.document) or form.document not in flows():
        raise Refused({"document": Problem(None, DOCUMENT_PROBLEM)})
    try:
        return _register_document_once(db, clock, policy, form, actor, address, kelurahan,
                                       families)
    except IntegrityError:  # stored meanwhile by another transaction: the rules say why
        return _register_document_once(db, clock, policy, form, actor, address, kelurahan,
                                       families)


def _register_document_once(db: Database, clock: Clock, policy: PickupPolicy,
                            form: DocumentForm, actor: str, address: str,
                            kelurahan: str | None, families: Collection[int]) -> Registered:
    now = clock.now()
    dialogue = document_dialogue(form.document)
    with db.connect() as connection:
        family, phone, problems = _contact_of(connection, form.family, form.no_phone,
                                              form.phone, kelurahan, families)
        answers = dict(form.answers)
        if family is not None:
            answers["kk"] = family.kk
        services = SqlServices(connection, clock, PhoneStateStore(connection, phone or ""),
                               policy, channel=CHANNEL, actor=actor, note=_note(phone))
        conversation = dialogue.start(phone or "", form.language, now + timedelta(hours=1))
        problems = {**_check_document(form.document, answers, services, conversation, phone),
                    **problems}
        if form.language not in offered():
            problems["language"] = Problem(None, LANGUAGE_PROBLEM)
        if phone is None:
            problems["phone"] = Problem(None, PHONE_PROBLEM)
        if problems or phone is None:
            raise Refused(problems)
        # The summary's YES, given to the member of staff: the dialogue's own finish stores it.
        conversation.step = CONFIRM_STEP
        outcome = dialogue.answer(conversation, "YA", services, repeats=False)
        if outcome.error is not None or outcome.step != DONE:
            refused = outcome.error or Invalid(f"{form.document}.not_sent")
            step = refused.step or STEP_OF_PROBLEM.get(refused.key) or "nik"
            raise Refused({step: _problem(refused)})
        result = dict(outcome.result)
        then = result.pop("then", None)
        papers = then if isinstance(then, Msg) else None
        reference = str(result["ref"])
        texts = [render(form.language, f"{form.document}.done", **result)]
        if papers is not None:
            texts.append(render(form.language, papers.key, **(papers.params or {})))
        stored = connection.execute(
            select(_APPLICATION.c.family_id, _APPLICATION.c.reason)
            .where(_APPLICATION.c.reference == reference)).one()
        sent = kelurahan_in(phone) is None
        if sent:
            for text in texts:  # direct answers, as by SMS: no quiet hours
                enqueue(connection, phone, text, now, kind="reply")
        nik = conversation.answers["nik"]
        kk = conversation.answers.get("kk", "")
        audit.record(connection, now, actor, ACTION, f"application {reference}",
                     f"dokumen {form.document}, NIK {mask_id(nik)}, KK {mask_id(kk)}, "
                     f"alasan {stored.reason}, HP {mask_phone(phone)}, bahasa {form.language}, "
                     f"channel {CHANNEL}, persetujuan warga lewat petugas "
                     f"(versi {CONSENT_VERSION})", address)
    log.info("assisted %s registration %s by %s", form.document, reference, actor)
    return Registered(reference, mask_id(nik), stored.reason, phone, form.language,
                      texts[0] if sent else "", int(stored.family_id), None,
                      document=form.document,
                      papers=texts[1] if sent and len(texts) > 1 else "",
                      papers_id=render(STAFF_LANGUAGE, papers.key, **(papers.params or {}))
                      if papers is not None else "",
                      papers_key=papers.key if papers is not None else "")


def _check_document(code: str, answers: Mapping[str, str], services: SqlServices,
                    conversation: Conversation, phone: str | None) -> dict[str, Problem]:
    """Every question checked by the dialogue's reader, in its order, each with the answers
    before it (a split KK's age is the applicant's NIK's); a question whose reader needs an
    earlier answer that was refused waits for it to be corrected."""
    problems: dict[str, Problem] = {}
    for step in document_steps(code):
        typed = answers.get(step.name, "")
        try:
            if step.name == "kk" and phone is None:
                # Without a usable phone the one-phone-per-family rule cannot be asked yet.
                value: Any = kk_value(typed, services.today(), conversation.answers.get("nik"))
            else:
                value = step.read(typed, services, conversation)
        except Invalid as refused:
            problems[step.name] = _problem(refused)
        except KeyError:
            continue  # needs an answer refused above
        else:
            conversation.answers[step.name] = value
    return problems
