"""A phone in the browser for trying the service: it exists only with the console gateway, where
no real SMS can leave, and goes through the same inbound path as a real SMS."""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from sqlmodel import select
from werkzeug.wrappers import Response

from gateway.message import InboundSms, UssdRequest
from sms_ktp.inbound import receive_sms
from sms_ktp.models import InboundMessage, OutboxMessage
from sms_ktp.phones import normalise_msisdn
from sms_ktp.runtime import Runtime
from sms_ktp.staff import Role
from sms_ktp.ussd import answer_ussd
from sms_ktp.web.staff.blueprint import csrf_valid, session_staff

simulator = Blueprint("simulator", __name__, url_prefix="/simulator")
DEFAULT_PHONE = "081234567890"
HISTORY = 30


def _runtime() -> Runtime:
    """With the console gateway anybody may try the phone (no SMS can leave); with a real
    gateway only a signed-in admin, since replies then reach real phones."""
    runtime: Runtime = current_app.extensions["sms_ktp"]
    if runtime.gateway is not None and runtime.gateway.name == "console":
        return runtime
    person = session_staff()
    if person is None or person.role is not Role.ADMIN:
        abort(404)
    if request.method == "POST" and not csrf_valid():
        abort(400, "CSRF token missing or wrong")
    return runtime


@simulator.get("/")
def phone() -> str:
    runtime = _runtime()
    number = request.args.get("phone", DEFAULT_PHONE)
    e164 = normalise_msisdn(number)
    messages: list[tuple[object, str, str]] = []
    if e164:
        with runtime.db.transaction() as session:
            inbound = session.exec(select(InboundMessage).where(InboundMessage.sender == e164)
                                   .order_by(InboundMessage.id.desc()).limit(HISTORY)).all()
            outbound = session.exec(select(OutboxMessage).where(OutboxMessage.phone == e164)
                                    .order_by(OutboxMessage.id.desc()).limit(HISTORY)).all()
        messages = sorted([(m.received_at, "in", m.text) for m in inbound]
                          + [(m.created_at, "out", m.text) for m in outbound],
                          key=lambda item: (item[0], item[1] == "out"))[-HISTORY:]
    return render_template("simulator.html", number=number, valid=e164 is not None,
                           messages=messages)


@simulator.post("/")
def send() -> Response:
    runtime = _runtime()
    number = request.form.get("phone", "")
    text = request.form.get("text", "")
    if normalise_msisdn(number) and text.strip():
        sms = InboundSms("simulator", uuid.uuid4().hex, number, "simulator", text, None, None,
                         None)
        receive_sms(runtime.db, runtime.clock, sms, runtime.dialogue_ttl, runtime.pickup_policy(),
                    runtime.reply_limits)
        current_app.extensions["sms_ktp.on_reply_queued"]()
    return redirect(url_for("simulator.phone", phone=number), code=303)


@simulator.route("/ussd", methods=["GET", "POST"])
def ussd() -> str:
    """Dial the USSD menu (GET starts a session); each press sends the session's whole input
    joined by `*`, as operators do."""
    runtime = _runtime()
    number = request.values.get("phone", DEFAULT_PHONE)
    if request.method == "GET":
        session_id, text = uuid.uuid4().hex, ""
    else:
        session_id = request.form.get("session", "")
        so_far, pressed = request.form.get("text", ""), request.form.get("input", "")
        text = f"{so_far}*{pressed}" if so_far else pressed
    screen = ""
    if normalise_msisdn(number) and session_id:
        answer = answer_ussd(runtime.db, runtime.clock,
                             UssdRequest("simulator", session_id, "*123#", number, None, text),
                             runtime.dialogue_ttl, runtime.pickup_policy())
        screen = answer.screen
        if answer.sms_queued:
            current_app.extensions["sms_ktp.on_reply_queued"]()
    return render_template("ussd.html", number=number, session=session_id, text=text,
                           screen=screen[4:], ended=not screen.startswith("CON "))
