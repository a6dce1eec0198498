"""BERHENTI / STOP and MULAI / START on the SMS channel: the phone leaves or rejoins the
broadcasts, the reply is in its language, and a registration in progress stays where it was."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from flows.catalogue import render
from flows.sms import SmsChannel
from gsm7.encoding import segments

PHONE = "+6281234567890"
NOW = datetime(2024, 11, 7, 9, 0)
TTL = timedelta(minutes=30)


@pytest.fixture
def services(services: Any) -> Any:
    """The services of tests/flows/conftest.py (in memory and on SQL), also remembering each
    call that sets a phone's opt-out."""
    services.calls = []
    set_opt_out = services.set_broadcast_opt_out

    def recorded(phone: str, opted_out: bool) -> None:
        services.calls.append((phone, opted_out))
        set_opt_out(phone, opted_out)

    services.set_broadcast_opt_out = recorded
    return services


def send(services: Any, text: str, conversation=None):
    return SmsChannel(services, ttl=TTL).handle(text, PHONE, conversation, NOW)


@pytest.mark.parametrize("text", ["BERHENTI", "berhenti", "Stop", "STOP.", " stop! ",
                                  "stop siaran"])
def test_stop_words_leave_the_broadcasts(services, text):
    turn = send(services, text)
    assert turn.replies == [render("id", "optout.stopped")]
    assert services.opted_out == {PHONE}


@pytest.mark.parametrize("text", ["MULAI", "mulai", "Start", "START!"])
def test_start_words_rejoin_the_broadcasts(services, text):
    services.add_opt_out(PHONE)
    turn = send(services, text)
    assert turn.replies == [render("id", "optout.started")]
    assert services.opted_out == set()
    assert services.calls == [(PHONE, False)]


def test_the_reply_is_in_the_language_the_phone_chose(services):
    services.set_language(PHONE, "en")
    assert send(services, "BERHENTI").replies == [render("en", "optout.stopped")]
    assert send(services, "start").replies == [render("en", "optout.started")]
    assert render("en", "optout.stopped") != render("id", "optout.stopped")


def test_stop_alone_does_not_switch_an_indonesian_phone_to_english(services):
    """STOP is common in Indonesian SMS too: without a chosen language the answer is Indonesian."""
    assert send(services, "STOP").replies == [render("id", "optout.stopped")]


def test_each_reply_is_one_sms_that_names_the_way_back():
    for language in ("id", "en"):
        stopped = render(language, "optout.stopped")
        started = render(language, "optout.started")
        assert segments(stopped) == segments(started) == 1
    assert "MULAI" in render("id", "optout.stopped")
    assert "BERHENTI" in render("id", "optout.started")
    assert "START" in render("en", "optout.stopped")
    assert "STOP" in render("en", "optout.started")


def test_a_registration_in_progress_stays_where_it_was(services):
    started = send(services, "DAFTAR")
    assert started.conversation is not None and started.conversation.step == "nik"
    turn = send(services, "BERHENTI", started.conversation)
    assert turn.replies == [render("id", "optout.stopped")]
    assert turn.conversation is started.conversation
    assert services.opted_out == {PHONE}
