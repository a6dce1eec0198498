"""The keys of the encryption at rest (docs/privacy.md, "Encryption at rest"): what `sms-ktp privacy
rotate-key` does (its options are read in `sms_ktp.cli.privacy`).

`rotate-key` seals again, under the current `[privacy] data_key`, every stored value sealed under
another key. It works in batches of short transactions, so the service may keep running (restart
it with the new key first, or its processes keep sealing under the old one). A value changed by
the service meanwhile is left as the service wrote it, and running the command again does only
what is left. With `--lookup` every keyed hash is also made again under a new lookup key, in one
transaction, with the service stopped: until every process uses the new key, its lookups find
nothing. `rotate` returns the exit status: 0 done, 1 values left that no configured key opens.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Column,
    Connection,
    String,
    Table,
    bindparam,
    column,
    func,
    select,
    table,
    type_coerce,
)
from sqlmodel import SQLModel
from tqdm import tqdm

from sms_ktp import crypto
from sms_ktp.applications import document_files
from sms_ktp.models import EncryptedJSON, EncryptedString, KeyedHash
from sms_ktp.platform import audit

if TYPE_CHECKING:  # the runtime passes itself in
    from sms_ktp.runtime import Runtime

BATCH = 500  # rows a transaction


@dataclass(frozen=True)
class Sealed:
    """An encrypted column, and the primary key of its table."""

    table: Table
    column: Column[Any]

    @property
    def key(self) -> Column[Any]:
        [key] = self.table.primary_key.columns
        return key

    @property
    def name(self) -> str:
        return f"{self.table.name}.{self.column.name}"


def sealed_columns() -> list[Sealed]:
    return [Sealed(t, c) for t in SQLModel.metadata.sorted_tables for c in t.columns
            if isinstance(c.type, EncryptedString | EncryptedJSON)]


def hash_columns() -> list[tuple[Table, Column[Any]]]:
    return [(t, c) for t in SQLModel.metadata.sorted_tables for c in t.columns
            if isinstance(c.type, KeyedHash)]


def rotate(runtime: Runtime, actor: str, batch: int = BATCH, new_lookup: str | None = None,
           *, shown: bool = False) -> int:
    """Every value sealed again under the current data key, then, given `new_lookup` (checked
    by `new_lookup_key_problem`), every keyed hash made again under it; `shown`: the key was
    made here and is printed once. The exit status: 1 when some value opens with no configured
    key (and the keyed hashes, made from the numbers, are then left as they are)."""
    status = rotate_data_key(runtime, actor, batch)
    if new_lookup and status:
        print("sms-ktp: keyed hashes not made again: they are made from the numbers, which "
              "must all open first", file=sys.stderr)
    elif new_lookup:
        rotate_lookup_key(runtime, actor, new_lookup, shown=shown)
    return status


def new_lookup_key_problem(new_lookup: str) -> str | None:
    """Why `new_lookup` cannot be the new lookup key, or None."""
    try:
        key = crypto.parse_key(new_lookup, "the new lookup key")
    except crypto.PrivacyKeyError as error:
        return str(error)
    ring = crypto.ring()
    if key == ring.lookup:
        return "the new lookup key is the one configured now"
    if crypto.key_id(key) in ring.ciphers:
        return "the new lookup key must differ from the data keys"
    return None


def rotate_data_key(runtime: Runtime, actor: str, batch: int = BATCH) -> int:
    """Seal under the current key what other keys sealed; 1 when some value opens with no
    configured key."""
    ring = crypto.ring()
    others = sorted(set(ring.ciphers) - {ring.current})
    print(f"data key {ring.current}" + (f"; previous keys {', '.join(others)}" if others else
                                         "; no previous key configured"))
    done: dict[str, int] = {}
    unreadable: dict[str, int] = {}
    for sealed in sealed_columns():
        done[sealed.name], unreadable[sealed.name] = _reseal(runtime, sealed, ring, batch)
        line = f"  {sealed.name}: {done[sealed.name]} encrypted again"
        if unreadable[sealed.name]:
            line += f", {unreadable[sealed.name]} under a key not configured (left as they are)"
        print(line)
    # Signed PDFs are bytes, megabytes each: sealed again one at a time.
    files = "document_file.content"
    done[files], unreadable[files] = document_files.reseal(runtime.db.connect, ring)
    print(f"  {files}: {done[files]} encrypted again" + (
        f", {unreadable[files]} under a key not configured (left as they are)"
        if unreadable[files] else ""))
    left = sum(_count_not_current(runtime, sealed, ring) for sealed in sealed_columns())
    with runtime.db.connect() as connection:
        left += document_files.files_not_current(connection, ring)
    with runtime.db.connect() as connection:
        audit.record(connection, runtime.clock.now(), actor, "privacy.rotate_key",
                     f"data key {ring.current}",
                     ", ".join(f"{name} {count}" for name, count in done.items())
                     + f"; left under other keys {left}")
    if sum(unreadable.values()):
        print(f"{sum(unreadable.values())} values are under a key that is neither data_key nor "
              "in previous_data_keys: add that key to previous_data_keys and run again",
              file=sys.stderr)
        return 1
    if left:
        print(f"{left} values are still under other keys (written meanwhile by a process still "
              "running with the old data key?): restart every process, then run again")
    else:
        print(f"every value is under data key {ring.current}: the previous keys may now be "
              "removed from [privacy] previous_data_keys")
    return 0


def _raw(sealed: Sealed) -> Any:
    """The column as stored (the ciphertext), not opened by its type."""
    return type_coerce(sealed.column, String)


def _not_current(sealed: Sealed, ring: crypto.KeyRing) -> Any:
    return _raw(sealed).is_not(None) & ~_raw(sealed).startswith(
        f"{crypto.VERSION}:{ring.current}:", autoescape=True)


def _pages(connection_of: Any, sealed: Sealed, ring: crypto.KeyRing,
           batch: int) -> Iterator[list[Any]]:
    after = None
    while True:
        query = (select(sealed.key, _raw(sealed).label("stored"))
                 .where(_not_current(sealed, ring)).order_by(sealed.key).limit(batch))
        if after is not None:
            query = query.where(sealed.key > after)
        with connection_of() as connection:
            rows = connection.execute(query).all()
        if not rows:
            return
        yield rows
        after = rows[-1][0]


def _reseal(runtime: Runtime, sealed: Sealed, ring: crypto.KeyRing,
            batch: int) -> tuple[int, int]:
    """(values sealed again, values no configured key opens) of one column, a batch a
    transaction. A row is written only if it still holds what was read (compare and set): the
    service may have changed it meanwhile, and then it is already under the current key."""
    target = table(sealed.table.name, column(sealed.key.name), column(sealed.column.name))
    key, value = target.c[sealed.key.name], target.c[sealed.column.name]
    done = unreadable = 0
    # A bar on a terminal only (tqdm's disable=None): a log reads the line printed after it.
    with tqdm(total=_count_not_current(runtime, sealed, ring), desc=sealed.name,
              unit=" values", disable=None, leave=False) as bar:
        for rows in _pages(runtime.db.connect, sealed, ring, batch):
            with runtime.db.connect() as connection:
                for row in rows:
                    try:
                        plain = ring.decrypt(row.stored, sealed.name)
                    except crypto.DecryptionError:
                        unreadable += 1
                        continue
                    done += connection.execute(
                        target.update().where(key == row[0], value == row.stored)
                        .values({value.name: ring.encrypt(plain, sealed.name)})).rowcount
            bar.update(len(rows))
    return done, unreadable


def _count_not_current(runtime: Runtime, sealed: Sealed, ring: crypto.KeyRing) -> int:
    with runtime.db.connect() as connection:
        return connection.execute(select(func.count()).select_from(sealed.table)
                                  .where(_not_current(sealed, ring))).scalar_one()


def rotate_lookup_key(runtime: Runtime, actor: str, new_key: str, *, shown: bool) -> None:
    """Every keyed hash made again under `new_key` from the number it hashes, in one transaction
    (no lookup ever sees two keys mixed). A hash whose number is gone (erased) is cleared."""
    current = crypto.ring()
    new = crypto.KeyRing(current.current, current.ciphers,
                         crypto.parse_key(new_key, "the new lookup key"))
    counts: dict[str, int] = {}
    with runtime.db.connect() as connection:
        for hashed_table, hashed in hash_columns():
            counts[f"{hashed_table.name}.{hashed.name}"] = _rehash(connection, hashed_table,
                                                                   hashed, new)
        audit.record(connection, runtime.clock.now(), actor, "privacy.rotate_lookup_key",
                     f"lookup key {crypto.key_id(new.lookup)}",
                     ", ".join(f"{name} {count}" for name, count in counts.items()))
    for name, count in counts.items():
        print(f"  {name}: {count} keyed hashes made again")
    where = ("the new lookup key (keep it secret; it is not stored anywhere else):\n"
             f"  {new_key}\n" if shown else "the new lookup key ")
    print(f"Put {where}into [privacy] lookup_key (or SMS_KTP_LOOKUP_KEY) before starting the "
          "service again: until then its lookups by NIK and KK find nothing.")


def _rehash(connection: Connection, hashed_table: Table, hashed: Column[Any],
            ring: crypto.KeyRing, batch: int = 2000) -> int:
    """One keyed-hash column made again, `batch` rows at a time (within the caller's
    transaction): from the number in its source column, opened by the column's type."""
    [key] = hashed_table.primary_key.columns
    source = hashed_table.c[hashed.info["hash_of"]]
    purpose = hashed.type.purpose
    target = table(hashed_table.name, column(key.name), column(hashed.name))
    statement = target.update().where(target.c[key.name] == bindparam("_key")).values(
        {hashed.name: bindparam("_hash")})
    done, after = 0, None
    while True:
        query = (select(key, source).where(type_coerce(hashed, String).is_not(None))
                 .order_by(key).limit(batch))
        if after is not None:
            query = query.where(key > after)
        rows = connection.execute(query).all()
        if not rows:
            return done
        connection.execute(statement, [
            {"_key": row[0], "_hash": None if row[1] is None else ring.keyed_hash(row[1], purpose)}
            for row in rows])
        done, after = done + len(rows), rows[-1][0]
