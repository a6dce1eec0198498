"""Green means tested: under CI=true a test that does not run fails the run (the hook in
tests/conftest.py), in one process and in pytest-xdist workers as `make test` runs them; without
CI a skip stays a skip. Each case is a pytest of its own (pytester's, its session in this process,
its xdist workers processes of their own) whose conftest takes the hook from tests/conftest.py.
One worker is enough: `--dist loadfile` gives the one test file to one worker whatever their
number, and the report is changed in the worker that makes it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
ROOT_CONFTEST = TESTS / "conftest.py"
INNER_CONFTEST = f"""
import importlib.util

spec = importlib.util.spec_from_file_location("sms_ktp_root_conftest", {str(ROOT_CONFTEST)!r})
root = importlib.util.module_from_spec(spec)
spec.loader.exec_module(root)
pytest_runtest_makereport = root.pytest_runtest_makereport
pytest_make_collect_report = root.pytest_make_collect_report
"""
NOT_RUN = """
import pytest


@pytest.fixture
def missing_tool():
    pytest.skip("needs a tool this machine lacks")


def test_that_runs():
    pass


@pytest.mark.skip(reason="skipped by a mark")
def test_marked():
    pass


def test_that_skips_itself():
    pytest.skip("skipped from inside")


def test_whose_fixture_skips(missing_tool):
    pass


@pytest.mark.xfail(reason="a known bug", strict=True)
def test_known_bug():
    assert False
"""
MODULE_SKIPPED = """
import pytest

pytest.skip("the whole module", allow_module_level=True)


def test_never_collected():
    pass
"""
# Hypothesis's plugin is of no use to the inner tests, and loading it costs each process half a
# second (a worker is started with the same plugins blocked).
SPEED = "--dist", "loadfile", "-p", "no:cacheprovider", "-p", "no:hypothesispytest"


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytest of its own with the hook, in an environment without CI and outside any xdist
    worker of the outer run (its workers import the root conftest from tests/support's path)."""
    for name in [name for name in os.environ if name.startswith("PYTEST_")] + ["CI"]:
        monkeypatch.delenv(name, raising=False)
    support = str(TESTS / "support")  # the root conftest imports from it
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        filter(None, [support, os.environ.get("PYTHONPATH")])))
    pytester.makeini("[pytest]\n")
    pytester.makeconftest(INNER_CONFTEST)
    return pytester


def run(inner: pytest.Pytester, *args: str) -> pytest.RunResult:
    return inner.runpytest_inprocess(*args, "-rA")


@pytest.mark.parametrize("workers", ["0", "1"])
def test_without_ci_a_skip_stays_a_skip(inner: pytest.Pytester, workers: str) -> None:
    inner.makepyfile(test_not_run=NOT_RUN)
    result = run(inner, "-n", workers, *SPEED)
    result.assert_outcomes(passed=1, skipped=3, xfailed=1)
    assert result.ret == pytest.ExitCode.OK


@pytest.mark.parametrize("workers", ["0", "1"])
def test_under_ci_every_test_that_did_not_run_fails_the_run(
        inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, workers: str) -> None:
    monkeypatch.setenv("CI", "true")
    inner.makepyfile(test_not_run=NOT_RUN)
    result = run(inner, "-n", workers, *SPEED)
    # A mark's skip and a fixture's come in the setup (errors), the others in the call.
    result.assert_outcomes(passed=1, failed=2, errors=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    for test, reason in [("test_marked", "skipped: Skipped: skipped by a mark"),
                         ("test_that_skips_itself", "skipped: Skipped: skipped from inside"),
                         ("test_whose_fixture_skips",
                          "skipped: Skipped: needs a tool this machine lacks"),
                         ("test_known_bug", "expected to fail (xfail): a known bug")]:
        assert any(test in line for line in result.outlines
                   if line.startswith(("FAILED", "ERROR"))), (test, result.stdout.str())
        result.stdout.fnmatch_lines([f"*{reason}*"])
    result.stdout.fnmatch_lines(["*Under CI=true every test must run*"])


@pytest.mark.parametrize("workers", ["0", "1"])
def test_a_module_skipped_at_collection_fails_the_run_under_ci_only(
        inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, workers: str) -> None:
    inner.makepyfile(test_module_skipped=MODULE_SKIPPED)
    result = run(inner, "-n", workers, *SPEED)
    result.assert_outcomes(skipped=1)
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED

    monkeypatch.setenv("CI", "true")
    result = run(inner, "-n", workers, *SPEED)
    assert result.ret not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)
    result.stdout.fnmatch_lines(["*the whole module*", "*Under CI=true every test must run*"])
