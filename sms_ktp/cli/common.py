"""What the command groups of `sms-ktp` share: the help layout, the runtime made on first use,
and exit statuses returned by the commands."""

from __future__ import annotations

import functools
import getpass
import logging
import sys
from collections.abc import Callable
from typing import Any

import click

from sms_ktp.domain import region
from sms_ktp.platform import region_guard, schema
from sms_ktp.platform.config import ConfigError, Settings, load_settings
from sms_ktp.runtime import Runtime

CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}


class Argument(click.Argument):
    """A positional argument with a help text (click's own has one only from 8.5 on)."""

    def __init__(self, param_decls: list[str], help: str | None = None, **attrs: Any) -> None:
        super().__init__(param_decls, **attrs)
        self.help = help


class Command(click.Command):
    """A command whose help lists its documented positional arguments, and whose line in its
    group's list is its whole help (click would cut it at about 45 characters)."""

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self.format_usage(ctx, formatter)
        self.format_help_text(ctx, formatter)
        documented = [(param.human_readable_name, param.help) for param in self.get_params(ctx)
                      if isinstance(param, Argument) and param.help]
        if documented:
            with formatter.section("Positional arguments"):
                formatter.write_dl(documented)
        self.format_options(ctx, formatter)
        self.format_epilog(ctx, formatter)

    def get_short_help_str(self, limit: int = 45) -> str:
        return self.short_help or (self.help or "").split("\n\n")[0].strip()


class Group(Command, click.Group):
    """A group of `Command`s listed in the order they were added (the order of the README)."""

    command_class = Command
    group_class = type  # its sub-groups are Groups too

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


class Service:
    """What the commands work on: the runtime, made on first use from `--config`, so that a usage
    error or `--help` reads no configuration and opens no database; or given (tests)."""

    def __init__(self, config: str | None = None, runtime: Runtime | None = None) -> None:
        self.config = config
        self._runtime = runtime
        # `privacy rotate-key` works on values sealed under keys no longer configured: they
        # are what it reports, not a sign of another installation's database.
        self.unreadable_ok = False

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            try:
                settings = load_settings(self.config)
            except ConfigError as error:
                print(f"sms-ktp: configuration: {error}", file=sys.stderr)
                raise click.exceptions.Exit(2) from None
            _configure_logging(settings)
            self._runtime = _upgraded(Runtime.from_settings(settings), self.unreadable_ok)
        return self._runtime


def with_runtime(function: Callable[..., int]) -> Callable[..., None]:
    """A command's callback that takes the runtime first and returns its exit status (0 done, 1
    refused, 2 bad usage): click's own would ignore a returned status."""

    @click.pass_context
    @functools.wraps(function)
    def callback(ctx: click.Context, /, *args: Any, **kwargs: Any) -> None:
        ctx.exit(function(runtime_of(ctx), *args, **kwargs))

    return callback


def runtime_of(ctx: click.Context) -> Runtime:
    return ctx.ensure_object(Service).runtime


def actor() -> str:
    """Who the audit log names for a command run from the server's shell."""
    return f"operator:{getpass.getuser()}"


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


def _upgraded(runtime: Runtime, unreadable_ok: bool = False) -> Runtime:
    """The runtime, on a database at the newest schema: every command upgrades it first (under
    a lock, so processes starting together take turns), so a new release never runs on an old
    schema; at the newest revision already, that costs one small query. A database of another
    regency stops it (`region_guard`)."""
    try:
        schema.upgrade(runtime.db)
    except schema.SchemaError as error:
        raise SystemExit(f"sms-ktp: database schema: {error}") from None
    try:
        region_guard.check(runtime.db, region.current(), unreadable_ok=unreadable_ok)
    except region_guard.RegionMismatch as error:
        raise SystemExit(f"sms-ktp: {error}") from None
    return runtime
