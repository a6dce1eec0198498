"""Gunicorn settings of the sms-ktp web app:

    gunicorn -c deploy/gunicorn.conf.py sms_ktp.web.wsgi:app

The configuration of the service itself comes from `SMS_KTP_CONFIG` (see config.example.toml).
Command-line options given after `-c` override what is set here (the surge benchmark passes
`--workers`, `--worker-class`, `--threads` and `--max-requests 0` that way). Environment:

    SMS_KTP_BIND          address to listen on (default: 0.0.0.0:$PORT when PORT is set, as
                          platforms running a Procfile do, else 127.0.0.1:8080 behind a proxy)
    WEB_CONCURRENCY       web worker processes (default below, chosen for 2 cores)
    SMS_KTP_WEB_THREADS   threads per worker process (default below)
    SMS_KTP_ACCESS_LOG    "-" (stderr) or a file: one short line a request (default: none)
    SMS_KTP_CONTROL_SOCKET  path of gunicorn's control socket (default: none)

Why these numbers are in docs/production.md ("Web") and bench/README.md (`surge.py`).
"""

from __future__ import annotations

import os
import sys
from typing import Any


def _positive(name: str, default: int) -> int:
    value = int(os.environ.get(name) or default)
    if value < 1:
        raise SystemExit(f"gunicorn.conf.py: {name} must be at least 1, not {value}")
    return value


if os.environ.get("SMS_KTP_BIND"):
    bind = [os.environ["SMS_KTP_BIND"]]
elif os.environ.get("PORT"):
    bind = [f"0.0.0.0:{os.environ['PORT']}"]
else:
    bind = ["127.0.0.1:8080"]

# Two cores: an SMS costs about 2 ms of Python in the web process (one interpreter lock per
# process), plus its waits for PostgreSQL. Two processes give each core an interpreter; four
# threads in each fill the waits, keep connections alive and are not tied up by a slow client.
# bench/surge.py on 2 shared cores: 2 x 4 gthread ~430 SMS/s, p99 ~41 ms; 1 x 8 as fast, but
# requests wait while its one worker is replaced; 3 x 4 and 2 x 8 no faster,
# p99 ~60 ms; 3 sync workers ~350 SMS/s (a new connection per request). See bench/README.md.
worker_class = "gthread"
workers = _positive("WEB_CONCURRENCY", 2)
threads = _positive("SMS_KTP_WEB_THREADS", 4)

# A request that takes this long is stuck (a webhook answers in milliseconds): the worker is
# killed and replaced. Its transaction rolls back, and the provider retries the SMS.
timeout = 30
# On SIGTERM / SIGHUP, requests in flight get this long to finish.
graceful_timeout = 20
# Behind a reverse proxy on the same machine, connections are reused this long.
keepalive = 5
# A guard against slow leaks: each worker is replaced after this many requests, the jitter
# keeping the workers from restarting together. The surge benchmark turns it off (--max-requests
# 0) to show that memory does not grow in the first place.
max_requests = 20_000
max_requests_jitter = 2_000

# Load the app in each worker after the fork: no database connection or thread crosses a fork.
# With --preload, post_fork below drops the pool's connections inherited from the master.
preload_app = False

# The webhook URL carries its secret token: an access log would write it into every line. Off
# unless asked for, and then without the path (method, status, size, duration only).
accesslog = os.environ.get("SMS_KTP_ACCESS_LOG") or None
access_log_format = '%(h)s "%(m)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
loglevel = "info"
proc_name = "sms-ktp-web"
# Workers report liveness through a file they touch; on memory when /dev/shm exists, so that a
# slow disk cannot get a worker killed.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# Gunicorn's control socket defaults to one path per user: several instances (a second service,
# tests, the benchmark) would take it from each other. Only where asked for.
control_socket_disable = not os.environ.get("SMS_KTP_CONTROL_SOCKET")
if os.environ.get("SMS_KTP_CONTROL_SOCKET"):
    control_socket = os.environ["SMS_KTP_CONTROL_SOCKET"]


def on_starting(server: Any) -> None:
    """In the master, before any worker: check the configuration (a mistake stops here with its
    message instead of failing every worker), create the secrets that are generated once into
    the data folder (webhook token, session key, the keys of the encryption at rest), and
    upgrade the schema (whose migrations may encrypt what an older release stored)."""
    from sms_ktp import crypto
    from sms_ktp.platform.config import (
        ConfigError,
        ensure_privacy_keys,
        ensure_secret_key,
        ensure_webhook_token,
        load_settings,
    )

    try:
        settings = load_settings()
    except ConfigError as error:
        raise SystemExit(f"sms-ktp: configuration: {error}") from None
    ensure_webhook_token(settings)
    ensure_secret_key(settings)
    privacy = ensure_privacy_keys(settings)
    crypto.configure(privacy.data_key, privacy.previous_data_keys, privacy.lookup_key)
    # The schema at the newest revision before any worker serves (under the migration lock, so a
    # worker process or a second web node starting at the same time takes its turn).
    from sms_ktp.platform import schema
    from sms_ktp.platform.db import Database

    database = Database(settings.database.url)
    try:
        schema.upgrade(database)
    except schema.SchemaError as error:
        raise SystemExit(f"sms-ktp: database schema: {error}") from None
    finally:
        database.dispose()
    server.log.info("sms-ktp: configuration %s, %d %s worker(s) x %d thread(s)",
                    settings.source, server.cfg.workers, server.cfg.worker_class_str,
                    server.cfg.threads)


def post_fork(server: Any, worker: Any) -> None:
    """With --preload the app (and its connection pool) was built in the master: a child must
    not use the parent's connections, so it forgets them without closing them."""
    wsgi = sys.modules.get("sms_ktp.web.wsgi")
    if wsgi is not None:
        wsgi.runtime.db.engine.dispose(close=False)


def child_exit(server: Any, worker: Any) -> None:
    """A worker has gone: its Prometheus files (multiprocess mode) are marked dead, so its gauges
    stop being reported."""
    try:
        from sms_ktp.platform import metrics
    except ImportError:
        return
    mark_process_dead = getattr(metrics, "mark_process_dead", None)
    if mark_process_dead is not None:
        mark_process_dead(worker.pid)
