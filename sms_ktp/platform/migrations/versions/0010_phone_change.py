"""A family's phone changed at the kelurahan, confirmed by a code sent to the new phone

Revision ID: 0010_phone_change
Revises: 0009_delivery_by_post
Create Date: 2026-12-07

Nothing changes yet.
"""

from __future__ import annotations

revision = "0010_phone_change"
down_revision = "0009_delivery_by_post"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
