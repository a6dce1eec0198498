"""Fixtures of the end-to-end tests: `service` (in tests/conftest.py) starts the whole service;
`graph` is the fake Graph API and `whatsapp_service` starts the service with the WhatsApp
channel pointing at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from fake_graph import FakeGraph
from live_service import LiveService, start_service

from sms_ktp.platform.clock import FixedClock
from sms_ktp.platform.config import Settings
from sms_ktp.platform.db import Database

MONDAY_0900 = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # 09.00 WIB

WhatsAppService = Callable[..., LiveService]


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    with FakeGraph() as fake:
        yield fake


@pytest.fixture
def whatsapp_service(database: Database, clock: FixedClock, tmp_path, graph: FakeGraph
                     ) -> Iterator[WhatsAppService]:
    """Starts the service, on Monday 09.00 WIB, with `[gateway.whatsapp]` pointing at the
    fake Graph API and then whatever `configure(settings)` changes."""
    running: list[Iterator[LiveService]] = []

    def started(configure: Callable[[Settings], None] | None = None) -> LiveService:
        def whatsapp_on(settings: Settings) -> None:
            for name, value in vars(graph.settings()).items():
                setattr(settings.gateway.whatsapp, name, value)
            if configure is not None:
                configure(settings)

        clock.set(MONDAY_0900)
        running.append(start_service(database, clock, tmp_path, configure=whatsapp_on))
        return next(running[-1])

    yield started
    for service in running:
        next(service, None)
