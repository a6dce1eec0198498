"""The service as residents reach it: a real Flask server over HTTP, Africa's-Talking-shaped
webhooks in, the worker sending through a gateway, the SMS read where they leave."""
from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import requests
from werkzeug.serving import make_server

from gateway.base import Gateway
from gateway.console import ConsoleGateway
from sms_ktp.applications import penunggalan, printing
from sms_ktp.platform.clock import FixedClock
from sms_ktp.platform.config import Settings
from sms_ktp.platform.db import Database
from sms_ktp.runtime import Runtime
from sms_ktp.web import create_app
from sms_ktp.worker import Worker

TOKEN = "t0ken-for-tests-0123456789abcdef"
NIK = "3271014501900001"        # a woman born 5 January 1990, first issued in Bogor Selatan
NIK_2 = "3173021208850002"      # a man born 12 August 1985, NIK from Jakarta, moved to Bogor
KK = "3271010101200003"         # a Kota Bogor family card, kecamatan 01
KK_2 = "3271060202190004"       # another family, kecamatan 06 Tanah Sareal
PHONE = "+6281234567890"
PHONE_2 = "+6285711112222"
# The keys of the encryption at rest in every test (tests/conftest.py configures them; a test of
# its own keys configures others).
DATA_KEY = "dGVzdC1kYXRhLWtleS0wMDAwMDAwMDAwMDAwMDAwMDA"
LOOKUP_KEY = "dGVzdC1sb29rdXAta2V5LTAwMDAwMDAwMDAwMDAwMDA"
# argon2 at its lowest cost: the tests sign in hundreds of times (the service's default costs
# about 0.2 s a hash; it is a setting, see config.example.toml).
CHEAP_HASHING = (1, 32)


class LiveService:
    def __init__(self, runtime: Runtime, base_url: str, outbox_file: Path) -> None:
        self.runtime = runtime
        self.base_url = base_url
        self.outbox_file = outbox_file
        self.http = requests.Session()
        self.worker = Worker(runtime)
        self._ids = itertools.count(1)
        self._read = 0

    def url(self, path: str, token: str = TOKEN) -> str:
        return f"{self.base_url}/gateway/africastalking/{token}{path}"

    def post_sms(self, sender: str, text: str, message_id: str | None = None,
                 **extra: str) -> requests.Response:
        form = {"id": message_id or f"ATXid_{next(self._ids)}", "from": sender,
                "to": "98765", "text": text, "date": "2026-11-30 09:00:00",
                "linkId": "", "networkCode": "51010", **extra}
        return self.http.post(self.url("/sms"), data=form, timeout=10)

    def ussd(self, session_id: str, text: str, phone: str = PHONE) -> str:
        """One USSD request; returns the screen (`CON ...` / `END ...`)."""
        form = {"sessionId": session_id, "serviceCode": "*123*45#", "phoneNumber": phone,
                "networkCode": "51010", "text": text}
        response = self.http.post(self.url("/ussd"), data=form, timeout=10)
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("text/plain")
        return response.text

    def sms(self, sender: str, text: str) -> list[str]:
        """Send one SMS, let the worker run, and return what reached the sender's phone."""
        response = self.post_sms(sender, text)
        assert response.status_code == 200, response.text
        self.worker.run_once()
        return self.received(sender)

    def print_cards(self, *niks: str) -> None:
        """The applications of `niks` through penunggalan (PRR), with blangko in stock, printed
        (at the clock's time, under the service's quiet hours): their cards wait for a pickup
        slot, which the worker's next run allocates."""
        runtime = self.runtime
        summary = penunggalan.Summary()
        rows = list(penunggalan.read_csv(
            "nik,result,note\n" + "".join(f"{nik},PRR,\n" for nik in niks), summary))
        penunggalan.apply(runtime.db, runtime.clock, runtime.quiet_hours, rows, summary, "op")
        printing.add_blangko(runtime.db, runtime.clock, "disdukcapil", len(niks), "op")
        batch = printing.reserve_next(runtime.db, runtime.clock, "disdukcapil", None)
        printing.mark_printed(runtime.db, runtime.clock, runtime.quiet_hours, batch.batch_id,
                              "op")

    def sent(self) -> list[dict[str, str]]:
        if not self.outbox_file.exists():
            return []
        lines = self.outbox_file.read_text("utf-8").splitlines()
        return [json.loads(line) for line in lines]

    def received(self, phone: str) -> list[str]:
        """SMS sent to `phone` since the last call."""
        sent = self.sent()
        new, self._read = sent[self._read:], len(sent)
        return [sms["text"] for sms in new if sms["to"] == phone]


def start_service(database: Database, clock: FixedClock, tmp_path: Path,
                  gateway: Gateway | None = None,
                  configure: Callable[[Settings], None] | None = None) -> Iterator[LiveService]:
    """`configure` changes the test settings before the service starts (another gateway's
    table, say)."""
    settings = Settings()
    settings.data_dir = str(tmp_path)
    settings.database.url = database.url
    settings.gateway.webhook_token = TOKEN
    settings.gateway.console.outbox_file = str(tmp_path / "outbox.jsonl")
    settings.worker.embedded = False
    settings.staff.password_time_cost, settings.staff.password_memory_kib = CHEAP_HASHING
    if configure is not None:
        configure(settings)
    runtime = Runtime(settings, database, clock,
                      gateway or ConsoleGateway(settings.gateway.console.outbox_file))
    server = make_server("127.0.0.1", 0, create_app(runtime), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield LiveService(runtime, f"http://127.0.0.1:{server.port}",
                          Path(settings.gateway.console.outbox_file))
    finally:
        server.shutdown()
        thread.join(5)


