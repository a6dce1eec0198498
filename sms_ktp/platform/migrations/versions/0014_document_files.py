"""Signed PDFs attached to applications, and the link and PIN a family downloads them with

Revision ID: 0014_document_files
Revises: 0013_documents
Create Date: 2026-12-08

A KK or akta is signed electronically and issued as a PDF: staff attach it (several to one
application, an akta kelahiran with the updated KK and the KIA), sealed with the data key like a
NIK (`document_file`). At `ready` the family phone gets a link `/d/<code>` and a 6-digit PIN
(`document_link`: the PIN as a salted keyed hash, the wrong PINs typed, when it locked, expires,
was first used, ended).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_document_files"
down_revision = "0013_documents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "document_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("uploaded_by", sa.String(length=60), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(), nullable=False),
        sa.Column("erased_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["application_id"], ["application.id"],
                                name="document_file_application_id_fkey"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_document_file_application_id", "document_file", ["application_id"])
    op.create_table(
        "document_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=12), nullable=True),
        sa.Column("pin_hash", sa.String(length=100), nullable=True),
        sa.Column("created_by", sa.String(length=60), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_at", sa.DateTime(), nullable=True),
        sa.Column("downloaded_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("ended_why", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(["application_id"], ["application.id"],
                                name="document_link_application_id_fkey"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code", name="document_link_code_key"),
    )
    op.create_index("ix_document_link_application_id", "document_link", ["application_id"])


def downgrade() -> None:
    files = op.get_bind().execute(sa.text(
        "SELECT count(*) FROM document_file WHERE erased_at IS NULL")).scalar_one()
    if files:
        raise RuntimeError(f"{files} signed PDFs are attached to applications, which the older "
                           "service does not know: they would be lost.")
    op.drop_index("ix_document_link_application_id", table_name="document_link")
    op.drop_table("document_link")
    op.drop_index("ix_document_file_application_id", table_name="document_file")
    op.drop_table("document_file")
