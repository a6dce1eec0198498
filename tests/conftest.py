"""Shared fixtures: a real database (SQLite file, and PostgreSQL when configured), a clock that
moves only when a test moves it, and the test keys of the encryption at rest."""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime

import pytest
from live_service import DATA_KEY, LOOKUP_KEY, LiveService, start_service
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import SQLModel

from sms_ktp import crypto
from sms_ktp.domain import region
from sms_ktp.platform.clock import FixedClock
from sms_ktp.platform.db import Database, scratch_schema

# The gammu-smsd daemon's fixtures (tests/support/gammu_daemon.py), for the gateway and e2e tests;
# pytester, to run pytest on a test of its own (the CI hook below is tested that way).
pytest_plugins = ("gammu_daemon", "pytester")
POSTGRES_ENV = "SMS_KTP_TEST_DATABASE_URL"
# Monday 30 November 2026, 09:00 in Bogor.
START = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


# --- green means tested --------------------------------------------------------------------------
# Under CI=true a test that does not run is a failure: a skip (a mark, a fixture's or the test's
# own `pytest.skip`, a module skipped at collection) and an expected failure (xfail) alike, with
# the reason. Each report is changed where it is made, so it works the same in an xdist worker,
# whose reports reach the controller as they are.
def _not_run(report: pytest.TestReport | pytest.CollectReport) -> None:
    if not report.skipped or not in_ci():
        return
    if hasattr(report, "wasxfail"):
        why = f"expected to fail (xfail): {report.wasxfail or 'no reason given'}"
        del report.wasxfail
    else:
        longrepr = report.longrepr
        why = f"skipped: {longrepr[2] if isinstance(longrepr, tuple) else longrepr}"
    report.outcome = "failed"
    report.longrepr = (f"{why}\nUnder CI=true every test must run (green means tested): install "
                       "what it needs (.ci/run) or remove the skip.")


@pytest.hookimpl(wrapper=True, tryfirst=True)  # outermost: after the skipping plugin
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    _not_run(report)
    return report


@pytest.hookimpl(wrapper=True, tryfirst=True)  # outermost: after the skipping plugin
def pytest_make_collect_report(collector: pytest.Collector
                               ) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    report = yield
    _not_run(report)
    return report


@pytest.fixture(autouse=True)
def privacy_keys() -> crypto.KeyRing:
    """The test keys, before every test: a runtime built by `from_settings` (keys generated into
    its data folder) configures others for the rest of the process."""
    return crypto.configure(DATA_KEY, (), LOOKUP_KEY)


@pytest.fixture(autouse=True)
def served_region() -> Iterator[None]:
    """Kota Bogor again after every test: a runtime of another regency configures the process
    for it (`sms_ktp.domain.region`)."""
    yield
    region.configure(region.region(region.DEFAULT_CODE))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A private schema on the configured PostgreSQL server, dropped after the run."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_ENV} "
                    "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    with ExitStack() as stack:
        try:
            scoped = stack.enter_context(scratch_schema(url, "sms_ktp_test"))
        except OperationalError as error:
            message = f"PostgreSQL at {make_url(url).render_as_string()} unreachable: {error}"
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(message)
            pytest.skip(message)
        yield scoped


def _empty_postgres(url: str) -> Database:
    database = Database(url)
    database.create_schema()
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with database.engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    return database


@pytest.fixture
def postgres_database(postgres_url: str) -> Iterator[Database]:
    """An empty database on PostgreSQL only, for what only a server does."""
    database = _empty_postgres(postgres_url)
    yield database
    database.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path) -> Iterator[Database]:
    """An empty database with the schema, on each engine the service supports."""
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'sms-ktp.db'}")
        database.create_schema()
    else:
        database = _empty_postgres(request.getfixturevalue("postgres_url"))
    yield database
    database.dispose()


@pytest.fixture
def service(database: Database, clock: FixedClock, tmp_path) -> Iterator[LiveService]:
    """The whole service on a real HTTP server (see tests/support/live_service.py)."""
    yield from start_service(database, clock, tmp_path)
