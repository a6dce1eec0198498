"""A real gammu-smsd for tests: its own PostgreSQL database with gammu's schema (read from the
Debian package, never retyped), and the dummy phone driver in a temporary folder instead of a
modem.

The dummy phone keeps SMS as files in gammu's SMS backup format under `<device>/sms/<folder>/<n>`;
the daemon reads folder 1 as the modem's inbox and deletes each file it stored. So an SMS "comes
in" when a file with `PDU = Deliver` appears there (`deliver_inbound`) and a delivery report when
one with `PDU = Status_Report` does (`deliver_status_report`). Sending through the dummy phone
always succeeds, with message reference 255.

Use the `gammu_daemon` fixture (one daemon for the test module, tables emptied before each test)
through `pytest_plugins = ("gammu_daemon",)`, or `running_gammu_daemon` directly. Without
gammu-smsd, gammu's schema file or a PostgreSQL server the tests skip, or fail when CI=true.
"""

from __future__ import annotations

import gzip
import itertools
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, Row, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError

from gsm7.encoding import is_gsm7

SERVER_ENV = "SMS_KTP_TEST_DATABASE_URL"
DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PHONE_ID = "modem1"
# The SMSC number and message reference the dummy phone reports for every SMS it "sends"
# (libgammu/phone/dummy/dummy.c); a delivery report must carry both to be matched.
DUMMY_SMSC = "123456"
DUMMY_REFERENCE = 255
SCHEMA_FILES = tuple(
    Path(folder) / name
    for folder in ("/usr/share/doc/gammu-smsd/examples", "/usr/share/doc/gammu/examples/sql")
    for name in ("pgsql.sql", "pgsql.sql.gz")
)
TABLES = ("inbox", "outbox", "outbox_multipart", "sentitems")
_databases = itertools.count(1)


def unavailable(reason: str) -> None:
    """Skip; on CI (CI=true) fail instead, since there a missing tool is a broken machine."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def gammu_schema() -> str | None:
    """gammu-smsd's own PostgreSQL schema, as the Debian package ships it (maybe gzipped).

    Its first statement, `CREATE LANGUAGE plpgsql`, fails on every PostgreSQL since 9.0, where
    the language is built in, so it is left out.
    """
    for path in SCHEMA_FILES:
        if path.exists():
            raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            return re.sub(r"(?m)^CREATE LANGUAGE plpgsql;$", "", raw.decode("utf-8"))
    return None


def _server_url() -> URL:
    url = make_url(os.environ.get(SERVER_ENV) or DEFAULT_SERVER)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return url


@dataclass
class GammuDaemon:
    """One gammu-smsd with the dummy phone, and helpers to feed it and to wait for it."""

    url: URL
    folder: Path
    phone_id: str
    engine: Engine
    process: subprocess.Popen[bytes] | None = None
    # Messages delivered in part: (sender, text) -> their files, for the parts still to come.
    partial: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    @property
    def database_url(self) -> str:
        return self.url.render_as_string(hide_password=False)

    @property
    def device(self) -> Path:
        return self.folder / "phone"

    @property
    def config(self) -> Path:
        return self.folder / "smsdrc"

    @property
    def log(self) -> Path:
        return self.folder / "smsd.log"

    # --- the daemon -----------------------------------------------------------------------------
    def write_config(self, **smsd: object) -> None:
        """The [smsd] options are gammu-smsdrc's; fast polling so tests wait a second, not 30."""
        options: dict[str, object] = {
            "service": "sql", "driver": "native_pgsql",
            "host": f"{self.url.host or '127.0.0.1'}:{self.url.port or 5432}",
            "user": self.url.username or "postgres", "password": self.url.password or "",
            "database": self.url.database, "phoneid": self.phone_id,
            "commtimeout": 1, "receivefrequency": 1, "statusfrequency": 1, "loopsleep": 1,
            "sendtimeout": 5, "multiparttimeout": 1, "checksecurity": 0,
            "debuglevel": 3, "logfile": self.log,
        }
        options.update(smsd)
        lines = ["[gammu]", "model = dummy", "connection = none", f"device = {self.device}",
                 "", "[smsd]", *(f"{key} = {value}" for key, value in options.items())]
        self.device.mkdir(parents=True, exist_ok=True)
        self.config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.config.chmod(0o600)  # it may hold the database password

    def start(self, timeout: float = 20.0) -> None:
        """Start gammu-smsd and wait until it has registered its phone in the database (anew:
        a row left by an earlier run is deleted first)."""
        with self.engine.begin() as connection:
            connection.execute(text('DELETE FROM phones WHERE "ID" = :id'), {"id": self.phone_id})
        output = (self.folder / "daemon.out").open("ab")
        self.process = subprocess.Popen(
            ["gammu-smsd", "-c", str(self.config)], stdout=output, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
        output.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gammu-smsd stopped at start:\n{self.log_tail()}")
            if self.rows('SELECT 1 FROM phones WHERE "ID" = :id', id=self.phone_id):
                return
            time.sleep(0.1)
        raise RuntimeError(f"gammu-smsd did not come up in {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM (gammu-smsd finishes what it does and disconnects), SIGKILL if it hangs."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return "(no gammu-smsd log)"
        return "\n".join(self.log.read_text("utf-8", "replace").splitlines()[-lines:])

    def reset(self) -> None:
        """Empty gammu's message tables and the dummy phone's inbox (between tests)."""
        with self.engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {', '.join(TABLES)}"))
        for path in (self.device / "sms" / "1").glob("*"):
            path.unlink(missing_ok=True)
        self.partial.clear()

    # --- reading and waiting --------------------------------------------------------------------
    def rows(self, sql: str, **params: Any) -> Sequence[Row[Any]]:
        with self.engine.connect() as connection:
            return connection.execute(text(sql), params).all()

    def wait_for(self, sql: str, until: Callable[[Sequence[Row[Any]]], bool] = bool,
                 timeout: float = 20.0, **params: Any) -> Sequence[Row[Any]]:
        """Run `sql` until its rows satisfy `until`; the daemon's log tail on a timeout."""
        deadline = time.monotonic() + timeout
        while True:
            rows = self.rows(sql, **params)
            if until(rows):
                return rows
            if time.monotonic() > deadline:
                raise AssertionError(f"gammu-smsd: no {sql!r} {params} within {timeout:.0f} s; "
                                     f"last rows {rows}\n{self.log_tail()}")
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"gammu-smsd died:\n{self.log_tail()}")
            time.sleep(0.1)

    def wait_for_inbox(self, count: int = 1, timeout: float = 20.0) -> Sequence[Row[Any]]:
        """All inbox rows, once there are at least `count`."""
        return self.wait_for('SELECT * FROM inbox ORDER BY "ID"', lambda rows: len(rows) >= count,
                             timeout)

    def wait_for_sent(self, gammu_id: int | str, parts: int = 1,
                      timeout: float = 20.0) -> Sequence[Row[Any]]:
        """The sentitems rows of outbox message `gammu_id`, once the daemon has sent all its
        `parts` and taken it out of the outbox."""
        return self.wait_for(
            'SELECT s.*, (SELECT count(*) FROM outbox o WHERE o."ID" = s."ID") AS queued '
            'FROM sentitems s WHERE s."ID" = :id ORDER BY "SequencePosition"',
            lambda rows: len(rows) >= parts and rows[0].queued == 0, timeout, id=int(gammu_id))

    # --- feeding the dummy phone ----------------------------------------------------------------
    def deliver_inbound(self, sender: str, text: str,
                        parts: Sequence[int] | None = None) -> int:
        """An SMS from `sender` arrives at the modem; returns how many parts it has. `gammu
        savesms` cuts and encodes it (as a phone would, with concatenation headers when it is
        long) into a scratch dummy phone; `parts` (1-based) picks the parts to deliver, to
        play a network that holds one back: a later call with the same sender and text
        delivers parts of that same message (same reference)."""
        if parts is None:
            files = self._saved_sms(sender, text)
            chosen: Sequence[int] = range(1, len(files) + 1)
        else:
            if (sender, text) not in self.partial:
                self.partial[sender, text] = self._saved_sms(sender, text)
            files = self.partial[sender, text]
            chosen = parts
        for position in chosen:
            body = re.sub(r"(?m)^PDU = Submit$", "PDU = Deliver", files[position - 1])
            self._drop(body)
        return len(files)

    def deliver_status_report(self, number: str, status: str = "Delivered",
                              reference: int = DUMMY_REFERENCE) -> None:
        """The network's delivery report for the SMS last sent to `number`: `status` is the text
        gammu decodes a report into (Delivered, Failed, Pending, Unknown)."""
        now = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        encoded = status.encode("utf-16-be").hex().upper()
        self._drop("\n".join([
            "[SMSBackup000]", "PDU = Status_Report", f'SMSC = "{DUMMY_SMSC}"',
            f"DateTime = {now}", f"SMSCDateTime = {now}", "State = UnRead",
            f'Number = "{number}"', f"Text00 = {encoded}", "Coding = Default_No_Compression",
            "Folder = 1", f"Length = {len(status)}", "Class = -1",
            f"MessageReference = {reference}", "",
        ]))

    def _saved_sms(self, sender: str, body: str) -> list[str]:
        """The backup files `gammu savesms` writes for `body`, one a part, in order."""
        with tempfile.TemporaryDirectory(dir=self.folder) as scratch:
            config = Path(scratch) / "gammurc"
            (Path(scratch) / "phone").mkdir()  # the dummy driver creates only what is inside
            config.write_text(f"[gammu]\nmodel = dummy\nconnection = none\n"
                              f"device = {scratch}/phone\n", encoding="utf-8")
            command = ["gammu", "-c", str(config), "savesms", "TEXT", "-folder", "1", "-unread",
                       "-sender", sender, "-len", str(max(len(body), 1)), "-text", body]
            if not is_gsm7(body):
                command.append("-unicode")
            subprocess.run(command, check=True, capture_output=True, timeout=30)
            saved = sorted((Path(scratch) / "phone" / "sms" / "1").iterdir(),
                           key=lambda path: int(path.name))
            return [path.read_text("utf-8") for path in saved]

    def _drop(self, body: str) -> None:
        """Put one SMS file into the dummy phone's inbox at the first free location, whole at
        once: written aside, then linked (never over a file the daemon has not read yet)."""
        inbox = self.device / "sms" / "1"
        inbox.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=self.device / "sms", delete=False,
                                         encoding="utf-8") as aside:
            aside.write(body)
        try:
            for location in range(1, 10000):  # the dummy driver reads locations 1-9999
                try:
                    os.link(aside.name, inbox / str(location))
                    return
                except FileExistsError:
                    continue
            raise RuntimeError("the dummy phone's inbox is full")
        finally:
            os.unlink(aside.name)


@contextmanager
def running_gammu_daemon(folder: Path, phone_id: str = PHONE_ID,
                         **smsd: object) -> Iterator[GammuDaemon]:
    """A fresh database with gammu's schema and a gammu-smsd on it, both gone afterwards."""
    if shutil.which("gammu-smsd") is None or shutil.which("gammu") is None:
        unavailable("gammu-smsd tests need Debian's gammu and gammu-smsd packages "
                    "(apt-get install gammu gammu-smsd)")
    schema = gammu_schema()
    if schema is None:
        unavailable(f"gammu's PostgreSQL schema not found in {SCHEMA_FILES[0].parent}")
    assert schema is not None
    server = _server_url()
    name = f"sms_ktp_gammu_test_{os.getpid()}_{next(_databases)}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as error:
        admin.dispose()
        unavailable(f"PostgreSQL at {server.render_as_string()} unreachable "
                    f"({SERVER_ENV}): {type(error).__name__}")
    url = server.set(database=name)
    engine = create_engine(url)
    daemon = GammuDaemon(url, folder, phone_id, engine)
    try:
        raw = engine.raw_connection()
        try:
            raw.cursor().execute(schema)
            raw.commit()
        finally:
            raw.close()
        daemon.write_config(**smsd)
        daemon.start()
        yield daemon
    finally:
        daemon.stop()
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def gammu_daemon_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GammuDaemon]:
    with running_gammu_daemon(tmp_path_factory.mktemp("gammu")) as daemon:
        yield daemon


@pytest.fixture
def gammu_daemon(gammu_daemon_module: GammuDaemon) -> GammuDaemon:
    """The module's gammu-smsd, with empty tables and an empty dummy inbox."""
    gammu_daemon_module.reset()
    return gammu_daemon_module
