"""Who a member of staff is once signed in: a role and, for an operator, an office. Apart from
the accounts (`staff`) because the sessions (`sessions`), which the accounts end, hand it out."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"  # everything
    OPERATOR = "operator"  # one office: its applications, stock and pickups
    HELPER = "helper"  # kelurahan helper: assisted registration and status lookups
    VIEWER = "viewer"  # the dashboard only


ROLE_NAMES = {Role.ADMIN: "Admin", Role.OPERATOR: "Operator kantor",
              Role.HELPER: "Pendamping kelurahan", Role.VIEWER: "Pemantau"}


@dataclass(frozen=True)
class Staff:
    """A signed-in member of staff, as the pages see them."""

    id: int
    username: str
    role: Role
    office: str | None

    @property
    def actor(self) -> str:
        return f"staff:{self.username}"
