"""The page of a list that a request asks for (`?page=`): 1 when absent or not a number, and
never so far that its OFFSET leaves 64 bits (PostgreSQL refuses that: the page would fail with
a 500 instead of showing an empty list)."""

from __future__ import annotations

from flask import request

LAST_PAGE = 1_000_000  # far beyond any list the back office shows


def requested_page() -> int:
    return min(max(1, request.args.get("page", 1, type=int) or 1), LAST_PAGE)
