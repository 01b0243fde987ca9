"""Explicit bind names for the values a statement writes into a record table.

SQLAlchemy names the value of ``insert(t).values(x=1)`` / ``update(t).values(x=1)`` after
its column (``:x``), and the values of the statement's conditions after their column plus
a number (``version == 5`` -> ``:version_1``; ``id_1``, ``param_1`` likewise). Record
columns are named by administrators, so a field keyed ``version_1`` or ``id_1`` would take
one of the generated names and the statement would not compile.

Every statement that writes records passes its values through ``assign`` (or
``assign_many``): each value is bound as ``NEW_<key>``. Keys and every name SQLAlchemy
makes from them are lower case, so an upper-case prefix can be neither a column key nor a
generated name; keys are unique within a table, so the names are unique in a statement.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import BindParameter, Column, Table, bindparam
from sqlalchemy.sql import ClauseElement

BIND_PREFIX = "NEW_"


def bind_name(key: str) -> str:
    """The explicit bind name of the new value of column ``key`` (``NEW_version_1``)."""
    return BIND_PREFIX + key


def assign(table: Table, values: Mapping[Any, Any] | None = None, /, **more: Any) -> dict:
    """``values`` and ``more`` (column or column key -> value) for ``insert(table).values()``
    or ``update(table).values()``: each plain value bound under ``bind_name`` of its column,
    SQL expressions (``table.c.version + 1``) kept as they are."""
    out: dict[Column, Any] = {}
    for key, value in [*(values or {}).items(), *more.items()]:
        col = table.c[key.key if isinstance(key, Column) else key]
        if isinstance(value, ClauseElement):
            out[col] = value
        else:
            out[col] = bindparam(bind_name(col.key), value, type_=col.type)
    return out


def assign_many(table: Table, keys: Iterable[str]) -> dict[Column, BindParameter]:
    """``.values()`` of an INSERT executed with many rows (``named_rows(rows, keys)``): one
    explicit bind per column of ``keys``."""
    return {table.c[k]: bindparam(bind_name(k), type_=table.c[k].type) for k in keys}


def named_rows(rows: Iterable[Mapping[str, Any]], keys: Iterable[str]) -> list[dict[str, Any]]:
    """Rows keyed by column key, keyed by ``bind_name`` instead, with every one of ``keys``
    (empty where a row has none), for ``assign_many(table, keys)``."""
    keys = tuple(keys)
    return [{bind_name(k): row.get(k) for k in keys} for row in rows]
