"""Record lists: a view (columns, sort, filters) plus the user's own filters and quick
search, read one page at a time.

- Every key comes from the entity spec (through ``crm.metadata.list_views``): an unknown
  or hidden field, or a bad operator or value, is a ``ValidationFailed`` (a 400), never SQL.
- Pages use keyset pagination (``after`` = the last row's sort values), so page 1,000 costs
  what page 1 costs; there is no exact ``count(*)`` on a page view.
- Quick search never scans without bound: a term the search index answers is read through
  it (a common one by walking the list's order, see ``search_condition``), as is a one- or
  two-character term in a script written without spaces (the gram index); another shorter
  term (no trigram) reads at most SHORT_SCAN_ROWS rows in the list's order per request,
  and the page says so ("type at least 3 characters"), offering to look further.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from types import MappingProxyType
from typing import Any, NamedTuple

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    ColumnElement,
    and_,
    column,
    false,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    union_all,
)

from crm.access import policy
from crm.errors import ValidationFailed
from crm.extensions import db
from crm.metadata import list_views as views
from crm.metadata import types
from crm.metadata.list_views import FilterSpec, ListViewSpec
from crm.metadata.spec import EntitySpec, FieldSpec
from crm.records.query import scoped, scoped_branches, table_of
from crm.schema import search

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
COUNT_CAP = 10_000
MAX_QUERY = 200
# A term too short for the trigram index is matched by a scan: at most this many rows, in
# the list's order, per request (page or count), so no search holds a worker for long.
SHORT_SCAN_ROWS = 20_000
# SQLite: a term with more index matches than this is common: the page walks the list's
# order and tests each row against the match set instead of fetching and sorting them all.
COMMON_MATCHES = 2_000


@dataclass(frozen=True)
class ListRequest:
    """What the user asked for, already validated against the spec."""

    view: ListViewSpec
    filters: tuple[FilterSpec, ...] = ()
    sort: tuple[tuple[str, str], ...] = ()
    q: str = ""
    after: tuple | None = None
    size: int = PAGE_SIZE

    @property
    def effective_sort(self) -> tuple[tuple[str, str], ...]:
        return self.sort or self.view.sort or (("updated_at", "desc"),)


@dataclass
class ListPage:
    columns: tuple[FieldSpec, ...]
    rows: list[Mapping[str, Any]]  # id, version, owner_id, the columns and the sort keys
    request: ListRequest
    more: bool = False  # records follow this page
    last_keys: tuple = ()  # the sort keys of the last row, when ``more``
    # A short search stopped after SHORT_SCAN_ROWS rows: ``last_keys`` are those of the
    # last row read (not shown), so "Show more" looks further from there.
    partial: bool = False
    scanned: int = 0  # then: how many rows were read (SHORT_SCAN_ROWS)

    @cached_property
    def next_after(self) -> str | None:
        """The cursor of the next page (encoded only when asked: a related list only
        wants to know whether there is more)."""
        return encode_cursor(self.last_keys) if self.more else None

    users: dict[int, str] = field(default_factory=dict)


def readable_fields(user: Any, spec: EntitySpec) -> Mapping[str, FieldSpec]:
    """Fields (and spine pseudo-fields) ``user`` may read, by key: what lists may show,
    sort and filter by (worked out once per rights and metadata version)."""

    def work_out() -> Mapping[str, FieldSpec]:
        fields = {f.key: f for f in policy.visible_fields(user, spec, "read")}
        fields.update({f.key: f for f in views.SPINE_FIELDS})
        return MappingProxyType(fields)

    return policy.remembered(user, ("readable_fields", spec.key), spec, work_out)


def parse_request(
    user: Any, spec: EntitySpec, args: Mapping[str, Any], view: ListViewSpec
) -> ListRequest:
    """Read ``sort``, ``q``, ``after``, ``size`` and ``f.<field>.<op>`` arguments.

    ``ValidationFailed`` for anything that does not name a visible field, a valid operator
    or a parsable value."""
    visible = readable_fields(user, spec)
    errors: list[str] = []
    filters: list[FilterSpec] = []
    keys = args.keys() if hasattr(args, "keys") else []
    for name in keys:
        if not name.startswith("f."):
            continue
        rest = name.partition(".")[2]
        key, _sep, op = rest.partition(".")
        if key not in visible:
            errors.append(_("There is no field “%(key)s” to filter by.", key=key[:50]))
            continue
        values = args.getlist(name) if hasattr(args, "getlist") else [args[name]]
        values = [v for v in values if v is not None]
        value: Any = (
            values
            if len(values) > 1 or op in ("in", "not_in", "contains_any", "between")
            else (values[0] if values else None)
        )
        spec_f, problems = views.check_filter(spec, {"field": key, "op": op, "value": value})
        if problems:
            errors.extend(problems)
        elif spec_f is not None:
            filters.append(spec_f)
    sort: list[tuple[str, str]] = []
    raw_sort = args.get("sort") or ""
    if raw_sort:
        for item in str(raw_sort).split(",")[: views.MAX_SORT]:
            direction = "desc" if item.startswith("-") else "asc"
            key = item.lstrip("-")
            f = visible.get(key)
            if f is None or not views.can_sort(f):
                errors.append(_("The list cannot be sorted by “%(key)s”.", key=key[:50]))
            else:
                sort.append((key, direction))
    q = str(args.get("q") or "").strip()
    if len(q) > MAX_QUERY:
        errors.append(_("Search for at most %(num)d characters.", num=MAX_QUERY))
    try:
        size = int(args.get("size") or PAGE_SIZE)
    except ValueError:
        size = PAGE_SIZE
    size = max(1, min(size, MAX_PAGE_SIZE))
    after = None
    if args.get("after"):
        after = decode_cursor(str(args.get("after")))
        if after is None:
            errors.append(str(STALE_CURSOR))
    if errors:
        raise ValidationFailed(" ".join(errors), errors={"list": errors})
    if any(f.field not in visible for f in view.filters):
        # A shared view may filter by a field hidden from this user: they can neither see
        # it nor be filtered by it (which would tell its values), so the view drops it.
        view = replace(view, filters=tuple(f for f in view.filters if f.field in visible))
    return ListRequest(
        view=view, filters=tuple(filters), sort=tuple(sort), q=q, after=after, size=size
    )


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"d": str(value)}
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, date):
        return {"a": value.isoformat()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "d" in value:
            return Decimal(value["d"])
        if "t" in value:
            return datetime.fromisoformat(value["t"])
        if "a" in value:
            return date.fromisoformat(value["a"])
    return value


def encode_cursor(values: tuple) -> str:
    raw = json.dumps([_encode(v) for v in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(token: str) -> tuple | None:
    """The sort values of a page link, or None when it was tampered with or is stale."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) > 4:
            return None
        return tuple(_decode(v) for v in values)
    except (ValueError, TypeError, KeyError, ArithmeticError):  # decimal.InvalidOperation
        return None


STALE_CURSOR = _l("This page link is no longer valid; start from the first page.")
MAX_BIGINT = 2**63 - 1


def _fits(column, value: Any) -> bool:
    """Whether ``value`` (decoded from a page link) can stand for a value of ``column``:
    the column's Python type, finite, within 64 bits, text the databases can hold."""
    if value is None:
        return column.nullable
    try:
        expected = column.type.python_type
    except NotImplementedError:
        return False
    if isinstance(value, bool) or expected is bool:
        return isinstance(value, bool) and expected is bool
    if expected is int:
        return isinstance(value, int) and -MAX_BIGINT - 1 <= value <= MAX_BIGINT
    if expected is Decimal:
        return isinstance(value, (Decimal, int)) and Decimal(value).is_finite()
    if expected is float:
        return isinstance(value, (int, float)) and abs(value) != float("inf") and value == value
    if expected is datetime:
        return isinstance(value, datetime) and (value.tzinfo is None) != bool(
            getattr(column.type, "timezone", False)
        )
    if expected is date:
        return isinstance(value, date) and not isinstance(value, datetime)
    if expected is str:
        if not isinstance(value, str) or "\x00" in value:
            return False
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate
            return False
        return True
    return isinstance(value, expected)


def check_cursor(columns, values: tuple) -> None:
    """Raise ``ValidationFailed`` (400) unless ``values`` (a decoded page link) holds one
    value of the right type for each of the sort ``columns``: a forged, foreign or stale
    link never reaches the database."""
    if len(values) != len(columns) or not all(
        _fits(c, v) for c, v in zip(columns, values, strict=True)
    ):
        stale = str(STALE_CURSOR)
        raise ValidationFailed(stale, errors={"after": [stale]})


def _after_condition(columns, directions, values):
    """Rows that come after ``values`` in ``ORDER BY col IS NULL, col [dir] ..., id [dir]``
    (empty values sort last whichever the direction)."""
    branches = []
    for i, (col, direction, value) in enumerate(zip(columns, directions, values, strict=True)):
        equal_before = [
            (c.is_(None) if v is None else c == v)
            for c, v in zip(columns[:i], values[:i], strict=True)
        ]
        if value is None:  # nothing sorts after an empty value except by a later key
            after = false()
        else:
            # a literal of the column's type: booleans compare too (SQLAlchemy refuses a
            # bare True / False beside ``>``)
            bound = literal(value, col.type)
            beyond = col > bound if direction == "asc" else col < bound
            after = or_(beyond, col.is_(None)) if col.nullable else beyond
        branches.append(and_(*equal_before, after))
    return or_(*branches)


def _filter_conditions(user, spec, table, filters, dialect):
    conditions = []
    visible = readable_fields(user, spec)  # remembered: no second working out
    for f in filters:
        field_spec = visible[f.field]
        column = table.c[f.field]
        conditions.append(
            types.build_filter(
                field_spec,
                column,
                f.op,
                f.value,
                dialect_name=dialect,
                user_id=getattr(user, "id", None),
            )
        )
    return conditions


def list_conditions(user: Any, spec: EntitySpec, request: ListRequest) -> list:
    """The SQL conditions of a list's view filters, the user's own filters and its quick
    search, for another reader of the same records (a board): what the list shows, minus
    its order and paging. A short search is not bounded here: the caller bounds its rows."""
    table = table_of(spec)
    dialect = db.session.get_bind().dialect.name
    conditions = _filter_conditions(
        user, spec, table, (*request.view.filters, *request.filters), dialect
    )
    if request.q:
        conditions.append(search_condition(user, spec, table, request.q, dialect))
    return conditions


def search_condition(user, spec, table, q: str, dialect: str, *, ordered: bool = False):
    """Quick search: a searchable field the user may see contains ``q``.

    An index answers when it can (``crm.schema.search.index_match``): SQLite's FTS5 trigram
    table (a phrase MATCH limited to the visible columns) for three characters or more,
    and on both engines the gram index for one or two characters of a script written
    without spaces (王伟, 华为); PostgreSQL's ILIKE uses the GIN trigram indexes (its planner
    chooses between them and walking the sort index). A short Latin term falls back to a
    scan: callers bound it (``short_search``).

    ``ordered``: the query reads a page in the list's order. On SQLite a common term
    (more than COMMON_MATCHES matches, found cheaply: the index yields them in rowid
    order and the probe stops there) is then written so that the table is walked in the
    sort index's order and each row tested against the match set (``id + 0 IN``: the
    rowid lookup is disabled), which stops after a page instead of fetching and sorting
    every match. A rare term drives the query from its few matches.
    """
    visible = {f.key for f in policy.visible_fields(user, spec, "read")}
    fields = [f for f in search.search_fields(spec) if f.key in visible]
    if not fields:
        return false()
    contains = [
        types.build_filter(f, table.c[f.key], "contains", q, dialect_name=dialect) for f in fields
    ]
    match = search.index_match(spec, table, fields, q, dialect)
    if dialect == "postgresql":
        # The gram index finds the rows; the substring test beside it is what a walk of
        # the list's order evaluates first (cheap, and exact), and it sharpens the
        # planner's estimate. Both are planned for this term (``search.planned_per_term``).
        found = or_(*contains) if match is None else and_(match.condition, or_(*contains))
        return search.planned_per_term(found)
    if match is None:
        return or_(*contains)
    found = match.condition
    if match.ids is not None:
        if ordered and _common(match.ids):
            found = (table.c.id + 0).in_(match.ids)
        else:
            found = table.c.id.in_(match.ids)
    return found if match.exact else and_(found, or_(*contains))


def _common(matching) -> bool:
    """More than COMMON_MATCHES index matches (steps over at most that many, no count)."""
    return db.session.scalar(matching.offset(COMMON_MATCHES).limit(1)) is not None


def short_search(dialect: str, q: str) -> bool:
    """True when no index answers ``q`` (shorter than a trigram, with no character of a
    script written without spaces, on either engine): the search is a scan, bounded by
    SHORT_SCAN_ROWS."""
    return search.short_term(q)


def _order_by(sort_cols, directions) -> list:
    order = []
    for col, direction in zip(sort_cols, directions, strict=True):
        if col.nullable:  # empty values last; NOT NULL columns (id, timestamps) skip it,
            order.append(col.is_(None))  # which lets an index deliver the order
        order.append(col.asc() if direction == "asc" else col.desc())
    return order


def _search_columns(user, spec) -> list[str]:
    visible = {f.key for f in policy.visible_fields(user, spec, "read")}
    return [f.key for f in search.search_fields(spec) if f.key in visible]


def list_page(
    user: Any,
    spec: EntitySpec,
    request: ListRequest,
    *,
    action: str = "read",
    within: ColumnElement | None = None,
) -> ListPage:
    """One page of records, scoped by the access policy for ``action`` (an export asks
    for "export": the records the user may export, not only read). ``within``: a
    condition of the caller's, e.g. that the record a related list hangs off is readable."""
    table = table_of(spec)
    dialect = db.session.get_bind().dialect.name
    visible = readable_fields(user, spec)
    columns = tuple(visible[k] for k in request.view.columns if k in visible)
    sort = [(k, d) for k, d in request.effective_sort if k in visible]
    # Only what the page shows (and its cursor needs): a sort over thousands of matching
    # rows moves narrow rows, and hidden fields are never read.
    wanted = dict.fromkeys(("id", "version", "owner_id", *(c.key for c in columns)))
    wanted.update(dict.fromkeys(k for k, _ in sort))
    shown = [table.c[k] for k in wanted]
    conditions = _filter_conditions(
        user, spec, table, (*request.view.filters, *request.filters), dialect
    )
    if within is not None:
        conditions.append(within)
    sort_cols = [table.c[k] for k, _ in sort] + [table.c.id]
    directions = [d for _, d in sort] + [sort[-1][1] if sort else "desc"]
    if request.after is not None:
        check_cursor(sort_cols, request.after)
        conditions.append(_after_condition(sort_cols, directions, request.after))
    if short_search(dialect, request.q):
        query = scoped(user, spec, action, columns=shown)
        return _short_page(user, spec, request, query, conditions, sort_cols, directions, columns)
    if request.q:
        conditions.append(search_condition(user, spec, table, request.q, dialect, ordered=True))
    order = _order_by(sort_cols, directions)
    branches = scoped_branches(user, spec, action, columns=shown)
    query = _merged(
        [b.where(*conditions).order_by(*order).limit(_inline(request.size + 1)) for b in branches],
        shown,
        sort_cols,
        directions,
        request.size + 1,
    )
    rows = list(db.session.execute(query).mappings())
    more = len(rows) > request.size
    last_keys: tuple = ()
    if more:
        rows = rows[: request.size]
        last_keys = tuple(rows[-1][c.key] for c in sort_cols)
    return ListPage(columns=columns, rows=rows, request=request, more=more, last_keys=last_keys)


def _inline(n: int):
    """A LIMIT written into the statement, not bound: SQLite's planner weighs an index
    that delivers the order against one that narrows the rows only when it knows how few
    rows are wanted (an "own department" list: 0.65 → 0.14 ms). Page sizes are few, so the
    statement cache still holds one entry per size."""
    return literal_column(str(int(n)))


def _merged(pages: list, columns: list, sort_cols: list, directions: list[str], limit: int):
    """One page from disjoint branch pages, each already ordered and cut to ``limit``
    (so each walks its index in order): their union, in the same order, cut again. The
    branches never share a record, so no record appears twice; a cursor's condition is in
    each branch, so paging stays exact.

    The outer selects name their columns (``column(key, type)``) rather than reading them
    from the subqueries: SQLAlchemy would otherwise build a proxy of every column of every
    subquery on each request, which cost more than running the page's query."""
    if len(pages) == 1:
        return pages[0]

    def named(col):
        return column(col.key, col.type)

    outer = [named(c) for c in columns]
    merged = union_all(*(select(*outer).select_from(page.subquery()) for page in pages))
    order = []
    for col, direction in zip(sort_cols, directions, strict=True):
        by = named(col)
        if col.nullable:
            order.append(by.is_(None))
        order.append(by.asc() if direction == "asc" else by.desc())
    return select(*outer).select_from(merged.subquery()).order_by(*order).limit(limit)


def scan_bound(query, sort_cols, directions) -> tuple[list, tuple | None]:
    """Conditions that keep ``query`` (scoped and filtered, not searched) to its first
    SHORT_SCAN_ROWS rows in the order ``sort_cols``/``directions``, and the sort keys of
    the last of them; ``([], None)`` when it has no more rows than that.

    Finding that row walks the sort index (no searching); the conditions then bound the
    search's walk by a range on the first sort column, so it stops there."""
    order = _order_by(sort_cols, directions)
    boundary = db.session.execute(
        query.with_only_columns(*sort_cols)
        .order_by(None)
        .order_by(*order)
        .offset(SHORT_SCAN_ROWS - 1)
        .limit(1)
    ).first()
    if boundary is None:
        return [], None
    keys = tuple(boundary)
    bound = [not_(_after_condition(sort_cols, directions, keys))]
    if keys[0] is not None:  # a range an index can stop at (empty values sort last)
        first = sort_cols[0]
        bound.append(first >= keys[0] if directions[0] == "desc" else first <= keys[0])
    return bound, keys


def _short_page(user, spec, request, query, conditions, sort_cols, directions, columns):
    """A page for a term no index answers: the matches among the next SHORT_SCAN_ROWS rows
    of the list (in its order, after the cursor). When the page is not full and the list
    goes on, the page is ``partial`` and its cursor is the last row read."""
    table = table_of(spec)
    dialect = db.session.get_bind().dialect.name
    query = query.where(*conditions)
    bound, last_read = scan_bound(query, sort_cols, directions)
    found = search_condition(user, spec, table, request.q, dialect)
    page_query = (
        query.where(found, *bound)
        .order_by(*_order_by(sort_cols, directions))
        .limit(request.size + 1)
    )
    rows = list(db.session.execute(page_query).mappings())
    if len(rows) > request.size:
        rows = rows[: request.size]
        last_keys = tuple(rows[-1][c.key] for c in sort_cols)
        return ListPage(columns=columns, rows=rows, request=request, more=True, last_keys=last_keys)
    if last_read is None:
        return ListPage(columns=columns, rows=rows, request=request)
    return ListPage(
        columns=columns,
        rows=rows,
        request=request,
        more=True,
        last_keys=last_read,
        partial=True,
        scanned=SHORT_SCAN_ROWS,
    )


class ListCount(NamedTuple):
    n: int
    capped: bool  # more than COUNT_CAP
    partial: bool = False  # a short search counted in the first SHORT_SCAN_ROWS rows only


def count(
    user: Any, spec: EntitySpec, request: ListRequest, action: str = "read"
) -> tuple[int, bool]:
    """How many records the list holds: ``(n, capped)``; counting stops at COUNT_CAP.
    With ``action="export"``, how many of them ``user`` may export (the export's scope,
    which may be narrower than reading: shares widen reading, not exporting)."""
    n, capped, _partial = count_list(user, spec, request, action)
    return n, capped


def count_list(
    user: Any, spec: EntitySpec, request: ListRequest, action: str = "read"
) -> ListCount:
    """How many records the list holds for ``action`` (see ``count``), reading at most
    COUNT_CAP + 1 of them (a short search: the matches among the first SHORT_SCAN_ROWS
    rows, ``partial`` when there are more rows than that)."""
    table = table_of(spec)
    dialect = db.session.get_bind().dialect.name
    conditions = _filter_conditions(
        user, spec, table, (*request.view.filters, *request.filters), dialect
    )
    if short_search(dialect, request.q):
        visible = readable_fields(user, spec)
        sort = [(k, d) for k, d in request.effective_sort if k in visible]
        sort_cols = [table.c[k] for k, _ in sort] + [table.c.id]
        directions = [d for _, d in sort] + [sort[-1][1] if sort else "desc"]
        listed = scoped(user, spec, action, columns=[table.c.id]).where(*conditions)
        bound, last_read = scan_bound(listed, sort_cols, directions)
        found = search_condition(user, spec, table, request.q, dialect)
        inner = listed.where(found, *bound).limit(COUNT_CAP + 1).subquery()
        n = int(db.session.scalar(select(func.count()).select_from(inner)) or 0)
        return ListCount(min(n, COUNT_CAP), n > COUNT_CAP, last_read is not None)
    if request.q:
        conditions.append(search_condition(user, spec, table, request.q, dialect))
    inner = (
        scoped(user, spec, action, columns=[table.c.id])
        .where(*conditions)
        .limit(COUNT_CAP + 1)
        .subquery()
    )
    n = int(db.session.scalar(select(func.count()).select_from(inner)) or 0)
    return ListCount(min(n, COUNT_CAP), n > COUNT_CAP)
