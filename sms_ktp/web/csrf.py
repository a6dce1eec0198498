"""CSRF tokens on every form a browser posts: Flask-WTF's `CSRFProtect`, with the token's
secret in the session cookie. Signing in and out clear that cookie (`begin_session`,
`end_session` in `staff.blueprint`), so a token from before either is refused after it.

The machine endpoints (`MACHINE_BLUEPRINTS`: the gateways' webhooks, the integration, health)
are posted to by operators' servers, which hold no session and prove themselves with a token of
their own: they are exempt. The phone simulator checks its own token (see there)."""

from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError, CSRFProtect

from sms_ktp.web.security_headers import MACHINE_BLUEPRINTS

csrf = CSRFProtect()


def install(app: Flask) -> None:
    """Register after the blueprints and the input guard: the check reads the form, so it must
    come after the hook that raises an upload's body limit (`staff.penunggalan`)."""
    app.config.update(
        # No expiry of the token's own: a form left open stays good for as long as the staff
        # session does (`[staff] idle_minutes`, kept on the server).
        WTF_CSRF_TIME_LIMIT=None,
        # The pages are sent with `Referrer-Policy: no-referrer`, so over HTTPS a browser sends
        # no Referer for this check to compare; the token and the SameSite cookie do the work.
        WTF_CSRF_SSL_STRICT=False,
    )
    csrf.init_app(app)
    for name in MACHINE_BLUEPRINTS:
        csrf.exempt(app.blueprints[name])
    app.register_error_handler(CSRFError, _refused)


def _refused(error: CSRFError) -> tuple[str, int]:
    return render_template("staff/csrf.html"), 400
