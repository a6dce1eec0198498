"""`sms-ktp` as a script runs it: a subprocess with its own configuration file and folder, and
none of the caller's SMS_KTP_* variables; or the same command in this process (`invoke`), where
starting an interpreter and importing the service would cost a second a command."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any
from unittest import mock

from click.testing import CliRunner

from sms_ktp import crypto
from sms_ktp.backoffice import staff
from sms_ktp.cli.main import main
from sms_ktp.domain import documents, region
from sms_ktp.runtime import Runtime

SCRIPT = Path(sys.executable).with_name("sms-ktp")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "sms_ktp.cli.main"]


def _environment(folder: Path) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SMS_KTP_")}
    environment["SMS_KTP_CONFIG"] = str(folder / "sms-ktp.toml")
    return environment


def run(folder: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """`sms-ktp ARGS` in `folder`, configured by `folder/sms-ktp.toml`."""
    environment = _environment(folder)
    return subprocess.run([*COMMAND, *args], cwd=folder, input=stdin, capture_output=True,
                          text=True, timeout=120, env=environment)


def run_on_a_terminal(folder: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], str]:
    """`sms-ktp ARGS` as `run` runs it, but with its standard error on a terminal (a
    pseudo-terminal of 80 columns), as an operator at the server's shell sees it: the process
    (standard output captured) and what the terminal showed."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    shown = bytearray()

    def read() -> None:
        with suppress(OSError):  # EIO once no process holds the terminal any more
            while chunk := os.read(controller, 65536):
                shown.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        done = subprocess.run([*COMMAND, *args], cwd=folder, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=terminal, text=True, timeout=120,
                              env=_environment(folder))
    finally:
        os.close(terminal)
        reader.join(timeout=10)
        os.close(controller)
    return done, shown.decode("utf-8", "replace")


def invoke(folder: Path, *args: str, stdin: str = "",
           config_file: bool = True) -> subprocess.CompletedProcess[str]:
    """`sms-ktp ARGS` as `run` runs it (the script's own `main`, configured by
    `folder/sms-ktp.toml` through SMS_KTP_CONFIG, or with `config_file=False` by `--config` or
    the embedded default; `folder` the current directory, none of the caller's SMS_KTP_*
    variables, its log lines on its standard error), but in this process: what it printed and
    its exit status, as the process would have them. What the command configures for the whole
    process (region, keys, argon2's cost, logging) is put back afterwards, and its database
    closed."""
    environment: dict[str, str | None] = {name: None for name in os.environ
                                          if name.startswith("SMS_KTP_")}
    if config_file:
        environment["SMS_KTP_CONFIG"] = str(folder / "sms-ktp.toml")
    made: list[Runtime] = []
    with _process_state_kept(), contextlib.chdir(folder), \
            _runtimes_recorded(made), \
            CliRunner().isolation(input=stdin, env=environment) as (stdout, stderr, _):
        try:
            status = main(list(args))
        except SystemExit as stopped:  # as the interpreter ends on it
            if stopped.code is None or isinstance(stopped.code, int):
                status = stopped.code or 0
            else:
                print(stopped.code, file=sys.stderr)
                status = 1
        finally:
            for runtime in made:
                runtime.db.dispose()
        sys.stdout.flush()
        sys.stderr.flush()
        return subprocess.CompletedProcess(["sms-ktp", *args], status,
                                           stdout.getvalue().decode("utf-8", "replace"),
                                           stderr.getvalue().decode("utf-8", "replace"))


@contextlib.contextmanager
def _runtimes_recorded(made: list[Runtime]) -> Iterator[None]:
    """Every runtime a command makes, kept in `made` (to close its database after)."""
    made_by = Runtime.from_settings

    def recorded(*args: Any, **kwargs: Any) -> Runtime:
        runtime = made_by(*args, **kwargs)
        made.append(runtime)
        return runtime

    with mock.patch.object(Runtime, "from_settings", recorded):
        yield


@contextlib.contextmanager
def _process_state_kept() -> Iterator[None]:
    """What a runtime or a command sets for the whole process, as it was before. The root
    logger starts without handlers, as in a new process: the command's `basicConfig` then
    writes its log lines to the command's standard error."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    quiet = {name: logging.getLogger(name).level
             for name in ("apscheduler", "apscheduler.scheduler", "transitions")}
    kept = (region._configured, crypto._ring, documents._enabled, staff._HASHER,
            staff._DUMMY_HASH)
    root.handlers = []
    try:
        yield
    finally:
        root.handlers = handlers
        root.setLevel(level)
        for name, its_level in quiet.items():
            logging.getLogger(name).setLevel(its_level)
        (region._configured, crypto._ring, documents._enabled, staff._HASHER,
         staff._DUMMY_HASH) = kept
