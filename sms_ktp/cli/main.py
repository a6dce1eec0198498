"""`sms-ktp`: the command line of the service."""

from __future__ import annotations

import logging
import secrets
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import click

from sms_ktp.cli import applications, delivery, operator, privacy, region, staff, whatsapp
from sms_ktp.cli.common import CONTEXT_SETTINGS, Group, Service, with_runtime
from sms_ktp.platform import schema
from sms_ktp.platform.config import Settings
from sms_ktp.runtime import Runtime

log = logging.getLogger("sms_ktp")


@click.group("sms-ktp", cls=Group, context_settings=CONTEXT_SETTINGS, help=__doc__)
@click.option("--config", help="TOML configuration file (default: $SMS_KTP_CONFIG, else the "
              "embedded default)")
@click.pass_context
def cli(ctx: click.Context, config: str | None) -> None:
    if ctx.obj is None:  # tests give a Service of their own
        ctx.obj = Service(config)


@cli.command("init-db", help="create or upgrade the database schema")
@with_runtime
def init_db(runtime: Runtime) -> int:
    print(f"schema at revision {schema.current_revision(runtime.db)}: "
          f"{runtime.db.engine.url.render_as_string(hide_password=True)}")
    return 0


@cli.command("serve", help="run the web app (and the embedded worker)")
@click.option("--host")
@click.option("--port", type=int)
@with_runtime
def serve(runtime: Runtime, host: str | None, port: int | None) -> int:
    _serve(runtime, host or runtime.settings.server.host, port or runtime.settings.server.port)
    return 0


@cli.command("worker", help="run the scheduled jobs")
@click.option("--once", is_flag=True, help="run every due job once and exit")
@with_runtime
def run_worker(runtime: Runtime, once: bool) -> int:
    from sms_ktp.worker import Worker

    worker = Worker(runtime)
    if once:
        print(worker.run_once())
    else:
        worker.run_forever()
    return 0


@cli.command("simulate", help="a terminal phone")
@click.option("--phone", required=True, help="the phone number to text from")
@with_runtime
def simulate(runtime: Runtime, phone: str) -> int:
    from sms_ktp.channels.simulator import Phone, run

    try:
        terminal = Phone(runtime, phone)
    except ValueError as error:
        print(f"sms-ktp: {error}", file=sys.stderr)
        return 2
    logging.getLogger().setLevel(logging.WARNING)
    run(terminal, sys.stdin, print)
    return 0


for command_group in (*operator.groups, applications.group, delivery.group, staff.group,
                      privacy.group, region.group, whatsapp.group):
    cli.add_command(command_group)


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
    print(f"  WhatsApp:          {whatsapp_line(settings, host, server.port)}")
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


def whatsapp_line(settings: Settings, host: str, port: int) -> str:
    """The callback URL to register at Meta (under `[server] public_url`, which Meta reaches over
    https), or how to switch the channel on."""
    whatsapp = settings.gateway.whatsapp
    if not whatsapp.enabled:
        return "off (set [gateway.whatsapp] phone_number_id)"
    base = settings.server.public_url.rstrip("/") or f"http://{host}:{port}"
    return (f"GET/POST {base}/gateway/whatsapp/{settings.gateway.webhook_token}  "
            f"(Meta's callback URL; its verify token is [gateway.whatsapp] verify_token)")


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
    """The `sms-ktp` script: its exit status, 2 for a usage error as click reports it."""
    try:
        status = cli.main(list(argv) if argv is not None else None, "sms-ktp",
                          standalone_mode=False)
    except click.ClickException as error:
        error.show()
        return error.exit_code
    except click.Abort:  # Ctrl-C or end of input at a prompt
        print("Aborted!", file=sys.stderr)
        return 1
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
