"""A terminal phone: type an SMS, read the replies, against the same database and dialogues as
the real service (the replies still leave through the outbox and the configured gateway)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from sqlmodel import select

from gateway.message import InboundSms
from sms_ktp.channels.sms import receive_sms
from sms_ktp.domain.phones import normalise_msisdn
from sms_ktp.models import OutboxMessage

if TYPE_CHECKING:  # the runtime passes itself in
    from sms_ktp.runtime import Runtime


class Phone:
    def __init__(self, runtime: Runtime, number: str) -> None:
        phone = normalise_msisdn(number)
        if phone is None:
            raise ValueError(f"not a mobile number: {number}")
        self.runtime = runtime
        self.phone = phone
        self.dispatcher = runtime.dispatcher()
        self._seen = self._last_id()

    def _last_id(self) -> int:
        with self.runtime.db.transaction() as session:
            ids = session.exec(select(OutboxMessage.id).where(OutboxMessage.phone == self.phone)
                               .order_by(OutboxMessage.id.desc()).limit(1)).first()
        return ids or 0

    def send(self, text: str) -> list[str]:
        """Deliver `text` as an inbound SMS and return every SMS this phone has received since."""
        receive_sms(self.runtime.db, self.runtime.clock,
                    InboundSms("simulator", uuid.uuid4().hex, self.phone, "simulator", text,
                               None, None, None),
                    self.runtime.dialogue_ttl, self.runtime.pickup_policy(),
                    self.runtime.reply_limits)
        self.dispatcher.drain()
        return self.inbox()

    def inbox(self) -> list[str]:
        with self.runtime.db.transaction() as session:
            rows = session.exec(select(OutboxMessage)
                                .where(OutboxMessage.phone == self.phone,
                                       OutboxMessage.id > self._seen)
                                .order_by(OutboxMessage.id)).all()
        if rows:
            self._seen = rows[-1].id
        return [row.text for row in rows]


def run(phone: Phone, lines: Iterable[str], write: Callable[[str], None]) -> None:
    write(f"Phone {phone.phone}. Type an SMS and press Enter; an empty line or Ctrl-D ends.")
    for line in lines:
        text = line.rstrip("\n")
        if not text.strip():
            break
        for reply in phone.send(text):
            write(f"  << {reply}")
