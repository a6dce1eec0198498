"""The documents besides the KTP-el, one folder each: its dialogue (`FLOW`), its texts in every
catalogue language (`<lang>.toml`, keys prefixed with the folder's name) and the keywords that
start it (`keywords.toml`). A document is added by adding its folder and its entry in
`sms_ktp.domain.documents`; the channels find it here."""

from __future__ import annotations

from functools import cache
from importlib import import_module

from flows.catalogue import document_folders
from flows.documents.common import DocumentFlow


@cache
def flows() -> dict[str, DocumentFlow]:
    """Every document's flow by its code (the folder's name)."""
    found = {}
    for folder in document_folders():
        flow = import_module(f"flows.documents.{folder.name}").FLOW
        found[flow.code] = flow
    return found
