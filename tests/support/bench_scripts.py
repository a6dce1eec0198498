"""A script of `bench/` run small, as a test runs it: its exit status, the JSON of its last line
and all it printed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def run_script(name: str, *args: str) -> tuple[int, dict, str]:
    finished = subprocess.run([sys.executable, str(BENCH / name), *args], capture_output=True,
                              text=True, timeout=300, cwd=BENCH)
    output = finished.stdout + finished.stderr
    return finished.returncode, json.loads(finished.stdout.strip().splitlines()[-1]), output
