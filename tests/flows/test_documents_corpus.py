"""The corpus of applications for the other documents (tests/flows/corpus/documents.toml): each
SMS as residents type it, with the answers a clerk would read from it and the question that
comes next, and whole exchanges with the application they must store. Run against the fake
services and the real ones on SQLite."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sms_resident import NOW, TTL

from flows.documents import flows as document_flows
from flows.keywords import parse_command
from flows.sms import SmsChannel

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
    answers = {step: kept(value) for step, value in conversation.answers.items()}
    assert answers == entry["answers"], outcome.error
    assert outcome.step == entry["asks"]


@pytest.mark.parametrize("entry", _entries("document_dialogue"))
def test_a_whole_exchange_stores_what_was_meant(entry: Mapping[str, Any], services) -> None:
    channel = SmsChannel(services, ttl=TTL)
    conversation = None
    for text in entry["texts"]:
        turn = channel.handle(text, PHONE, conversation, NOW)
        conversation = turn.conversation
    stored = services.applications
    expected = entry.get("stored")
    if expected is None:
        assert stored == []
        return
    [application] = stored
    assert {name: getattr(application, name) for name in expected} == expected
