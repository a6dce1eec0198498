"""The core service

Revision ID: 0001_core
Revises:
Create Date: 2026-11-29

Phones and their dialogues, families, applications and their timeline, SMS in and out, USSD
sessions, blangko stock, print batches and pickup slots.

Timestamps are naive UTC (`sa.DateTime()`; the models' `UtcDateTime` stores exactly that).
Unique constraints and foreign keys carry the names PostgreSQL would give them, so a database
made by these migrations and one made by `create_all` are alike, and SQLite's batch mode can
find them by name.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_core"
down_revision = None
branch_labels = None
depends_on = None


def _stage(stage: str) -> dict[str, sa.TextClause]:
    """The predicate of a partial index over one stage of the application queue."""
    where = sa.text(f"stage = '{stage}'")
    return {"sqlite_where": where, "postgresql_where": where}


def upgrade() -> None:
    op.create_table(
        "phone_state",
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("flow", sa.String(length=30), nullable=True),
        sa.Column("step", sa.String(length=30), nullable=True),
        sa.Column("dialogue_language", sa.String(length=8), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=True),
        sa.Column("prefill", sa.JSON(), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("ussd_session", sa.String(length=140), nullable=True),
        sa.Column("ussd_menu", sa.JSON(), nullable=True),
        sa.Column("ussd_text_length", sa.Integer(), nullable=True),
        sa.Column("ussd_text_digest", sa.String(length=64), nullable=True),
        sa.Column("ussd_screen", sa.String(length=400), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("phone"),
    )
    op.create_index("ix_phone_state_expires_at", "phone_state", ["expires_at"])
    op.create_index("ix_phone_state_updated_at", "phone_state", ["updated_at"])

    op.create_table(
        "family",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kk", sa.String(length=16), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("kecamatan_code", sa.String(length=2), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kk", name="family_kk_key"),
    )
    op.create_index("ix_family_phone", "family", ["phone"])

    op.create_table(
        "print_batch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(length=40), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )

    op.create_table(
        "application",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=12), nullable=False),
        sa.Column("nik", sa.String(length=16), nullable=False),
        sa.Column("active_nik", sa.String(length=16), nullable=True),
        sa.Column("family_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("suket_number", sa.String(length=40), nullable=True),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("stage_note", sa.String(length=200), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("channel", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("ready_at", sa.DateTime(), nullable=True),
        sa.Column("print_batch_id", sa.Integer(), nullable=True),
        sa.Column("printed_at", sa.DateTime(), nullable=True),
        sa.Column("pickup_office", sa.String(length=2), nullable=True),
        sa.Column("pickup_at", sa.DateTime(), nullable=True),
        sa.Column("open_code", sa.String(length=12), nullable=True),
        sa.Column("pickup_code", sa.String(length=12), nullable=True),
        sa.Column("pickup_reschedules", sa.Integer(), nullable=False),
        sa.Column("pickup_changes", sa.Integer(), nullable=False),
        sa.Column("reminded_at", sa.DateTime(), nullable=True),
        sa.Column("collected_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["family_id"], ["family.id"], name="application_family_id_fkey"),
        sa.ForeignKeyConstraint(["print_batch_id"], ["print_batch.id"],
                                name="application_print_batch_id_fkey"),
        sa.UniqueConstraint("reference", name="application_reference_key"),
        sa.UniqueConstraint("active_nik", name="application_active_nik_key"),
        sa.UniqueConstraint("open_code", name="application_open_code_key"),
    )
    op.create_index("ix_application_nik", "application", ["nik"])
    op.create_index("ix_application_family_id", "application", ["family_id"])
    # The work queues: partial indexes over the stage each one serves.
    op.create_index("ix_application_print_queue", "application",
                    ["print_batch_id", "ready_at", "id"], **_stage("print_queue"))
    op.create_index("ix_application_printed", "application", ["printed_at", "id"],
                    **_stage("printed"))
    op.create_index("ix_application_pickup", "application", ["pickup_at"],
                    **_stage("pickup_scheduled"))

    op.create_table(
        "application_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=60), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["application_id"], ["application.id"],
                                name="application_event_application_id_fkey"),
    )
    op.create_index("ix_application_event_application_id", "application_event",
                    ["application_id"])

    op.create_table(
        "inbound_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=30), nullable=False),
        sa.Column("provider_id", sa.String(length=100), nullable=False),
        sa.Column("sender", sa.String(length=40), nullable=False),
        sa.Column("recipient", sa.String(length=40), nullable=False),
        sa.Column("text", sa.String(length=2000), nullable=False),
        sa.Column("link_id", sa.String(length=100), nullable=True),
        sa.Column("network_code", sa.String(length=20), nullable=True),
        sa.Column("replied", sa.Boolean(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider", "provider_id", name="uq_inbound_provider_id"),
    )
    op.create_index("ix_inbound_message_sender", "inbound_message", ["sender"])
    op.create_index("ix_inbound_message_received_at", "inbound_message", ["received_at"])

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=32), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("text", sa.String(length=1000), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("provider", sa.String(length=30), nullable=True),
        sa.Column("provider_message_id", sa.String(length=100), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("inbound_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["inbound_id"], ["inbound_message.id"],
                                name="outbox_inbound_id_fkey"),
        sa.UniqueConstraint("uid", name="outbox_uid_key"),
    )
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at"])
    op.create_index("ix_outbox_phone_status", "outbox", ["phone", "status"])
    op.create_index("ix_outbox_provider_message_id", "outbox", ["provider_message_id"])

    op.create_table(
        "ussd_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=30), nullable=False),
        sa.Column("session_id", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("service_code", sa.String(length=40), nullable=False),
        sa.Column("network_code", sa.String(length=20), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("end_status", sa.String(length=40), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("hops", sa.Integer(), nullable=True),
        sa.Column("last_input", sa.String(length=200), nullable=True),
        sa.Column("error_message", sa.String(length=300), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider", "session_id", name="uq_ussd_session"),
    )
    op.create_index("ix_ussd_session_phone", "ussd_session", ["phone"])
    op.create_index("ix_ussd_session_started_at", "ussd_session", ["started_at"])

    op.create_table(
        "blangko_movement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(length=40), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=100), nullable=False),
        sa.Column("actor", sa.String(length=60), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_blangko_movement_site", "blangko_movement", ["site"])

    op.create_table(
        "pickup_slot",
        sa.Column("office", sa.String(length=2), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("booked", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("office", "starts_at"),
    )


def downgrade() -> None:
    # Dropping a table drops its indexes; dependent tables go first.
    for table in ("pickup_slot", "blangko_movement", "ussd_session", "outbox",
                  "inbound_message", "application_event", "application", "print_batch",
                  "family", "phone_state"):
        op.drop_table(table)
