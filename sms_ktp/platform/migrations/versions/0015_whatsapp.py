"""The WhatsApp channel: the channel an outbox message goes out on, and when each resident last
wrote on WhatsApp

Revision ID: 0015_whatsapp
Revises: 0014_document_files
Create Date: 2026-12-07

A reply goes back on the channel its message came in on (`outbox.channel`, "sms" for every row
so far); a notice may go by WhatsApp as a plain message only within 24 hours of the resident's
last WhatsApp message (`whatsapp_contact`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_whatsapp"
down_revision = "0014_document_files"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("channel", sa.String(length=10), nullable=False,
                                      server_default="sms"))
    op.create_table(
        "whatsapp_contact",
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("last_inbound_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("phone"),
    )


def downgrade() -> None:
    waiting = op.get_bind().execute(sa.text(
        "SELECT count(*) FROM outbox WHERE channel <> 'sms' AND status IN ('queued', 'sending')"
    )).scalar_one()
    if waiting:
        raise RuntimeError(f"{waiting} WhatsApp messages wait to be sent, which the older "
                           "service would send by SMS: send them first.")
    op.drop_table("whatsapp_contact")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("channel")
