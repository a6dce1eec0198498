"""What the application pages and their decisions share: who may decide, finding an
application the signed-in member of staff may see, running one decision and coming back to the
application's page with its outcome, and the labels the pages show.

Every decision is a POST with the CSRF token, checked on the server (role and office), audited,
and answered with a redirect back to the application (303) and a flash message. An operator
works only on applications of their own kecamatan: another office's application is "not found"
(404), on the page and on every action, so its existence is not disclosed either.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import flash, redirect, render_template, url_for
from werkzeug.wrappers import Response

from flows.catalogue import messages
from flows.dates import say_day, say_time
from sms_ktp.applications import decisions
from sms_ktp.backoffice.search import ApplicationDetail, detail
from sms_ktp.backoffice.staff import Role
from sms_ktp.domain.pickup_calendar import local
from sms_ktp.web.staff.blueprint import allows_office, connect, me, record, runtime

NOTE_LIMIT = 200  # a cancellation note: a line in the timeline
CHANNELS = {"sms": "SMS", "ussd": "USSD", "staff": "Petugas"}
ACTORS = (Role.ADMIN, Role.OPERATOR)  # who may decide; helpers only look applications up


class Refused(Exception):
    """A decision not taken, with the reason staff read (nothing has changed)."""


def decide(reference: str, act: Callable[[ApplicationDetail], str]) -> Response:
    """Run one decision on a visible application, then back to its page with the outcome."""
    with connect() as connection:
        found = visible(detail(connection, reference))
    if found is None:
        return missing(reference)
    try:
        flash(act(found), "ok")
    except Refused as refused:
        flash(str(refused), "error")
    return redirect(url_for("staff.application", reference=reference), code=303)


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
    html = render_template("staff/application.html", app=found, can_act=can_act,
                           reason_limit=decisions.reason_budget(), note_limit=NOTE_LIMIT,
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
