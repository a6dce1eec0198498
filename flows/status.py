"""How an application's progress is put into words, on every channel."""

from __future__ import annotations

from collections.abc import Sequence

from flows.catalogue import Msg, messages, render
from flows.dates import say_day, say_time
from flows.ports import ApplicationView
from flows.visits import visit_text
from sms_ktp.domain.stages import Stage


def typed_reference(args: Sequence[str]) -> str | None:
    """What `STATUS ...` gives as a reference: its words with digits, joined ("STATUS 123 456
    789 sdh sampai mana pak"); None when no word has one ("STATUS sudah sampai mana?" asks
    about every application)."""
    numbers = [arg for arg in args if any(char.isdigit() for char in arg)]
    return "".join(numbers) if numbers else None


def detail(language: str, application: ApplicationView) -> str:
    """One application: its stage in plain words and what comes next. A card to collect says
    its day, time and office rather than that its SMS was sent: that SMS may still wait for the
    end of quiet hours, or have been superseded by a move."""
    at = application.details.get("at")
    if application.stage == Stage.PICKUP_SCHEDULED and at is not None:
        when = {"day": say_day(language, at), "time": say_time(language, at),
                "office": application.details["office"]}
        if application.document != "ktp":  # a KIA: its NIK is the parent's
            return render(language, "status.doc_pickup", ref=application.reference,
                          document=Msg(f"{application.document}.name"), **when)
        return render(language, "status.pickup", ref=application.reference,
                      nik=application.nik_masked, **when)
    explain = Msg(_own(application.document, "stage", application.stage), application.details)
    if application.document != "ktp":
        return render(language, "status.doc_detail", ref=application.reference,
                      document=Msg(f"{application.document}.name"), explain=explain)
    return render(language, "status.detail", ref=application.reference,
                  nik=application.nik_masked, explain=explain)


def _own(document: str, table: str, stage: str) -> str:
    """A document's own wording of a stage (`kk.stage.ready`) when it has one, else the
    wording every document shares (`stage.ready`)."""
    own = f"{document}.{table}.{stage}"
    return own if own in messages("id") else f"{table}.{stage}"


def pickup_text(language: str, pickup: ApplicationView, key: str) -> str:
    """A family visit (or one card) to collect, in the words of `key`, its cards named as
    `{cards}` (a visit held at the office: where to come, any day)."""
    details = pickup.details
    masked = details.get("niks") or (pickup.nik_masked,)
    if details.get("at") is None:
        return visit_text(language, "notify.missed_pickup", masked, office=details["office"],
                          code=details["code"])
    return visit_text(language, key, masked, ref=pickup.reference,
                      day=say_day(language, details["at"]),
                      time=say_time(language, details["at"]), office=details["office"],
                      address=details["address"], code=details["code"])


def item(language: str, application: ApplicationView) -> str:
    """One application as a line of a list: a KTP-el by its NIK, another document by its
    name."""
    stage = Msg(_own(application.document, "stage_short", application.stage))
    if application.document != "ktp":
        return render(language, "status.doc_item", ref=application.reference,
                      document=Msg(f"{application.document}.name"), stage=stage)
    return render(language, "status.item", ref=application.reference,
                  nik=application.nik_masked, stage=stage)
