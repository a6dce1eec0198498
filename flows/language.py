"""Which language to answer a phone in, the same on every channel."""

from __future__ import annotations

from flows.catalogue import supported
from flows.dialogue import Conversation
from flows.ports import Services


def language_for(services: Services, phone: str, conversation: Conversation | None = None,
                 hint: str | None = None) -> str:
    """The phone's own choice first, then the language of the dialogue it is in, then the
    language of the keyword it used, then the default; each only when the regency served offers
    it (`supported`): a choice the regency does not offer (made before its languages changed)
    is answered in Bahasa Indonesia."""
    chosen = services.language_of(phone)
    if chosen:
        return supported(chosen)
    if conversation is not None:
        return supported(conversation.language)
    return supported(hint)
