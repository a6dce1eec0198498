"""A fake WhatsApp Cloud API (Meta's Graph API) on 127.0.0.1, for the tests of
`gateway.whatsapp` and of the WhatsApp channel end to end; nothing reaches the internet.

It answers `POST /v23.0/<phone_number_id>/messages` as Graph does: a wrong Bearer token gets
401 (code 190), another phone number id 400 (code 100), a body Graph would refuse 400 (code 100
or 131009), anything else 200 with a fresh `wamid`. It can be told, per recipient, to throttle
the next sends (130429), that the 24-hour window is closed (131047 for everything but a
template, as Graph does), that the number is not on WhatsApp (131026), or to fail with a 500.
Every request is kept (`received`), every accepted body too (`accepted`).

    with FakeGraph() as graph:
        graph.close_window("+6281234567890")
        gateway = WhatsAppGateway(graph.settings())
        ...
        [sent] = graph.accepted

The module also builds what Meta posts to the service's webhook, and signs and posts it:

    payload = envelope(inbound_text("wamid.1", "+6281234567890", "DAFTAR"))
    post_webhook(url, payload, APP_SECRET)            # X-Hub-Signature-256 as Meta sends it
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import requests
from loopback_server import LoopbackServer
from werkzeug.wrappers import Request, Response

API_VERSION = "v23.0"
PHONE_NUMBER_ID = "106540352242922"
ACCESS_TOKEN = "EAAG-fake-token-0123456789abcdef"
APP_SECRET = "fake-app-secret-5f2b"
VERIFY_TOKEN = "fake-verify-token"
WABA_ID = "102290129340398"
DISPLAY_NUMBER = "6281100000000"

# Graph's words for the errors the fake gives (code -> (message, details)).
_ERRORS: dict[int, tuple[str, str]] = {
    100: ("Invalid parameter", "Invalid parameter"),
    190: ("Invalid OAuth access token - Cannot parse access token", ""),
    130429: ("Rate limit hit", "Cloud API message throughput has been reached."),
    131009: ("Parameter value is not valid", "Parameter value is not valid"),
    131026: ("Message undeliverable", "Unable to deliver message."),
    131047: ("Re-engagement message", "Message failed to send because more than 24 hours "
             "have passed since the customer last replied to this number."),
    131000: ("Something went wrong", "Internal error"),
}


def digits(phone: str) -> str:
    """A number as Graph writes it: digits, no "+"."""
    return phone.strip().removeprefix("+")


def error_body(code: int, message: str | None = None, details: str | None = None) -> dict[str, Any]:
    """Graph's error document for `code`."""
    known_message, known_details = _ERRORS.get(code, (f"(#{code}) Error", ""))
    error: dict[str, Any] = {"message": message or known_message, "type": "OAuthException",
                             "code": code, "fbtrace_id": "AbCdEfGh123"}
    if code != 190:
        error["error_data"] = {"messaging_product": "whatsapp",
                               "details": details or known_details}
    return {"error": error}


@dataclass(frozen=True)
class Received:
    """One request the fake received, as it came over the wire."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Accepted:
    """A message the fake took: its wamid and the body as sent."""

    wamid: str
    body: dict[str, Any]

    @property
    def to(self) -> str:
        return str(self.body.get("to"))

    @property
    def type(self) -> str:
        return str(self.body.get("type"))


@dataclass
class FakeGraph(LoopbackServer):
    """A threaded HTTP server answering sends as Graph would; see the module's docstring."""

    phone_number_id: str = PHONE_NUMBER_ID
    access_token: str = ACCESS_TOKEN
    received: list[Received] = field(default_factory=list, init=False)
    accepted: list[Accepted] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._ids = itertools.count(1)
        # Per recipient (digits; "*" for anyone): what the next sends get, in order.
        self._next: dict[str, deque[tuple[int, dict[str, Any]]]] = defaultdict(deque)
        self._closed: set[str] = set()
        self._absent: set[str] = set()
        self._delay = 0.0

    @property
    def api_url(self) -> str:
        """What `[gateway.whatsapp] api_url` is set to for the fake."""
        return f"{self.base_url}/{API_VERSION}"

    def switch_on(self, settings: Any) -> None:
        """The service's `[gateway.whatsapp]` (a `Settings`) pointed at this fake."""
        for name, value in vars(self.settings()).items():
            setattr(settings.gateway.whatsapp, name, value)

    def settings(self, **changes: Any) -> SimpleNamespace:
        """`[gateway.whatsapp]` pointing at the fake (the attributes the adapter reads)."""
        values: dict[str, Any] = {
            "phone_number_id": self.phone_number_id, "access_token": self.access_token,
            "app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN, "api_url": self.api_url,
            "rate_per_second": 0.0, "connect_timeout_seconds": 1.0,
            "read_timeout_seconds": 2.0, "templates": {}}
        values.update(changes)
        return SimpleNamespace(**values)

    # --- what to answer -------------------------------------------------------------------------
    def _queue(self, phone: str | None, times: int, status: int, body: dict[str, Any]) -> None:
        with self._lock:
            self._next[digits(phone) if phone else "*"].extend([(status, body)] * times)

    def throttle(self, phone: str | None = None, times: int = 1, code: int = 130429,
                 status: int = 400) -> None:
        """The next `times` sends (to `phone`, or to anyone) get a throttling error."""
        self._queue(phone, times, status, error_body(code))

    def fail(self, phone: str | None = None, times: int = 1, status: int = 500) -> None:
        """The next `times` sends (to `phone`, or to anyone) get a server error."""
        self._queue(phone, times, status, error_body(131000))

    def error(self, code: int, phone: str | None = None, times: int = 1, status: int = 400,
              message: str | None = None, details: str | None = None) -> None:
        """The next `times` sends get Graph error `code` (with these words)."""
        self._queue(phone, times, status, error_body(code, message, details))

    def close_window(self, phone: str) -> None:
        """More than 24 hours since `phone` last wrote: 131047 for all but templates."""
        with self._lock:
            self._closed.add(digits(phone))

    def open_window(self, phone: str) -> None:
        """`phone` has just written: free-form messages go again."""
        with self._lock:
            self._closed.discard(digits(phone))

    def not_on_whatsapp(self, phone: str) -> None:
        """`phone` has no WhatsApp: 131026 for every send to it."""
        with self._lock:
            self._absent.add(digits(phone))

    def hang(self, seconds: float) -> None:
        """Sleep `seconds` before answering each send until told 0: a client's read timeout."""
        with self._lock:
            self._delay = seconds

    # --- what it saw ----------------------------------------------------------------------------
    def sent_to(self, phone: str) -> list[Accepted]:
        """The accepted messages to `phone`, in order."""
        with self._lock:
            return [a for a in self.accepted if a.to == digits(phone)]

    def texts_to(self, phone: str) -> list[str]:
        """What `phone` read: text bodies, interactive bodies and template names."""
        return [_readable(a.body) for a in self.sent_to(phone)]

    # --- the server -----------------------------------------------------------------------------
    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        received = Received(method=request.method, path=request.path,
                            headers=dict(request.headers), body=request.get_data())
        with self._lock:
            self.received.append(received)
            delay = self._delay
        if delay:
            self._released.wait(delay)
        status, body = self._answer(request, received)
        return Response(json.dumps(body), status,
                        content_type="application/json")(environ, start_response)

    def _answer(self, request: Request, received: Received) -> tuple[int, dict[str, Any]]:
        if request.headers.get("Authorization") != f"Bearer {self.access_token}":
            return 401, error_body(190)
        parts = request.path.strip("/").split("/")
        if request.method != "POST" or len(parts) != 3 or parts[2] != "messages" \
                or parts[0] != API_VERSION:
            return 400, error_body(100, "Unknown path components")
        if parts[1] != self.phone_number_id:
            return 400, error_body(100, f"Unsupported post request. Object with ID "
                                        f"'{parts[1]}' does not exist")
        try:
            body = received.json()
        except ValueError:
            return 400, error_body(100, "Invalid JSON")
        problem = _problem(body)
        if problem:
            return 400, error_body(131009 if problem[0] == "value" else 100, details=problem[1])
        to = body["to"]
        with self._lock:
            for key in (to, "*"):
                if self._next[key]:
                    return self._next[key].popleft()
            if to in self._absent:
                return 400, error_body(131026)
            if to in self._closed and body["type"] != "template":
                return 400, error_body(131047)
            wamid = f"wamid.FAKE{next(self._ids):06d}"
            self.accepted.append(Accepted(wamid, body))
        return 200, {"messaging_product": "whatsapp",
                     "contacts": [{"input": to, "wa_id": to}],
                     "messages": [{"id": wamid}]}


def _problem(body: Any) -> tuple[str, str] | None:
    """What Graph would refuse in a body: ("param", why) or ("value", why); None when fine."""
    if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
        return "param", "messaging_product must be whatsapp"
    to = body.get("to")
    if not isinstance(to, str) or not to.isdigit():
        return "param", "to must be digits"
    kind = body.get("type")
    if kind == "text":
        text = body.get("text") or {}
        return None if 0 < len(text.get("body") or "") <= 4096 else ("value", "text.body")
    if kind == "template":
        template = body.get("template") or {}
        return None if template.get("name") and (template.get("language") or {}).get(
            "code") else ("param", "template name and language")
    if kind != "interactive":
        return "param", f"unsupported type {kind}"
    interactive = body.get("interactive") or {}
    if not 0 < len((interactive.get("body") or {}).get("text") or "") <= 1024:
        return "value", "interactive.body.text"
    action = interactive.get("action") or {}
    if interactive.get("type") == "button":
        buttons = action.get("buttons") or []
        titles = [(b.get("reply") or {}).get("title") or "" for b in buttons]
        if not 0 < len(buttons) <= 3 or any(not 0 < len(t) <= 20 for t in titles):
            return "value", "buttons: 1 to 3, titles 1 to 20 characters"
        return None
    if interactive.get("type") == "list":
        sections = action.get("sections") or []
        rows = [row for section in sections for row in section.get("rows") or []]
        if not 0 < len(rows) <= 10 or any(not 0 < len(r.get("title") or "") <= 24
                                          for r in rows):
            return "value", "list: 1 to 10 rows, titles 1 to 24 characters"
        if not 0 < len(action.get("button") or "") <= 20:
            return "value", "list button 1 to 20 characters"
        return None
    return "param", "interactive.type"


def _readable(body: Mapping[str, Any]) -> str:
    if body.get("type") == "text":
        return str(body["text"]["body"])
    if body.get("type") == "interactive":
        return str(body["interactive"]["body"]["text"])
    return f"template:{body.get('template', {}).get('name')}"


# --- the webhook side ---------------------------------------------------------------------------
def sign(body: bytes, app_secret: str = APP_SECRET) -> str:
    """The X-Hub-Signature-256 header Meta sends with `body`."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def _now() -> str:
    return str(int(time.time()))


def _message(wamid: str, phone: str, kind: str, timestamp: str | None,
             **content: Any) -> dict[str, Any]:
    return {"from": digits(phone), "id": wamid, "timestamp": timestamp or _now(), "type": kind,
            **content}


def inbound_text(wamid: str, phone: str, text: str, *,
                 timestamp: str | None = None) -> dict[str, Any]:
    """A text the resident wrote (one item of `messages[]`)."""
    return _message(wamid, phone, "text", timestamp, text={"body": text})


def button_reply(wamid: str, phone: str, button_id: str, title: str, *,
                 timestamp: str | None = None) -> dict[str, Any]:
    """A tap on a reply button."""
    return _message(wamid, phone, "interactive", timestamp, interactive={
        "type": "button_reply", "button_reply": {"id": button_id, "title": title}})


def list_reply(wamid: str, phone: str, row_id: str, title: str, description: str = "", *,
               timestamp: str | None = None) -> dict[str, Any]:
    """A row chosen in a list."""
    reply = {"id": row_id, "title": title}
    if description:
        reply["description"] = description
    return _message(wamid, phone, "interactive", timestamp, interactive={
        "type": "list_reply", "list_reply": reply})


def template_button(wamid: str, phone: str, payload: str, text: str, *,
                    timestamp: str | None = None) -> dict[str, Any]:
    """A tap on a template's quick-reply button."""
    return _message(wamid, phone, "button", timestamp,
                    button={"payload": payload, "text": text})


def inbound_media(wamid: str, phone: str, kind: str = "image", *,
                  timestamp: str | None = None) -> dict[str, Any]:
    """Something not text: image, audio, video, document, sticker, location, contacts,
    reaction or unsupported."""
    content: dict[str, Any]
    if kind == "location":
        content = {"latitude": -6.595, "longitude": 106.816}
    elif kind == "reaction":
        content = {"message_id": "wamid.EARLIER", "emoji": "\U0001f44d"}
    elif kind == "contacts":
        content = [{"name": {"formatted_name": "Budi"}}]  # type: ignore[assignment]
    elif kind == "unsupported":
        return {**_message(wamid, phone, kind, timestamp),
                "errors": [{"code": 131051, "title": "Message type unknown"}]}
    else:
        content = {"mime_type": "image/jpeg", "sha256": "ab" * 16, "id": "1234567890"}
    return _message(wamid, phone, kind, timestamp, **{kind: content})


def status(wamid: str, state: str, phone: str = "+6281234567890", *,
           errors: Sequence[Mapping[str, Any]] | Iterable[int] = (),
           callback_data: str | None = None, timestamp: str | None = None) -> dict[str, Any]:
    """One item of `statuses[]`: sent, delivered, read or failed; `errors` as Graph's dicts
    or as bare codes (131047, 131026)."""
    found: dict[str, Any] = {"id": wamid, "status": state, "timestamp": timestamp or _now(),
                             "recipient_id": digits(phone)}
    listed = [e if isinstance(e, Mapping) else {
        "code": e, "title": _ERRORS.get(e, ("Error", ""))[0],
        "message": _ERRORS.get(e, ("Error", ""))[0],
        "error_data": {"details": _ERRORS.get(e, ("", "Error"))[1]}} for e in errors]
    if listed:
        found["errors"] = [dict(e) for e in listed]
    if callback_data is not None:
        found["biz_opaque_callback_data"] = callback_data
    if state in ("sent", "delivered") and not listed:
        found["pricing"] = {"billable": True, "pricing_model": "PMP", "category": "utility"}
    return found


def envelope(*messages: Mapping[str, Any], statuses: Sequence[Mapping[str, Any]] = (),
             phone_number_id: str = PHONE_NUMBER_ID, names: Mapping[str, str] | None = None
             ) -> dict[str, Any]:
    """The body Meta posts: one entry, one change, the messages (with a contact for each
    sender; `names`: profile names by number) and the statuses."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": DISPLAY_NUMBER, "phone_number_id": phone_number_id}}
    if messages:
        senders = list(dict.fromkeys(str(m["from"]) for m in messages))
        value["contacts"] = [{"profile": {"name": (names or {}).get(s) or "Warga"},
                              "wa_id": s} for s in senders]
        value["messages"] = [dict(m) for m in messages]
    if statuses:
        value["statuses"] = [dict(s) for s in statuses]
    return {"object": "whatsapp_business_account",
            "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": value}]}]}


def post_webhook(url: str, payload: Mapping[str, Any] | bytes, app_secret: str = APP_SECRET, *,
                 signature: str | None = None, timeout: float = 10) -> requests.Response:
    """Post `payload` to the service's webhook as Meta does, signed with `app_secret`
    (`signature` overrides the header: "" sends none)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    header = sign(body, app_secret) if signature is None else signature
    if header:
        headers["X-Hub-Signature-256"] = header
    return requests.post(url, data=body, headers=headers, timeout=timeout)


def verify_webhook(url: str, verify_token: str = VERIFY_TOKEN,
                   challenge: str = "1158201444", timeout: float = 10) -> requests.Response:
    """Meta's verification GET when the webhook URL is saved in the app's settings."""
    return requests.get(url, params={"hub.mode": "subscribe", "hub.verify_token": verify_token,
                                     "hub.challenge": challenge}, timeout=timeout)
