"""Which language to answer a phone in, the same on every channel, and the languages offered as
choices."""

from __future__ import annotations

from flows.catalogue import offered, render, supported
from flows.dialogue import Conversation
from flows.keywords import language_named, parse_command
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


def switch_words(code: str) -> str | None:
    """What a resident sends to switch to `code`, exactly as its `lang.switch` tells it
    ("Sunda: BASA SUNDA": "BASA SUNDA"), so that a choice and the list's text never differ;
    None when those words would not switch to it."""
    words = render(code, "lang.switch").rpartition(": ")[2].strip()
    command = parse_command(words)
    if command is None or command.action != "language" or command.guessed \
            or not command.args or language_named(command.args[0]) != code:
        return None
    return words


def language_choices() -> list[tuple[str, str]]:
    """The languages the regency offers as choices, in the order the lists name them: (what
    switches to it, its name in its own language). Empty when one of them has no words that
    switch to it: the list is then read as text."""
    codes = offered()
    words = [switch_words(code) for code in codes]
    if None in words:
        return []
    return [(said, render(code, "lang.name")) for said, code in zip(words, codes, strict=True)
            if said is not None]
