"""Signing in and out of the back office."""

from __future__ import annotations

from typing import Any

from flask import g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from sms_ktp import audit
from sms_ktp.staff import authenticate
from sms_ktp.web.staff.blueprint import HOME, connect, current_staff, nav, now, require, staff


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
    with connect() as connection:
        person = authenticate(connection, username, password, moment)
        audit.record(connection, moment, f"staff:{username.strip().lower()[:40]}",
                     "staff.login" if person else "staff.login_failed",
                     address=request.remote_addr or "")
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
