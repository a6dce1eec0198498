"""Staff sessions kept on the server

Revision ID: 0006_staff_sessions
Revises: 0005_worker_gateway
Create Date: 2026-12-01

A signed-in browser of the back office is a row: the cookie carries a random token whose hash
is the row's id. Signing out, the idle time, disabling the account and a new password end the
row, so a copy of the cookie saved before opens nothing afterwards (`sms_ktp.backoffice.sessions`).
Sessions signed in before this revision have no row and end: staff sign in again once.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_staff_sessions"
down_revision = "0005_worker_gateway"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_session",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("ended_why", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_user.id"],
                                name="staff_session_staff_id_fkey"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_staff_session_staff_id", "staff_session", ["staff_id"])


def downgrade() -> None:
    op.drop_index("ix_staff_session_staff_id", table_name="staff_session")
    op.drop_table("staff_session")
