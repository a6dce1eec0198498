"""Worker heartbeats and job leases

Revision ID: 0003_worker_heartbeats
Revises: 0002_staff_back_office
Create Date: 2026-11-29

Which worker processes run and when each last beat; who runs a scheduled job right now.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_worker_heartbeats"
down_revision = "0002_staff_back_office"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "worker_heartbeat",
        sa.Column("worker", sa.String(length=80), nullable=False),
        sa.Column("host", sa.String(length=64), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("beat_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("worker"),
    )
    op.create_table(
        "job_lease",
        sa.Column("job", sa.String(length=40), nullable=False),
        sa.Column("worker", sa.String(length=80), nullable=False),
        sa.Column("until", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("job"),
    )


def downgrade() -> None:
    op.drop_table("job_lease")
    op.drop_table("worker_heartbeat")
