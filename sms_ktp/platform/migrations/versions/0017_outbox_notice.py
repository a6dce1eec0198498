"""Which notice an outbox row is, and the WhatsApp template it went as

Revision ID: 0017_outbox_notice
Revises: 0016_whatsapp_options
Create Date: 2026-12-07

A notice (kind "notification") names the catalogue message it was worded from
(`outbox.notice`, e.g. "notify.pickup_scheduled"), so that outside WhatsApp's 24-hour window
the worker can send it as the approved template made for that notice; NULL on every other
row and on the notices queued before. A message that went as a template names it
(`outbox.template`): Meta bills a template, not a reply or a text inside the 24-hour window.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_outbox_notice"
down_revision = "0016_whatsapp_options"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("notice", sa.String(60), nullable=True))
    op.add_column("outbox", sa.Column("template", sa.String(60), nullable=True))


def downgrade() -> None:
    # A row without its notice goes by the general template or by SMS: nothing is lost.
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("notice")
        batch.drop_column("template")
