"""Mapping between a conversation row and the plain `Conversation` the dialogues work on.

This runs on every inbound SMS, so it speaks SQL Core (one SELECT, one write) rather than going
through the ORM's identity map and unit of work.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete, insert, select, update
from sqlmodel import Session

from flows.dialogue import Conversation
from sms_ktp.models import ConversationRow

_TABLE = ConversationRow.__table__
# Built once: executing a prepared construct with parameters skips rebuilding its cache key.
_SELECT = (select(_TABLE.c.flow, _TABLE.c.step, _TABLE.c.language, _TABLE.c.expires_at,
                  _TABLE.c.answers, _TABLE.c.prefill)
           .where(_TABLE.c.phone == bindparam("key")).with_for_update())
_INSERT = insert(_TABLE)
_UPDATE = update(_TABLE).where(_TABLE.c.phone == bindparam("key"))
_DELETE = delete(_TABLE).where(_TABLE.c.phone == bindparam("key"))


class ConversationStore:
    """Loads and saves the one conversation of a phone within the message's transaction."""

    def __init__(self, session: Session, phone: str) -> None:
        self.session = session
        self.phone = phone
        self._stored = False

    def load(self) -> Conversation | None:
        row = self.session.execute(_SELECT, {"key": self.phone}).first()
        self._stored = row is not None
        if row is None:
            return None
        return Conversation(phone=self.phone, flow=row.flow, step=row.step,
                            language=row.language, expires_at=row.expires_at,
                            answers=dict(row.answers), prefill=dict(row.prefill))

    def save(self, conversation: Conversation | None, now: datetime) -> None:
        """Store where the phone now stands; None forgets any dialogue it had."""
        if conversation is None:
            if self._stored:
                self.session.execute(_DELETE, {"key": self.phone})
            self._stored = False
            return
        values = {"flow": conversation.flow, "step": conversation.step,
                  "language": conversation.language, "expires_at": conversation.expires_at,
                  "answers": dict(conversation.answers), "prefill": dict(conversation.prefill),
                  "updated_at": now}
        if self._stored:
            self.session.execute(_UPDATE, {"key": self.phone, **values})
        else:
            self.session.execute(_INSERT, {"phone": self.phone, **values})
            self._stored = True


def purge_expired(session: Session, before: datetime) -> int:
    """Forget dialogues abandoned long ago (their answers hold NIK and KK numbers)."""
    return session.execute(delete(_TABLE).where(_TABLE.c.expires_at < before)).rowcount
