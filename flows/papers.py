"""A papers visit in one SMS (`sms_ktp.applications.papers_visit`): the applications it is for
named as `{documents}`, each by its document's short name and reference while the SMS stays
one SMS, else by their names, else by their count."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flows.catalogue import messages, render
from flows.dates import say_day, say_time
from gsm7.encoding import GSM7_SINGLE, septets

PURPOSE = "papers"  # `details["purpose"]` of a papers visit among a family's visits


def document_name(lang: str, code: str) -> str:
    """A document's short name in `lang` (`<code>.name` of its catalogue; its code until it
    has one)."""
    key = f"{code}.name"
    return render(lang, key) if key in messages(lang) or key in messages("id") else code


def papers_text(lang: str, key: str, documents: Sequence[tuple[str, str]],
                **params: object) -> str:
    """The catalogue message `key` about a papers visit, its applications (document code,
    reference) named as `{documents}` as fully as one SMS allows: each with its reference
    (`papers.one`), else their names, else their count (`papers.counted`), which the
    catalogues leave room for."""
    names = [document_name(lang, code) for code, _ in documents]
    namings = [", ".join(render(lang, "papers.one", document=name, ref=ref)
                         for name, (_, ref) in zip(names, documents, strict=True))]
    if len(documents) > 1:
        namings.append(", ".join(dict.fromkeys(names)))
    for naming in namings:
        text = render(lang, key, documents=naming, **params)
        if (septets(text) or GSM7_SINGLE + 1) <= GSM7_SINGLE:
            return text
    return render(lang, key, documents=render(lang, "papers.counted", n=len(documents)),
                  **params)


def is_papers(view: Any) -> bool:
    """A family visit (`Services.family_pickups`) to hand in papers rather than collect cards."""
    return bool(view.details.get("purpose") == PURPOSE)


def view_text(lang: str, view: Any, key: str) -> str:
    """A papers visit (`Services.family_pickups`) in the words of `key`."""
    details = view.details
    return papers_text(lang, key, details["documents"], day=say_day(lang, details["at"]),
                       time=say_time(lang, details["at"]), office=details["office"],
                       address=details["address"], code=details["code"])
