"""The corpus of applications for the other documents (tests/flows/corpus/documents.toml): each
SMS as residents type it, with the answers a clerk would read from it and the question that
comes next (and why it is asked again), whole exchanges with the question after each SMS and
the application they must store, and the words that ask which documents are served. Run against
the fake services and the real ones on SQLite."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sms_resident import NOW, TTL, handed_drafts

from flows.documents import flows as document_flows
from flows.keywords import parse_command
from flows.sms import SmsChannel, layanan

CORPUS = Path(__file__).parent / "corpus" / "documents.toml"
PHONE = "+6281234567890"


def _entries(kind: str) -> list[Any]:
    data = tomllib.loads(CORPUS.read_text("utf-8"))
    return [pytest.param(entry, id=entry.get("id", str(index)))
            for index, entry in enumerate(data.get(kind, []), start=1)]


def kept(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


@pytest.mark.parametrize("entry", _entries("document"))
def test_the_keyword_and_the_answers_it_carries(entry: Mapping[str, Any], services) -> None:
    command = parse_command(entry["text"])
    assert command is not None and command.action == entry["document"], command
    flow = document_flows()[entry["document"]]
    conversation = flow.dialogue.start(PHONE, "id", NOW + TTL, flow.prefill(command.rest))
    outcome = flow.dialogue.answer(conversation, None, services)
    # The answers of the dialogue's steps (not what a step keeps beside them, e.g. the day a
    # birth date was read on).
    answers = {step: kept(value) for step, value in conversation.answers.items()
               if step in flow.dialogue.steps}
    assert answers == entry["answers"], outcome.error
    assert outcome.step == entry["asks"]
    assert (outcome.error.key if outcome.error else None) == entry.get("error")
    if "kept" in entry:  # the answers kept for the questions still to come
        assert conversation.prefill == entry["kept"]


@pytest.mark.parametrize("entry", _entries("document_dialogue"))
def test_a_whole_exchange_stores_what_was_meant(entry: Mapping[str, Any], services) -> None:
    """`asks`: the question after each SMS ("done" once the exchange is over); `stored`: the
    application, its `details` as the dialogue drafted them."""
    drafts = handed_drafts(services)
    channel = SmsChannel(services, ttl=TTL)
    conversation = None
    asked = []
    for text in entry["texts"]:
        turn = channel.handle(text, PHONE, conversation, NOW)
        conversation = turn.conversation
        asked.append(conversation.step if conversation is not None else "done")
    if "asks" in entry:
        assert asked == entry["asks"]
    stored = services.applications
    expected = dict(entry.get("stored") or {})
    if not expected:
        assert stored == []
        return
    [application] = stored
    if "details" in expected:
        [draft] = drafts
        assert dict(draft.details) == expected.pop("details")
    assert {name: getattr(application, name) for name in expected} == expected



@pytest.mark.parametrize("entry", _entries("document_list"))
def test_the_words_that_ask_for_the_documents_served(entry: Mapping[str, Any],
                                                     services) -> None:
    command = parse_command(entry["text"])
    assert command is not None and command.action == "layanan", command
    turn = SmsChannel(services, ttl=TTL).handle(entry["text"], PHONE, None, NOW)
    assert turn.replies == [layanan(entry["language"])]
