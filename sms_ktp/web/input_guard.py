"""A request carrying a NUL character (in the path, the query, a form field or an uploaded
file's name) is refused with 400 before any page sees it: no browser sends one, PostgreSQL
refuses NUL in text (the page would fail with a 500), and a NUL in a log line or an audit entry
is trouble for whoever reads it next. The webhooks check their own fields, and count what they
refuse, so they are left to do it."""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask, request

NUL = "\x00"
TEXT = {"Content-Type": "text/plain; charset=utf-8"}


def install(app: Flask) -> None:
    """Register after the blueprints: an upload's body limit is raised by a hook of the staff
    blueprint, and reading the form here must come after it."""
    app.before_request(_refuse_nul)


def _refuse_nul() -> tuple[str, int, dict[str, str]] | None:
    if request.blueprint == "webhooks":
        return None
    fields: list[Iterable[tuple[str, str]]] = [
        (request.view_args or {}).items(), request.args.items(multi=True)]
    if request.method in ("POST", "PUT", "PATCH"):
        fields.append(request.form.items(multi=True))
        fields.append((name, upload.filename or "")
                      for name, upload in request.files.items(multi=True))
    for pairs in fields:
        for name, value in pairs:
            name = name or ""  # a multipart part may come without one
            if NUL in name or (isinstance(value, str) and NUL in value):
                shown = name.replace(NUL, "")[:40]
                return f"bad request: NUL character in field {shown}\n", 400, TEXT
    return None
