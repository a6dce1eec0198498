"""Signing in and out of the back office, within the limits against password guessing."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from flask import g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from sms_ktp.backoffice.staff import LoginLimits, sign_in
from sms_ktp.web.addresses import request_address
from sms_ktp.web.staff.blueprint import (
    begin_session,
    current_staff,
    end_session,
    home_url,
    now,
    require,
    runtime,
    staff,
)

# What `next` may be: a path of this back office with an optional query, in plain URL
# characters. Anything else (another host, `//host`, a scheme, a backslash, a control character
# that would split the Location header, a dot segment) is ignored: no open redirect, no 500.
_PLAIN_TARGET = re.compile(r"/staff/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*")
_MAX_TARGET = 300


def safe_next(value: str) -> str:
    """`value` when it is a plain page of the back office to go to after signing in, else ""."""
    if len(value) > _MAX_TARGET or not _PLAIN_TARGET.fullmatch(value):
        return ""
    path = unquote(value.split("?", 1)[0])
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in path) or "\\" in path:
        return ""
    if "//" in path or {".", ".."} & set(path.split("/")) or path.startswith("/staff/login"):
        return ""
    return value


@staff.route("/login", methods=["GET", "POST"])
def login() -> Any:
    target = safe_next(request.values.get("next", ""))
    if request.method == "GET":
        if current_staff() is not None:
            return redirect(target or home_url())
        return render_template("staff/login.html", next=target,
                               timed_out=g.get("timed_out") or "expired" in request.args)
    username = request.form.get("username", "")[:40]
    password = request.form.get("password", "")[:200]
    moment = now()
    settings = runtime().settings.staff
    outcome = sign_in(runtime().db, username, password, request_address(), moment,
                      LoginLimits.from_settings(settings))
    person = outcome.person
    if person is None and outcome.wait_until is not None:
        # The same page for a locked name, an unknown name and a waiting address.
        minutes = outcome.minutes_to_wait(moment)
        return render_template("staff/login.html", next=target, locked=minutes,
                               username=username), 429, {"Retry-After": str(minutes * 60)}
    if person is None:
        return render_template("staff/login.html", next=target, failed=True,
                               username=username), 401
    begin_session(person)  # a new session at sign-in: nothing chosen before it carries over
    g.staff = person
    return redirect(target or home_url(), code=303)


@staff.post("/logout")
@require()
def logout() -> Response:
    end_session()
    return redirect(url_for("staff.login", out=1), code=303)




