"""Bulk inserts for imports: PostgreSQL's COPY, or the driver's executemany on SQLite.

SQLAlchemy's generic executemany spends more time building parameters than the database
spends storing the rows; imports of member files go through here instead. Values are given
in the table's column order as Python values; the column types' own bind processors turn
them into what the driver stores (dates, JSON), so rows read back exactly as ORM ones.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    String,
    Table,
    any_,
    bindparam,
    func,
    literal_column,
    select,
)
from sqlalchemy.types import JSON

__all__ = ["bulk_insert", "one_of"]

_UNSET = object()


def one_of(connection: Connection, column: Any, values: Sequence[Any]) -> ColumnElement[bool]:
    """`column IN (values)` for a batch of thousands of values, as one parameter.

    `column = ANY(:array)` on PostgreSQL, `column IN (SELECT value FROM json_each(:json))` on
    SQLite: an IN list of 5,000 parameters costs more to build, send and plan than the look-up.
    """
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        array = bindparam(None, list(values), type_=ARRAY(column.type))
        return column == any_(array)  # type: ignore[no-any-return]
    if connection.dialect.name == "sqlite":  # one JSON parameter, unpacked by SQLite itself
        unpacked: Select[Any] = select(literal_column("value")).select_from(
            func.json_each(bindparam(None, json.dumps(list(values)), type_=String()))
        )
        return column.in_(unpacked)  # type: ignore[no-any-return]
    return column.in_(values)  # type: ignore[no-any-return]


def bulk_insert(
    connection: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert `rows` (tuples in `columns` order) into `table` within the current transaction."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        _copy(connection, table, columns, rows)
    elif connection.dialect.paramstyle == "qmark":
        _executemany(connection, table, columns, rows)
    else:  # any other driver: SQLAlchemy's own executemany
        connection.execute(table.insert(), [dict(zip(columns, row, strict=True)) for row in rows])


def _copy(
    connection: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    from psycopg import sql  # imported here: only PostgreSQL deployments need psycopg

    json_columns = [isinstance(table.c[name].type, JSON) for name in columns]
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    )
    raw = connection.connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
        for row in rows:
            copy.write_row(
                [json.dumps(v) if is_json and v is not None else v
                 for v, is_json in zip(row, json_columns, strict=True)]
            )  # fmt: skip


def _executemany(
    connection: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    # The dialect's own type (SQLite's DATETIME, not the generic DateTime, which has no
    # processor and would leave dates to the driver's deprecated adapters).
    processors: list[Callable[[Any], Any] | None] = [
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns
    ]
    marks = ", ".join("?" for _ in columns)
    # Identifiers come from the schema (quoted); every value is a bound parameter.
    names = ", ".join(quote(c) for c in columns)
    statement = f"INSERT INTO {quote(table.name)} ({names}) VALUES ({marks})"  # noqa: S608
    converted = [(i, p) for i, p in enumerate(processors) if p is not None]
    if converted:  # convert only the columns that need it (dates, JSON, enums)
        # A batch repeats the same object (the import's timestamp, an empty dict) in a
        # column: converted once, by identity.
        last: list[tuple[Any, Any]] = [(_UNSET, None) for _ in converted]
        converted_rows = []
        for row in rows:
            values = list(row)
            for n, (index, processor) in enumerate(converted):
                value = values[index]
                seen, result = last[n]
                if value is not seen:
                    result = processor(value)
                    last[n] = (value, result)
                values[index] = result
            converted_rows.append(tuple(values))
        rows = converted_rows
    connection.exec_driver_sql(
        statement, [row if isinstance(row, tuple) else tuple(row) for row in rows]
    )
