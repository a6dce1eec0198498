"""A family's phone changed at the kelurahan, confirmed by a code sent to the new phone

Revision ID: 0010_phone_change
Revises: 0009_delivery_by_post
Create Date: 2026-12-07

Residents are told by SMS to change their family's phone at the kelurahan, with the original
KK. Staff find the family, type the new phone, and a code goes to it by SMS; staff type the code
back from the new phone, and only then does the family's phone change (the old phone is told).
Each request is a row: who asked, the two numbers, the code as a salted keyed hash, the wrong
codes typed, when it expires, and how it ended.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_phone_change"
down_revision = "0009_delivery_by_post"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "phone_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("family_id", sa.Integer(), nullable=False),
        sa.Column("old_phone", sa.String(length=20), nullable=False),
        sa.Column("new_phone", sa.String(length=20), nullable=False),
        sa.Column("code_hash", sa.String(length=100), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=60), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["family_id"], ["family.id"],
                                name="phone_change_family_id_fkey"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_phone_change_family_id", "phone_change", ["family_id"])


def downgrade() -> None:
    op.drop_index("ix_phone_change_family_id", table_name="phone_change")
    op.drop_table("phone_change")
