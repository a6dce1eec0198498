"""A fake HTTP SMS aggregator on 127.0.0.1, for the tests of `gateway.http_aggregator` and of
the service end to end (failover, outages).

It records every request it gets (method, path, query, headers, body) and answers each from a
script, in order; with the script empty it accepts with a fresh message id. Like a real
aggregator it also calls back: it posts inbound SMS and delivery reports, as JSON or as a form,
to a URL it is given (the service's webhook).

    with FakeAggregator() as fake:
        fake.reject_invalid_number()            # the first send is refused, the next accepted
        gateway = HttpGateway(HttpGatewaySettings.from_mapping({"send_url": fake.send_url, ...}))
        ...
        [request] = fake.sends()
        fake.post_delivery(webhook_url, {"id": fake.message_ids[0], "status": "DELIVRD"})

The bodies it answers with are the caller's to shape (`accept_body`, `reject_body`), so one
fake serves every API shape.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import requests
from loopback_server import LoopbackServer
from werkzeug.wrappers import Request, Response

JsonBody = Mapping[str, Any] | list[Any]


def default_accept_body(message_id: str) -> JsonBody:
    """What the fake answers to an accepted send unless told otherwise."""
    return {"status": "accepted", "id": message_id}


def default_reject_body() -> JsonBody:
    """What the fake answers to a send to an invalid number unless told otherwise."""
    return {"status": "invalid_number", "reason": "invalid destination number"}


@dataclass(frozen=True)
class Received:
    """One request the fake received, as it came over the wire."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    content_type: str

    def form(self) -> dict[str, str]:
        """The body read as an url-encoded form."""
        return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))

    def json(self) -> Any:
        return json.loads(self.body)

    def fields(self) -> dict[str, Any]:
        """Query, then body (form or top-level JSON) fields in one dict: where a value went
        matters less to most tests than that it went."""
        found: dict[str, Any] = dict(self.query)
        if self.content_type.startswith("application/json"):
            body = self.json()
            if isinstance(body, dict):
                found.update(body)
        elif self.content_type.startswith("application/x-www-form-urlencoded"):
            found.update(self.form())
        return found


@dataclass(frozen=True)
class Answer:
    """One scripted answer: a status and a body, after `delay` seconds (longer than the
    client's read timeout: a timeout). `body` may be JSON-able, text or bytes; a callable
    gets the message id the fake chose for this request."""

    status: int = 200
    body: Any = None
    delay: float = 0.0
    content_type: str = "application/json"
    accept: bool = False  # whether the fake counts this send as accepted (an id is issued)


@dataclass
class FakeAggregator(LoopbackServer):
    """A threaded HTTP server answering sends per a script; see the module's docstring."""

    accept_body: Callable[[str], Any] = default_accept_body
    reject_body: Callable[[], Any] = default_reject_body
    send_path: str = "/send"
    received: list[Received] = field(default_factory=list, init=False)
    message_ids: list[str] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self._script: deque[Answer] = deque()
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._ids = itertools.count(1)
        self._http = requests.Session()

    # --- lifetime -------------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop listening (later sends are refused); requests still sleeping are let go."""
        super().stop()
        self._http.close()

    @property
    def send_url(self) -> str:
        return self.base_url + self.send_path

    # --- the script -----------------------------------------------------------------------------
    def then(self, *answers: Answer) -> None:
        """Queue answers for the next sends, in order."""
        with self._lock:
            self._script.extend(answers)

    def accept(self, times: int = 1) -> None:
        """Accept the next send(s) with a fresh message id (`accept_body`)."""
        self.then(*[Answer(200, self.accept_body, accept=True)] * times)

    def reject_invalid_number(self, status: int = 400) -> None:
        """Refuse the next send as an invalid number (`reject_body`)."""
        self.then(Answer(status, lambda _id: self.reject_body()))

    def fail(self, status: int = 503, times: int = 1) -> None:
        """Answer the next send(s) with a server error."""
        self.then(*[Answer(status, {"error": "service unavailable"})] * times)

    def throttle(self) -> None:
        """Answer the next send 429 Too Many Requests."""
        self.then(Answer(429, {"error": "too many requests"}))

    def hang(self, seconds: float) -> None:
        """Sleep `seconds` before accepting the next send: past the client's read timeout, a
        timeout for the client (the SMS may still have been accepted, as in life)."""
        self.then(Answer(200, self.accept_body, delay=seconds, accept=True))

    def malformed(self, status: int = 200) -> None:
        """Answer the next send with a body that is not JSON."""
        self.then(Answer(status, b"<html>Gateway Timeout</html>", content_type="text/html"))

    # --- what it saw ----------------------------------------------------------------------------
    @property
    def last(self) -> Received:
        with self._lock:
            return self.received[-1]

    def sends(self) -> list[Received]:
        """The requests to the send URL, in order (`received` holds every request)."""
        with self._lock:
            return [r for r in self.received if r.path == self.send_path]

    # --- calling back ---------------------------------------------------------------------------
    def post_inbound(self, url: str, fields: Mapping[str, Any], *,
                     as_json: bool = False) -> requests.Response:
        """Post an inbound SMS to the service's webhook, as the aggregator would."""
        return self._post(url, fields, as_json)

    def post_delivery(self, url: str, fields: Mapping[str, Any], *,
                      as_json: bool = False) -> requests.Response:
        """Post a delivery report to the service's webhook, as the aggregator would."""
        return self._post(url, fields, as_json)

    def _post(self, url: str, fields: Mapping[str, Any], as_json: bool) -> requests.Response:
        if as_json:
            return self._http.post(url, json=fields, timeout=10)
        return self._http.post(url, data=dict(fields), timeout=10)

    # --- the server -----------------------------------------------------------------------------
    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        received = Received(
            method=request.method, path=request.path, query=dict(request.args),
            headers=dict(request.headers), body=request.get_data(),
            content_type=request.content_type or "")
        with self._lock:
            self.received.append(received)
            answer = self._script.popleft() if self._script else Answer(
                200, self.accept_body, accept=True)
            message_id = f"fake-{next(self._ids)}"
            if answer.accept:
                self.message_ids.append(message_id)
        if answer.delay:
            self._released.wait(answer.delay)
        return _response(answer, message_id)(environ, start_response)


def _response(answer: Answer, message_id: str) -> Response:
    body = answer.body(message_id) if callable(answer.body) else answer.body
    if isinstance(body, bytes | str):
        return Response(body, answer.status, content_type=answer.content_type)
    return Response(json.dumps(body), answer.status, content_type=answer.content_type)


def refused_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: a connection to it is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/send"
