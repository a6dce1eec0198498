"""A family without any phone, reached through its kelurahan

Revision ID: 0011_family_contact
Revises: 0010_phone_change
Create Date: 2026-12-07

A family that owns no phone is registered with its kelurahan as its contact: its `family.phone`
holds the kelurahan's address ("kel:<code>", `sms_ktp.domain.contact_address`), which fits the
column as it is, so no family row changes. What is new: `kelurahan_notice`, the notices a helper
of the kelurahan ticked as passed on to the family, and an index on the timeline's actor, from
which a helper's home lists the registrations they made.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_family_contact"
down_revision = "0010_phone_change"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kelurahan_notice",
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("kelurahan", sa.String(length=10), nullable=False),
        sa.Column("passed_at", sa.DateTime(), nullable=False),
        sa.Column("passed_by", sa.String(length=60), nullable=False),
        sa.PrimaryKeyConstraint("outbox_id"),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox.id"],
                                name="kelurahan_notice_outbox_id_fkey"),
    )
    op.create_index("ix_kelurahan_notice_kelurahan", "kelurahan_notice", ["kelurahan"])
    op.create_index("ix_application_event_actor", "application_event", ["actor"])


def downgrade() -> None:
    op.drop_index("ix_application_event_actor", table_name="application_event")
    op.drop_index("ix_kelurahan_notice_kelurahan", table_name="kelurahan_notice")
    op.drop_table("kelurahan_notice")
