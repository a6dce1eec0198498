""".ci/run is the README's `make test` with CI=true and the local PostgreSQL, and treats pytest's
exit status 5 (no tests collected) as success although make exits 2 whatever failed: run for
real, through the real Makefile, with a virtualenv of stubs (`VENV`) whose ruff, lint-imports and
python exit as told and record how they were called."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STUB = """#!/bin/sh
echo "$0 $* CI=$CI" >> "{log}"
exit {status}
"""


def ci_run(tmp_path: Path, ruff: int, pytest_status: int,
           layers: int = 0) -> tuple[int, str, list[str]]:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    tools = tmp_path / "tools"  # nothing installed for real, should a package be missing here
    tools.mkdir()
    log = tmp_path / "calls.log"
    # apt-get runs only on a machine missing a package the tests need: its calls go to a log
    # of their own, so that the order of the project's commands is the same on every machine.
    for folder, name, status, calls_log in [(venv / "bin", "ruff", ruff, log),
                                            (venv / "bin", "lint-imports", layers, log),
                                            (venv / "bin", "python", pytest_status, log),
                                            (tools, "apt-get", 0, tmp_path / "apt.log")]:
        (folder / name).write_text(STUB.format(log=calls_log, status=status))
        (folder / name).chmod(0o755)
    (venv / "bin" / ".installed").touch()  # newer than pyproject.toml: no pip install
    environment = {name: value for name, value in os.environ.items()
                   if not name.startswith(("MAKE", "MFLAGS", "CI", "PYTEST_"))}
    environment.update(VENV=str(venv), PATH=f"{tools}{os.pathsep}{os.environ['PATH']}")
    finished = subprocess.run(["bash", str(ROOT / ".ci" / "run")], env=environment,
                              capture_output=True, text=True, timeout=60)
    calls = log.read_text().splitlines() if log.exists() else []
    return finished.returncode, finished.stdout + finished.stderr, calls


@pytest.mark.parametrize(("ruff", "layers", "pytest_status", "expected"), [
    (0, 0, 0, 0), (0, 0, 1, 2), (0, 0, 5, 0), (1, 0, 5, 2), (0, 1, 5, 2)])
def test_ci_run_exit_status(tmp_path, ruff, layers, pytest_status, expected):
    status, output, calls = ci_run(tmp_path, ruff, pytest_status, layers)
    assert status == expected, output
    linted = ruff == 0 and layers == 0
    assert ("pytest collected no tests" in output) == (linted and pytest_status == 5), output
    assert calls[0].endswith("/ruff check . CI=true"), calls
    if ruff == 0:  # then the import contracts
        assert calls[1].endswith("/lint-imports --no-cache CI=true"), calls
    if linted:  # the README's `make test`: two workers, one file per worker, CI=true
        assert calls[2].endswith(
            "/python -m pytest -n 2 --dist loadfile --durations=25 CI=true"), calls
    assert len(calls) == 1 + (ruff == 0) + linted, calls
