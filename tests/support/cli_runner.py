"""`sms-ktp` as a script runs it: a subprocess with its own configuration file and folder, and
none of the caller's SMS_KTP_* variables."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
from contextlib import suppress
from pathlib import Path

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
