"""The staff back office

Revision ID: 0002_staff_back_office
Revises: 0001_core
Create Date: 2026-11-29

Staff accounts, the audit log, broadcasts and pickup-office settings; an outbox row remembers
the broadcast it belongs to, and a phone when it opted out of broadcasts.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_staff_back_office"
down_revision = "0001_core"
branch_labels = None
depends_on = None

# A database made by `create_all` before the migrations has an unnamed foreign key on SQLite;
# batch mode names it like PostgreSQL does, so the downgrade finds it either way.
_NAMES = {"fk": "%(table_name)s_%(column_0_name)s_fkey"}


def upgrade() -> None:
    op.create_table(
        "staff_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=40), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("office", sa.String(length=10), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("password_changed_at", sa.DateTime(), nullable=False),
        sa.Column("disabled_at", sa.DateTime(), nullable=True),
        sa.Column("last_login_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username", name="staff_user_username_key"),
    )

    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=60), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("target", sa.String(length=80), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_entry_at", "audit_entry", ["at"])
    op.create_index("ix_audit_entry_actor", "audit_entry", ["actor"])
    op.create_index("ix_audit_entry_action", "audit_entry", ["action"])

    op.create_table(
        "broadcast",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=1000), nullable=False),
        sa.Column("audience", sa.String(length=20), nullable=False),
        sa.Column("audience_value", sa.String(length=20), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_by", sa.String(length=60), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("send_at", sa.DateTime(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("queued", sa.Integer(), nullable=False),
        sa.Column("last_phone", sa.String(length=20), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_broadcast_send_at", "broadcast", ["send_at"])

    op.create_table(
        "office_setting",
        sa.Column("office", sa.String(length=2), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(length=60), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("office"),
    )

    op.add_column("phone_state", sa.Column("broadcast_opt_out_at", sa.DateTime(), nullable=True))
    # SQLite cannot add a foreign key to a table: batch mode copies the table to do it.
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("broadcast_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("outbox_broadcast_id_fkey", "broadcast", ["broadcast_id"], ["id"])
    op.create_index("ix_outbox_broadcast_id", "outbox", ["broadcast_id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_broadcast_id", table_name="outbox")
    with op.batch_alter_table("outbox", naming_convention=_NAMES) as batch:
        batch.drop_constraint("outbox_broadcast_id_fkey", type_="foreignkey")
        batch.drop_column("broadcast_id")
    with op.batch_alter_table("phone_state") as batch:
        batch.drop_column("broadcast_opt_out_at")
    for table in ("office_setting", "broadcast", "audit_entry", "staff_user"):
        op.drop_table(table)
