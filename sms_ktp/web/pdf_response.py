"""A signed PDF handed to a browser: saved as a file under its own name (non-ASCII names kept by
RFC 5987), never kept in a cache (a shared phone's or an office computer's)."""

from __future__ import annotations

from urllib.parse import quote

from werkzeug.wrappers import Response


def pdf_attachment(name: str, content: bytes) -> Response:
    response = Response(content, mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}")
    response.headers["Cache-Control"] = "no-store"
    return response
