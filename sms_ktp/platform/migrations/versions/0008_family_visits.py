"""Family visits: the family's printed cards collected at one office, in one slot, with one code

Revision ID: 0008_family_visits
Revises: 0007_outbox_supersede
Create Date: 2026-12-07

A family of four used to get four pickup SMS, four reminders and four codes for one visit to
one counter. `pickup_visit` holds what is now the visit's: the office, the slot, the code (open
while there are cards to hand over: unique among open visits), when it was reminded, and how
often it moved. An application names its visit (`visit_id`) and keeps a copy of the office, the
slot and the code for its history. The per-card columns `open_code`, `reminded_at`,
`pickup_reschedules` and `pickup_changes` move to the visit.

Every pickup open at the upgrade becomes a visit of its own card, with its code, so the SMS
already sent stay true. The downgrade puts the columns back; it refuses while a visit holds
more than one card to hand over, since the older service has one code per card.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_family_visits"
down_revision = "0007_outbox_supersede"
branch_labels = None
depends_on = None

# A database made by `create_all` before the migrations has unnamed constraints on SQLite; batch
# mode names them like PostgreSQL does, so they are found by name either way.
_NAMES = {"fk": "%(table_name)s_%(column_0_name)s_fkey",
          "uq": "%(table_name)s_%(column_0_name)s_key"}
_OPEN_STAGES = "('pickup_scheduled', 'missed_pickup')"
_OPEN = {"sqlite_where": sa.text("open_code IS NOT NULL"),
         "postgresql_where": sa.text("open_code IS NOT NULL")}


def upgrade() -> None:
    op.create_table(
        "pickup_visit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("family_id", sa.Integer(), nullable=False),
        sa.Column("office", sa.String(length=2), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=True),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("open_code", sa.String(length=12), nullable=True),
        sa.Column("reschedules", sa.Integer(), nullable=False),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.Column("reminded_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["family_id"], ["family.id"], name="pickup_visit_family_id_fkey"),
        sa.UniqueConstraint("open_code", name="pickup_visit_open_code_key"),
    )
    op.create_index("ix_pickup_visit_family_id", "pickup_visit", ["family_id"])
    op.create_index("ix_pickup_visit_open", "pickup_visit", ["starts_at"], **_OPEN)
    op.execute(
        "INSERT INTO pickup_visit (family_id, office, starts_at, code, open_code, reschedules, "
        "changes, reminded_at, created_at) "
        "SELECT family_id, pickup_office, pickup_at, pickup_code, open_code, pickup_reschedules, "
        "pickup_changes, reminded_at, updated_at FROM application "
        "WHERE open_code IS NOT NULL AND pickup_office IS NOT NULL ORDER BY id")
    with op.batch_alter_table("application", naming_convention=_NAMES) as batch:
        batch.add_column(sa.Column("visit_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("application_visit_id_fkey", "pickup_visit", ["visit_id"],
                                 ["id"])
    op.execute("UPDATE application SET visit_id = (SELECT pickup_visit.id FROM pickup_visit "
               "WHERE pickup_visit.open_code = application.open_code) "
               "WHERE open_code IS NOT NULL")
    with op.batch_alter_table("application", naming_convention=_NAMES) as batch:
        batch.drop_constraint("application_open_code_key", type_="unique")
        batch.drop_column("open_code")
        batch.drop_column("reminded_at")
        batch.drop_column("pickup_reschedules")
        batch.drop_column("pickup_changes")
    op.create_index("ix_application_visit_id", "application", ["visit_id"])


def downgrade() -> None:
    shared = op.get_bind().execute(sa.text(
        "SELECT count(*) FROM (SELECT visit_id FROM application "
        f"WHERE visit_id IS NOT NULL AND stage IN {_OPEN_STAGES} "
        "GROUP BY visit_id HAVING count(*) > 1) AS shared")).scalar_one()
    if shared:
        raise RuntimeError(
            f"{shared} pickup visits hold more than one card to hand over: the older service "
            "has one code per card. Hand them over (or wait until they are collected) first.")
    op.drop_index("ix_application_visit_id", table_name="application")
    with op.batch_alter_table("application", naming_convention=_NAMES) as batch:
        batch.add_column(sa.Column("open_code", sa.String(length=12), nullable=True))
        batch.add_column(sa.Column("reminded_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("pickup_reschedules", sa.Integer(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("pickup_changes", sa.Integer(), nullable=False,
                                   server_default="0"))
    visit = "SELECT {} FROM pickup_visit WHERE pickup_visit.id = application.visit_id"
    op.execute(
        f"UPDATE application SET open_code = ({visit.format('open_code')}), "
        f"reminded_at = ({visit.format('reminded_at')}), "
        f"pickup_reschedules = ({visit.format('reschedules')}), "
        f"pickup_changes = ({visit.format('changes')}) "
        f"WHERE visit_id IS NOT NULL AND stage IN {_OPEN_STAGES}")
    with op.batch_alter_table("application", naming_convention=_NAMES) as batch:
        batch.alter_column("pickup_reschedules", server_default=None)
        batch.alter_column("pickup_changes", server_default=None)
        batch.create_unique_constraint("application_open_code_key", ["open_code"])
        batch.drop_constraint("application_visit_id_fkey", type_="foreignkey")
        batch.drop_column("visit_id")
    op.drop_index("ix_pickup_visit_open", table_name="pickup_visit")
    op.drop_index("ix_pickup_visit_family_id", table_name="pickup_visit")
    op.drop_table("pickup_visit")
