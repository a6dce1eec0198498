"""Shared fixtures: a real database (SQLite file, and PostgreSQL when configured), a clock that
moves only when a test moves it, the test keys of the encryption at rest, the whole service on a
real HTTP server (`service`), and the fake Graph API (`graph`) with the service's WhatsApp channel
pointing at it (`whatsapp_service`)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Callable, Generator, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fake_graph import FakeGraph
from live_service import DATA_KEY, LOOKUP_KEY, LiveService, start_service
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlmodel import SQLModel

from sms_ktp import crypto
from sms_ktp.domain import region
from sms_ktp.platform.clock import FixedClock
from sms_ktp.platform.config import Settings
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


_SQLITE_TEMPLATE: list[Path] = []  # this process's empty database with the newest schema


def _empty_sqlite(path: Path) -> Database:
    """A copy of an empty database made once per process: copying the file takes a tenth of
    making the tables and indexes again for each of the thousands of tests that start here."""
    if not _SQLITE_TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="sms-ktp-template-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        template = Database(f"sqlite:///{folder / 'empty.db'}")
        template.create_schema()
        template.dispose()  # the last connection closed: everything is in the main file
        _SQLITE_TEMPLATE.append(folder / "empty.db")
    shutil.copyfile(_SQLITE_TEMPLATE[0], path)
    return Database(f"sqlite:///{path}")


_SCHEMA_MADE: set[str] = set()  # the PostgreSQL schemas this process has made the tables in
_SEQUENCES = text("SELECT sequence_name FROM information_schema.sequences "
                  "WHERE sequence_schema = current_schema()")


def _empty_postgres(url: str) -> Database:
    """The newest schema, made once per process and schema, with every table emptied. A few
    thousand tests start from here, and on tables this small a DELETE in the tables' order
    (children first) and the id sequences set back to 1 take a tenth of what TRUNCATE and a
    fresh look at the schema did (it made a tenth of the suite's time)."""
    database = Database(url)
    if url not in _SCHEMA_MADE:
        database.create_schema()
        _SCHEMA_MADE.add(url)
    try:
        _empty(database)
    except ProgrammingError:  # a test changed the tables (dropped one): the schema again
        database.create_schema()
        _empty(database)
    return database


def _empty(database: Database) -> None:
    with database.engine.begin() as connection:
        for table in reversed(SQLModel.metadata.sorted_tables):
            connection.execute(table.delete())
        sequences = connection.execute(_SEQUENCES).scalars().all()
        if sequences:
            connection.execute(text("SELECT " + ", ".join(
                f"setval('\"{name}\"', 1, false)" for name in sequences)))


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
        database = _empty_sqlite(tmp_path / "sms-ktp.db")
    else:
        database = _empty_postgres(request.getfixturevalue("postgres_url"))
    yield database
    database.dispose()


@pytest.fixture
def service(database: Database, clock: FixedClock, tmp_path) -> Iterator[LiveService]:
    """The whole service on a real HTTP server (see tests/support/live_service.py)."""
    yield from start_service(database, clock, tmp_path)


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    with FakeGraph() as fake:
        yield fake


WhatsAppService = Callable[..., LiveService]


@pytest.fixture
def whatsapp_service(database: Database, clock: FixedClock, tmp_path, graph: FakeGraph
                     ) -> Iterator[WhatsAppService]:
    """Starts the service with `[gateway.whatsapp]` pointing at the fake Graph API and then
    whatever `configure(settings)` changes."""
    running: list[Iterator[LiveService]] = []

    def started(configure: Callable[[Settings], None] | None = None) -> LiveService:
        def whatsapp_on(settings: Settings) -> None:
            graph.switch_on(settings)
            if configure is not None:
                configure(settings)

        running.append(start_service(database, clock, tmp_path, configure=whatsapp_on))
        return next(running[-1])

    yield started
    for service in running:
        next(service, None)
