"""The WSGI entry point for production: `gunicorn -c deploy/gunicorn.conf.py
sms_ktp.web.wsgi:app`.

Every gunicorn worker process imports this module and builds its own app from the configuration
(`SMS_KTP_CONFIG`, else the embedded default). No scheduler runs here: several web processes
would each run the jobs, so the scheduled work belongs to `sms-ktp worker`, a process of its own,
and a reply leaves at that worker's next look at the outbox (`[worker]
dispatch_interval_seconds`). Building the app opens no database connection, so it is safe to
fork afterwards; `deploy/gunicorn.conf.py` still drops inherited pool connections in `post_fork`
for `--preload`.
"""

from __future__ import annotations

import logging

from flask import Flask

from sms_ktp.platform.config import Settings, load_settings
from sms_ktp.runtime import Runtime
from sms_ktp.web import create_app

log = logging.getLogger(__name__)
LOG_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"


def configure_logging(settings: Settings) -> None:
    """Gunicorn configures its own loggers only: without this, the service's INFO lines would be
    dropped and its warnings printed bare. The pid tells the web workers apart."""
    logging.basicConfig(level=settings.logging.level.upper(), format=LOG_FORMAT)
    # The dialogue engine's state machine narrates every callback of every SMS at INFO.
    logging.getLogger("transitions").setLevel(logging.WARNING)


def build_app(settings: Settings | None = None) -> Flask:
    """The Flask app of one web process, with no embedded worker."""
    settings = settings or load_settings()
    configure_logging(settings)
    if settings.worker.embedded:
        log.warning("[worker] embedded = true is ignored under gunicorn: every web process would "
                    "run the scheduled jobs. Run `sms-ktp worker` as a process of its own and set "
                    "[worker] embedded = false (%s)", settings.source)
    return create_app(Runtime.from_settings(settings))


app = build_app()
runtime: Runtime = app.extensions["sms_ktp"]
