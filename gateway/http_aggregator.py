"""One adapter for the HTTP SMS aggregators, configured by data: a `[gateway.http]` table.

Indonesian aggregators (and the Twilio-like APIs abroad) differ only in shape: where to send,
GET or POST, JSON or form, the names of the fields, where the API key goes, what in the answer
means "accepted", and the shapes of their callbacks. So the shape is configuration and there is
one piece of code to test. Every outcome of a send is sorted as in the Africa's Talking
adapter: accepted, retry later (`TemporaryFailure`: timeouts, refused connections, 5xx, 429,
an answer we cannot read, anything we do not recognise) or give up (`PermanentFailure`: what
the configuration names as permanent, such as an invalid number). The API key (and the basic
password) never appears in an exception, a log line or a `SendResult`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, cast
from urllib.parse import quote, quote_plus, urlsplit

import requests

from gateway.message import (
    DELIVERY_STATUSES,
    DeliveryReport,
    DeliveryStatus,
    InboundSms,
    OutboundSms,
    PermanentFailure,
    SendResult,
    TemporaryFailure,
    WebhookError,
)
from gateway.transport import temporary_on_transport_failure

PROVIDER = "http"

Scalar = str | int | float | bool
METHODS = ("GET", "POST")
BODIES = ("json", "form", "query")
NUMBER_FORMATS = ("+62", "62", "08")
AUTH_MODES = ("none", "header", "query", "body", "basic")
# Whatever the configuration says, these are the aggregator's trouble or ours to wait out.
_ALWAYS_TEMPORARY = (408, 425, 429)
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")
# The delivery statuses most aggregators use (SMPP's DLR words and plain English), for a
# configuration that names none.
DEFAULT_DELIVERY_STATUSES: Mapping[str, DeliveryStatus] = MappingProxyType({
    "sent": "sent", "submitted": "sent", "accepted": "sent", "ACCEPTD": "sent",
    "ENROUTE": "sent", "queued": "sent", "buffered": "buffered",
    "delivered": "delivered", "DELIVRD": "delivered", "success": "delivered",
    "undelivered": "undelivered", "UNDELIV": "undelivered", "failed": "undelivered",
    "rejected": "undelivered", "REJECTD": "undelivered", "expired": "undelivered",
    "EXPIRED": "undelivered", "DELETED": "undelivered",
})
_ECHO_LIMIT = 40
_REASON_LIMIT = 120
_MISSING = object()


# --- settings -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ResponseRules:
    """How to read the aggregator's answer to a send."""

    accepted_http_statuses: tuple[tuple[int, int], ...] = ((200, 299),)
    # Other statuses are temporary: a wrong key (401/403) or an empty balance (402) must be
    # fixed by the city, and the SMS must wait for that, not be dropped.
    permanent_http_statuses: tuple[tuple[int, int], ...] = ((400, 400), (422, 422))
    status_path: str = ""
    accepted_values: frozenset[str] = frozenset()
    permanent_values: frozenset[str] = frozenset()
    temporary_values: frozenset[str] = frozenset()
    message_id_path: str = ""
    reason_path: str = ""


@dataclass(frozen=True)
class InboundFields:
    """Where the aggregator's inbound SMS callback puts each part (dotted paths in JSON)."""

    id_field: str = "id"
    sender_field: str = "from"
    recipient_field: str = "to"
    text_field: str = "text"
    time_field: str = "date"


@dataclass(frozen=True)
class DeliveryFields:
    """Where the delivery report callback puts each part, and what its statuses mean."""

    id_field: str = "id"
    status_field: str = "status"
    reason_field: str = "reason"
    statuses: Mapping[str, DeliveryStatus] = field(
        default_factory=lambda: DEFAULT_DELIVERY_STATUSES)


@dataclass(frozen=True)
class HttpGatewaySettings:
    """The shape of one aggregator's API; see `from_mapping` for the TOML keys."""

    send_url: str
    method: str = "POST"
    body: str = "json"
    to_field: str = "to"
    text_field: str = "text"
    number_format: str = "+62"
    uid_field: str = ""
    fields: Mapping[str, Scalar] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    auth: str = "header"
    api_key: str = field(default="", repr=False)
    api_key_header: str = "Authorization"
    api_key_prefix: str = "Bearer "
    api_key_field: str = "api_key"
    username: str = ""
    password: str = field(default="", repr=False)
    connect_timeout_seconds: float = 3.05
    read_timeout_seconds: float = 9.05
    response: ResponseRules = field(default_factory=ResponseRules)
    inbound: InboundFields = field(default_factory=InboundFields)
    delivery: DeliveryFields = field(default_factory=DeliveryFields)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> HttpGatewaySettings:
        """From the [gateway.http] TOML table (nested tables allowed); raises ValueError naming
        the bad key (`response.status_path: ...`; the caller names the table).
        `rate_per_second` belongs to the router and is ignored here; `api_key` may have been put
        in by the caller from SMS_KTP_HTTP_API_KEY."""
        table = _Table(raw)
        table.take("rate_per_second", None)
        header = table.name("api_key_header", "Authorization")
        settings = cls(
            send_url=table.url("send_url"),
            method=table.choice("method", METHODS, "POST"),
            body=table.choice("body", BODIES, "json"),
            to_field=table.name("to_field", "to"),
            text_field=table.name("text_field", "text"),
            number_format=table.choice("number_format", NUMBER_FORMATS, "+62"),
            uid_field=table.name("uid_field", "", optional=True),
            fields=table.scalars("fields"),
            headers=table.headers("headers"),
            auth=table.choice("auth", AUTH_MODES, "header"),
            api_key=table.text("api_key", ""),
            api_key_header=header,
            api_key_prefix=table.text("api_key_prefix", _default_prefix(header)),
            api_key_field=table.name("api_key_field", "api_key"),
            username=table.text("username", ""),
            password=table.text("password", ""),
            connect_timeout_seconds=table.seconds("connect_timeout_seconds", 3.05),
            read_timeout_seconds=table.seconds("read_timeout_seconds", 9.05),
            response=_response_rules(table.table("response")),
            inbound=_inbound_fields(table.table("inbound")),
            delivery=_delivery_fields(table.table("delivery")),
        )
        table.done()
        _check_request_shape(settings)
        return settings


def _default_prefix(header: str) -> str:
    """`Bearer ` goes with the Authorization header; any other header takes the bare key
    unless told otherwise."""
    return "Bearer " if header.lower() == "authorization" else ""


class _Table:
    """Reads one TOML table, key by key, so that every error names the key and every key
    left over at the end is an unknown (misspelt) one."""

    def __init__(self, raw: Mapping[str, Any], prefix: str = "") -> None:
        if not isinstance(raw, Mapping):
            raise ValueError(f"{prefix.rstrip('.')}: must be a table" if prefix
                             else "must be a table")
        self._raw = dict(raw)
        self._prefix = prefix

    def error(self, key: str, problem: str) -> ValueError:
        return ValueError(f"{self._prefix}{key}: {problem}")

    def has(self, key: str) -> bool:
        return key in self._raw

    def take(self, key: str, default: Any) -> Any:
        return self._raw.pop(key, default)

    def text(self, key: str, default: str) -> str:
        value = self.take(key, default)
        if not isinstance(value, str):
            raise self.error(key, "must be a string")
        return value

    def name(self, key: str, default: str, optional: bool = False) -> str:
        value = self.text(key, default).strip()
        if not value and not optional:
            raise self.error(key, "must not be empty")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.text(key, default).strip()
        value = value.upper() if key == "method" else value
        if value not in choices:
            raise self.error(key, f"must be one of {', '.join(choices)} (got {value[:20]!r})")
        return value

    def url(self, key: str) -> str:
        value = self.text(key, "").strip()
        if not value:
            raise self.error(key, "missing: the aggregator's URL for sending SMS")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise self.error(key, "must be an http:// or https:// URL")
        return value

    def seconds(self, key: str, default: float) -> float:
        value = self.take(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise self.error(key, "must be a number of seconds above 0")
        return float(value)

    def table(self, key: str) -> _Table:
        value = self.take(key, {})
        if not isinstance(value, Mapping):
            raise self.error(key, "must be a table")
        return _Table(value, f"{self._prefix}{key}.")

    def scalars(self, key: str) -> Mapping[str, Scalar]:
        values = self.table(key)
        result: dict[str, Scalar] = {}
        for name in values.names():
            value = values.take(name, None)
            if not isinstance(value, Scalar) or not name.strip():
                raise values.error(name, "must be a string, a number or true/false")
            result[name] = value
        return MappingProxyType(result)

    def headers(self, key: str) -> Mapping[str, str]:
        values = self.table(key)
        result: dict[str, str] = {}
        for name in values.names():
            value = values.text(name, "")
            if not _HEADER_NAME.fullmatch(name) or any(c in value for c in "\r\n\0"):
                raise values.error(name, "not a valid HTTP header")
            result[name] = value
        return MappingProxyType(result)

    def strings(self, key: str) -> frozenset[str]:
        value = self.take(key, [])
        if not isinstance(value, list) or not all(isinstance(v, Scalar) for v in value):
            raise self.error(key, "must be a list of strings or numbers")
        return frozenset(_scalar_text(v) or "" for v in value)

    def statuses(self, key: str, default: tuple[tuple[int, int], ...]) -> tuple[
            tuple[int, int], ...]:
        value = self.take(key, None)
        if value is None:
            return default
        if not isinstance(value, list):
            raise self.error(key, 'must be a list such as [200, "400-404"]')
        ranges = []
        for item in value:
            found = re.fullmatch(r"\s*([1-5][0-9]{2})\s*(?:-\s*([1-5][0-9]{2})\s*)?",
                                 str(item)) if not isinstance(item, bool) else None
            if found is None or (found[2] and int(found[2]) < int(found[1])):
                raise self.error(key, f"not an HTTP status or range: {str(item)[:20]!r}")
            ranges.append((int(found[1]), int(found[2] or found[1])))
        return tuple(ranges)

    def names(self) -> list[str]:
        return list(self._raw)

    def done(self) -> None:
        if self._raw:
            raise self.error(sorted(self._raw)[0], "unknown key")


def _response_rules(table: _Table) -> ResponseRules:
    rules = ResponseRules(
        accepted_http_statuses=table.statuses("accepted_http_statuses", ((200, 299),)),
        permanent_http_statuses=table.statuses("permanent_http_statuses",
                                               ((400, 400), (422, 422))),
        status_path=table.name("status_path", "", optional=True),
        accepted_values=table.strings("accepted_values"),
        permanent_values=table.strings("permanent_values"),
        temporary_values=table.strings("temporary_values"),
        message_id_path=table.name("message_id_path", "", optional=True),
        reason_path=table.name("reason_path", "", optional=True),
    )
    table.done()
    if rules.status_path and not rules.accepted_values:
        raise table.error("accepted_values", "needed with status_path (which values mean sent)")
    for key in ("accepted_values", "permanent_values", "temporary_values"):
        if getattr(rules, key) and not rules.status_path:
            raise table.error("status_path", f"needed by {key} (where the value is)")
    for low, high in rules.permanent_http_statuses:
        if high >= 500 or any(low <= code <= high for code in _ALWAYS_TEMPORARY):
            raise table.error("permanent_http_statuses",
                              "5xx, 408, 425 and 429 are always temporary")
        if any(_within(code, rules.accepted_http_statuses) for code in range(low, high + 1)):
            raise table.error("permanent_http_statuses", "overlaps accepted_http_statuses")
    return rules


def _inbound_fields(table: _Table) -> InboundFields:
    fields = InboundFields(
        id_field=table.name("id_field", "id", optional=True),
        sender_field=table.name("sender_field", "from"),
        recipient_field=table.name("recipient_field", "to", optional=True),
        text_field=table.name("text_field", "text"),
        time_field=table.name("time_field", "date", optional=True),
    )
    table.done()
    if not fields.id_field and not fields.time_field:
        # Without an id, a retried callback is recognised by sender, time and text; without
        # a time as well, two equal SMS ("YA", "YA") would be taken for one.
        raise table.error("id_field", "needed unless time_field is set")
    return fields


def _delivery_fields(table: _Table) -> DeliveryFields:
    id_field = table.name("id_field", "id")
    status_field = table.name("status_field", "status")
    reason_field = table.name("reason_field", "reason", optional=True)
    statuses = DEFAULT_DELIVERY_STATUSES
    if table.has("statuses"):
        mapping = table.table("statuses")
        chosen: dict[str, DeliveryStatus] = {}
        for name in mapping.names():
            value = mapping.text(name, "")
            if value not in DELIVERY_STATUSES:
                raise mapping.error(name, f"must be one of {', '.join(DELIVERY_STATUSES)}")
            chosen[name] = cast(DeliveryStatus, value)
        if not chosen:
            raise table.error("statuses", "must map at least one status")
        statuses = MappingProxyType(chosen)
    table.done()
    return DeliveryFields(id_field, status_field, reason_field, statuses)


def _check_request_shape(settings: HttpGatewaySettings) -> None:
    """Refuse shapes that cannot work, now rather than at the first SMS."""
    if settings.method == "GET" and settings.body != "query":
        raise ValueError('body: a GET sends no body; set body = "query"')
    if settings.auth == "body" and settings.body == "query":
        raise ValueError('auth: "body" needs a body; use auth = "query"')
    try:
        _payload(settings, "+6281234567890", "text", "uid", "key")
    except ValueError as error:
        raise ValueError(f"fields: {error}") from None


# --- sending ------------------------------------------------------------------------------------
class _HideSecrets(logging.Filter):
    """urllib3 logs every request line at DEBUG, query string included: with the key sent in
    the query, the key. This filter on its logger replaces every known secret with ***."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def add(self, secret: str) -> None:
        self.secrets.update(_spellings(secret))

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed record is logging's to report
            return True
        hidden = message
        for secret in self.secrets:
            hidden = hidden.replace(secret, "***")
        if hidden != message:
            record.msg, record.args = hidden, ()
        return True


_HIDE_SECRETS = _HideSecrets()


def _spellings(secret: str) -> set[str]:
    """A secret as it is written, and as a query string or a form writes it."""
    return {secret, quote(secret), quote(secret, safe=""), quote_plus(secret)}


class HttpGateway:
    """Sends one SMS per call and sorts every outcome into sent, retry later or give up."""

    name = PROVIDER

    def __init__(self, settings: HttpGatewaySettings,
                 session: requests.Session | None = None) -> None:
        if settings.auth in ("header", "query", "body") and not settings.api_key:
            raise ValueError("api_key: empty (set it or SMS_KTP_HTTP_API_KEY), "
                             'or auth = "none"')
        if settings.auth == "basic" and not settings.username:
            raise ValueError('username: needed with auth = "basic"')
        self.settings = settings
        self._session = session or requests.Session()
        secrets = [s for s in (settings.api_key, settings.password) if s]
        self._secrets = sorted({form for s in secrets for form in _spellings(s)}, key=len,
                               reverse=True)
        for secret in secrets:
            _HIDE_SECRETS.add(secret)
        logging.getLogger("urllib3.connectionpool").addFilter(_HIDE_SECRETS)

    def send(self, sms: OutboundSms) -> SendResult:
        settings = self.settings
        number = _format_number(sms.to, settings.number_format)
        with temporary_on_transport_failure("the aggregator"):
            response = self._session.request(
                settings.method, settings.send_url, allow_redirects=False,
                timeout=(settings.connect_timeout_seconds, settings.read_timeout_seconds),
                **self._request(sms, number))
        return self._result(response)

    def _request(self, sms: OutboundSms, number: str) -> dict[str, Any]:
        settings = self.settings
        payload = _payload(settings, number, sms.text, sms.id, settings.api_key)
        params: dict[str, Any] = {}
        headers = dict(settings.headers)
        request: dict[str, Any] = {"headers": headers, "params": params}
        if settings.auth == "header":
            headers[settings.api_key_header] = settings.api_key_prefix + settings.api_key
        elif settings.auth == "query" and settings.body != "query":
            params[settings.api_key_field] = settings.api_key
        elif settings.auth == "basic":
            request["auth"] = (settings.username, settings.password or settings.api_key)
        if settings.body == "json":
            request["json"] = payload
        elif settings.body == "form":
            request["data"] = {name: _scalar_text(value) for name, value in payload.items()}
        else:
            params.update({name: _scalar_text(value) for name, value in payload.items()})
        return request

    def _result(self, response: requests.Response) -> SendResult:
        rules, code = self.settings.response, response.status_code
        document: Any = _MISSING
        if rules.status_path or rules.message_id_path or rules.reason_path:
            document = _json(response.content)
        value = _text_at(document, rules.status_path) if rules.status_path else None
        reason = self._reason(code, value, _text_at(document, rules.reason_path))
        if _within(code, rules.accepted_http_statuses):
            if document is _MISSING and (rules.status_path or rules.message_id_path):
                raise TemporaryFailure(f"{reason}: unreadable answer (not JSON)")
            if not rules.status_path or value in rules.accepted_values:
                message_id = _text_at(document, rules.message_id_path)
                return SendResult(provider_message_id=message_id or None, detail=reason)
            if value in rules.permanent_values and value not in rules.temporary_values:
                raise PermanentFailure(reason)
            # A value nobody listed: an SMS is never dropped on a guess.
            raise TemporaryFailure(reason)
        if code >= 500 or code in _ALWAYS_TEMPORARY or value in rules.temporary_values:
            raise TemporaryFailure(reason)
        if value in rules.permanent_values or _within(code, rules.permanent_http_statuses):
            raise PermanentFailure(reason)
        raise TemporaryFailure(reason)

    def _reason(self, code: int, value: str | None, text: str | None) -> str:
        """One loggable line: the HTTP status, the status value, the aggregator's words."""
        words = [f"HTTP {code}"]
        if value is not None:
            words.append(self._short(value, _ECHO_LIMIT))
        if text:
            words.append(self._short(text))
        return " ".join(words)

    def _short(self, value: object, limit: int = _REASON_LIMIT) -> str:
        """Bounded, one line, and never carrying a secret (an API may echo its parameters)."""
        text = " ".join(str(value).split())
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text[:limit]


def _format_number(e164: str, number_format: str) -> str:
    """Our numbers are E.164; aggregators want `+62…`, `62…` or `08…`."""
    if not _E164.fullmatch(e164):
        raise PermanentFailure("invalid phone number format")
    if number_format == "+62":
        return e164
    if number_format == "62":
        return e164[1:]
    if not e164.startswith("+62"):
        raise PermanentFailure("not an Indonesian number: cannot be written as 08…")
    return "0" + e164[3:]


def _payload(settings: HttpGatewaySettings, number: str, text: str, uid: str,
             key: str) -> dict[str, Any]:
    """The fields of one send (with the key where it travels among them): dotted names build
    nested JSON (`messages.0.to`); in a form or a query they are names like any other. Raises
    ValueError when two fields collide."""
    values: list[tuple[str, Any]] = [*settings.fields.items(),
                                     (settings.to_field, number), (settings.text_field, text)]
    if settings.uid_field:
        values.append((settings.uid_field, uid))
    if settings.auth == "body" or (settings.auth == "query" and settings.body == "query"):
        values.append((settings.api_key_field, key))
    payload: dict[str, Any] = {}
    for name, value in values:
        if settings.body == "json":
            _put(payload, name, value)
        elif name in payload:
            raise ValueError(f"{name} is set twice")
        else:
            payload[name] = value
    return payload


def _put(document: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    if parts[0].isdigit():
        raise ValueError(f"{path}: a JSON body is an object, not a list")
    container: Any = document
    for part, after in zip(parts, [*parts[1:], None], strict=True):
        fresh: Any = value if after is None else ([] if after.isdigit() else {})
        if isinstance(container, list):
            if not part.isdigit() or int(part) > len(container):
                raise ValueError(f"{path}: list indexes must count up from 0")
            index: Any = int(part)
            present = index < len(container)
        else:
            index, present = part, part in container
        if not present:
            if isinstance(container, list):
                container.append(fresh)
            else:
                container[index] = fresh
        elif after is None:
            raise ValueError(f"{path} is set twice")
        elif type(container[index]) is not type(fresh):
            raise ValueError(f"{path} collides with another field")
        container = container[index]


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return _MISSING


def _within(code: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(low <= code <= high for low, high in ranges)


# --- reading documents --------------------------------------------------------------------------
def value_at(document: Any, path: str) -> Any:
    """The value at a dotted path (`messages.0.status`), a key that is itself dotted first;
    `None` when absent. Callbacks are read with it too, so nested JSON callbacks work."""
    if not path:
        return None
    if isinstance(document, Mapping) and path in document:
        return document[path]
    for part in path.split("."):
        if isinstance(document, Mapping):
            document = document.get(part, _MISSING)
        elif isinstance(document, list) and part.isdigit() and int(part) < len(document):
            document = document[int(part)]
        else:
            return None
        if document is _MISSING:
            return None
    return document


def _scalar_text(value: Any) -> str | None:
    """JSON scalars as the text a TOML list would hold them in (`true`, `0`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return None


def _text_at(document: Any, path: str) -> str | None:
    return _scalar_text(value_at(document, path)) if document is not _MISSING else None


# --- callbacks ----------------------------------------------------------------------------------
def field_text(data: Mapping[str, Any], path: str) -> str | None:
    """A callback field as text (numbers as written), None when absent or null; WebhookError
    when it is an object or a list, which no field we read may be."""
    value = value_at(data, path)
    if value is None:
        return None
    text = _scalar_text(value)
    if text is None:
        raise WebhookError(f"not a text: {path[:_ECHO_LIMIT]}")
    return text


def _required(data: Mapping[str, Any], path: str) -> str:
    value = field_text(data, path)
    if not value:
        raise WebhookError(f"missing field: {path[:_ECHO_LIMIT]}")
    return value


def parse_inbound(settings: HttpGatewaySettings, data: Mapping[str, Any]) -> InboundSms:
    """The aggregator's inbound SMS callback (JSON or form); an empty text is kept, residents
    send those. Without an id field, sender, time and text make the id, so that a retried
    callback is still recognised."""
    fields = settings.inbound
    provider_id = _required(data, fields.id_field) if fields.id_field else ""
    sender = _required(data, fields.sender_field)
    text = field_text(data, fields.text_field)
    if text is None:
        raise WebhookError(f"missing field: {fields.text_field[:_ECHO_LIMIT]}")
    received_at = field_text(data, fields.time_field) or None
    if not provider_id:
        if not received_at:
            raise WebhookError(f"missing field: {fields.time_field[:_ECHO_LIMIT]}")
        digest = hashlib.sha256("\x1f".join((sender, received_at, text)).encode())
        provider_id = "sha256:" + digest.hexdigest()[:40]
    return InboundSms(
        provider=PROVIDER, provider_id=provider_id, sender=sender,
        recipient=field_text(data, fields.recipient_field) or "", text=text,
        received_at=received_at, link_id=None, network_code=None)


def parse_delivery(settings: HttpGatewaySettings, data: Mapping[str, Any]) -> DeliveryReport:
    """The aggregator's delivery report; a status the configuration does not map is refused by
    name rather than misfiled."""
    fields = settings.delivery
    message_id = _required(data, fields.id_field)
    provider_status = _required(data, fields.status_field)
    status = _status(fields.statuses, provider_status)
    if status is None:
        raise WebhookError(f"unknown delivery status: {provider_status[:_ECHO_LIMIT]}")
    return DeliveryReport(
        provider=PROVIDER, provider_message_id=message_id, status=status,
        provider_status=provider_status,
        failure_reason=field_text(data, fields.reason_field) or None)


def _status(statuses: Mapping[str, DeliveryStatus], value: str) -> DeliveryStatus | None:
    """Exact first, then regardless of case (`Delivered`, `DELIVERED`, `delivered`)."""
    if value in statuses:
        return statuses[value]
    folded = value.strip().casefold()
    found = [status for name, status in statuses.items() if name.casefold() == folded]
    return found[0] if found else None

