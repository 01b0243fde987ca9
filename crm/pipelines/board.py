"""Kanban boards: one column per active stage of a pipeline, with counts, sums of the
pipeline's amount, a weighted forecast and the first cards of each column.

- The records are the list's: the same saved view, filters and quick search
  (``crm.records.listing``), always through the scoped query layer for "read", so cards,
  counts and sums only ever count records the user may read.
- Counts and sums are one ``GROUP BY stage`` query; the first cards of every column are
  one query (a ``UNION ALL`` of each stage's first rows, newest change first, each read
  in index order); a column's next cards are one keyset query (``after`` = the last
  card's change time and id).
- When field rights hide the amount from the user there are no sums and no forecast at
  all (``None``, not zeros), and card values are only those the user may read.
- A card is stale when the record entered its stage (its latest ``StageMove``) more than
  the stage's ``stale_days`` ago: one query per page of cards.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext
from markupsafe import Markup
from sqlalchemy import and_, case, func, literal, or_, union_all

from crm.access import directory
from crm.errors import NotFound, ValidationFailed
from crm.extensions import db
from crm.i18n import pick, request_locale
from crm.metadata import types
from crm.metadata.spec import EntitySpec, FieldSpec
from crm.pipelines.rules import entered_at, pipelines_for, stage_name
from crm.pipelines.spec import (
    PIPELINE_FIELD,
    PROBABILITY_FIELD,
    STAGE_FIELD,
    PipelineSpec,
    StageSpec,
)
from crm.records import listing, present
from crm.records.listing import ListRequest
from crm.records.query import scoped, table_of
from crm.timeutil import utcnow

CARDS = 20  # cards per column page


@dataclass
class Card:
    """One record on the board, as the user may read it."""

    id: int
    version: int
    stage: str
    name: str
    values: list[tuple[str, Markup]]  # (label, formatted value) of the visible card fields
    owner: str | None
    stale_days: int | None = None  # days in the stage, when more than the stage allows
    stale_title: str = ""  # those days in words


@dataclass
class Column:
    stage: StageSpec
    name: str
    count: int = 0
    amount: str | None = None  # formatted sum of the amount field (None: not shown)
    forecast: str | None = None  # formatted weighted sum (None: not shown)
    cards: list[Card] = field(default_factory=list)
    after: str | None = None  # cursor of the next cards (None: no more)


@dataclass
class Board:
    spec: EntitySpec
    pipeline: PipelineSpec
    name: str
    columns: list[Column]
    count: int = 0
    amount: str | None = None
    forecast: str | None = None
    sums: bool = False  # whether the user may see sums at all

    @property
    def stages(self) -> StageChoices:
        """The columns' stages, for the cards' "Move to…" choices."""
        return StageChoices([(c.stage.key, c.name) for c in self.columns])


class StageChoices:
    """The "Move to…" options of a page's cards: drawn once per stage a card can be in
    (escaped names; the card's own stage selected), not once per card."""

    def __init__(self, stages: list[tuple[str, str]]) -> None:
        self.stages = stages
        self._drawn: dict[str, Markup] = {}

    def options(self, current: str) -> Markup:
        found = self._drawn.get(current)
        if found is None:
            found = self._drawn[current] = Markup("").join(
                Markup('<option value="{}"{}>{}</option>').format(
                    key, Markup(" selected") if key == current else "", label
                )
                for key, label in self.stages
            )
        return found


def pipeline_name(pipeline: PipelineSpec) -> str:
    """A pipeline's name in the reader's language."""
    return pick(pipeline.name, pipeline.translations.get("name"), request_locale())


def pipelines_of(spec: EntitySpec) -> list[PipelineSpec]:
    """The active pipelines of ``spec`` (none when it has no stage field)."""
    found = pipelines_for(spec)
    return list(found.active) if found is not None else []


def pipeline_of(spec: EntitySpec, key: str | None) -> PipelineSpec:
    """The active pipeline ``key`` of ``spec`` (its default when ``key`` is empty).
    ``NotFound`` when the entity has no pipelines or none of that key (a pipeline of
    another entity is not one of this entity's)."""
    found = pipelines_for(spec)
    if found is None or not found.active:
        raise NotFound(
            _("%(entities)s have no pipeline to show as a board.", entities=spec.label_plural)
        )
    pipeline = found.get(key) if key else found.default
    if pipeline is None:
        raise NotFound(
            _(
                "%(entities)s have no pipeline “%(key)s”.",
                entities=spec.label_plural,
                key=str(key)[:41],
            )
        )
    return pipeline


def _amount_field(user: Any, spec: EntitySpec, pipeline: PipelineSpec) -> FieldSpec | None:
    """The amount field when the user may read it (None: no sums at all)."""
    key = pipeline.amount_field
    if not key:
        return None
    visible = listing.readable_fields(user, spec)
    f = visible.get(key)
    return f if f is not None and types.get(f.type).numeric else None


def _weight(spec: EntitySpec, user: Any, pipeline: PipelineSpec, table):
    """The SQL probability (0..100) of each record: its stage's, or the record's own
    where the pipeline lets people override it. None when the forecast cannot be shown
    (an overridable probability hidden from the user)."""
    by_stage = case(
        {s.key: literal(s.probability) for s in pipeline.active_stages},
        value=table.c[STAGE_FIELD],
        else_=literal(0),
    )
    probability = spec.field(PROBABILITY_FIELD)
    if not pipeline.probability_override or probability is None:
        return by_stage
    if PROBABILITY_FIELD not in listing.readable_fields(user, spec):
        return None
    return func.coalesce(table.c[PROBABILITY_FIELD], by_stage)


def readable_amount_field(user: Any, spec: EntitySpec, pipeline: PipelineSpec) -> FieldSpec | None:
    """The pipeline's amount field when ``user`` may read it (None: no sums): the board's
    rule, shared with the forecast (``crm.analytics.forecast``)."""
    return _amount_field(user, spec, pipeline)


def probability_sql(spec: EntitySpec, user: Any, pipeline: PipelineSpec, table):
    """The SQL probability (0..100) of each record as the board weighs it (None when the
    user may not read an overridable probability); shared with the forecast."""
    return _weight(spec, user, pipeline, table)


def _conditions(user, spec, pipeline, request: ListRequest) -> list:
    """The board's records but for their stage: the pipeline's, with the list's view,
    filters and search (each query adds its stages: all active ones, or one)."""
    table = table_of(spec)
    return [table.c[PIPELINE_FIELD] == pipeline.key, *listing.list_conditions(user, spec, request)]


def _in_active_stages(spec, pipeline):
    return table_of(spec).c[STAGE_FIELD].in_([s.key for s in pipeline.active_stages])


def _money(f: FieldSpec | None, value: Any) -> str | None:
    if f is None:
        return None
    value = Decimal(str(value or 0)).quantize(Decimal("0.01"))
    return types.get(f.type).format(f, value)


def board(user: Any, spec: EntitySpec, pipeline: PipelineSpec, request: ListRequest) -> Board:
    """The board of ``pipeline`` for ``user``: every active stage as a column with its
    count, sums and first CARDS cards, and the totals. ``request``: the list's view,
    filters and search (its sort and cursor are not used: cards show newest changes
    first)."""
    table = table_of(spec)
    amount = _amount_field(user, spec, pipeline)
    weight = _weight(spec, user, pipeline, table) if amount is not None else None
    conditions = _conditions(user, spec, pipeline, request)
    aggregates = [table.c[STAGE_FIELD].label("stage"), func.count().label("n")]
    if amount is not None:
        aggregates.append(func.sum(table.c[amount.key]).label("amount"))
        if weight is not None:
            aggregates.append(func.sum(table.c[amount.key] * weight).label("weighted"))
    sums = {
        r["stage"]: r
        for r in db.session.execute(
            scoped(user, spec, "read", columns=aggregates)
            .where(*conditions, _in_active_stages(spec, pipeline))
            .group_by(table.c[STAGE_FIELD])
        ).mappings()
    }
    cards = _first_cards(user, spec, pipeline, conditions)
    columns = []
    total_n, total_amount, total_weighted = 0, Decimal(0), Decimal(0)
    for stage in pipeline.active_stages:
        row: Mapping[str, Any] = sums.get(stage.key) or {}
        n = int(row.get("n") or 0)
        column = Column(stage=stage, name=stage_name(stage), count=n)
        if amount is not None:
            stage_amount = Decimal(str(row.get("amount") or 0))
            column.amount = _money(amount, stage_amount)
            total_amount += stage_amount
            if weight is not None:
                weighted = Decimal(str(row.get("weighted") or 0)) / 100
                column.forecast = _money(amount, weighted)
                total_weighted += weighted
        page = cards.get(stage.key, [])
        column.cards, column.after = _page(page)
        columns.append(column)
        total_n += n
    result = Board(
        spec=spec,
        pipeline=pipeline,
        name=pipeline_name(pipeline),
        columns=columns,
        count=total_n,
        sums=amount is not None,
    )
    if amount is not None:
        result.amount = _money(amount, total_amount)
        if weight is not None:
            result.forecast = _money(amount, total_weighted)
    shown = _present(user, spec, pipeline, [r for col in columns for r in col.cards])
    for col in columns:
        col.cards = [shown[r["id"]] for r in col.cards]
    return result


def column_page(
    user: Any,
    spec: EntitySpec,
    pipeline: PipelineSpec,
    stage_key: str,
    request: ListRequest,
    after: str | None,
) -> Column:
    """The next CARDS cards of one column after the cursor ``after`` (no counts or sums).
    ``NotFound`` for a stage that is not an active stage of ``pipeline``;
    ``ValidationFailed`` for a cursor that was tampered with."""
    stage = pipeline.stage(stage_key)
    if stage is None:
        raise NotFound(_("This pipeline has no such stage."))
    table = table_of(spec)
    conditions = [*_conditions(user, spec, pipeline, request), table.c[STAGE_FIELD] == stage.key]
    if after:
        keys = listing.decode_cursor(after)
        if keys is None:
            stale = str(listing.STALE_CURSOR)
            raise ValidationFailed(stale, errors={"after": [stale]})
        listing.check_cursor([table.c.updated_at, table.c.id], keys)
        at, last_id = keys
        conditions.append(
            or_(
                table.c.updated_at < at,
                and_(table.c.updated_at == at, table.c.id < last_id),
            )
        )
    rows = list(
        db.session.execute(
            scoped(user, spec, "read", columns=_card_columns(user, spec, pipeline))
            .where(*conditions)
            .order_by(table.c.updated_at.desc(), table.c.id.desc())
            .limit(CARDS + 1)
        ).mappings()
    )
    column = Column(stage=stage, name=stage_name(stage))
    page, column.after = _page(rows)
    shown = _present(user, spec, pipeline, page)
    column.cards = [shown[r["id"]] for r in page]
    return column


def _card_fields(user: Any, spec: EntitySpec, pipeline: PipelineSpec) -> list[FieldSpec]:
    visible = listing.readable_fields(user, spec)
    return [visible[k] for k in pipeline.card_fields if k in visible]


def _card_columns(user: Any, spec: EntitySpec, pipeline: PipelineSpec) -> list:
    table = table_of(spec)
    keys = ["id", "version", "owner_id", "updated_at", STAGE_FIELD]
    if spec.name_field and spec.field(spec.name_field) is not None:
        keys.append(spec.name_field)
    keys += [f.key for f in _card_fields(user, spec, pipeline)]
    return [table.c[k] for k in dict.fromkeys(keys)]


def _first_cards(user, spec, pipeline, conditions) -> dict[str, list]:
    """The first CARDS + 1 rows of every stage, newest change first: one query, a
    ``UNION ALL`` of one select per stage, each cut at CARDS + 1 rows, so a database reads
    each column's first rows in index order (the owner's or the stage's) instead of
    numbering every record of the board."""
    table = table_of(spec)
    columns = _card_columns(user, spec, pipeline)
    stage_column = table.c[STAGE_FIELD]
    first = (
        scoped(user, spec, "read", columns=columns)
        .where(*conditions)
        .order_by(table.c.updated_at.desc(), table.c.id.desc())
        .limit(CARDS + 1)
    )
    branches = [
        # SQLite takes no ORDER BY / LIMIT on a member of a compound select: subqueries.
        first.where(stage_column == stage.key).subquery().select()
        for stage in pipeline.active_stages
    ]
    if not branches:
        return {}
    out: dict[str, list] = {}
    for row in db.session.execute(union_all(*branches)).mappings():
        out.setdefault(row[STAGE_FIELD], []).append(row)
    return out


def _page(rows: list) -> tuple[list, str | None]:
    """(rows of the page, cursor of the next) from CARDS + 1 rows."""
    if len(rows) <= CARDS:
        return list(rows), None
    rows = list(rows[:CARDS])
    last = rows[-1]
    return rows, listing.encode_cursor((last["updated_at"], last["id"]))


def _present(user: Any, spec: EntitySpec, pipeline: PipelineSpec, rows: list) -> dict:
    """``Card``s of ``rows`` by id: names, card values formatted like list cells, owners,
    stale marks (one query for the stage entries of all of them)."""
    if not rows:
        return {}
    fields = _card_fields(user, spec, pipeline)
    out: dict[int, Card] = {}
    display = present.Display(user, spec, fields, rows)
    labels = {f.key: display.label(f) for f in fields}
    name = present.record_namer(spec, user)
    owners = directory.user_names({r["owner_id"] for r in rows} - {None})
    stages = {s.key: s for s in pipeline.stages}
    # Only cards in a stage that marks stale records need to know when they entered it.
    marking = {s.key for s in pipeline.stages if s.stale_days is not None}
    entered = entered_at(spec.key, [r["id"] for r in rows if r[STAGE_FIELD] in marking])
    now = utcnow()
    words: dict[int, str] = {}  # days -> in words, once per number on the page
    for r in rows:
        stage = stages.get(r[STAGE_FIELD])
        stale = None
        at = entered.get(r["id"])
        if stage is not None and stage.stale_days is not None and at is not None:
            days = (now - at).days
            if days > stage.stale_days:
                stale = days
                if days not in words:
                    words[days] = ngettext(
                        "%(num)d day in this stage", "%(num)d days in this stage", days
                    )
        out[r["id"]] = Card(
            id=r["id"],
            version=r["version"],
            stage=r[STAGE_FIELD],
            name=name(r),
            values=[
                (labels[f.key], display.html(f, r[f.key]))
                for f in fields
                if r[f.key] not in (None, "", [])
            ],
            owner=owners.get(r["owner_id"]),
            stale_days=stale,
            stale_title=words.get(stale, "") if stale is not None else "",
        )
    return out
