"""Browser-facing protections of every response: the security headers, and the Secure attribute
of the session cookie (HttpOnly and SameSite are set in `create_app`).

The pages need nothing from elsewhere and nothing inline (one stylesheet and two scripts of
their own, charts as inline SVG elements, forms posting to the same site), so the policy
allows only the site itself. Machine endpoints (webhooks, the integration, health and metrics)
answer plain text or JSON to programs, not browsers: `nosniff` is enough there.
"""

from __future__ import annotations

from flask import Flask, current_app, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.wrappers import Response

from sms_ktp.platform.config import Settings
from sms_ktp.web.addresses import networks, parse_address, within

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",  # broadcast.js asks for the number of recipients
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
))
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # Staff URLs carry application references and searches: no other site learns them.
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",  # for browsers older than frame-ancestors
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}
MACHINE_BLUEPRINTS = frozenset({"webhooks", "http_gateway", "whatsapp_webhook", "integration",
                                "health"})
# Pages that show personal data (the simulator shows a phone's SMS): never kept in a browser's
# cache, where the next user of a shared office PC could open them with "Back".
PRIVATE_BLUEPRINTS = frozenset({"staff", "simulator"})
HSTS = "max-age=31536000"  # a year; only ever sent over HTTPS, where browsers honour it


class StaffSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the Secure attribute decided per request when
    `[staff] secure_cookies = "auto"`: set when the request came over HTTPS, so that the
    cookie (session and CSRF token) never travels over plain HTTP once the service is reached
    over HTTPS, while a plain-HTTP demo on 127.0.0.1 still works."""

    def __init__(self, secure_cookies: str | bool) -> None:
        self.secure_cookies = secure_cookies

    def get_cookie_secure(self, app: Flask) -> bool:
        if self.secure_cookies == "auto":
            return has_request_context() and over_https()
        return bool(self.secure_cookies)


def install(app: Flask, settings: Settings) -> None:
    """The session cookie's Secure attribute and the headers of every response."""
    app.session_interface = StaffSessionInterface(settings.staff.secure_cookies)
    app.after_request(add_security_headers)


def over_https() -> bool:
    """Whether the browser reached the service over HTTPS: the request itself (gunicorn also
    marks it so when a proxy it trusts, `forwarded_allow_ips`, says X-Forwarded-Proto: https),
    or a proxy of `[server] trusted_proxies` saying so."""
    if request.is_secure:
        return True
    proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    if proto != "https":
        return False
    peer = parse_address(request.remote_addr)
    proxies = networks(tuple(current_app.extensions["sms_ktp"].settings.server.trusted_proxies))
    return peer is not None and within(peer, proxies)


def add_security_headers(response: Response) -> Response:
    """Every response: `nosniff`; pages: the policy and its companions; HTTPS: HSTS; pages with
    personal data: `no-store`."""
    blueprint = request.blueprint
    if blueprint in MACHINE_BLUEPRINTS:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response
    for name, value in PAGE_HEADERS.items():
        response.headers.setdefault(name, value)
    if over_https():
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    if blueprint in PRIVATE_BLUEPRINTS:
        response.headers["Cache-Control"] = "no-store"
    return response
