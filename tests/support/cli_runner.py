"""`sms-ktp` as a script runs it: a subprocess with its own configuration file and folder, and
none of the caller's SMS_KTP_* variables."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(sys.executable).with_name("sms-ktp")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "sms_ktp.cli.main"]


def run(folder: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """`sms-ktp ARGS` in `folder`, configured by `folder/sms-ktp.toml`."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SMS_KTP_")}
    environment["SMS_KTP_CONFIG"] = str(folder / "sms-ktp.toml")
    return subprocess.run([*COMMAND, *args], cwd=folder, input=stdin, capture_output=True,
                          text=True, timeout=120, env=environment)
