"""The state of one phone: its chosen language and its dialogue, read (and locked) with one
SELECT and written with at most one statement per inbound SMS.

This runs on every message, so it speaks SQL Core with statements built once, rather than going
through the ORM's identity map and unit of work.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, select, update

from flows.dialogue import Conversation
from sms_ktp.models import PhoneState

_TABLE = PhoneState.__table__
_DIALOGUE = ("flow", "step", "dialogue_language", "answers", "prefill", "expires_at")
# The columns a store reads; other queries may join them in (`joined_columns`) to save a trip.
STATE_COLUMNS = (_TABLE.c.phone, _TABLE.c.language, *(_TABLE.c[name] for name in _DIALOGUE))
_SELECT = select(*STATE_COLUMNS).where(_TABLE.c.phone == bindparam("key")).with_for_update()
_UPDATE = update(_TABLE).where(_TABLE.c.phone == bindparam("key"))
_NO_DIALOGUE = dict.fromkeys(_DIALOGUE)


@cache
def _upsert(dialect: str) -> Any:
    """INSERT that updates instead when a row for the phone appeared meanwhile."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(_TABLE)
    return statement.on_conflict_do_update(
        index_elements=[_TABLE.c.phone],
        set_={name: statement.excluded[name]
              for name in ("language", *_DIALOGUE, "updated_at")},
    )


class PhoneStateStore:
    def __init__(self, connection: Connection, phone: str) -> None:
        self.connection = connection
        self.phone = phone
        self.language: str | None = None
        self._loaded: dict[str, Any] | None = None

    def load(self) -> Conversation | None:
        """The phone's dialogue, if it has one; `language` is set as a side effect."""
        return self.adopt(self.connection.execute(_SELECT, {"key": self.phone}).mappings().first())

    def adopt(self, row: Mapping[str, Any] | None) -> Conversation | None:
        """Take the phone's row as already read (`STATE_COLUMNS`; None or a NULL phone: the
        phone has no row yet)."""
        if row is None or row["phone"] is None:
            self._loaded = None
            return None
        self._loaded = {name: row[name] for name in ("language", *_DIALOGUE)}
        self.language = row["language"]
        if row["flow"] is None:
            return None
        return Conversation(phone=self.phone, flow=row["flow"], step=row["step"],
                            language=row["dialogue_language"], expires_at=row["expires_at"],
                            answers=dict(row["answers"] or {}),
                            prefill=dict(row["prefill"] or {}))

    def save(self, conversation: Conversation | None, now: datetime) -> None:
        """Store the language and where the phone now stands (None: no dialogue); writes
        nothing when nothing changed."""
        values: dict[str, Any] = {"language": self.language, **_NO_DIALOGUE}
        if conversation is not None:
            values.update(flow=conversation.flow, step=conversation.step,
                          dialogue_language=conversation.language,
                          answers=dict(conversation.answers),
                          prefill=dict(conversation.prefill),
                          expires_at=conversation.expires_at)
        if self._loaded == values or (self._loaded is None and values == {
                "language": None, **_NO_DIALOGUE}):
            return
        if self._loaded is not None:
            self.connection.execute(_UPDATE, {"key": self.phone, **values, "updated_at": now})
        else:
            self.connection.execute(_upsert(self.connection.dialect.name),
                                    {"phone": self.phone, **values, "updated_at": now})
        self._loaded = values


def purge_expired(connection: Connection, before: datetime) -> int:
    """Forget dialogues abandoned long ago (their answers hold NIK and KK numbers), and phones
    that have nothing left worth keeping. Returns the number of dialogues forgotten."""
    forgotten = connection.execute(
        update(_TABLE).where(_TABLE.c.expires_at < before)
        .values(**_NO_DIALOGUE, updated_at=before)
    ).rowcount
    connection.execute(delete(_TABLE).where(and_(_TABLE.c.language.is_(None),
                                              _TABLE.c.flow.is_(None))))
    return forgotten
