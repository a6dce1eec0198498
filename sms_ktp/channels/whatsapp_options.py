"""The choices of a question asked on WhatsApp, kept with its reply so that WhatsApp shows them
as reply buttons (up to 3) or a list (up to 10) under the same text the SMS gets.

Each option's id is exactly what the SMS dialogue reads for it (its number, or YA / TIDAK), so a
tap reaches the dialogue as the typed answer would; its title is the choice's short label in the
phone's language. What is stored (`outbox.options`, JSON) names choices only, never a person.
"""

from __future__ import annotations

import json
from functools import cache

from flows.catalogue import render
from flows.dialogue import Conversation, Step
from flows.sms import DIALOGUES

# The button that opens a list of choices (a catalogue word, at most 20 characters).
LIST_BUTTON_KEY = "whatsapp.choose"


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
    return json.dumps({"options": step_options(step, language),
                       "button": render(language, LIST_BUTTON_KEY)}, ensure_ascii=False)


def options_for(conversation: Conversation | None) -> str | None:
    """The stored options (JSON) of the question `conversation` is waiting on, None when it
    offers no choices (or the dialogue is over)."""
    if conversation is None or conversation.finished or conversation.flow not in DIALOGUES:
        return None
    return _stored(conversation.flow, conversation.step, conversation.language)
