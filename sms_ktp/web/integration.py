"""The integration with the national system: penunggalan results as JSON, the same import and
summary as `sms-ktp penunggalan import`. Authenticated by a bearer token from the configuration;
without one configured the endpoint does not exist."""

from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, abort, current_app, jsonify, request
from werkzeug.wrappers import Response

from sms_ktp.applications import penunggalan
from sms_ktp.runtime import Runtime

integration = Blueprint("integration", __name__, url_prefix="/integration")
MAX_BODY_BYTES = 16 * 1024 * 1024  # a day's results of a large city
MAX_ROWS = 200_000


def _runtime() -> Runtime:
    return current_app.extensions["sms_ktp"]


def _refuse(status: int, reason: str) -> tuple[Response, int]:
    return jsonify({"error": reason}), status


@integration.post("/penunggalan")
def import_results() -> tuple[Response, int]:
    runtime = _runtime()
    expected = runtime.settings.integration.token
    if not expected:
        abort(404)
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return _refuse(401, "missing or wrong token")
    request.max_content_length = MAX_BODY_BYTES
    body: Any = request.get_json(silent=True)
    results = body.get("results") if isinstance(body, dict) else None
    if not isinstance(results, list):
        return _refuse(400, 'the body must be JSON {"results": [{"nik", "result", "note"}]}')
    if len(results) > MAX_ROWS:
        return _refuse(413, f"at most {MAX_ROWS} results a request")
    summary = penunggalan.Summary()
    rows = []
    for number, item in enumerate(results, start=1):
        if not isinstance(item, dict):
            summary.invalid.append((number, "setiap hasil harus berupa objek JSON"))
            continue
        row = penunggalan.check(number, str(item.get("nik", "")), str(item.get("result", "")),
                                str(item.get("note") or ""), summary)
        if row is not None:
            rows.append(row)
    penunggalan.apply(runtime.db, runtime.clock, runtime.quiet_hours, rows, summary,
                      "integration:kemendagri")
    return jsonify(summary.as_dict()), 200
