"""What the application pages and their decisions share: who may decide, finding an
application the signed-in member of staff may see, running one decision and coming back to the
application's page with its outcome, and the labels the pages show.

Every decision is a POST with the CSRF token, checked on the server (role and office), audited,
and answered with a redirect back to the application (303) and a flash message. An operator
works only on applications of their own kecamatan: another office's application is "not found"
(404), on the page and on every action, so its existence is not disclosed either.

A decision that closes an application asks first (`confirmation`): the page says what will
happen, shows the SMS the family will read, word for word, and what it costs; only a second
POST, from that page, decides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from flows.catalogue import messages
from flows.dates import say_day, say_time
from sms_ktp.applications import corrections, decisions
from sms_ktp.backoffice.search import ApplicationDetail, detail
from sms_ktp.backoffice.staff import Role
from sms_ktp.domain.pickup_calendar import local
from sms_ktp.domain.stages import Stage
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
    if action not in found.actions:
        raise Refused(otherwise)


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
    html = render_template("staff/application.html", app=found, can_act=can_act,
                           reason_limit=decisions.reason_budget(), note_limit=NOTE_LIMIT,
                           verifiable=found.stage == Stage.SUBMITTED.value,
                           resolvable=found.stage == Stage.DUPLICATE.value,
                           # who registered it may still correct or cancel it, until verified
                           correctable=corrections.may_change(found.stage, registrant,
                                                              person.actor),
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
