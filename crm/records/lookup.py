"""Lookup autocomplete: the records a lookup field may point at, found by what a user types.

A read service: the query starts from the scoped query layer (``crm.records.query.scoped``,
so the access policy's scope and the recycle bin apply) and matches only fields the user may
read (quick search over the searchable fields, and the name field when it is readable).
A term no index answers (one or two Latin characters) looks only through the
``listing.SHORT_SCAN_ROWS`` most recently changed records: typing a third character
searches them all. One or two characters of a script written without spaces (王伟) are
answered by the gram index, like the list's quick search.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_

from crm.access import policy
from crm.extensions import db
from crm.metadata import types
from crm.metadata.spec import EntitySpec
from crm.records import listing, present
from crm.records.query import scoped, table_of
from crm.schema import search

LIMIT = 10  # choices an autocomplete shows; typing more narrows them


def lookup_options(user: Any, spec: EntitySpec, q: str) -> list[tuple[int, str]]:
    """(id, record name) of at most ``LIMIT`` records of ``spec`` that ``user`` may read,
    most recently changed first: all of them for an empty ``q``, else those whose name or
    searchable fields contain ``q``. The caller checks that ``user`` may read ``spec``
    (``crm.records.views.entity_for``); raises nothing of its own."""
    table = table_of(spec)
    newest = (table.c.updated_at.desc(), table.c.id.desc())
    query = scoped(user, spec, "read")
    if q:
        dialect = db.session.get_bind().dialect.name
        name_field = spec.field(spec.name_field) if spec.name_field else None
        readable = {f.key for f in policy.visible_fields(user, spec, "read")}
        # The name field is matched on its own only when quick search does not look in it:
        # then no index answers it, and a short term scans (boundedly) for it.
        by_name = (
            name_field is not None
            and name_field.key in readable
            and name_field.key not in {f.key for f in search.search_fields(spec)}
        )
        short = listing.short_search(dialect, q) or (by_name and len(q) < search.MIN_TRIGRAM)
        if short:  # a scan: of the most recent rows only
            bound, _ = listing.scan_bound(query, [table.c.updated_at, table.c.id], ["desc", "desc"])
            query = query.where(*bound)
        conditions = [listing.search_condition(user, spec, table, q, dialect, ordered=True)]
        if by_name:
            conditions.append(
                types.build_filter(
                    name_field, table.c[name_field.key], "contains", q, dialect_name=dialect
                )
            )
        query = query.where(or_(*conditions))
    rows = db.session.execute(query.order_by(*newest).limit(LIMIT)).mappings()
    return [(r["id"], present.record_name(spec, r, user)) for r in rows]
