"""The documents besides the KTP-el, one folder each: its dialogue (`FLOW`), its texts in every
catalogue language (`<lang>.toml`, keys prefixed with the folder's name) and the keywords that
start it (`keywords.toml`). A document is added by adding its folder and its entry in
`sms_ktp.domain.documents`; the channels find it here."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib import import_module
from typing import Any

from flows.catalogue import Msg, document_folders, render
from flows.documents.common import DocumentFlow
from sms_ktp.domain import documents


@cache
def flows() -> dict[str, DocumentFlow]:
    """Every document's flow by its code (the folder's name)."""
    found = {}
    for folder in document_folders():
        flow = import_module(f"flows.documents.{folder.name}").FLOW
        found[flow.code] = flow
    return found


def offered() -> list[str]:
    """The documents besides the KTP-el that the regency offers (`[services] enabled`) and
    that have a dialogue, in the catalogue's order."""
    return [code for code in documents.enabled() if code in flows()]


def done_replies(language: str, dialogue: str, result: Mapping[str, Any]) -> list[str]:
    """The SMS that end a dialogue: `<dialogue>.done`, then, for another document, the papers
    to bring (the result's `then`): at most two."""
    values = dict(result)
    then = values.pop("then", None)
    replies = [render(language, f"{dialogue}.done", **values)]
    if isinstance(then, Msg):
        replies.append(render(language, then.key, **(then.params or {})))
    return replies
