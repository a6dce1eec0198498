"""The choices of a question asked on WhatsApp, kept with its reply so that WhatsApp shows them
as reply buttons (up to 3) or a list (up to 10) under the same text the SMS gets.

Each option's id is exactly what the SMS dialogue reads for it (its number, or YA / TIDAK), so a
tap reaches the dialogue as the typed answer would; its title is the choice's short label in the
phone's language. What is stored (`outbox.options`, JSON) names choices only, never a person.

Two keywords' replies are lists to choose from as well: BAHASA's languages and LAYANAN's
documents (`keyword_options`). Each option's id is then the words the list tells the resident
to send (BASA SUNDA, AKTA LAHIR), so that a tap is that keyword.
"""

from __future__ import annotations

import json
from functools import cache

from flows.catalogue import languages, offered, render
from flows.dialogue import Conversation, Step
from flows.language import language_choices
from flows.sms import DIALOGUES, layanan, layanan_choices
from sms_ktp.domain import documents, region

# The button that opens a list of choices (a catalogue word, at most 20 characters).
LIST_BUTTON_KEY = "whatsapp.choose"
# WhatsApp shows at most 10 rows in a list: a longer list of documents stays text alone.
MOST_OPTIONS = 10


def option_id(step: Step, number: int) -> str:
    """What the SMS dialogue reads for the `number`-th choice (from 1): a word it reads as
    such (YA, TIDAK) is sent as that word, any other choice as its number."""
    value = step.choices[number - 1].value
    return value if value.isalpha() and value.isupper() else str(number)


def step_options(step: Step, language: str) -> list[tuple[str, str]]:
    """(id, title) of each choice of `step`, in order."""
    return [(option_id(step, number), render(language, choice.label))
            for number, choice in enumerate(step.choices, 1)]


@cache
def _stored(flow: str, step_name: str, language: str) -> str | None:
    step = DIALOGUES[flow].steps.get(step_name)
    if step is None or not step.choices:
        return None
    return _json(step_options(step, language), language)


def _json(options: list[tuple[str, str]], language: str) -> str:
    """What `outbox.options` holds: the (id, title) pairs and the list's button in `language`."""
    return json.dumps({"options": options, "button": render(language, LIST_BUTTON_KEY)},
                      ensure_ascii=False)


def options_for(conversation: Conversation | None) -> str | None:
    """The stored options (JSON) of the question `conversation` is waiting on, None when it
    offers no choices (or the dialogue is over)."""
    if conversation is None or conversation.finished or conversation.flow not in DIALOGUES:
        return None
    return _stored(conversation.flow, conversation.step, conversation.language)


def keyword_options(reply: str) -> str | None:
    """The stored options (JSON) of a reply that lists what a keyword offers: the languages
    (BAHASA's list, or its answer to a language the regency does not offer) or the documents
    (LAYANAN), in whichever offered language the reply is worded; None for any other reply.
    The reply is recognised by its very text, so that every keyword that gets such a list
    (LANG, BASA, SERVICES, PALAYANAN ...) carries its choices, and only such a list does."""
    served = region.current()
    return _lists(served.code, served.languages, documents.enabled()).get(reply)


@cache
def _lists(regency: str, offering: tuple[str, ...], enabled: tuple[str, ...]
           ) -> dict[str, str]:
    """Each list's text, in every language offered, with its stored options; made once for
    the regency served, its languages and its documents (the arguments: the cache's key)."""
    lists: dict[str, str] = {}
    languages_offered = language_choices()
    for language in offered():
        texts = [render(language, "lang.choose")]
        texts += [render(language, "lang.unavailable", language=render(other, "lang.name"))
                  for other in languages() if other not in offered()]
        if languages_offered:
            lists.update(dict.fromkeys(texts, _json(languages_offered, language)))
        documents_offered = layanan_choices(language)
        if 0 < len(documents_offered) <= MOST_OPTIONS:
            lists[layanan(language)] = _json(documents_offered, language)
    return lists
