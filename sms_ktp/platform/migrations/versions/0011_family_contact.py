"""A family without any phone, reached through its kelurahan

Revision ID: 0011_family_contact
Revises: 0010_phone_change
Create Date: 2026-12-07

Nothing changes yet.
"""

from __future__ import annotations

revision = "0011_family_contact"
down_revision = "0010_phone_change"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
