"""What the application pages and their decisions share: who may decide, finding an
application the signed-in member of staff may see, running one decision and coming back to the
application's page with its outcome, and the labels the pages show.

Every decision is a POST with the CSRF token, checked on the server (role and office), audited,
and answered with a redirect back to the application (303) and a flash message. An operator
works only on applications of their own kecamatan: another office's application is "not found"
(404), on the page and on every action, so its existence is not disclosed either.

A decision that closes an application, or moves it on, asks first (`confirmation`): the page
says what will happen, shows the SMS the family will read, word for word, and what it costs;
only a second POST, from that page, decides.

The page follows the application's document (`sms_ktp.domain.documents`): its path with the
current stage marked, the next stage staff set by hand (`document_stages.by_hand`), or the way
the machinery takes it, and the decisions that stage still allows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from flows.catalogue import messages
from flows.dates import say_day, say_time
from sms_ktp.applications import corrections, decisions, document_stages
from sms_ktp.backoffice.search import ApplicationDetail, detail
from sms_ktp.backoffice.staff import Role
from sms_ktp.backoffice.wording import document_words, stage_words
from sms_ktp.domain import documents
from sms_ktp.domain.pickup_calendar import local
from sms_ktp.domain.stages import CLOSED_STAGES, Stage
from sms_ktp.messaging.broadcasts import cost
from sms_ktp.web.staff.blueprint import allows_office, connect, me, now, record, runtime

NOTE_LIMIT = decisions.NOTE_LIMIT  # a cancellation note: a line in the timeline
CHANNELS = {"sms": "SMS", "ussd": "USSD", "staff": "Petugas"}
ACTORS = (Role.ADMIN, Role.OPERATOR)  # who may decide; helpers only look applications up


class Refused(Exception):
    """A decision not taken, with the reason staff read (nothing has changed)."""


# Where a decision taken from a work queue returns to (the form's `back`), instead of the
# application's page.
BACK = {"verification": "staff.verification", "papers": "staff.papers"}
CONFIRMED = "confirmed"  # the field of the confirmation page's form


def visible_application(reference: str) -> ApplicationDetail | None:
    """The application with this reference, if the signed-in member of staff may see it."""
    with connect() as connection:
        return visible(detail(connection, reference))


def decide(reference: str, act: Callable[[ApplicationDetail], str | Response]) -> Response:
    """Run one decision on a visible application, then back to its page (or the queue it was
    taken from) with the outcome. `act` may answer a page instead (a confirmation)."""
    found = visible_application(reference)
    if found is None:
        return missing(reference)
    try:
        outcome = act(found)
    except Refused as refused:
        flash(str(refused), "error")
    else:
        if isinstance(outcome, Response):
            return outcome
        flash(outcome, "ok")
    return redirect(back_to(reference), code=303)


def back_to(reference: str) -> str:
    endpoint = BACK.get(request.form.get("back", ""))
    return url_for(endpoint) if endpoint else url_for("staff.application", reference=reference)


def confirmed() -> bool:
    return request.form.get(CONFIRMED) == "1"


def confirmation(found: ApplicationDetail, *, title: str, action: str, button: str,
                 effects: Sequence[str], sms_key: str | None,
                 sms_params: Mapping[str, Any] | None = None,
                 fields: Mapping[str, str] | None = None) -> Response:
    """The page that asks before a decision: what will happen, the SMS the family will get
    (worded as it will be sent, its parts and their price), and a form that sends the same
    fields again with `confirmed`. Nothing has changed yet."""
    sms = None
    if sms_key is not None:
        with connect() as connection:
            sms = decisions.preview(connection, found.reference, sms_key, now(),
                                    runtime().quiet_hours, **(sms_params or {}))
    price = runtime().settings.gateway.price_per_segment
    back = request.form.get("back", "")
    html = render_template(
        "staff/confirm.html", app=found, title=title, button=button, effects=effects,
        sms=sms, price=price, cost=cost(sms.text, 1, price) if sms else 0,
        action=url_for(action, reference=found.reference),
        fields={**(fields or {}), **({"back": back} if back in BACK else {})},
        cancel_url=back_to(found.reference))
    response = Response(html, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def stage_allows(found: ApplicationDetail, action: str, otherwise: str) -> None:
    if action not in actions(found):
        raise Refused(otherwise)


def actions(found: ApplicationDetail) -> frozenset[str]:
    """The decisions this stage still allows, for any document: a rejection until the card is
    printed or the PDF signed (`decisions.REJECTABLE`)."""
    allowed = set(found.actions) - {"reject"}
    if Stage(found.stage) in decisions.REJECTABLE:
        allowed.add("reject")
    return frozenset(allowed)


@dataclass(frozen=True)
class Step:
    stage: str
    words: str
    state: str  # "done", "current" or "todo"


@dataclass(frozen=True)
class Stages:
    """The application's document and its path as the page shows it."""

    document: str
    name: str
    path: tuple[Step, ...]
    next_stage: str | None  # the step staff take from this page
    way: str | None  # how the next step is taken when not by hand here


# A stage off the path, placed where it stands on it.
_ON_PATH = {Stage.PRINT_READY: Stage.PENUNGGALAN, Stage.DUPLICATE: Stage.PENUNGGALAN,
            Stage.MISSED_PICKUP: Stage.PICKUP_SCHEDULED,
            Stage.POST_REQUESTED: Stage.PICKUP_SCHEDULED, Stage.POSTED: Stage.PICKUP_SCHEDULED,
            Stage.DELIVERED: Stage.COLLECTED}


def stages(found: ApplicationDetail, code: str) -> Stages:
    """The path of the application's document with the stage it is at (a closed one: the last
    it reached), and its next step. The first step of a submitted application is the
    verification's (KTP-el) or the papers' (other documents), which have their own buttons."""
    document = documents.document(code)
    stage = Stage(found.stage)
    reached = [_ON_PATH.get(Stage(event.stage), Stage(event.stage)) for event in found.events]
    at = _ON_PATH.get(stage, stage)
    if stage in CLOSED_STAGES and at not in document.path:
        at = next((each for each in reversed(reached) if each in document.path),
                  Stage.SUBMITTED)
    index = document.path.index(at) if at in document.path else -1
    closed = stage in CLOSED_STAGES and stage not in document.path
    path = tuple(Step(each.value, stage_words(each.value),
                      "done" if number < index or (closed and number == index)
                      else "current" if number == index else "todo")
                 for number, each in enumerate(document.path))
    following = None
    way = None
    if not found.closed and stage is not Stage.SUBMITTED:
        by_hand = document_stages.by_hand(document, stage)
        following = by_hand.value if by_hand else None
        machinery = document_stages.machinery(document, stage)
        way = machinery.words if machinery and not following else None
    return Stages(code, document_words(code), path, following, way)


def audit_decision(action: str, reference: str, detail_: str) -> None:
    """The audit entry of a decision the domain function has already committed in its own
    transaction: written right after it."""
    with connect() as connection:
        record(connection, action, target(reference), detail_)


def target(reference: str) -> str:
    return f"application {reference}"


def visible(found: ApplicationDetail | None) -> ApplicationDetail | None:
    """The application if the signed-in member of staff may see it (an operator: their own
    kecamatan only)."""
    if found is None or not allows_office(found.kecamatan_code):
        return None
    return found


def page(found: ApplicationDetail) -> Response:
    person = me()
    can_act = person.role in ACTORS
    registrant = ""
    if found.stage == Stage.SUBMITTED.value:  # only then may its registrant still change it
        with connect() as connection:
            registrant = corrections.registrant(connection, found.id)
    shown = stages(found, found.document)
    html = render_template("staff/application.html", app=found, can_act=can_act,
                           reason_limit=decisions.reason_budget(), note_limit=NOTE_LIMIT,
                           stages=shown, actions=actions(found),
                           # the KTP-el's verification sends it on to penunggalan
                           verifiable=found.stage == Stage.SUBMITTED.value
                           and documents.document(shown.document).next_stage(found.stage)
                           is Stage.PENUNGGALAN,
                           resolvable=found.stage == Stage.DUPLICATE.value,
                           # who registered it may still correct or cancel it, until verified
                           correctable=corrections.may_change(found.stage, registrant,
                                                              person.actor),
                           applicant=documents.document(found.document).applicant,
                           **labels())
    return Response(html, mimetype="text/html")


def missing(reference: str) -> Response:
    html = render_template("staff/application.html", app=None, missing=reference[:20],
                           **labels())
    return Response(html, status=404, mimetype="text/html")


def labels() -> dict[str, Any]:
    catalogue = messages("id")
    offices = runtime().pickup_policy().offices
    return {"channels": CHANNELS,
            "reasons": {key.removeprefix("reason."): text for key, text in catalogue.items()
                        if key.startswith("reason.")},
            "offices": {code: office.name for code, office in offices.items()}}


def when(moment: datetime) -> str:
    """A slot as the resident's SMS words it: "Selasa, 1 Desember 2026, 08.30 WIB"."""
    shown = local(moment)
    return f"{say_day('id', shown.date())}, {say_time('id', shown)}"
