"""Fixtures of the end-to-end tests (the harness itself is in tests/support/live.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from live_service import LiveService, start_service

from sms_ktp.clock import FixedClock
from sms_ktp.db import Database


@pytest.fixture
def service(database: Database, clock: FixedClock, tmp_path: Path) -> Iterator[LiveService]:
    yield from start_service(database, clock, tmp_path)
