"""One phone talking to the SMS channel (`flows.sms.SmsChannel`) directly, keeping its
conversation between turns as the database would: the flows' tests drive dialogues with it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flows.dialogue import Conversation
from flows.sms import SmsChannel, SmsTurn

PHONE = "+6281234567890"
NOW = datetime(2024, 11, 7, 2, 0, tzinfo=UTC)  # 09:00 in Bogor, as the services' clock
TTL = timedelta(minutes=30)


class Resident:
    """`pause`: the time between two SMS unless `send` says otherwise."""

    def __init__(self, services: Any, phone: str = PHONE,
                 pause: timedelta = timedelta(0)) -> None:
        self.channel = SmsChannel(services, ttl=TTL)
        self.phone = phone
        self.pause = pause
        self.conversation: Conversation | None = None
        self.now = NOW
        self.received: list[str] = []
        self.kept: list[str] = []  # what each turn kept of the dialogue, as text

    def send(self, text: str, after: timedelta | None = None) -> str:
        self.now += self.pause if after is None else after
        turn = self.channel.handle(text, self.phone, self.conversation, self.now)
        assert isinstance(turn, SmsTurn)
        assert len(turn.replies) == 1
        self.conversation = turn.conversation
        if turn.conversation is not None:
            self.kept.append(repr(vars(turn.conversation)))
        self.received.extend(turn.replies)
        return turn.replies[0]

    @property
    def step(self) -> str | None:
        return self.conversation.step if self.conversation else None


def handed_drafts(services: Any) -> list[Any]:
    """The applications `services` will be handed by `submit_document`, as the dialogue drafted
    them (the SQL services keep their details encrypted, the in-memory ones not at all)."""
    handed: list[Any] = []
    submit = services.submit_document

    def recording(phone: str, draft: Any, language: str) -> Any:
        submitted = submit(phone, draft, language)
        handed.append(draft)
        return submitted

    services.submit_document = recording
    return handed
