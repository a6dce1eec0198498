"""The use cases the dialogues call (`flows.ports.Services`), on one connection: they run
inside the transaction of the message that caused them, so a reply and the change it reports
commit together or not at all.

They run on every SMS and every USSD screen, so they speak SQL Core with statements built once
(the ORM's identity map and unit of work would cost more than the queries themselves).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, insert, select, union_all, update

from flows.dialogue import Invalid
from flows.messages import CONSENT_VERSION
from flows.papers import PURPOSE, is_papers
from flows.ports import (
    ActiveApplication,
    ApplicationDraft,
    ApplicationView,
    PapersVisitView,
    Submitted,
)
from flows.registration import refusal_of_active
from sms_ktp.applications import delivery, papers_visit, pickup
from sms_ktp.applications.pickup import PickupPolicy
from sms_ktp.applications.printing import free_by_card
from sms_ktp.applications.registration_attempts import tell_family_of_attempt
from sms_ktp.domain.documents import card_of
from sms_ktp.domain.identity import parse_kk, require_valid_pair
from sms_ktp.domain.local_time import local_date
from sms_ktp.domain.masking import mask_id
from sms_ktp.domain.pickup_calendar import local
from sms_ktp.domain.reference import new_reference
from sms_ktp.domain.stages import CLOSED_STAGES, Stage
from sms_ktp.messaging import outbox
from sms_ktp.messaging.phone_state import PhoneStateStore
from sms_ktp.models import (
    Application,
    ApplicationEvent,
    BlangkoMovement,
    Family,
    PhoneState,
    PickupVisit,
)
from sms_ktp.platform.clock import Clock

_APPLICATION = Application.__table__
_FAMILY = Family.__table__
_VISIT = PickupVisit.__table__
_ACTIVE_NIK = (select(_APPLICATION.c.reference, _FAMILY.c.phone)
               .join(_FAMILY, _FAMILY.c.id == _APPLICATION.c.family_id)
               .where(_APPLICATION.c.active_nik == bindparam("nik")))
_RECENT = (select(_APPLICATION.c.reference)
           .join(_FAMILY, _FAMILY.c.id == _APPLICATION.c.family_id)
           .where(_FAMILY.c.phone == bindparam("phone"),
                  _APPLICATION.c.created_at >= bindparam("since"),
                  _APPLICATION.c.erased_at.is_(None))
           .order_by(_APPLICATION.c.created_at.desc(), _APPLICATION.c.id.desc()).limit(1))
_FAMILY_BY_KK = select(_FAMILY.c.id, _FAMILY.c.phone).where(
    _FAMILY.c.kk_hash == bindparam("kk"))
_NEW_FAMILY = insert(_FAMILY).returning(_FAMILY.c.id)
_NEW_EVENT = insert(ApplicationEvent.__table__)
_FAMILY_APPLICATIONS = (
    select(_APPLICATION.c.reference, _APPLICATION.c.nik, _APPLICATION.c.stage,
           _APPLICATION.c.document,
           _APPLICATION.c.print_batch_id, _APPLICATION.c.pickup_office, _APPLICATION.c.pickup_at,
           _APPLICATION.c.pickup_code, _VISIT.c.tracking)
    .join(_FAMILY, _FAMILY.c.id == _APPLICATION.c.family_id)
    .outerjoin(_VISIT, _VISIT.c.id == _APPLICATION.c.visit_id)
    # An application whose data was erased (`sms_ktp.privacy.retention`) is nobody's any more.
    .where(_FAMILY.c.phone == bindparam("phone"), _APPLICATION.c.erased_at.is_(None))
    .order_by(_APPLICATION.c.created_at.desc(), _APPLICATION.c.id.desc())
)


_FAMILY_PICKUPS = (
    select(_APPLICATION.c.id, _APPLICATION.c.reference, _APPLICATION.c.nik,
           _APPLICATION.c.stage, _APPLICATION.c.visit_id, _VISIT.c.office, _VISIT.c.starts_at,
           _VISIT.c.code, *pickup.CARD_NAMING)
    .join(_FAMILY, _FAMILY.c.id == _APPLICATION.c.family_id)
    .join(_VISIT, _VISIT.c.id == _APPLICATION.c.visit_id)
    .where(_FAMILY.c.phone == bindparam("phone"),
           _APPLICATION.c.stage.in_([Stage.PICKUP_SCHEDULED.value, Stage.MISSED_PICKUP.value]))
    .order_by(_VISIT.c.starts_at, _APPLICATION.c.id)
)


class SqlServices:
    def __init__(self, connection: Connection, clock: Clock, phone_state: PhoneStateStore,
                 pickup_policy: PickupPolicy, channel: str = "sms",
                 actor: str | None = None, note: str = "registered by the family phone"
                 ) -> None:
        """`actor` and `note` go into the timeline of a registration: the resident by default,
        the member of staff at the counter for an assisted one."""
        self._db = connection
        self.clock = clock
        self.pickup_policy = pickup_policy
        self.channel = channel
        self.actor = actor or f"resident:{channel}"
        self.note = note
        self.phone_state = phone_state
        self._now: datetime | None = None
        self._families: dict[str, Row[Any] | None] = {}
        # What this message got done (`metrics.DIALOGUE_KINDS`), counted once it is committed.
        self.completed: list[str] = []

    @property
    def now(self) -> datetime:
        if self._now is None:  # one instant for the whole message
            self._now = self.clock.now()
        return self._now

    def today(self) -> date:
        return local_date(self.now)

    # --- registration -------------------------------------------------------------------------
    def active_application(self, nik: str) -> ActiveApplication | None:
        row = self._db.execute(_ACTIVE_NIK, {"nik": nik}).first()
        return ActiveApplication(row.reference, row.phone) if row is not None else None

    def recent_registration(self, phone: str, since: datetime) -> str | None:
        return self._db.execute(_RECENT, {"phone": phone, "since": since}).scalar()

    def family_problem(self, kk: str, phone: str) -> str | None:
        family = self._family(kk)
        if family is not None and family.phone != phone:
            return "error.kk.other_phone"
        return None

    def submit_registration(self, phone: str, answers: Mapping[str, Any], language: str) -> str:
        """Called on the YES to the summary, which says why the data is used: that YES is the
        resident's consent, stored with the application (when, and which wording)."""
        # Checked again here: the state may have changed since the question was answered.
        self._refuse_active(answers["nik"], phone)
        family_id = self._family_for(phone, answers["nik"], answers["kk"])
        reference, _ = self._insert(family_id, language, {
            "nik": answers["nik"],
            "active_nik": answers["nik"],
            "reason": answers["reason"],
            "suket_number": answers.get("suket") if answers["reason"] == "baru" else None,
        })
        self._chose_language(phone, language)
        self.completed.append("registration")
        return reference

    def submit_document(self, phone: str, draft: ApplicationDraft, language: str) -> Submitted:
        """Another document (`flows.documents`): stored like a KTP-el registration (the YES
        to its summary is the consent), its papers visit booked at the family's office."""
        if draft.active_key is not None:
            active = self.active_application(draft.active_key)
            if active is not None:
                if active.phone == phone or not self.actor.startswith("resident:"):
                    raise Invalid(f"{draft.document}.exists", ref=active.reference,
                                  nik=mask_id(draft.nik))
                raise Invalid("error.nik.elsewhere")
        family_id = self._family_for(phone, draft.nik, draft.kk)
        # The visit first, so that the application is written with it in one INSERT.
        visit = papers_visit.book(self._db, self.pickup_policy, family_id,
                                  parse_kk(draft.kk).kecamatan_code, self.now)
        reference, _ = self._insert(family_id, language, {
            "document": draft.document,
            "nik": draft.nik,
            "active_nik": draft.active_key,
            "reason": draft.reason,
            "details": dict(draft.details) or None,
            "papers_visit_id": visit.id if visit is not None else None,
        })
        self._chose_language(phone, language)
        self.completed.append("document")
        return Submitted(reference, None if visit is None else PapersVisitView(
            visit.at, visit.office, visit.address, visit.code))

    def _family_for(self, phone: str, nik: str, kk: str) -> int:
        """The family of this KK (new, with this phone, when it has none yet), once this phone
        may speak for it and the NIK and KK make a pair."""
        if kk not in self._families and self._db.dialect.name == "postgresql":
            self._family_at_once(phone, nik, kk)
        problem = self.family_problem(kk, phone)
        if problem:
            raise Invalid(problem)
        require_valid_pair(nik, kk, self.today())
        family = self._family(kk)
        if family is not None:
            return int(family.id)
        family_id = self._db.execute(_NEW_FAMILY, {
            "kk": kk, "phone": phone, "kecamatan_code": parse_kk(kk).kecamatan_code,
            "created_at": self.now,
        }).scalar_one()
        self._families.pop(kk, None)
        return int(family_id)

    def _family_at_once(self, phone: str, nik: str, kk: str) -> None:
        """PostgreSQL: the family of this KK read, or written with this phone when it has none,
        in one statement (`_family_of_kk`), into what `_family` has read; nothing when the pair
        is refused (`_family_for` refuses it as it always did) or when another registration
        wrote the family meanwhile (`_family` reads it)."""
        try:
            require_valid_pair(nik, kk, self.today())
        except ValueError:
            return
        row = self._db.execute(_family_of_kk(), {
            "kk": kk, "kk_lookup": kk, "phone": phone,
            "kecamatan_code": parse_kk(kk).kecamatan_code, "created_at": self.now}).first()
        if row is not None:
            self._families[kk] = row

    def _insert(self, family_id: int, language: str, values: Mapping[str, Any]
                ) -> tuple[str, int]:
        """A new application in `submitted` and its first timeline entry. Its reference is
        unique by the table's index: one already given (rare) makes the INSERT write nothing,
        and another is drawn."""
        event = {"event_at": self.now, "event_stage": Stage.SUBMITTED.value,
                 "event_actor": self.actor[:60], "event_note": self.note}
        together = self._db.dialect.name == "postgresql"
        application_id = None
        while application_id is None:
            reference = new_reference()
            row = {"reference": reference, "family_id": family_id,
                   "stage": Stage.SUBMITTED.value, "language": language,
                   "channel": self.channel, "created_at": self.now, "updated_at": self.now,
                   "consent_at": self.now, "consent_version": CONSENT_VERSION, **values}
            if together:  # with its timeline entry, in one statement
                application_id = self._db.execute(_application_and_event(tuple(row)),
                                                  {**row, **event}).scalar()
            else:
                application_id = self._db.execute(
                    _insert_ignoring(self._db.dialect.name, "application"), row).scalar()
        if not together:
            self._db.execute(_NEW_EVENT, {
                "application_id": application_id, "at": event["event_at"],
                "stage": event["event_stage"], "actor": event["event_actor"],
                "note": event["event_note"]})
        return reference, int(application_id)

    def _chose_language(self, phone: str, language: str) -> None:
        if self.phone_state.phone == phone and self.phone_state.language is None:
            # Registering in a language is choosing it: later replies to the phone use it too.
            self.phone_state.language = language

    def _refuse_active(self, nik: str, phone: str) -> None:
        """One open application per NIK. A resident typing the NIK of another family is told
        as little as possible, and that family's phone is told someone tried."""
        active = self.active_application(nik)
        if active is None:
            return
        refused = refusal_of_active(active, nik,
                                    phone if self.actor.startswith("resident:") else None)
        if refused.key == "error.nik.elsewhere":
            tell_family_of_attempt(self._db, active, nik, self.now, self.pickup_policy.quiet)
        raise refused

    def _family(self, kk: str) -> Row[Any] | None:
        if kk not in self._families:
            self._families[kk] = self._db.execute(_FAMILY_BY_KK, {"kk": kk}).first()
        return self._families[kk]

    # --- status -------------------------------------------------------------------------------
    def family_applications(self, phone: str) -> list[ApplicationView]:
        rows = self._db.execute(_FAMILY_APPLICATIONS, {"phone": phone}).all()
        open_first = sorted(rows, key=lambda a: Stage(a.stage) in CLOSED_STAGES)
        queued = [a for a in open_first
                  if a.stage == Stage.PRINT_QUEUE.value and a.print_batch_id is None]
        # A card waits for blangko when its own kind (KTP-el, KIA) has none free.
        free = self._free_blangko() if queued else {}
        no_blangko = {a.reference for a in queued if free.get(card_of(a.document), 0) <= 0}
        if "status" not in self.completed:  # a USSD screen may read them twice
            self.completed.append("status")
        return [self._pickup_view(a) if a.stage == Stage.PICKUP_SCHEDULED.value
                else ApplicationView(a.reference, mask_id(a.nik),
                                     "waiting_blangko" if a.reference in no_blangko
                                     else a.stage,
                                     self._post_details(a), a.document)
                for a in open_first]

    _POSTAL = frozenset({Stage.POST_REQUESTED.value, Stage.POSTED.value, Stage.DELIVERED.value})

    def _post_details(self, row: Any) -> dict[str, Any]:
        """A card posted (or to be): its courier and tracking number, as its stage's text names
        them (the courier of today's configuration: one courier serves a regency)."""
        if row.stage not in self._POSTAL:
            return {}
        return {"courier": delivery.courier(self.pickup_policy), "tracking": row.tracking or ""}

    def _free_blangko(self) -> dict[str | None, int]:
        """Blank cards of each kind not yet promised to a print batch, over all printing
        sites."""
        return dict(free_by_card(self._db, self._sites()))

    def _sites(self) -> list[str]:
        return list(self._db.execute(select(BlangkoMovement.site).distinct()).scalars())

    # The family's applications of one NIK, by its keyed hash: NIKs are never opened to look.
    _FAMILY_NIK_REFERENCES = (
        select(_APPLICATION.c.reference)
        .join(_FAMILY, _FAMILY.c.id == _APPLICATION.c.family_id)
        .where(_FAMILY.c.phone == bindparam("phone"),
               _APPLICATION.c.nik_hash == bindparam("nik"),
               _APPLICATION.c.erased_at.is_(None))
    )

    def family_references_of_nik(self, phone: str, nik: str) -> set[str]:
        """`KTP#<NIK>`: only this phone's family's applications are looked at, so a NIK of
        another family is answered as one of nobody."""
        return set(self._db.execute(self._FAMILY_NIK_REFERENCES,
                                    {"phone": phone, "nik": nik}).scalars())

    # --- pickups ------------------------------------------------------------------------------
    def family_pickups(self, phone: str) -> list[ApplicationView]:
        """One view per family visit: its first card's reference, and every card's. A family
        with no card to collect gets its papers visits instead, which UBAH JADWAL moves too
        (`purpose` "papers", `documents` the (document, reference) of their applications)."""
        visits: dict[int, list[Any]] = {}
        for row in self._db.execute(_FAMILY_PICKUPS, {"phone": phone}):
            visits.setdefault(row.visit_id, []).append(row)
        if not visits:
            return [self._papers_view(rows)
                    for rows in papers_visit.family_visits(self._db, phone, self.now).values()]
        return [self._visit_view(cards) for cards in visits.values()]

    def pickups_told(self, phone: str, texts: list[str]) -> None:
        outbox.supersede_told(self._db, phone, texts)

    def move_pickup(self, phone: str, reference: str, on: date | None = None) -> ApplicationView:
        chosen = next(view for view in self.family_pickups(phone)
                      if reference in view.details["references"])
        visit_id = chosen.details["visit"]
        move = papers_visit.move if is_papers(chosen) else pickup.move
        try:
            move(self._db, self.pickup_policy, visit_id, self.now, f"resident:{self.channel}",
                 on)
        except pickup.MoveRefused as refused:
            raise Invalid(refused.key, **refused.params) from None
        self.completed.append("pickup_moved")
        return next(view for view in self.family_pickups(phone)
                    if view.details["visit"] == visit_id)

    # --- delivery by post ---------------------------------------------------------------------
    def post_offer(self) -> dict[str, Any] | None:
        """`{courier}` and `{fee}` of the messages about posting (INFO AMBIL, the pickup
        SMS's hint); None where the regency does not post cards."""
        return delivery.offer(self.pickup_policy)

    def request_post(self, phone: str, dry_run: bool = False) -> dict[str, Any]:
        """KIRIM confirmed: the family's cards to collect posted instead (`delivery.request`;
        `dry_run`: what would be, for the question); the placeholders of `post.done` (`niks`:
        the masked NIKs named as `{cards}`). Raises `Invalid` with the key that says why not,
        its `niks` and the offer's placeholders."""
        offer = delivery.offer(self.pickup_policy) or {}
        try:
            niks = delivery.request(self._db, self.pickup_policy, phone, self.now,
                                    f"resident:{self.channel}", dry_run)
        except delivery.PostRefused as refused:
            raise Invalid(refused.key, niks=refused.niks, **offer, **refused.params) from None
        return {"niks": niks, **offer}

    def _visit_view(self, cards: list[Any]) -> ApplicationView:
        """A family visit, with its day and place (what `JADWAL` says of it, whether or not
        its SMS has left yet): `niks` its cards' names (a masked NIK, a KIA's birth date:
        `pickup.card_names`), `references` theirs."""
        lead = cards[0]
        office = self.pickup_policy.offices.get(lead.office)
        return ApplicationView(lead.reference, mask_id(lead.nik), lead.stage, {
            "at": local(lead.starts_at) if lead.starts_at else None,
            "office": office.name if office else lead.office,
            "address": office.address if office else "", "code": lead.code,
            "visit": lead.visit_id, "niks": tuple(pickup.card_names(cards)),
            "references": tuple(row.reference for row in cards)})

    def _papers_view(self, rows: list[Any]) -> ApplicationView:
        """A papers visit, as `_visit_view` gives a family visit (`flows.papers.view_text`)."""
        lead = rows[0]
        office = self.pickup_policy.offices.get(lead.office)
        return ApplicationView(lead.reference, mask_id(lead.nik), lead.stage, {
            "at": local(lead.starts_at), "office": office.name if office else lead.office,
            "address": office.address if office else "", "code": lead.code,
            "visit": lead.papers_visit_id, "purpose": PURPOSE,
            "references": tuple(row.reference for row in rows),
            "documents": tuple((row.document, row.reference) for row in rows)},
            document=lead.document)

    def _pickup_view(self, row: Any) -> ApplicationView:
        """A card to collect, with its pickup's day and place (what `STATUS` says of it)."""
        office = self.pickup_policy.offices.get(row.pickup_office)
        return ApplicationView(row.reference, mask_id(row.nik), row.stage, {
            "at": local(row.pickup_at) if row.pickup_at else None,
            "office": office.name if office else row.pickup_office,
            "address": office.address if office else "", "code": row.pickup_code},
            row.document)

    # --- language -----------------------------------------------------------------------------
    def language_of(self, phone: str) -> str | None:
        return self._state(phone).language

    def set_language(self, phone: str, language: str) -> None:
        """The phone's replies, and the notifications of the family's open applications (each
        stored with the language it was registered in), from now on in `language`."""
        self._state(phone).language = language  # written with the rest of the phone's state
        family = select(Family.id).where(Family.phone == phone)
        self._db.execute(
            update(Application)
            .where(Application.family_id.in_(family),
                   Application.stage.not_in([str(stage) for stage in CLOSED_STAGES]),
                   Application.language != language)
            .values(language=language))
        self.completed.append("language")

    def _state(self, phone: str) -> PhoneStateStore:
        if self.phone_state.phone != phone:
            raise ValueError("the services of one message speak for that message's phone only")
        return self.phone_state

    # --- broadcasts ---------------------------------------------------------------------------
    def set_broadcast_opt_out(self, phone: str, opted_out: bool) -> None:
        """BERHENTI / MULAI. Written at once rather than with the rest of the phone's state: the
        opt-out is not part of what `PhoneStateStore` reads on every message. A repeated
        BERHENTI keeps the time of the first."""
        self._state(phone)
        self._db.execute(_opt_out(self._db.dialect.name, opted_out),
                         {"phone": phone, "broadcast_opt_out_at": self.now if opted_out else None,
                          "updated_at": self.now})
        self.completed.append("broadcast_opt_out" if opted_out else "broadcast_opt_in")


@cache
def _insert_ignoring(dialect: str, table: str) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING id of a new application (a reference
    already given: nothing)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    core, unique = {"application": (_APPLICATION, "reference")}[table]
    return dialect_insert(core).on_conflict_do_nothing(index_elements=[unique]).returning(
        core.c.id)


@cache
def _family_of_kk() -> Any:
    """PostgreSQL: the family of a KK as `_FAMILY_BY_KK` reads it (id, phone), written first
    when the KK has none (`kk`, `phone`, `kecamatan_code`, `created_at`; `kk_lookup`: the KK
    again, for the hash it is found by). No row when another registration of the same KK wrote
    it meanwhile (this statement's snapshot does not see that row)."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    written = ("kk", "phone", "kecamatan_code", "created_at")
    # The hash bound, not filled from `kk` by the column's default: a default that reads the
    # statement's other values runs only for an INSERT at the top of the statement.
    found = bindparam("kk_lookup", type_=_FAMILY.c.kk_hash.type)
    new = (pg_insert(_FAMILY)
           .values({**{name: bindparam(name, type_=_FAMILY.c[name].type) for name in written},
                    "kk_hash": found})
           .on_conflict_do_nothing(index_elements=["kk_hash"])
           .returning(_FAMILY.c.id, _FAMILY.c.phone).cte("new"))
    return union_all(select(new.c.id, new.c.phone),
                     select(_FAMILY.c.id, _FAMILY.c.phone).where(_FAMILY.c.kk_hash == found))


@cache
def _application_and_event(columns: tuple[str, ...]) -> Any:
    """PostgreSQL: the application (`columns` bound by their names, so that the hashes filled
    from them are filled) and its first timeline entry (`event_at`, `event_stage`,
    `event_actor`, `event_note`) in one statement, returning the application's id; no row
    when its reference is taken (nothing written)."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert

    application = (pg_insert(_APPLICATION)
                   .values({name: bindparam(name, type_=_APPLICATION.c[name].type)
                            for name in columns})
                   .on_conflict_do_nothing(index_elements=["reference"])
                   .returning(_APPLICATION.c.id).cte("application"))
    event = ApplicationEvent.__table__
    return insert(event).from_select(
        ["application_id", "at", "stage", "actor", "note"],
        select(application.c.id, *(bindparam(f"event_{name}", type_=event.c[name].type)
                                   for name in ("at", "stage", "actor", "note")))
    ).returning(event.c.application_id)


@cache
def _opt_out(dialect: str, opted_out: bool) -> Any:
    """INSERT of the phone's row that sets only the opt-out when the row exists."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    table = PhoneState.__table__
    statement = dialect_insert(table)
    since = statement.excluded.broadcast_opt_out_at
    return statement.on_conflict_do_update(index_elements=[table.c.phone], set_={
        "broadcast_opt_out_at": func.coalesce(table.c.broadcast_opt_out_at, since)
        if opted_out else None,
        "updated_at": statement.excluded.updated_at})
