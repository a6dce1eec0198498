"""The fakes of the outside world's HTTP APIs (an SMS aggregator, the Graph API) are real HTTP
servers on loopback, each in a thread of its own: what they share is their lifetime."""

from __future__ import annotations

import threading
from typing import Any, Self

from werkzeug.serving import make_server


class LoopbackServer:
    """Serves `_wsgi` on 127.0.0.1 at a free port from `start` to `stop`; requests still waiting
    on `_released` (a fake's delayed answers) are let go when it stops."""

    _server: Any = None
    _thread: threading.Thread | None = None
    _released: threading.Event

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        raise NotImplementedError

    def start(self) -> Self:
        self._released.clear()
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening; requests still sleeping are let go."""
        self._released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}"
