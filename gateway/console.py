"""A gateway that writes SMS to a local file, for development, demos and end-to-end tests."""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from pathlib import Path

from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

from gateway.message import OutboundSms, SendResult, TemporaryFailure

_LONG_DIGITS = re.compile(r"[0-9]{10,}")


def _mask_phone(phone: str) -> str:
    """Keep only the country code and last 3 digits: enough to tell numbers apart in logs."""
    prefix = ""
    if phone.startswith("+"):
        # Country codes are prefix-free, so the first known one is the right one.
        for size in (1, 2, 3):
            code = phone[1 : 1 + size]
            if code.isdigit() and int(code) in COUNTRY_CODE_TO_REGION_CODE:
                prefix = "+" + code
                break
    if len(phone) - len(prefix) <= 3:
        return prefix + "***"
    return f"{prefix}***{phone[-3:]}"


def _mask_text(text: str) -> str:
    """Hide NIK, KK and phone numbers (any 10+ digit run) that citizens' messages carry."""
    return _LONG_DIGITS.sub(lambda m: "***" + m.group()[-4:], text)


class ConsoleGateway:
    """Appends each SMS as a JSON line so tests and people can read what would have been sent."""

    name = "console"

    def __init__(
        self, outbox_file: str | os.PathLike[str], logger: logging.Logger | None = None
    ) -> None:
        self._path = Path(outbox_file)
        self._log = logger or logging.getLogger(__name__)
        self._lock = threading.Lock()

    def send(self, sms: OutboundSms) -> SendResult:
        line = json.dumps({"to": sms.to, "text": sms.text, "id": sms.id}, ensure_ascii=False)
        try:
            with self._lock:
                self._path.parent.mkdir(parents=True, exist_ok=True)
                with self._path.open("a", encoding="utf-8") as outbox:
                    outbox.write(line + "\n")
                    outbox.flush()
        except OSError as exc:
            raise TemporaryFailure(f"cannot write outbox file: {exc.strerror or exc}") from exc
        self._log.info(
            "console SMS %s to %s: %s", sms.id, _mask_phone(sms.to), _mask_text(sms.text)
        )
        return SendResult(provider_message_id="console-" + sms.id)
