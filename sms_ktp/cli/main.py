"""`sms-ktp`: the command line of the service."""

from __future__ import annotations

import argparse
import logging
import secrets
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from sms_ktp.cli import operator as operator_cli
from sms_ktp.cli import privacy as privacy_cli
from sms_ktp.cli import staff as staff_cli
from sms_ktp.platform import schema
from sms_ktp.platform.config import ConfigError, Settings, load_settings
from sms_ktp.runtime import Runtime

log = logging.getLogger("sms_ktp")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sms-ktp", description=__doc__)
    parser.add_argument("--config", help="TOML configuration file (default: $SMS_KTP_CONFIG, "
                        "else the embedded default)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("init-db", help="create or upgrade the database schema")
    serve = commands.add_parser("serve", help="run the web app (and the embedded worker)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    worker = commands.add_parser("worker", help="run the scheduled jobs")
    worker.add_argument("--once", action="store_true", help="run every due job once and exit")
    simulate = commands.add_parser("simulate", help="a terminal phone")
    simulate.add_argument("--phone", required=True, help="the phone number to text from")
    operator_cli.add_commands(commands)
    staff_cli.add_commands(commands)
    privacy_cli.add_commands(commands)
    return parser


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.logging.level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The scheduler narrates every run of every job; only its problems are worth reading. A
    # dispatch tick skipped because the previous drain still runs is no problem (the drain
    # sends what the tick would have).
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
    # The dialogue engine's state machine narrates every callback of every SMS at INFO.
    logging.getLogger("transitions").setLevel(logging.WARNING)


def _runtime(settings: Settings) -> Runtime:
    """The runtime, on a database at the newest schema: every command upgrades it first (under
    a lock, so processes starting together take turns), so a new release never runs on an old
    schema; at the newest revision already, that costs one small query."""
    runtime = Runtime.from_settings(settings)
    try:
        schema.upgrade(runtime.db)
    except schema.SchemaError as error:
        raise SystemExit(f"sms-ktp: database schema: {error}") from None
    return runtime


def _serve(runtime: Runtime, host: str, port: int) -> None:
    from werkzeug.serving import make_server

    from sms_ktp.web import create_app
    from sms_ktp.worker import Worker

    settings = runtime.settings
    worker = Worker(runtime) if settings.worker.embedded else None
    app = create_app(runtime, on_reply_queued=worker.wake if worker else None)
    server = make_server(host, port, app, threaded=True)  # a busy port: a clear message, exit 1
    base = f"http://{host}:{server.port}/gateway/africastalking/{settings.gateway.webhook_token}"
    print(f"sms-ktp serving on http://{host}:{server.port} ({settings.source})")
    print(f"  database:          {runtime.db.engine.url.render_as_string(hide_password=True)}")
    print(f"  gateway:           {settings.gateway.provider}"
          + (f" -> {settings.gateway.console.outbox_file}"
             if settings.gateway.provider == "console" else ""))
    print(f"  inbound SMS:       POST {base}/sms")
    print(f"  delivery reports:  POST {base}/delivery")
    print(f"  USSD:              POST {base}/ussd  (session end: {base}/ussd/end)")
    print(f"  worker:            {'embedded' if worker else 'separate (sms-ktp worker)'}")
    if settings.gateway.provider == "console":
        print(f"  phone simulator:   http://{host}:{server.port}/simulator"
              "  (or: sms-ktp simulate --phone 081234567890)")
    print(f"  staff back office: http://{host}:{server.port}/staff/  {_first_admin(runtime)}")
    sys.stdout.flush()
    if worker:
        worker.start_background()
    # shutdown() waits for serve_forever() to return, so it must not run on the serving thread.
    signal.signal(signal.SIGTERM,
                  lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if worker:
            worker.shutdown()


def _first_admin(runtime: Runtime) -> str:
    """With the console gateway (a demo) and no account yet, an `admin` account whose password
    is kept under the data folder; otherwise how to make one."""
    from sms_ktp.backoffice import staff

    settings = runtime.settings
    with runtime.db.connect() as connection:
        if staff.count(connection):
            return ""
        if settings.gateway.provider != "console":
            return "(no account yet: sms-ktp staff add NAME --role admin)"
        password_file = Path(settings.data_dir) / "admin_password"
        password = secrets.token_urlsafe(12)
        staff.add_staff(connection, "admin", staff.Role.ADMIN, password, runtime.clock.now())
    password_file.parent.mkdir(parents=True, exist_ok=True)
    password_file.touch(mode=0o600)
    password_file.write_text(password + "\n", "utf-8")
    return f"(user admin, password in {password_file})"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as error:
        print(f"sms-ktp: configuration: {error}", file=sys.stderr)
        return 2
    _configure_logging(settings)
    runtime = _runtime(settings)

    if args.command == "init-db":
        print(f"schema at revision {schema.current_revision(runtime.db)}: "
              f"{runtime.db.engine.url.render_as_string(hide_password=True)}")
    elif args.command == "serve":
        _serve(runtime, args.host or settings.server.host, args.port or settings.server.port)
    elif args.command == "worker":
        from sms_ktp.worker import Worker

        worker = Worker(runtime)
        if args.once:
            print(worker.run_once())
        else:
            worker.run_forever()
    elif args.command == "simulate":
        from sms_ktp.channels.simulator import Phone, run

        try:
            phone = Phone(runtime, args.phone)
        except ValueError as error:
            print(f"sms-ktp: {error}", file=sys.stderr)
            return 2
        logging.getLogger().setLevel(logging.WARNING)
        run(phone, sys.stdin, print)
    elif args.command == "staff":
        return staff_cli.run(runtime, args)
    elif args.command == "privacy":
        return privacy_cli.run(runtime, args)
    else:
        return operator_cli.run(runtime, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
