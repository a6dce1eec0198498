"""The Flask application: the gateways' webhooks, the integration endpoint, the phone simulator
and the staff back office."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask

from sms_ktp.domain import region
from sms_ktp.domain.masking import redact_logger
from sms_ktp.platform.config import ensure_secret_key
from sms_ktp.runtime import Runtime
from sms_ktp.web.csrf import install as install_csrf
from sms_ktp.web.document_download import document_download
from sms_ktp.web.health import health
from sms_ktp.web.http_gateway import http_gateway
from sms_ktp.web.input_guard import install as install_input_guard
from sms_ktp.web.integration import integration
from sms_ktp.web.security_headers import install as install_security
from sms_ktp.web.simulator import simulator
from sms_ktp.web.staff import staff
from sms_ktp.web.webhooks import webhooks
from sms_ktp.web.whatsapp_webhook import whatsapp_webhook

MAX_BODY_BYTES = 64 * 1024


def create_app(runtime: Runtime, on_reply_queued: Callable[[], None] | None = None) -> Flask:
    """`on_reply_queued` lets an embedded worker send at once instead of at its next tick."""
    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        SECRET_KEY=ensure_secret_key(runtime.settings),
        SESSION_COOKIE_NAME="sms_ktp_staff",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.extensions["sms_ktp"] = runtime
    app.extensions["sms_ktp.on_reply_queued"] = on_reply_queued or (lambda: None)
    app.register_blueprint(webhooks)
    app.register_blueprint(http_gateway)
    app.register_blueprint(whatsapp_webhook)
    app.register_blueprint(simulator)
    app.register_blueprint(document_download)
    app.register_blueprint(integration)
    app.register_blueprint(staff)
    app.register_blueprint(health)
    install_security(app, runtime.settings)
    install_input_guard(app)  # after the blueprints (see there)
    install_csrf(app)  # after the input guard (see there)

    @app.get("/")
    def index() -> tuple[str, int, dict[str, str]]:
        return f"sms-ktp: KTP-el registration by SMS, {region.current().name}\n", 200, {
            "Content-Type": "text/plain; charset=utf-8"}

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    redact_logger("werkzeug")  # at INFO its request lines carry query strings (a NIK searched)
    return app
