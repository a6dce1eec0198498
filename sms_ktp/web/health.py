"""`/healthz` for load balancers and monitors, `/metrics` for Prometheus.

`/healthz` needs no credentials (a load balancer has none) and so shows counts and ages only.
`/metrics` takes an optional bearer token (`[health] metrics_token`): its counts are not personal
either, but they tell anyone how busy the service is.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, current_app, jsonify, request

from sms_ktp.platform import health as health_check
from sms_ktp.platform import metrics
from sms_ktp.runtime import Runtime

health = Blueprint("health", __name__)
NO_STORE = {"Cache-Control": "no-store"}


def _runtime() -> Runtime:
    return current_app.extensions["sms_ktp"]


def _report() -> health_check.Health:
    runtime = _runtime()
    gateway = runtime.settings.gateway
    return health_check.check(runtime.db, runtime.clock.now(), runtime.settings.health,
                              gateway.provider, gateway.fallback)


@health.get("/healthz")
def healthz() -> tuple[Response, int, dict[str, str]]:
    report = _report()
    return jsonify(report.as_json()), 200 if report.healthy else 503, NO_STORE


@health.get("/healthz/web")
def web_healthz() -> tuple[Response, int, dict[str, str]]:
    """For a load balancer: can this web node take webhooks (is its database reachable)? A
    stopped worker or a late SMS must not take every web node out of rotation, which would lose
    the residents' inbound SMS as well; `/healthz` reports those to monitoring."""
    report = _report()
    return (jsonify({"healthy": report.database, "database": report.database}),
            200 if report.database else 503, NO_STORE)


@health.get("/metrics")
def prometheus_metrics() -> tuple[str | bytes, int, dict[str, str]]:
    token = _runtime().settings.health.metrics_token
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return "unauthorized\n", 401, {"Content-Type": "text/plain; charset=utf-8",
                                            "WWW-Authenticate": 'Bearer realm="metrics"'}
    return metrics.exposition(_report()), 200, {"Content-Type": metrics.CONTENT_TYPE,
                                                **NO_STORE}
