"""KIRIM: a family's printed cards posted to the address on its KK instead of collected at the
office, where the regency offers it; and how posting is offered in INFO AMBIL and in the pickup
SMS that answers JADWAL (as in the one the allocation sent)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, Protocol

from flows.catalogue import render
from flows.dialogue import Invalid
from flows.ports import ApplicationView
from flows.visits import visit_text
from gsm7.encoding import GSM7_SINGLE, septets


class PostServices(Protocol):
    """What posting needs of the service, besides `flows.ports.Services`."""

    def today(self) -> date: ...

    def post_offer(self) -> Mapping[str, Any] | None:
        """`{courier}` and `{fee}` of the messages about posting; None where the regency does
        not post cards."""

    def request_post(self, phone: str) -> Mapping[str, Any]:
        """Post the family's cards to collect instead; the placeholders of `post.requested`
        (`niks`: the masked NIKs named as `{cards}`). Raises `Invalid` with the key that says
        why not (`niks` among its params when it names cards)."""


def offer(services: PostServices) -> Mapping[str, Any] | None:
    """The service's offer of posting; none from a service that knows nothing of it."""
    asking = getattr(services, "post_offer", None)
    return asking() if asking is not None else None


def answer(services: PostServices, phone: str, language: str) -> str:
    """The one SMS answering KIRIM: the cards to be posted, by whom, at what fee; or why not."""
    if offer(services) is None:
        return render(language, "post.off")
    try:
        done = dict(services.request_post(phone))
    except Invalid as refused:
        params = dict(refused.params)
        niks = params.pop("niks", ())
        if niks:
            return visit_text(language, refused.key, niks, **params)
        return render(language, refused.key, **params)
    niks = done.pop("niks")
    return visit_text(language, "post.requested", niks, **done)


def info_ambil(services: PostServices, language: str) -> str:
    """INFO AMBIL: where and when a card is collected, and, where cards are posted, how to
    have them posted instead."""
    offered = offer(services)
    if offered is None:
        return render(language, "info.ambil")
    return render(language, "info.ambil_post", **offered)


def with_hint(services: PostServices, language: str, pickup: ApplicationView, text: str) -> str:
    """A pickup SMS with the offer of posting (`post.hint`), where cards are posted, the
    visit is not today (its cards are then in the day's drawer) and the SMS stays one SMS."""
    at = pickup.details.get("at")
    if at is None or at.date() == services.today() or offer(services) is None:
        return text
    hinted = text + render(language, "post.hint")
    return hinted if (septets(hinted) or GSM7_SINGLE + 1) <= GSM7_SINGLE else text
