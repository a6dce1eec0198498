"""Mapping between a conversation row and the plain `Conversation` the dialogues work on."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from flows.dialogue import Conversation
from sms_ktp.models import ConversationRow


def load(session: Session, phone: str) -> Conversation | None:
    row = session.exec(
        select(ConversationRow).where(ConversationRow.phone == phone).with_for_update()
    ).first()
    if row is None:
        return None
    return Conversation(phone=row.phone, flow=row.flow, step=row.step, language=row.language,
                        expires_at=row.expires_at, answers=dict(row.answers),
                        prefill=dict(row.prefill))


def save(session: Session, conversation: Conversation | None, phone: str, now: datetime) -> None:
    """Store where the phone now stands; None forgets any dialogue it had."""
    row = session.get(ConversationRow, phone)
    if conversation is None:
        if row is not None:
            session.delete(row)
        return
    if row is None:
        row = ConversationRow(phone=phone, flow=conversation.flow, step=conversation.step,
                              language=conversation.language,
                              expires_at=conversation.expires_at, updated_at=now)
        session.add(row)
    row.flow = conversation.flow
    row.step = conversation.step
    row.language = conversation.language
    row.answers = dict(conversation.answers)
    row.prefill = dict(conversation.prefill)
    row.expires_at = conversation.expires_at
    row.updated_at = now


def purge_expired(session: Session, before: datetime) -> int:
    """Forget dialogues abandoned long ago (their answers hold NIK and KK numbers)."""
    rows = session.exec(select(ConversationRow).where(ConversationRow.expires_at < before)).all()
    for row in rows:
        session.delete(row)
    return len(rows)
