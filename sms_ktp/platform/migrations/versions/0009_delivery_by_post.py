"""Delivery by post instead of a visit

Revision ID: 0009_delivery_by_post
Revises: 0008_family_visits
Create Date: 2026-12-07

A family that cannot come in office hours may ask (KIRIM) to have its printed cards posted to
the address on its KK, where the regency offers it (`[delivery] post`). The visit then becomes
the parcel: it gives up its slot and its open code, and keeps when it was asked for, the
courier's tracking number, when it was handed to the courier and when it was delivered. The
cards move through the stages `post_requested`, `posted` and `delivered` (closed).

Nothing to fill in at the upgrade: no visit was posted before. The downgrade refuses while a
card waits to be posted or is on its way, stages the older service does not know; a card
delivered is what the older service calls collected (its `collected_at` is set), and becomes
that, its timeline included.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_delivery_by_post"
down_revision = "0008_family_visits"
branch_labels = None
depends_on = None

_POSTAL_STAGES = "('post_requested', 'posted')"


def upgrade() -> None:
    # SQLite adds a nullable column in place; batch mode keeps the two engines on one path.
    with op.batch_alter_table("pickup_visit") as batch:
        batch.add_column(sa.Column("post_requested_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("tracking", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("posted_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("delivered_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    travelling = op.get_bind().execute(sa.text(
        f"SELECT count(*) FROM application WHERE stage IN {_POSTAL_STAGES}")).scalar_one()
    if travelling:
        raise RuntimeError(
            f"{travelling} cards wait to be posted or are on their way: the older service "
            "knows neither stage. Record their delivery (sms-ktp post delivered) first.")
    op.execute("UPDATE application SET stage = 'collected' WHERE stage = 'delivered'")
    op.execute("UPDATE application_event SET stage = 'collected' WHERE stage = 'delivered'")
    with op.batch_alter_table("pickup_visit") as batch:
        batch.drop_column("delivered_at")
        batch.drop_column("posted_at")
        batch.drop_column("tracking")
        batch.drop_column("post_requested_at")
