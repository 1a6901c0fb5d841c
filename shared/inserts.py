"""New rows written with Core INSERT statements, past the ORM's unit of work.

For rows written once and never changed again in the session (a new item, its tags, an
outbox event) a Core INSERT costs a fraction of `session.add` + flush; on PostgreSQL the rows
of several tables go in one statement, so a new item costs one round trip.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Table, bindparam, insert, inspect
from sqlalchemy.orm import Session

from shared.db import Base, is_postgres

Rows = tuple[Table, list[dict[str, Any]]]


def rows_of(objects: list[Any]) -> Rows | None:
    """The table and column values of new ORM objects of one class (they stay transient)."""
    if not objects:
        return None
    mapper = inspect(type(objects[0]))
    return mapper.local_table, [
        {
            prop.columns[0].key: state.dict[prop.key]
            for prop in mapper.column_attrs
            if prop.key in state.dict
        }
        for state in map(inspect, objects)
    ]


def insert_rows(session: Session, writes: list[Rows | None]) -> None:
    """INSERT rows into several tables, in order, in the session's transaction.

    On PostgreSQL in one statement and one round trip: all but the last table's rows as
    data-modifying CTEs (foreign keys are checked at the end of the statement), each table's
    rows as one multi-row VALUES. Elsewhere one statement per table.
    """
    writes = [(table, rows) for table, rows in filter(None, writes) if rows]
    if not writes:
        return
    shape = tuple((table.name, tuple(rows[0]), len(rows)) for table, rows in writes)
    same_keys = all(
        tuple(row) == keys
        for (_, keys, _), (_, rows) in zip(shape, writes, strict=False)
        for row in rows
    )
    if not is_postgres(session) or not same_keys:
        for table, rows in writes:
            session.execute(_insert(table), rows[0] if len(rows) == 1 else rows)
        return
    sql, processors = _combined_insert(session.get_bind().dialect, shape)
    params = {}
    for number, (_, rows) in enumerate(writes):
        for row_number, row in enumerate(rows):
            for key, value in row.items():
                name = f"p{number}_{row_number}_{key}"
                process = processors.get(name)
                params[name] = process(value) if process else value
    session.connection().exec_driver_sql(sql, params)


@functools.cache
def _insert(table: Table) -> Any:
    # Built once: a statement made per call costs more to build than to run.
    return insert(table)


@functools.lru_cache(maxsize=64)
def _combined_insert(dialect: Any, shape: tuple) -> tuple[str, dict[str, Any]]:
    # Compiled once per shape (tables, columns, row counts) and dialect: SQLAlchemy's own
    # statement cache does not take data-modifying CTEs.
    parts = [
        insert(Base.metadata.tables[name]).values(
            [
                {
                    key: bindparam(
                        f"p{number}_{row}_{key}", type_=Base.metadata.tables[name].c[key].type
                    )
                    for key in keys
                }
                for row in range(count)
            ]
        )
        for number, (name, keys, count) in enumerate(shape)
    ]
    statement = parts[-1]
    for number, part in enumerate(parts[:-1]):
        statement = statement.add_cte(part.cte(f"write_{number}"))
    compiled = statement.compile(dialect=dialect)
    processors = {
        name: process
        for name, bind in compiled.binds.items()
        if (process := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
    }
    return str(compiled), processors


__all__ = ["Rows", "insert_rows", "rows_of"]
