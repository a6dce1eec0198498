"""The WhatsApp Business Cloud API (Meta's Graph API) as a sending adapter.

`send` carries an `OutboundSms` as a WhatsApp text, so the outbox, the worker and the router
treat WhatsApp as one more gateway; `send_body` sends any message the pure builders below make
(reply buttons, a list, an approved template). Every outcome is sorted as in the SMS adapters:
accepted (the `wamid`), retry later (`TemporaryFailure`: throttling, 5xx, timeouts, a token the
city must fix) or give up (`PermanentFailure`). Two permanent failures are not failures of the
notice: `WindowClosed` (more than 24 hours since the resident last wrote, so only a template
may go) and `NotOnWhatsApp` (the number has no WhatsApp); both are `SmsInstead`, the caller's
cue to send the same words by SMS. The access token never appears in an exception, a log line
or a `SendResult`, and a phone number only masked.

This module imports nothing of the service: the settings come in as any object with the
attributes of `WhatsAppConfig` (the service's `WhatsAppSettings` is one).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

import requests

from gateway.message import OutboundSms, PermanentFailure, SendResult, TemporaryFailure
from gateway.routing import RateLimit
from gateway.transport import temporary_on_transport_failure

log = logging.getLogger(__name__)

PROVIDER = "whatsapp"
GRAPH_API_URL = "https://graph.facebook.com/v23.0"

# Limits of the Cloud API's messages (beyond them Meta answers 131009 or 100).
TEXT_MAX = 4096
INTERACTIVE_BODY_MAX = 1024
BUTTONS_MAX = 3
BUTTON_TITLE_MAX = 20
BUTTON_ID_MAX = 256
LIST_ROWS_MAX = 10
LIST_BUTTON_MAX = 20
ROW_TITLE_MAX = 24
ROW_DESCRIPTION_MAX = 72
ROW_ID_MAX = 200
CALLBACK_DATA_MAX = 512

# Meta's own throttling, and its "try again later" errors: the message waits and goes later.
THROTTLING_CODES = frozenset({4, 80007, 130429, 131056})
_TEMPORARY_CODES = frozenset({
    1, 2,            # API unknown / service temporarily unavailable
    131000,          # something went wrong
    131016,          # service unavailable
    131057,          # business account in maintenance mode
    133004,          # server temporarily unavailable
    # The token or the account is the city's to fix (as a wrong key or an empty balance with
    # the SMS aggregators): the message must wait for that, not be dropped.
    0, 3, 10, 190, 131031, 131042,
}) | THROTTLING_CODES
WINDOW_CLOSED_CODES = frozenset({131047, 470})  # 470: the code's name before Graph v16
NOT_ON_WHATSAPP_CODES = frozenset({131026})

_E164 = re.compile(r"\+?[1-9][0-9]{6,14}")
_LONG_DIGITS = re.compile(r"[0-9]{8,}")
_ECHO_LIMIT = 60
_REASON_LIMIT = 160
_ELLIPSIS = "…"


class WhatsAppConfig(Protocol):
    """What the adapter reads of `[gateway.whatsapp]`."""

    phone_number_id: str
    access_token: str
    api_url: str
    rate_per_second: float
    connect_timeout_seconds: float
    read_timeout_seconds: float


class SmsInstead(PermanentFailure):
    """WhatsApp cannot carry this message to this resident now: send the same words by SMS.
    Retrying on WhatsApp cannot help, so it is permanent for this message on this channel."""

    def __init__(self, reason: str, code: int) -> None:
        super().__init__(reason)
        self.code = code


class WindowClosed(SmsInstead):
    """131047: more than 24 hours since the resident last wrote; only a template may go."""


class NotOnWhatsApp(SmsInstead):
    """131026: the number is not on WhatsApp (or cannot receive the message)."""


def error_class(code: int | None, http_status: int = 400) -> type[Exception]:
    """The failure an error code of the Cloud API stands for, in a send's answer or in a
    `failed` status of the webhook (where the HTTP status does not apply)."""
    if code in WINDOW_CLOSED_CODES:
        return WindowClosed
    if code in NOT_ON_WHATSAPP_CODES:
        return NotOnWhatsApp
    if code in _TEMPORARY_CODES or http_status == 429 or http_status >= 500:
        return TemporaryFailure
    if http_status in (401, 403):
        return TemporaryFailure
    return PermanentFailure


def mask_phone(phone: str) -> str:
    """Enough of a number to tell two apart in a log line, never the whole of it."""
    return "***" + phone[-3:] if len(phone) > 5 else "***"


# --- the bodies ---------------------------------------------------------------------------------
def wa_number(phone: str) -> str:
    """Our numbers are E.164 (`+62…`); the Cloud API takes the digits alone. ValueError for
    anything else."""
    number = phone.strip()
    if not _E164.fullmatch(number):
        raise ValueError("not an E.164 phone number")
    return number.removeprefix("+")


def _base(to: str, kind: str) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "recipient_type": "individual",
            "to": wa_number(to), "type": kind}


def _checked_text(text: str, limit: int, what: str) -> str:
    if not text.strip():
        raise ValueError(f"{what} is empty")
    if len(text) > limit:
        raise ValueError(f"{what} is longer than {limit} characters")
    return text


def _cut(text: str, limit: int) -> str:
    """`text` fitted into `limit` characters, a cut one ending in "…" after a whole word
    when that keeps at least half of it."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    kept = text[:limit - 1]  # room for the "…"
    space = kept.rfind(" ")
    if text[limit - 1] != " " and space >= limit // 2:
        kept = kept[:space]
    return kept.rstrip() + _ELLIPSIS


def _checked_ids(ids: Sequence[str], limit: int, what: str) -> None:
    for item in ids:
        if not item or len(item) > limit:
            raise ValueError(f"{what} id must be 1 to {limit} characters")
    if len(set(ids)) != len(ids):
        raise ValueError(f"{what} ids must differ")


def text_body(to: str, text: str) -> dict[str, Any]:
    """A plain text message (what an SMS becomes); links are not previewed."""
    return {**_base(to, "text"),
            "text": {"preview_url": False, "body": _checked_text(text, TEXT_MAX, "text")}}


def buttons_body(to: str, text: str, options: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Up to 3 reply buttons under `text`; `options` are (id, title) pairs, the id coming back
    in the reply. ValueError for more than 3, a title over 20 characters or two alike: a
    button's words are the catalogue's to shorten, never ours to cut."""
    if not 1 <= len(options) <= BUTTONS_MAX:
        raise ValueError(f"reply buttons: 1 to {BUTTONS_MAX} options, not {len(options)}")
    _checked_ids([option_id for option_id, _ in options], BUTTON_ID_MAX, "button")
    titles = [title for _, title in options]
    for title in titles:
        _checked_text(title, BUTTON_TITLE_MAX, "button title")
    if len({title.casefold() for title in titles}) != len(titles):
        raise ValueError("button titles must differ")
    return {**_base(to, "interactive"), "interactive": {
        "type": "button",
        "body": {"text": _checked_text(text, INTERACTIVE_BODY_MAX, "text")},
        "action": {"buttons": [{"type": "reply", "reply": {"id": option_id, "title": title}}
                               for option_id, title in options]}}}


def list_body(to: str, text: str, button: str,
              rows: Sequence[tuple[str, str] | tuple[str, str, str]],
              section: str = "") -> dict[str, Any]:
    """A list of up to 10 rows opened by `button`; `rows` are (id, title) or (id, title,
    description). A row title over 24 characters (72 for a description) is cut and ends in
    "…": rows carry catalogue names (documents, kelurahan) that may run long, and the
    description carries the rest. More than 10 rows, or a button label over 20: ValueError."""
    if not 1 <= len(rows) <= LIST_ROWS_MAX:
        raise ValueError(f"list: 1 to {LIST_ROWS_MAX} rows, not {len(rows)}")
    _checked_ids([row[0] for row in rows], ROW_ID_MAX, "row")
    built = []
    for row_id, title, *rest in rows:
        item = {"id": row_id, "title": _cut(_checked_text(title, TEXT_MAX, "row title"),
                                            ROW_TITLE_MAX)}
        description = rest[0] if rest else ""
        if description.strip():
            item["description"] = _cut(description, ROW_DESCRIPTION_MAX)
        built.append(item)
    listed: dict[str, Any] = {"rows": built}
    if section:
        listed = {"title": _cut(section, ROW_TITLE_MAX), **listed}
    return {**_base(to, "interactive"), "interactive": {
        "type": "list",
        "body": {"text": _checked_text(text, INTERACTIVE_BODY_MAX, "text")},
        "action": {"button": _checked_text(button, LIST_BUTTON_MAX, "list button"),
                   "sections": [listed]}}}


def template_body(to: str, name: str, language: str,
                  params: Iterable[str] = ()) -> dict[str, Any]:
    """An approved template (the only message allowed outside the 24-hour window) with its
    body parameters in order. A parameter is one line (Meta refuses new lines and tabs in
    one), so its white space is folded into single spaces."""
    template: dict[str, Any] = {"name": _checked_text(name, 512, "template name"),
                                "language": {"code": _checked_text(language, 15, "language")}}
    values = [" ".join(str(value).split()) for value in params]
    if any(not value for value in values):
        raise ValueError("a template parameter is empty")
    if values:
        template["components"] = [{"type": "body", "parameters": [
            {"type": "text", "text": value} for value in values]}]
    return {**_base(to, "template"), "template": template}


# --- sending ------------------------------------------------------------------------------------
class WhatsAppGateway:
    """Sends one WhatsApp message per call, at most `rate_per_second` of them a second, and
    sorts every outcome into sent, retry later or give up (see the module's docstring)."""

    name = PROVIDER

    def __init__(self, settings: WhatsAppConfig, session: requests.Session | None = None, *,
                 monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if not settings.phone_number_id or not settings.access_token:
            raise ValueError("phone_number_id and access_token are needed")
        self._url = (f"{(settings.api_url or GRAPH_API_URL).rstrip('/')}/"
                     f"{settings.phone_number_id}/messages")
        self._token = settings.access_token
        self._timeout = (settings.connect_timeout_seconds, settings.read_timeout_seconds)
        self._session = session or requests.Session()
        self.limit = RateLimit(settings.rate_per_second, monotonic=monotonic, sleep=sleep)
        self._local = threading.local()

    @property
    def last_wait(self) -> float:
        """Seconds the last send of this thread waited for the rate limit: the city's pace,
        not the API's time, which the send-duration metric leaves out."""
        return getattr(self._local, "waited", 0.0)

    def share_with(self, processes: int) -> None:
        """`processes` workers send at once: each keeps 1/processes of the rate limit."""
        self.limit.share = max(1, processes)

    def send(self, sms: OutboundSms) -> SendResult:
        """An SMS's text as a WhatsApp text; our id travels as `biz_opaque_callback_data`
        and comes back in the statuses of the webhook."""
        try:
            body = text_body(sms.to, sms.text)
        except ValueError as error:
            raise PermanentFailure(str(error)) from None
        if sms.id:
            body["biz_opaque_callback_data"] = sms.id[:CALLBACK_DATA_MAX]
        return self.send_body(body)

    def send_body(self, body: Mapping[str, Any]) -> SendResult:
        """Any message body of the builders above (with `to` in digits)."""
        self._local.waited = self.limit.wait()
        with temporary_on_transport_failure("the WhatsApp Cloud API"):
            response = self._session.post(
                self._url, json=dict(body), timeout=self._timeout, allow_redirects=False,
                headers={"Authorization": f"Bearer {self._token}"})
        result = self._result(response)
        log.debug("whatsapp %s to %s accepted: %s", body.get("type"),
                  mask_phone(str(body.get("to", ""))), result.provider_message_id)
        return result

    def _result(self, response: requests.Response) -> SendResult:
        status = response.status_code
        try:
            document = json.loads(response.content)
        except (ValueError, RecursionError):
            document = None
        if 200 <= status < 300:
            wamid = _wamid(document)
            if wamid is None:
                # Accepted or not, we cannot tell: a message is never dropped on a guess.
                raise TemporaryFailure(f"HTTP {status}: no message id in the answer")
            return SendResult(provider_message_id=wamid, detail=f"HTTP {status} accepted")
        error = document.get("error") if isinstance(document, dict) else None
        if not isinstance(error, dict):
            kind = TemporaryFailure if status >= 500 or status in (401, 403, 408, 429) \
                else PermanentFailure
            raise kind(f"HTTP {status}: unreadable answer")
        code = error.get("code")
        code = code if isinstance(code, int) and not isinstance(code, bool) else None
        reason = self._reason(status, code, error)
        kind = error_class(code, status)
        if issubclass(kind, SmsInstead):
            raise kind(reason, code or 0)
        raise kind(reason)

    def _reason(self, status: int, code: int | None, error: Mapping[str, Any]) -> str:
        """One loggable line: the HTTP status, Meta's code, its words and details."""
        words = [f"HTTP {status}", f"code {code}" if code is not None else "no code"]
        message = error.get("message") or error.get("error_user_title")
        details = error.get("error_data", {}).get("details") \
            if isinstance(error.get("error_data"), dict) else None
        text = ": ".join(self._short(part, _ECHO_LIMIT) for part in (message, details)
                         if isinstance(part, str) and part.strip())
        return self._short(" ".join(words) + (f" {text}" if text else ""), _REASON_LIMIT)

    def _short(self, value: str, limit: int) -> str:
        """Bounded, one line, no token and no whole number (an answer may echo either)."""
        text = " ".join(value.split()).replace(self._token, "***")
        text = _LONG_DIGITS.sub(lambda found: mask_phone(found.group()), text)
        return text[:limit]


def _wamid(document: Any) -> str | None:
    messages = document.get("messages") if isinstance(document, dict) else None
    if not isinstance(messages, list) or not messages or not isinstance(messages[0], dict):
        return None
    wamid = messages[0].get("id")
    return wamid if isinstance(wamid, str) and wamid else None


class WhatsAppOrSms:
    """A `Gateway` for messages meant for WhatsApp that must reach the resident anyway: a
    `SmsInstead` failure (window closed, no WhatsApp) sends the same words through the SMS
    gateway at once, and `SendResult.gateway` names the one that took it (the SMS gateway's
    own name, or the one its router gives). Every other failure is WhatsApp's, as it was."""

    name = PROVIDER

    def __init__(self, whatsapp: WhatsAppGateway, sms: Any) -> None:
        self.whatsapp = whatsapp
        self.sms = sms
        self._local = threading.local()

    @property
    def last_wait(self) -> float:
        """Seconds this thread's last send waited for rate limits, on both channels."""
        return getattr(self._local, "waited", 0.0)

    def send(self, sms: OutboundSms) -> SendResult:
        self._local.waited = 0.0
        try:
            result = self.whatsapp.send(sms)
        except SmsInstead as why:
            self._local.waited = self.whatsapp.last_wait
            log.info("whatsapp %s to %s not possible (%s): by SMS instead", sms.id,
                     mask_phone(sms.to), why.reason)
            try:
                result = self.sms.send(sms)
            finally:
                self._local.waited += getattr(self.sms, "last_wait", 0.0)
            detail = f"by SMS: {why.reason}"[:_REASON_LIMIT]
            return SendResult(provider_message_id=result.provider_message_id, detail=detail,
                              gateway=result.gateway or getattr(self.sms, "name", None))
        self._local.waited = self.whatsapp.last_wait
        return SendResult(provider_message_id=result.provider_message_id, detail=result.detail,
                          gateway=result.gateway or PROVIDER)
