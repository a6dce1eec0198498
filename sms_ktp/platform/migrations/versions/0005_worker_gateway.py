"""The gateway each worker sends through

Revision ID: 0005_worker_gateway
Revises: 0004_privacy
Create Date: 2026-11-29

Each worker writes with its heartbeat the gateway its SMS go through now: the primary, or the
fallback while the primary keeps failing (`gateway.routing`). `/healthz` says so.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_worker_gateway"
down_revision = "0004_privacy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("worker_heartbeat") as table:
        table.add_column(sa.Column("gateway", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("worker_heartbeat") as table:
        table.drop_column("gateway")
