"""A WhatsApp question's choices, kept with its outbox row

Revision ID: 0016_whatsapp_options
Revises: 0015_whatsapp
Create Date: 2026-12-07

A reply on WhatsApp that asks a question with choices (the reason, YA / TIDAK) carries them
(`outbox.options`, JSON of ids and short labels, nothing personal), so that the worker sends
them as reply buttons or a list under the same text; NULL on every other row.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_whatsapp_options"
down_revision = "0015_whatsapp"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("options", sa.Text(), nullable=True))


def downgrade() -> None:
    # The text of each such row is whole without its options (the numbered list is in it).
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("options")
