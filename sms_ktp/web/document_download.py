"""`/d/<code>`: where a family downloads its signed PDF (a KK, an akta) with the link and the PIN
of its SMS (`sms_ktp.applications.document_files`). A small page for a phone's browser, in
Indonesian, with no staff frame: it asks the PIN (a form with the field `pin`, its CSRF token
checked like every form of the app, `sms_ktp.web.csrf`), says how many tries are left after a
wrong one, that the link is locked (ask the office) or expired.

A right PIN answers the PDF itself when there is one file; for several (an akta kelahiran with
the updated KK and the KIA) a list whose links carry a signed token good for 10 minutes, never
the PIN. Every answer is `no-store`: a shared phone's "Back" shows nothing of it."""

from __future__ import annotations

from typing import Any, cast

from flask import Blueprint, current_app, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.wrappers import Response

from sms_ktp.applications import document_files
from sms_ktp.applications.document_files import DocumentRefused, LinkState
from sms_ktp.runtime import Runtime
from sms_ktp.web.addresses import request_address
from sms_ktp.web.pdf_response import pdf_attachment

document_download = Blueprint("document_download", __name__, url_prefix="/d")
TOKEN_SECONDS = 600  # a file's link in the list: 10 minutes
_SALT = "sms-ktp document file"
# What the page answers for a link it will not open, and with which status.
_STATUS = {"unknown": 404, "ended": 410, "expired": 410, "locked": 403}


def _runtime() -> Runtime:
    return cast(Runtime, current_app.extensions["sms_ktp"])


def _tokens() -> URLSafeSerializer:
    """Signed [link, file, until] (the service's clock, in seconds since the epoch)."""
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def _page(state: LinkState, status: int = 200, **context: Any) -> Response:
    html = render_template("download/link.html", state=state, code=request.view_args
                           and request.view_args.get("code", ""), **context)
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


@document_download.get("/<code>")
def link(code: str) -> Response:
    runtime = _runtime()
    with runtime.db.connect() as connection:
        state = document_files.link_state(connection, code, runtime.clock.now(),
                                          runtime.settings)
    return _page(state, _STATUS.get(state.status, 200))


@document_download.post("/<code>")
def enter_pin(code: str) -> Response:
    runtime = _runtime()
    now = runtime.clock.now()
    pin = request.form.get("pin", "")[:40]
    with runtime.db.connect() as connection:
        result = document_files.try_pin(connection, code, pin, now, runtime.settings,
                                        address=request_address())
    state = result.state
    if not result.right:
        if state.status == "open":
            return _page(state, 403, wrong=True)
        return _page(state, _STATUS.get(state.status, 403), wrong=state.status == "locked")
    if len(result.files) == 1:
        return _file(state.link_id, result.files[0].id)
    tokens, until = _tokens(), int(now.timestamp()) + TOKEN_SECONDS
    listed = [(info, url_for("document_download.file", code=code.strip().upper(),
                             token=tokens.dumps([state.link_id, info.id, until])))
              for info in result.files]
    return _page(state, files=listed, minutes=TOKEN_SECONDS // 60)


@document_download.get("/<code>/f/<token>")
def file(code: str, token: str) -> Response:
    runtime = _runtime()
    now = runtime.clock.now()
    try:
        link_id, file_id, until = _tokens().loads(token)
    except (BadSignature, ValueError, TypeError):
        link_id = file_id = until = None
    with runtime.db.connect() as connection:
        state = document_files.link_state(connection, code, now, runtime.settings)
    if state.status != "open":
        return _page(state, _STATUS.get(state.status, 403))
    if link_id != state.link_id or not isinstance(file_id, int):
        return _page(state, 403)
    if not isinstance(until, int) or until < now.timestamp():
        return _page(state, 403, stale=True)
    return _file(state.link_id, file_id)


def _file(link_id: int, file_id: int) -> Response:
    runtime = _runtime()
    try:
        with runtime.db.connect() as connection:
            name, content = document_files.download(
                connection, link_id, file_id, runtime.clock.now(), runtime.settings,
                runtime.quiet_hours, address=request_address())
    except DocumentRefused:
        return _page(LinkState("ended"), 410)
    return pdf_attachment(name, content)


@document_download.errorhandler(CSRFError)
def _form_expired(error: CSRFError) -> Response:
    """A form posted without its token (cookies off, or a page kept open past a restart):
    asked again rather than refused."""
    runtime = _runtime()
    with runtime.db.connect() as connection:
        state = document_files.link_state(connection, (request.view_args or {}).get("code", ""),
                                          runtime.clock.now(), runtime.settings)
    return _page(state, _STATUS.get(state.status, 400), expired_form=True)
