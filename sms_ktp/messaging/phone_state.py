"""The state of one phone: its chosen language, its dialogue, and where its USSD session stands;
read (and locked) with one SELECT and written with at most one statement per inbound SMS or USSD
screen.

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
# A phone has one USSD session at a time: its progress (menu, the input answered so far as a
# length and a digest, the last screen) lives with the phone, read and written with the rest.
USSD = ("ussd_session", "ussd_menu", "ussd_text_length", "ussd_text_digest", "ussd_screen")
_STORED = ("language", *_DIALOGUE, *USSD)
STORED = _STORED  # the columns `load` reads and `save` writes (with `updated_at`)
_SELECT = (select(*(_TABLE.c[name] for name in _STORED))
           .where(_TABLE.c.phone == bindparam("key")).with_for_update())
_UPDATE = update(_TABLE).where(_TABLE.c.phone == bindparam("key"))
_NOTHING = dict.fromkeys(_STORED)


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
        set_={name: statement.excluded[name] for name in (*_STORED, "updated_at")},
    )


class PhoneStateStore:
    def __init__(self, connection: Connection, phone: str) -> None:
        self.connection = connection
        self.phone = phone
        self.language: str | None = None
        # The USSD session's progress: the `USSD` fields, or None.
        self.ussd: dict[str, Any] | None = None
        self._loaded: dict[str, Any] | None = None

    def load(self) -> Conversation | None:
        """The phone's dialogue, if it has one; `language` and `ussd` are set as well."""
        row = self.connection.execute(_SELECT, {"key": self.phone}).mappings().first()
        return self.loaded(row)

    def loaded(self, row: Mapping[str, Any] | None) -> Conversation | None:
        """`load` from the phone's row (its `STORED` columns) read and locked elsewhere, as
        the SMS webhook does on PostgreSQL in the statement that stores the inbound SMS."""
        self._loaded = {name: row[name] for name in _STORED} if row is not None else None
        if row is None:
            return None
        self.language = row["language"]
        if row["ussd_session"] is not None:
            self.ussd = {name: row[name] for name in USSD}
        if row["flow"] is None:
            return None
        return Conversation(phone=self.phone, flow=row["flow"], step=row["step"],
                            language=row["dialogue_language"], expires_at=row["expires_at"],
                            answers=dict(row["answers"] or {}),
                            prefill=dict(row["prefill"] or {}))

    def save(self, conversation: Conversation | None, now: datetime) -> None:
        """Store the language, where the phone now stands (None: no dialogue) and its USSD
        progress; writes nothing when nothing changed."""
        write = self.write(conversation, now)
        if write is None:
            return
        exists, values = write
        statement = _UPDATE if exists else _upsert(self.connection.dialect.name)
        self.connection.execute(statement, {"key" if exists else "phone": self.phone, **values})

    def write(self, conversation: Conversation | None, now: datetime
              ) -> tuple[bool, dict[str, Any]] | None:
        """What `save` writes (`pending`), taken as written. The SMS webhook writes it on
        PostgreSQL in the statement that queues the replies."""
        pending = self.pending(conversation, now)
        if pending is not None:
            self._loaded = {name: pending[1][name] for name in _STORED}
        return pending

    def pending(self, conversation: Conversation | None, now: datetime
                ) -> tuple[bool, dict[str, Any]] | None:
        """What `save` would write: whether the row exists (UPDATE, else INSERT) and the
        `STORED` values with `updated_at`; None when nothing changed."""
        values: dict[str, Any] = {**_NOTHING, "language": self.language, **(self.ussd or {})}
        if conversation is not None:
            values.update(flow=conversation.flow, step=conversation.step,
                          dialogue_language=conversation.language,
                          answers=dict(conversation.answers),
                          prefill=dict(conversation.prefill),
                          expires_at=conversation.expires_at)
        if values == (self._loaded or _NOTHING):
            return None
        return self._loaded is not None, {**values, "updated_at": now}


def purge_expired(connection: Connection, before: datetime) -> int:
    """Forget dialogues abandoned long ago (their answers hold NIK and KK numbers), and phones
    not heard from since then that have nothing left worth keeping (a language chosen or an
    opt-out from broadcasts is worth keeping). Returns the number of
    dialogues forgotten."""
    forgotten = connection.execute(
        update(_TABLE).where(_TABLE.c.expires_at < before)
        .values(**dict.fromkeys(_DIALOGUE))
    ).rowcount
    connection.execute(delete(_TABLE).where(and_(_TABLE.c.language.is_(None),
                                                 _TABLE.c.flow.is_(None),
                                                 _TABLE.c.broadcast_opt_out_at.is_(None),
                                                 _TABLE.c.updated_at <= before)))
    return forgotten
