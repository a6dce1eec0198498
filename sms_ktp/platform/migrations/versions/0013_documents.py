"""Other documents on the same engine: KK, akta kelahiran, akta kematian, KIA

Revision ID: 0013_documents
Revises: 0012_case_queues
Create Date: 2026-12-07

An application names its document (`application.document`, "ktp" for every row so far) and
keeps the document's other answers sealed (`application.details`); another document's papers are
handed in at a visit booked like a pickup (`pickup_visit.purpose`, `application.papers_visit_id`);
a visit is found by its code (an index); blank cards and print batches name their kind of card
(`card`, "ktp" so far), since a KIA is not printed on a KTP-el blangko.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_documents"
down_revision = "0012_case_queues"
branch_labels = None
depends_on = None

_NAMES = {"fk": "%(table_name)s_%(column_0_name)s_fkey",
          "uq": "%(table_name)s_%(column_0_name)s_key"}


def upgrade() -> None:
    with op.batch_alter_table("application", naming_convention=_NAMES) as batch:
        batch.add_column(sa.Column("document", sa.String(length=12), nullable=False,
                                   server_default="ktp"))
        batch.add_column(sa.Column("details", sa.Text(), nullable=True))
        batch.add_column(sa.Column("papers_visit_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("application_papers_visit_id_fkey", "pickup_visit",
                                 ["papers_visit_id"], ["id"])
    op.create_index("ix_application_document", "application", ["document"])
    op.create_index("ix_application_papers_visit_id", "application", ["papers_visit_id"])
    op.add_column("pickup_visit", sa.Column("purpose", sa.String(length=10), nullable=False,
                                            server_default="pickup"))
    op.create_index("ix_pickup_visit_code", "pickup_visit", ["code"])
    op.add_column("blangko_movement", sa.Column("card", sa.String(length=12), nullable=False,
                                                server_default="ktp"))
    op.add_column("print_batch", sa.Column("card", sa.String(length=12), nullable=False,
                                           server_default="ktp"))


def downgrade() -> None:
    others = op.get_bind().execute(sa.text(
        "SELECT count(*) FROM application WHERE document <> 'ktp'")).scalar_one()
    if others:
        raise RuntimeError(f"{others} applications are for documents other than the KTP-el, "
                           "which the older service does not know: they would be lost.")
    with op.batch_alter_table("print_batch") as batch:
        batch.drop_column("card")
    with op.batch_alter_table("blangko_movement") as batch:
        batch.drop_column("card")
    op.drop_index("ix_pickup_visit_code", table_name="pickup_visit")
    with op.batch_alter_table("pickup_visit") as batch:
        batch.drop_column("purpose")
    op.drop_index("ix_application_papers_visit_id", table_name="application")
    op.drop_index("ix_application_document", table_name="application")
    with op.batch_alter_table("application", naming_convention=_NAMES) as batch:
        batch.drop_constraint("application_papers_visit_id_fkey", type_="foreignkey")
        batch.drop_column("papers_visit_id")
        batch.drop_column("details")
        batch.drop_column("document")
