"""A phone in the browser for trying the service: it exists only with the console gateway, where
no real SMS can leave (or for signed-in admins), and goes through the same inbound path as a
real SMS.

It shows only the conversation begun in this browser: a signed cookie keeps, for each number
texted or dialled from here, where the service's SMS stood when this browser began (the newest
inbound and outbound ids), and the phone shows what came after. Another number, or what a number
received before, shows nothing: reading residents' SMS is the back office's, behind login
(`/staff/messages`).

In WhatsApp mode (`mode=whatsapp`) a message goes in as a WhatsApp message would (the WhatsApp
channel, a made-up wamid; no Graph API is called) and the phone shows the replies to it as
WhatsApp shows them: the text with its reply buttons or its list, a tap sending the choice's id
as a button reply does."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from flask import (
    Blueprint,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, or_
from sqlmodel import select
from werkzeug.wrappers import Response

from gateway.message import InboundSms, UssdRequest
from sms_ktp.backoffice.staff import Role
from sms_ktp.channels.sms import receive_sms
from sms_ktp.channels.ussd import answer_ussd
from sms_ktp.channels.whatsapp import WhatsAppMessage, receive_whatsapp
from sms_ktp.domain.phones import normalise_msisdn
from sms_ktp.messaging.outbox import WHATSAPP
from sms_ktp.models import InboundMessage, OutboxMessage
from sms_ktp.runtime import Runtime
from sms_ktp.web.csrf import csrf
from sms_ktp.web.staff.blueprint import session_staff

simulator = Blueprint("simulator", __name__, url_prefix="/simulator")
csrf.exempt(simulator)  # checked in `_runtime`, once the page is known to exist for this browser
DEFAULT_PHONE = "081234567890"
HISTORY = 30
COOKIE = "sms_ktp_simulator"
KEEP_PHONES = 20  # numbers a browser remembers; the oldest is forgotten first
Began = dict[str, list[int]]  # E.164 -> [last inbound id, last outbound id] when it began
SMS_MODE, WHATSAPP_MODE = "sms", "whatsapp"
BUTTONS_MAX = 3  # WhatsApp's reply buttons; more choices are a list


@dataclass(frozen=True)
class Shown:
    """One message on the phone's screen; `options` (id, title) only on a WhatsApp question."""

    at: datetime
    direction: str  # "in" or "out"
    text: str
    options: list[tuple[str, str]] = field(default_factory=list)
    button: str = ""  # the label that opens a list
    answers: int = 0  # the inbound id it came with or answers: keeps a reply after its message

    @property
    def as_list(self) -> bool:
        return len(self.options) > BUTTONS_MAX


def _mode(value: str | None) -> str:
    return WHATSAPP_MODE if value == WHATSAPP_MODE else SMS_MODE


def _options(stored: str | None) -> tuple[list[tuple[str, str]], str]:
    """The choices kept with a WhatsApp question (`channels.whatsapp_options`), none when
    unreadable: the text alone is still the question."""
    if not stored:
        return [], ""
    try:
        data = json.loads(stored)
        options = [(str(option_id), str(title)) for option_id, title in data["options"]]
        return options, str(data.get("button", ""))
    except (ValueError, TypeError, KeyError):
        return [], ""


def _runtime() -> Runtime:
    """With the console gateway anybody may try the phone (no SMS can leave, so a forged form
    could do nothing a stranger cannot); with a real gateway only a signed-in admin, since
    replies then reach real phones, and a POST needs the form's CSRF token. A stranger gets 404
    before any token is looked at."""
    runtime: Runtime = current_app.extensions["sms_ktp"]
    if runtime.gateway is not None and runtime.gateway.name == "console":
        return runtime
    person = session_staff()
    if person is None or person.role is not Role.ADMIN:
        abort(404)
    if request.method == "POST":
        csrf.protect()
    return runtime


@simulator.get("/")
def phone() -> str:
    runtime = _runtime()
    number = request.args.get("phone", DEFAULT_PHONE)
    mode = _mode(request.args.get("mode"))
    e164 = normalise_msisdn(number)
    began = _began().get(e164 or "")
    messages: list[Shown] = []
    if e164 and began:
        after_in, after_out = began
        # A reply to a WhatsApp message is WhatsApp's even once the worker, with the channel
        # off, has handed it to the SMS gateway instead.
        on_whatsapp_in = InboundMessage.provider == WHATSAPP
        on_whatsapp_out = or_(OutboxMessage.channel == WHATSAPP,
                              func.coalesce(InboundMessage.provider, "") == WHATSAPP)
        if mode == SMS_MODE:
            on_whatsapp_in, on_whatsapp_out = ~on_whatsapp_in, ~on_whatsapp_out
        with runtime.db.transaction() as session:
            inbound = session.exec(select(InboundMessage).where(
                InboundMessage.sender == e164, InboundMessage.id > after_in, on_whatsapp_in)
                .order_by(InboundMessage.id.desc()).limit(HISTORY)).all()
            outbound = session.exec(select(OutboxMessage).outerjoin(
                InboundMessage, OutboxMessage.inbound_id == InboundMessage.id).where(
                OutboxMessage.phone == e164, OutboxMessage.id > after_out, on_whatsapp_out)
                .order_by(OutboxMessage.id.desc()).limit(HISTORY)).all()
        shown = [Shown(m.received_at, "in", m.text, answers=m.id or 0) for m in inbound]
        shown += [Shown(m.created_at, "out", m.text,
                        *(_options(m.options) if mode == WHATSAPP_MODE else ([], "")),
                        answers=m.inbound_id or 0)
                  for m in outbound]
        messages = sorted(shown, key=lambda item: (item.at, item.answers,
                                                   item.direction == "out"))[-HISTORY:]
    return render_template("simulator.html", number=number, valid=e164 is not None,
                           messages=messages, mode=mode,
                           whatsapp_configured=runtime.settings.gateway.whatsapp.enabled)


@simulator.post("/")
def send() -> Response:
    runtime = _runtime()
    number = request.form.get("phone", "")
    text = request.form.get("text", "")
    mode = _mode(request.form.get("mode"))
    e164 = normalise_msisdn(number)
    response = redirect(url_for("simulator.phone", phone=number,
                                **({"mode": mode} if mode == WHATSAPP_MODE else {})), code=303)
    if e164 and text.strip():
        _begin(runtime, e164, response)
        if mode == WHATSAPP_MODE:
            # As Meta would deliver it: the number's digits, a wamid of its own.
            message = WhatsAppMessage(f"wamid.simulator.{uuid.uuid4().hex}", e164.lstrip("+"),
                                      "text", text, None, "simulator")
            receive_whatsapp(runtime.db, runtime.clock, message, runtime.dialogue_ttl,
                             runtime.pickup_policy(), runtime.reply_limits)
        else:
            sms = InboundSms("simulator", uuid.uuid4().hex, number, "simulator", text, None,
                             None, None)
            receive_sms(runtime.db, runtime.clock, sms, runtime.dialogue_ttl,
                        runtime.pickup_policy(), runtime.reply_limits)
        current_app.extensions["sms_ktp.on_reply_queued"]()
    return response


@simulator.route("/ussd", methods=["GET", "POST"])
def ussd() -> Response:
    """Dial the USSD menu (GET starts a session); each press sends the session's whole input
    joined by `*`, as operators do. Dialling begins the number's conversation in this browser,
    so the SMS a USSD session sends show in its inbox."""
    runtime = _runtime()
    number = request.values.get("phone", DEFAULT_PHONE)
    if request.method == "GET":
        session_id, text = uuid.uuid4().hex, ""
    else:
        session_id = request.form.get("session", "")
        so_far, pressed = request.form.get("text", ""), request.form.get("input", "")
        text = f"{so_far}*{pressed}" if so_far else pressed
    response = make_response()
    screen = ""
    e164 = normalise_msisdn(number)
    if e164 and session_id:
        _begin(runtime, e164, response)
        answer = answer_ussd(runtime.db, runtime.clock,
                             UssdRequest("simulator", session_id, "*123#", number, None, text),
                             runtime.dialogue_ttl, runtime.pickup_policy())
        screen = answer.screen
        if answer.sms_queued:
            current_app.extensions["sms_ktp.on_reply_queued"]()
    response.set_data(render_template("ussd.html", number=number, session=session_id, text=text,
                                      screen=screen[4:], ended=not screen.startswith("CON ")))
    return response


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="sms-ktp simulator phones")


def _began() -> Began:
    """The numbers begun in this browser (a cookie whose signature fails counts as none)."""
    try:
        began = _signer().loads(request.cookies.get(COOKIE, ""))
    except BadSignature:
        return {}
    if not isinstance(began, dict):
        return {}
    return {phone: [int(mark) for mark in marks] for phone, marks in began.items()
            if isinstance(phone, str) and isinstance(marks, list) and len(marks) == 2}


def _begin(runtime: Runtime, e164: str, response: Response) -> None:
    """Begin the number's conversation in this browser, unless it was: from now on, not before."""
    began = _began()
    if e164 in began:
        return
    with runtime.db.connect() as connection:
        marks = [connection.execute(select(func.max(table.id))).scalar() or 0
                 for table in (InboundMessage, OutboxMessage)]
    began[e164] = marks
    kept = dict(list(began.items())[-KEEP_PHONES:])
    app = current_app
    response.set_cookie(COOKIE, _signer().dumps(kept), path=url_for("simulator.phone"),
                        httponly=True, samesite="Lax",
                        secure=app.session_interface.get_cookie_secure(app))  # type: ignore[attr-defined]
