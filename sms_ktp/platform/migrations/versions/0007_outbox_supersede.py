"""Notifications that a later change superseded

Revision ID: 0007_outbox_supersede
Revises: 0006_staff_sessions
Create Date: 2026-12-01

A notification remembers the application it is about, so that when the application moves on its
notices still queued (quiet hours) are marked `superseded` instead of sent, with the timeline
entry of the change that superseded them. Rows written before this revision name no application
and are sent as they are.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_outbox_supersede"
down_revision = "0006_staff_sessions"
branch_labels = None
depends_on = None

# A foreign key made by batch mode on SQLite is named as PostgreSQL names it, so that the
# downgrade finds it on either.
_NAMES = {"fk": "%(table_name)s_%(column_0_name)s_fkey"}


def upgrade() -> None:
    # SQLite cannot add a foreign key to a table: batch mode copies the table to do it.
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("application_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("superseded_by", sa.Integer(), nullable=True))
        batch.create_foreign_key("outbox_application_id_fkey", "application",
                                 ["application_id"], ["id"])
        batch.create_foreign_key("outbox_superseded_by_fkey", "application_event",
                                 ["superseded_by"], ["id"])
    op.create_index("ix_outbox_application_id", "outbox", ["application_id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_application_id", table_name="outbox")
    # Rows keep the status `superseded`: an older service claims only queued rows, so it never
    # sends them either.
    with op.batch_alter_table("outbox", naming_convention=_NAMES) as batch:
        batch.drop_constraint("outbox_superseded_by_fkey", type_="foreignkey")
        batch.drop_constraint("outbox_application_id_fkey", type_="foreignkey")
        batch.drop_column("superseded_by")
        batch.drop_column("application_id")
