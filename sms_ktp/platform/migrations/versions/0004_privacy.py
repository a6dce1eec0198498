"""Privacy: NIK and KK encrypted at rest; consent and erasure of an application

Revision ID: 0004_privacy
Revises: 0003_worker_heartbeats
Create Date: 2026-12-01

`application.nik`, `family.kk` and the dialogue answers in `phone_state` (`answers`, `prefill`)
are stored encrypted (`sms_ktp.crypto`); keyed hashes beside the numbers serve exact
lookups: `application.nik_hash` (indexed), `application.active_nik` (unique, as before) and
`family.kk_hash` (unique, in place of the unique KK). The numbers become nullable: an erased
application or family keeps its row without them. An application also records the resident's
consent (when, which wording) and when its personal data was erased.

Rows already stored are encrypted and hashed here, so the process running the upgrade needs the
keys: `sms-ktp` and gunicorn configure them first (`[privacy]`, or generated into the data folder
for a demo). The downgrade decrypts them again, and refuses when an erased row has no number left
to put back. On SQLite, the pages the upgrade frees are overwritten with zeros (`secure_delete`)
and `sms_ktp.platform.schema` checkpoints and truncates the WAL afterwards, so no plain copy of a
number stays in the file. On PostgreSQL the old row versions stay on disk until a `VACUUM FULL` of
application, family and phone_state (docs/privacy.md, "Encryption at rest").

Sealing and hashing name their column (`purpose`) exactly as the models do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa
from alembic import op

from sms_ktp import crypto

revision = "0004_privacy"
down_revision = "0003_worker_heartbeats"
branch_labels = None
depends_on = None

# A database made by `create_all` before the migrations has unnamed constraints on SQLite; batch
# mode names them like PostgreSQL does, so they are found by name either way.
_NAMES = {"fk": "%(table_name)s_%(column_0_name)s_fkey",
          "uq": "%(table_name)s_%(column_0_name)s_key"}
_SEALED = 100  # models.SEALED_LENGTH
_HASH = 64
_BATCH = 2000  # rows read at a time

_APPLICATION = sa.table("application", sa.column("id", sa.Integer), sa.column("nik", sa.String),
                        sa.column("nik_hash", sa.String), sa.column("active_nik", sa.String))
_FAMILY = sa.table("family", sa.column("id", sa.Integer), sa.column("kk", sa.String),
                   sa.column("kk_hash", sa.String))
_PHONE_STATE = sa.table("phone_state", sa.column("phone", sa.String),
                        sa.column("answers", sa.String), sa.column("prefill", sa.String))


def _rows(table: Any, key: str, columns: list[str], where: Any) -> Iterator[list[Any]]:
    """The rows matching `where`, `_BATCH` at a time in the order of `key` (never the whole
    table in memory)."""
    bind = op.get_bind()
    after = None
    while True:
        query = (sa.select(table.c[key], *(table.c[name] for name in columns)).where(where)
                 .order_by(table.c[key]).limit(_BATCH))
        if after is not None:
            query = query.where(table.c[key] > after)
        rows = bind.execute(query).all()
        if not rows:
            return
        yield list(rows)
        after = rows[-1][0]


def _rewrite(table: Any, key: str, columns: list[str], where: Any,
             change: Callable[[Any], dict[str, Any]]) -> None:
    """Every row matching `where` gets the values `change` computes from it."""
    statement = (sa.update(table).where(table.c[key] == sa.bindparam("_key"))
                 .values({name: sa.bindparam(f"_{name}") for name in columns}))
    for rows in _rows(table, key, columns, where):
        op.get_bind().execute(statement, [
            {"_key": row[0], **{f"_{name}": value for name, value in change(row).items()}}
            for row in rows])


def _sealed_json(value: str | None, purpose: str) -> str | None:
    """JSON text sealed; JSON `null` (how an empty column used to read) becomes NULL."""
    if value is None or value.strip() == "null":
        return None
    return crypto.encrypt(value, purpose)


def _refuse_erased(table: str, column: str) -> None:
    erased = op.get_bind().execute(sa.text(
        f"SELECT count(*) FROM {table} WHERE {column} IS NULL")).scalar_one()
    if erased:
        raise RuntimeError(f"{erased} rows of {table} have had their {column} erased: the "
                           "revision below needs it in every row, so it cannot be restored")


def _secure_delete(on: bool) -> None:
    """SQLite: overwrite what is freed (the plain numbers) with zeros, not just unlink it."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"PRAGMA secure_delete = {'ON' if on else 'OFF'}")


def upgrade() -> None:
    _secure_delete(True)

    # application: room for the sealed NIK and the hashes, then the rows, then the index.
    op.drop_index("ix_application_nik", table_name="application")
    with op.batch_alter_table("application", naming_convention=_NAMES) as batch:
        batch.add_column(sa.Column("nik_hash", sa.String(length=_HASH), nullable=True))
        batch.add_column(sa.Column("consent_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("consent_version", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("erased_at", sa.DateTime(), nullable=True))
        batch.alter_column("nik", existing_type=sa.String(length=16),
                           type_=sa.String(length=_SEALED), nullable=True)
        batch.alter_column("active_nik", existing_type=sa.String(length=16),
                           type_=sa.String(length=_HASH), existing_nullable=True)
    _rewrite(_APPLICATION, "id", ["nik", "nik_hash", "active_nik"],
             _APPLICATION.c.nik.is_not(None), lambda row: {
                 "nik": crypto.encrypt(row.nik, "application.nik"),
                 "nik_hash": crypto.keyed_hash(row.nik, "nik"),
                 "active_nik": None if row.active_nik is None
                 else crypto.keyed_hash(row.active_nik, "nik")})
    op.create_index("ix_application_nik_hash", "application", ["nik_hash"])

    # family: the KK's keyed hash is unique in place of the KK.
    with op.batch_alter_table("family", naming_convention=_NAMES) as batch:
        batch.add_column(sa.Column("kk_hash", sa.String(length=_HASH), nullable=True))
        batch.drop_constraint("family_kk_key", type_="unique")
        batch.alter_column("kk", existing_type=sa.String(length=16),
                           type_=sa.String(length=_SEALED), nullable=True)
        batch.create_unique_constraint("family_kk_hash_key", ["kk_hash"])
    _rewrite(_FAMILY, "id", ["kk", "kk_hash"], _FAMILY.c.kk.is_not(None), lambda row: {
        "kk": crypto.encrypt(row.kk, "family.kk"), "kk_hash": crypto.keyed_hash(row.kk, "kk")})

    # phone_state: a dialogue's answers are sealed as a whole, so the column holds text.
    with op.batch_alter_table("phone_state") as batch:
        for name in ("answers", "prefill"):
            batch.alter_column(name, existing_type=sa.JSON(), type_=sa.Text(),
                               existing_nullable=True, postgresql_using=f"{name}::text")
    _rewrite(_PHONE_STATE, "phone", ["answers", "prefill"],
             sa.or_(_PHONE_STATE.c.answers.is_not(None), _PHONE_STATE.c.prefill.is_not(None)),
             lambda row: {"answers": _sealed_json(row.answers, "phone_state.answers"),
                          "prefill": _sealed_json(row.prefill, "phone_state.prefill")})

    _secure_delete(False)


def downgrade() -> None:
    _refuse_erased("application", "nik")
    _refuse_erased("family", "kk")

    _rewrite(_PHONE_STATE, "phone", ["answers", "prefill"],
             sa.or_(_PHONE_STATE.c.answers.is_not(None), _PHONE_STATE.c.prefill.is_not(None)),
             lambda row: {
                 "answers": None if row.answers is None
                 else crypto.decrypt(row.answers, "phone_state.answers"),
                 "prefill": None if row.prefill is None
                 else crypto.decrypt(row.prefill, "phone_state.prefill")})
    with op.batch_alter_table("phone_state") as batch:
        for name in ("answers", "prefill"):
            batch.alter_column(name, existing_type=sa.Text(), type_=sa.JSON(),
                               existing_nullable=True, postgresql_using=f"{name}::json")

    _rewrite(_FAMILY, "id", ["kk"], sa.true(),
             lambda row: {"kk": crypto.decrypt(row.kk, "family.kk")})
    with op.batch_alter_table("family", naming_convention=_NAMES) as batch:
        batch.drop_constraint("family_kk_hash_key", type_="unique")
        batch.drop_column("kk_hash")
        batch.alter_column("kk", existing_type=sa.String(length=_SEALED),
                           type_=sa.String(length=16), nullable=False)
        batch.create_unique_constraint("family_kk_key", ["kk"])

    # An active application's `active_nik` is its NIK again.
    _rewrite(_APPLICATION, "id", ["nik", "active_nik"], sa.true(), lambda row: {
        "nik": (nik := crypto.decrypt(row.nik, "application.nik")),
        "active_nik": None if row.active_nik is None else nik})
    op.drop_index("ix_application_nik_hash", table_name="application")
    with op.batch_alter_table("application", naming_convention=_NAMES) as batch:
        batch.drop_column("nik_hash")
        batch.drop_column("erased_at")
        batch.drop_column("consent_version")
        batch.drop_column("consent_at")
        batch.alter_column("nik", existing_type=sa.String(length=_SEALED),
                           type_=sa.String(length=16), nullable=False)
        batch.alter_column("active_nik", existing_type=sa.String(length=_HASH),
                           type_=sa.String(length=16), existing_nullable=True)
    op.create_index("ix_application_nik", "application", ["nik"])
