"""What a failure of HTTP itself means to an adapter that calls a provider's API: the send may
work later, so it stays queued."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import requests

from gateway.message import TemporaryFailure


@contextmanager
def temporary_on_transport_failure(peer: str) -> Iterator[None]:
    """A time-out, a refused connection or another failure of the request inside the block as
    a `TemporaryFailure` naming `peer`. `from None`: requests' own messages carry the URL, and
    with it a key an API takes in its query."""
    try:
        yield
    except requests.Timeout:
        raise TemporaryFailure(f"timeout talking to {peer}") from None
    except requests.ConnectionError:
        raise TemporaryFailure(f"cannot connect to {peer}") from None
    except (requests.RequestException, ValueError) as exc:
        raise TemporaryFailure(f"HTTP failure: {type(exc).__name__}") from None
