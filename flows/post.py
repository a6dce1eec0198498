"""KIRIM: a family's printed cards posted to the address on its KK instead of collected at the
office, where the regency offers it; and how posting is offered in INFO AMBIL and in the pickup
SMS that answers JADWAL (as in the one the allocation sent)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flows.catalogue import Msg, render
from flows.dialogue import CANCELLED, DONE, Choice, Conversation, Dialogue, Invalid, Route, Step
from flows.ports import ApplicationView, Services
from flows.registration import read_confirmation
from flows.visits import cards_phrase, visit_text
from gsm7.encoding import GSM7_SINGLE, septets


def offer(services: Services) -> Mapping[str, Any] | None:
    """The service's offer of posting: None where the regency does not post cards."""
    return services.post_offer()


def start(services: Services, phone: str, language: str, expires_at: datetime
          ) -> tuple[str, Conversation | None]:
    """KIRIM: the question whether to post the cards, named with the courier and the fee
    (posting cancels the pickup, and "kirim" is also a word of other requests, so nothing
    changes before YA); or why they cannot be posted. Returns the reply and the
    conversation that waits for YA or TIDAK (None when nothing is asked)."""
    if offer(services) is None:
        return render(language, "post.off"), None
    try:
        would = dict(services.request_post(phone, dry_run=True))
    except Invalid as refused:
        return _refusal(language, refused), None
    conversation = POST.start(phone, language, expires_at)
    niks = would.pop("niks")
    # Kept with the conversation (stored as JSON): the fee worded in the reader's language.
    would = {name: render(language, value.key, **(value.params or {}))
             if isinstance(value, Msg) else value for name, value in would.items()}
    conversation.answers.update(would, niks=list(niks),
                                cards=cards_phrase(language, "post.confirm", niks, **would))
    return render(language, "post.confirm", **_offered(conversation.answers)), conversation


def _refusal(language: str, refused: Invalid) -> str:
    params = dict(refused.params)
    niks = params.pop("niks", ())
    if niks:
        return visit_text(language, refused.key, niks, **params)
    return render(language, refused.key, **params)


def _offered(answers: Mapping[str, Any]) -> dict[str, Any]:
    return {name: answers[name] for name in ("cards", "courier", "fee") if name in answers}


def _read_yes_or_no(text: str, services: Any, conversation: Conversation) -> bool:
    return read_confirmation(text, services, conversation)


def _finish(conversation: Conversation, services: Any) -> Mapping[str, Any]:
    """YA: the cards posted (the family's visits may have changed since the question: the
    reply names the cards actually posted)."""
    done = dict(services.request_post(conversation.phone))
    niks = done.pop("niks")
    return {**done, "cards": cards_phrase(conversation.language, "post.done", niks, **done)}


POST = Dialogue(
    "post",
    [Step("confirm", "post.confirm", _read_yes_or_no, describe=_offered,
          choices=(Choice("YA", "choice.confirm.yes"), Choice("TIDAK", "choice.confirm.no")),
          routes=(Route(DONE, when=lambda answers: answers["confirm"] is True),
                  Route(CANCELLED)))],
    finish=_finish,
)


def info_ambil(services: Services, language: str) -> str:
    """INFO AMBIL: where and when a card is collected, and, where cards are posted, how to
    have them posted instead."""
    offered = offer(services)
    if offered is None:
        return render(language, "info.ambil")
    return render(language, "info.ambil_post", **offered)


def with_hint(services: Services, language: str, pickup: ApplicationView, text: str) -> str:
    """A pickup SMS with the offer of posting (`post.hint`), where cards are posted, the
    visit is not today (its cards are then in the day's drawer) and the SMS stays one SMS."""
    at = pickup.details.get("at")
    if at is None or at.date() == services.today() or offer(services) is None:
        return text
    hinted = text + render(language, "post.hint")
    return hinted if (septets(hinted) or GSM7_SINGLE + 1) <= GSM7_SINGLE else text
