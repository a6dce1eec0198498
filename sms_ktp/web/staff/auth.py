"""Signing in and out of the back office, within the limits against password guessing."""

from __future__ import annotations

from typing import Any

from flask import g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from sms_ktp.staff import LoginLimits, sign_in
from sms_ktp.web.addresses import request_address
from sms_ktp.web.staff.blueprint import HOME, current_staff, nav, now, require, runtime, staff


@staff.route("/login", methods=["GET", "POST"])
def login() -> Any:
    target = request.values.get("next", "")
    if not target.startswith("/staff/") or target.startswith("/staff/login"):
        target = ""  # only pages of this back office: no open redirect
    if request.method == "GET":
        if current_staff() is not None:
            return redirect(target or _home())
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
    session.clear()  # a new session at sign-in: nothing chosen before it carries over
    session.update(staff_id=person.id, since=moment.timestamp(), seen=moment.timestamp())
    g.staff = person
    return redirect(target or _home(), code=303)


@staff.post("/logout")
@require()
def logout() -> Response:
    session.clear()
    return redirect(url_for("staff.login", out=1), code=303)


def _home() -> str:
    person = current_staff()
    if person is None:
        return url_for("staff.login")
    endpoint = HOME[person.role]
    items = nav()
    if items and endpoint not in {item.endpoint for item in items}:
        endpoint = items[0].endpoint
    return url_for(endpoint)


