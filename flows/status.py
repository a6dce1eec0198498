"""How an application's progress is put into words, on every channel."""

from __future__ import annotations

from flows.catalogue import Msg, render
from flows.ports import ApplicationView


def detail(language: str, application: ApplicationView) -> str:
    """One application: its stage in plain words and what comes next."""
    return render(language, "status.detail", ref=application.reference,
                  nik=application.nik_masked,
                  explain=Msg(f"stage.{application.stage}", application.details))


def item(language: str, application: ApplicationView) -> str:
    """One application as a line of a list."""
    return render(language, "status.item", ref=application.reference,
                  nik=application.nik_masked, stage=Msg(f"stage_short.{application.stage}"))
