"""The queues of cases staff close: verification and double records

Revision ID: 0012_case_queues
Revises: 0011_family_contact
Create Date: 2026-12-07

The verification queue (applications received, oldest first) and the double records waiting
for the resident's visit are a handful of rows among all applications ever made: partial
indexes over their stage let each page read only those rows. A card enters and leaves each
index once, so the day's allocation and printing do not pay for them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_case_queues"
down_revision = "0011_family_contact"
branch_labels = None
depends_on = None

_QUEUES = {"ix_application_submitted": ("submitted", ["created_at", "id"]),
           "ix_application_duplicate": ("duplicate", ["updated_at", "id"])}


def upgrade() -> None:
    for name, (stage, columns) in _QUEUES.items():
        where = sa.text(f"stage = '{stage}'")
        op.create_index(name, "application", columns, sqlite_where=where,
                        postgresql_where=where)


def downgrade() -> None:
    for name in _QUEUES:
        op.drop_index(name, table_name="application")
