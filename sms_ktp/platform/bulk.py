"""Writing many rows at once, at the driver's speed: COPY on PostgreSQL, one plain executemany on
SQLite.

A day's pickup allocation writes tens of thousands of rows. Through SQLAlchemy's executemany each
row's parameters are built and converted one by one, which costs more than the database's own
work. Here each column's conversion is looked up once, and a value seen before (the few slot
times shared by thousands of cards) is converted once; except an encrypted column's, whose every
value needs a nonce of its own. A keyed-hash column filled from another column by an INSERT
(`models.hash_column`) is filled here too, as SQLAlchemy's INSERT would.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Table


def insert_rows(connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert `rows` (every one with the same keys, column names of `table`) in the caller's
    transaction."""
    if not rows:
        return
    given = list(rows[0])
    derived = [(column.name, column.info["hash_of"]) for column in table.columns
               if column.info.get("hash_of") in given and column.default is not None
               and column.name not in given]
    names = given + [name for name, _ in derived]
    pick = itemgetter(*given, *(source for _, source in derived))
    values: list[Any] = [pick(row) for row in rows]
    if len(names) == 1:
        values = [(value,) for value in values]
    converting = [(index, convert) for index, name in enumerate(names)
                  if (convert := _converter(connection, table, name)) is not None]
    if converting:
        values = [_converted(row, converting) for row in values]
    preparer = connection.dialect.identifier_preparer
    target = preparer.format_table(table)
    columns = ", ".join(preparer.quote(name) for name in names)
    if connection.dialect.name == "postgresql":
        copy_rows(connection, f"COPY {target} ({columns}) FROM STDIN", values)
    else:
        marks = ", ".join("?" for _ in names)
        connection.exec_driver_sql(f"INSERT INTO {target} ({columns}) VALUES ({marks})", values)


def copy_rows(connection: Connection, statement: str, values: list[Any]) -> None:
    """PostgreSQL's COPY through the connection's own psycopg connection (in its transaction)."""
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(statement) as copy:
        for row in values:
            copy.write_row(row)
    cursor.close()


def _converted(row: tuple[Any, ...], converting: list[tuple[int, Callable[[Any], Any]]]
               ) -> tuple[Any, ...]:
    values = list(row)
    for index, convert in converting:
        values[index] = convert(values[index])
    return tuple(values)


def _converter(connection: Connection, table: Table, name: str) -> Callable[[Any], Any] | None:
    """The column's bind conversion for this dialect (None: the driver takes the value as it
    is), remembering what it returned for values seen before (only hashable ones, and never
    a ciphertext)."""
    dialect = connection.dialect
    kind = table.c[name].type
    process = kind.dialect_impl(dialect).bind_processor(dialect)
    if process is None or getattr(kind, "randomized", False):
        return process
    seen: dict[Any, Any] = {None: None}

    def convert(value: Any) -> Any:
        try:
            return seen[value]
        except KeyError:
            seen[value] = converted = process(value)
            return converted
        except TypeError:  # unhashable
            return process(value)

    return convert
