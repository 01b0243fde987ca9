"""An import's mapping: which column goes into which field, and how its values are read.

``Mapping`` is plain data (saved as JSON, see ``crm.imports.saved``): per column the
field it fills (or none: skipped), the column's date order and decimal mark, and for a
picklist the value table (the file's text -> a choice key, or ``NEW``: add it as a new
choice); per lookup field a ``LookupRule``; the import's mode (create, update or both)
and the field that finds existing records.

``check(user, spec, mapping, columns)`` returns every problem at once, each with a code
and the column or field it concerns; ``plan(...)`` turns a mapping without problems into
a ``Plan``: the ``ColumnMap``s the run engine parses rows with, the lookup resolvers,
and ``parse_batch(rows)`` that resolves a batch's lookups (one query per lookup column)
and parses its rows. ``unknown_values`` lists a file's picklist texts that match no
choice, with suggestions.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from flask_babel import gettext as _

from crm.access import policy
from crm.imports.duplicates import OPTIONS as DUPLICATE_OPTIONS
from crm.imports.lookups import CREATE as CREATE_LINKED
from crm.imports.lookups import (
    WHEN_NONE,
    WHEN_SEVERAL,
    LookupRule,
    Resolver,
    creation_problem,
    name_key,
)
from crm.imports.matching import joinable, norm, similarity
from crm.imports.models import BOTH, CREATE, MODES, UPDATE, mode_of
from crm.imports.owners import OWNER, OwnerResolver
from crm.imports.profile import column_values
from crm.imports.values import ColumnMap, ImportContext, Parsed, Problem, parse_rows
from crm.metadata import types
from crm.metadata.spec import EntitySpec, FieldSpec
from crm.metadata.types import l10n
from crm.metadata.types.importing import EMPTY_WORDS, SKIP, fold

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")

__all__ = [
    "MODES", "NEW", "SKIP", "ColumnChoice", "Issue", "Mapping", "Plan", "Suggestion", "Unknown",
    "check", "new_choices", "plan", "suggest", "unknown_values",
]  # fmt: skip

NEW = "+new"  # in a value table: add the text as a new choice
MATCH_ALSO = 2  # fields a record must match besides ``match_on`` (the screen's two menus)
_SUGGEST_AT = 0.7


@dataclass(frozen=True)
class ColumnChoice:
    """One column: ``column`` its 0-based index, ``name`` its header, ``field`` the field
    it fills (None: skipped); ``date_order`` / ``decimal_mark`` (None: the language's);
    ``values`` the value table of a picklist column (text -> choice key or ``NEW``)."""

    column: int
    name: str = ""
    field: str | None = None
    date_order: str | None = None
    decimal_mark: str | None = None
    values: Any = dataclasses.field(default_factory=lambda: MappingProxyType({}))
    # what a text matching no choice and not in ``values`` becomes: "" the row fails,
    # ``SKIP`` the field is left empty (the row imported)
    otherwise: str = ""


@dataclass(frozen=True)
class Mapping:
    """A whole mapping (see the module's docstring)."""

    entity: str
    columns: tuple[ColumnChoice, ...]
    lookups: Any = field(default_factory=lambda: MappingProxyType({}))  # field -> LookupRule
    mode: str = BOTH
    match_on: str | None = None
    match_also: tuple[str, ...] = ()  # more fields a record must match too (a combination)
    # a row duplicating a record under the duplicate rules: "skip" (also ""), "update",
    # "create" (``crm.imports.duplicates``)
    duplicates: str = ""

    @property
    def match_fields(self) -> tuple[str, ...]:
        """The fields that find an existing record (all must be equal), or ()."""
        if not self.match_on:
            return ()
        return tuple(dict.fromkeys((self.match_on, *self.match_also)))

    def __post_init__(self) -> None:
        # one word set everywhere: "upsert" (the CLI's, older saved mappings') is "both"
        object.__setattr__(self, "mode", mode_of(self.mode))

    def to_json(self) -> dict[str, Any]:
        """The mapping as JSON data (``from_json`` reads it back)."""
        return {
            "entity": self.entity,
            "mode": self.mode,
            "match_on": self.match_on,
            "match_also": list(self.match_also),
            "duplicates": self.duplicates,
            "columns": [
                {
                    "column": c.column,
                    "name": c.name,
                    "field": c.field,
                    "date_order": c.date_order,
                    "decimal_mark": c.decimal_mark,
                    "values": dict(c.values),
                    "otherwise": c.otherwise,
                }
                for c in self.columns
            ],
            "lookups": {k: r.to_json() for k, r in self.lookups.items()},
        }

    @classmethod
    def from_json(cls, data: Any) -> Mapping:
        """A mapping from JSON data; ValueError when it is not one."""
        if not isinstance(data, dict) or not isinstance(data.get("columns"), list):
            raise ValueError(_("This is not a saved import mapping."))
        columns = []
        for item in data["columns"]:
            if not isinstance(item, dict) or not isinstance(item.get("column"), int):
                raise ValueError(_("This is not a saved import mapping."))
            values = item.get("values") or {}
            columns.append(
                ColumnChoice(
                    column=item["column"],
                    name=str(item.get("name") or ""),
                    field=item.get("field") or None,
                    date_order=item.get("date_order") or None,
                    decimal_mark=item.get("decimal_mark") or None,
                    values=MappingProxyType(
                        {str(k): str(v) for k, v in values.items()}
                        if isinstance(values, dict)
                        else {}
                    ),
                    otherwise=str(item.get("otherwise") or ""),
                )
            )
        rules = data.get("lookups") if isinstance(data.get("lookups"), dict) else {}
        return cls(
            entity=str(data.get("entity") or ""),
            columns=tuple(columns),
            lookups=MappingProxyType({k: LookupRule.from_json(v) for k, v in rules.items()}),
            mode=str(data.get("mode") or BOTH),
            match_on=data.get("match_on") or None,
            match_also=tuple(
                str(k) for k in (data.get("match_also") or []) if isinstance(k, str) and k
            )[:MATCH_ALSO],
            duplicates=str(data.get("duplicates") or ""),
        )

    @property
    def mapped(self) -> tuple[ColumnChoice, ...]:
        return tuple(c for c in self.columns if c.field)


@dataclass(frozen=True)
class Issue:
    """A problem of a mapping: ``code``, the ``column`` (0-based) or ``field`` it
    concerns, and the message."""

    code: str
    message: str
    column: int | None = None
    field: str | None = None


def check(user: Any, spec: EntitySpec, mapping: Mapping, columns: Sequence[str]) -> list[Issue]:
    """Every problem of ``mapping`` for ``user`` importing a file with ``columns`` into
    ``spec``: no import right, a column the file lacks, a field unknown, hidden,
    read-only or system-assigned, two columns on one field, a value table naming no
    choice, a lookup rule that cannot work, a mode or matching field that cannot."""
    issues: list[Issue] = []
    if not policy.can(user, "import", spec):
        return [Issue("forbidden", _("You may not import %(entity)s.", entity=spec.label_plural))]
    editable = {f.key: f for f in policy.visible_fields(user, spec, "edit")}
    readable = {f.key for f in policy.visible_fields(user, spec, "read")}
    seen: dict[str, int] = {}
    for c in mapping.columns:
        if not 0 <= c.column < len(columns):
            issues.append(Issue("column", _("The file has no column %(n)s.", n=c.column + 1),
                                c.column))  # fmt: skip
            continue
        if not c.field:
            continue
        if c.field == OWNER:
            issues.extend(_owner_issues(user, spec, c, columns, seen, mapping.mode))
            continue
        f = spec.field(c.field)
        if f is None or c.field not in readable:
            # a hidden field is named as unknown: its existence is not given away
            issues.append(Issue("unknown_field", _("“%(column)s”: there is no field “%(field)s” "
                                "to import into.", column=columns[c.column], field=c.field),
                                c.column, c.field))  # fmt: skip
            continue
        if c.field not in editable:
            message = _("“%(column)s”: you may not change the field “%(field)s”, so it "
                        "cannot be imported.", column=columns[c.column], field=f.label)  # fmt: skip
            issues.append(Issue("read_only", message, c.column, c.field))
            continue
        if c.field in seen and joinable(f):
            continue  # "First name" and "Last name" both into "Name": joined with a space
        if c.field in seen:
            message = _("“%(column)s” and “%(other)s” both go into “%(field)s”: choose one.",
                        column=columns[c.column], other=columns[seen[c.field]],
                        field=f.label)  # fmt: skip
            issues.append(Issue("twice", message, c.column, c.field))
            continue
        seen[c.field] = c.column
        issues.extend(_value_issues(f, c))
        if types.lookup_target(f):
            issues.extend(_lookup_issues(user, f, mapping.lookups.get(f.key), c.column))
    issues.extend(_mode_issues(spec, mapping, seen, editable))
    return issues


def _owner_issues(
    user: Any,
    spec: EntitySpec,
    c: ColumnChoice,
    columns: Sequence[str],
    seen: dict,
    mapping_mode: str,
) -> list[Issue]:
    if not policy.can(user, "assign", spec.key):
        return [Issue("owner", _("“%(column)s”: you may not give %(entity)s to other people, "
                                 "so the owner cannot be imported.", column=columns[c.column],
                                 entity=spec.label_plural), c.column, OWNER)]  # fmt: skip
    if OWNER in seen:
        return [Issue("twice", _("“%(column)s” and “%(other)s” both go into “%(field)s”: "
                                 "choose one.", column=columns[c.column],
                                 other=columns[seen[OWNER]], field=_("Owner")),
                      c.column, OWNER)]  # fmt: skip
    seen[OWNER] = c.column
    if c.values:
        return [Issue("values", _("Only picklist fields take a table of values."), c.column,
                      OWNER)]  # fmt: skip
    return []


def _lookup_issues(user: Any, f: FieldSpec, rule: LookupRule | None, column: int) -> list[Issue]:
    rule = rule or LookupRule()
    if rule.when_none not in WHEN_NONE or rule.when_several not in WHEN_SEVERAL:
        return [Issue("lookup", _("%(field)s: choose what to do when no record or several "
                                  "records are found.", field=f.label), column, f.key)]  # fmt: skip
    try:
        resolver = Resolver.build(user, f, rule)
    except ValueError as exc:
        return [Issue("lookup", f"{f.label}: {exc}", column, f.key)]
    if rule.when_none == CREATE_LINKED:
        why = creation_problem(user, resolver.target, resolver.match_on)
        if why:
            return [Issue("lookup_create", f"{f.label}: {why}", column, f.key)]
    return []


def _value_issues(f: FieldSpec, c: ColumnChoice) -> list[Issue]:
    out = []
    if c.date_order not in (None, "dmy", "mdy") or c.decimal_mark not in (None, ".", ","):
        out.append(Issue("format", _("Choose the order of day and month, and the decimal mark, "
                                     "from the lists."), c.column, f.key))  # fmt: skip
    if (c.values or c.otherwise) and not types.get(f.type).has_choices:
        out.append(Issue("values", _("Only picklist fields take a table of values."),
                         c.column, f.key))  # fmt: skip
        return out
    if c.otherwise not in ("", SKIP, NEW):
        out.append(Issue("values", _("Choose what happens to the other values from the list."),
                         c.column, f.key))  # fmt: skip
    if c.values:
        keys = {ch.key for ch in f.active_choices}
        for text, key in c.values.items():
            if key not in (NEW, SKIP) and key not in keys:
                out.append(Issue("values", _("“%(value)s” is mapped to “%(key)s”, which is not "
                                 "a choice of %(field)s.", value=text, key=key, field=f.label),
                                 c.column, f.key))  # fmt: skip
    return out


def _mode_issues(spec: EntitySpec, mapping: Mapping, seen: dict, editable: dict) -> list[Issue]:
    out = []
    if mapping.mode not in MODES:
        out.append(Issue("mode", _("Choose whether to create records, update them, or both.")))
    if mapping.duplicates not in ("", *DUPLICATE_OPTIONS):
        out.append(Issue("duplicates", _("Choose what to do with rows that duplicate a "
                                         "record."), field="duplicates"))  # fmt: skip
    if mapping.match_on:
        for key in mapping.match_fields:
            if key not in seen:
                out.append(Issue("match_on", _("Map a column to the field that finds existing "
                                 "records."), field=key))  # fmt: skip
    elif mapping.mode == UPDATE:
        out.append(Issue("match_on", _("Choose the field that finds the records to update.")))
    if mapping.mode in (CREATE, BOTH):
        missing = [
            f.label
            for f in spec.active_fields
            if f.required and f.default is None and f.key in editable and f.key not in seen
        ]
        if missing:
            out.append(Issue("required", _("Map a column to each required field: %(fields)s.",
                                           fields=", ".join(missing))))  # fmt: skip
    return out


@dataclass
class Plan:
    """A checked mapping, ready to run: ``columns`` the ``ColumnMap``s of every mapped
    column (lookup columns receive ids: ``parse_batch`` puts them in), ``resolvers`` per
    lookup column index, ``mode`` and ``match_on`` (the run engine's options)."""

    spec: EntitySpec
    mapping: Mapping
    columns: list[ColumnMap]
    resolvers: dict[int, Resolver]
    mode: str
    match_on: str | None
    # field -> the names to create (by ``name_key``: "Acme" and "acme " are one record)
    to_create: dict[str, dict[str, str]] = field(default_factory=dict)
    owner_column: int | None = None  # the column holding each record's owner (``OWNER``)
    owners: OwnerResolver = field(default_factory=OwnerResolver)
    # per row of the last ``parse_batch``: field -> the name of a linked record to create
    waiting: list[dict[str, str]] = field(default_factory=list)
    # a field's first column -> all its columns, joined into the first one (``joinable``)
    joins: dict[int, tuple[int, ...]] = field(default_factory=dict)

    def parse_batch(self, rows: Sequence[Sequence[Any]]) -> list[Parsed]:
        """One batch of rows (their values) parsed: lookups resolved with one query per
        lookup column, names to create collected in ``to_create`` (field -> texts; such
        a row's field is left None until the run engine creates them and calls
        ``Resolver.created``)."""
        for index, resolver in self.resolvers.items():
            resolver.fetch(r[index] for r in rows if index < len(r))
        prepared: list[Sequence[Any]] = []
        lookup_problems: list[list[Problem]] = []
        owners: list[int | None] = []
        self.waiting = []
        for values in rows:
            problems: list[Problem] = []
            self.waiting.append({})
            if self.resolvers or self.joins:
                values = list(values)
            for first, cols in self.joins.items():
                values.extend([None] * (first + 1 - len(values)))  # XLSX rows end early
                values[first] = _joined(values, cols)
            for index, resolver in self.resolvers.items():
                text = values[index] if index < len(values) else None
                found = resolver.resolve(text)
                if found.problem:
                    problems.append(Problem(resolver.field.key, index + 1, text, found.problem))
                elif found.create:
                    names = self.to_create.setdefault(resolver.field.key, {})
                    # one record per name: every row shows the first spelling met
                    name = names.setdefault(name_key(text), " ".join(str(text).split()))
                    self.waiting[-1][resolver.field.key] = name
                if index < len(values):
                    values[index] = found.id
            if self.owner_column is not None:
                text = values[self.owner_column] if self.owner_column < len(values) else None
                owner = self.owners.resolve(text)
                if owner.problem:
                    problems.append(Problem(OWNER, self.owner_column + 1, text, owner.problem))
                owners.append(owner.id)
            prepared.append(values)
            lookup_problems.append(problems)
        out = []
        for n, (parsed, problems) in enumerate(
            zip(parse_rows(self.columns, prepared), lookup_problems, strict=True)
        ):
            if self.owner_column is not None:
                parsed.values[OWNER] = owners[n]  # popped below when the owner failed
            if problems:
                failed = {p.field for p in problems}
                for p in problems:
                    parsed.values.pop(p.field, None)
                problems += [p for p in parsed.problems if p.field not in failed]
                parsed = Parsed(parsed.values, problems)
            out.append(parsed)
        return out


def _joined(values: Sequence[Any], cols: Sequence[int]) -> str | None:
    """The texts of ``cols`` joined with a space, none between two CJK parts (姓 + 名)."""
    out = ""
    for i in cols:
        cell = values[i] if i < len(values) else None
        text = " ".join(str(cell).split()) if cell is not None else ""
        if not text or text.casefold() in EMPTY_WORDS:
            continue
        glue = "" if not out or (_CJK.match(out[-1]) and _CJK.match(text[0])) else " "
        out += glue + text
    return out or None


def plan(
    user: Any,
    spec: EntitySpec,
    mapping: Mapping,
    columns: Sequence[str],
    formats: l10n.Formats = l10n.DEFAULT,
    *,
    dry_run: bool = False,
) -> Plan:
    """The ``Plan`` of a mapping; ``ValidationFailed`` with every ``check`` problem (keyed
    by field key, or "mapping") when it has any. Texts the value table adds as new
    choices read as ``NEW`` in a ``dry_run``; a real run adds the choices first."""
    from crm.errors import ValidationFailed

    issues = check(user, spec, mapping, columns)
    if issues:
        errors: dict[str, list[str]] = {}
        for i in issues:
            errors.setdefault(i.field or "mapping", []).append(i.message)
        raise ValidationFailed(_("The mapping needs fixing."), errors=errors)
    aliases = {
        c.field: MappingProxyType(
            {t.casefold(): key for t, key in c.values.items() if key != NEW or dry_run}
        )
        for c in mapping.mapped
        if c.values
    }
    maps, resolvers, owner_column = [], {}, None
    joins: dict[str, list[int]] = {}
    for c in mapping.mapped:
        if c.field == OWNER:
            owner_column = c.column
            continue
        joins.setdefault(c.field, []).append(c.column)
        if len(joins[c.field]) > 1:
            continue  # read with the field's first column (``Plan.joins``)
        f = spec.field(c.field)
        ctx = ImportContext(
            formats=formats,
            date_order=c.date_order,
            decimal_mark=c.decimal_mark,
            choice_aliases=MappingProxyType(aliases),
            choice_otherwise=MappingProxyType({f.key: c.otherwise} if c.otherwise else {}),
        )
        maps.append(ColumnMap(c.column, f, ctx))
        if types.lookup_target(f):
            resolvers[c.column] = Resolver.build(
                user, f, mapping.lookups.get(f.key) or LookupRule()
            )
    return Plan(
        spec, mapping, maps, resolvers, mapping.mode, mapping.match_on, owner_column=owner_column,
        joins={cols[0]: tuple(cols) for cols in joins.values() if len(cols) > 1},
    )  # fmt: skip


MAX_NEW_CHOICES = 500  # choices "every other value" may add to one field


def every_other_as_new(
    source: Any, spec: EntitySpec, mapping: Mapping, *, profile: Any = None
) -> Mapping:
    """``mapping`` with each column whose "every other value" is ``NEW`` given a value
    table entry ``NEW`` for every text of the file that matches no choice (from the
    file's profile, else one pass), so ``new_choices`` lists them all; ``ValidationFailed``
    when a field would get more than ``MAX_NEW_CHOICES``."""
    from crm.errors import ValidationFailed

    if not any(c.otherwise == NEW for c in mapping.mapped):
        return mapping
    unknown = unknown_values(source, spec, mapping, limit=MAX_NEW_CHOICES + 1, profile=profile)
    columns = []
    for c in mapping.columns:
        if c.field and c.otherwise == NEW:
            texts = [u.text for u in unknown.get(c.field, [])]
            if len(texts) > MAX_NEW_CHOICES:
                f = spec.field(c.field)
                raise ValidationFailed(
                    _("The file has more than %(num)s values that are not choices of "
                      "%(field)s: map them, or leave the field empty.",
                      num=MAX_NEW_CHOICES, field=f.label if f else c.field),
                    errors={c.field: [_("Too many new choices.")]},
                )  # fmt: skip
            table = {**{t: NEW for t in texts}, **dict(c.values)}
            c = dataclasses.replace(c, values=MappingProxyType(table), otherwise="")
        columns.append(c)
    return dataclasses.replace(mapping, columns=tuple(columns))


def new_choices(mapping: Mapping) -> dict[str, list[str]]:
    """Field key -> the texts its value table adds as new choices."""
    out: dict[str, list[str]] = {}
    for c in mapping.mapped:
        added = [text for text, key in c.values.items() if key == NEW]
        if added:
            out[c.field] = added
    return out


@dataclass(frozen=True)
class Suggestion:
    """A choice a text may mean: its key, label and how alike they are (0-1)."""

    key: str
    label: str
    score: float


@dataclass(frozen=True)
class Unknown:
    """A text of a picklist column that matches no choice: how many rows hold it, and the
    choices it may mean, the likeliest first."""

    text: str
    count: int
    suggestions: tuple[Suggestion, ...]


def suggest(f: FieldSpec, text: str, limit: int = 3) -> tuple[Suggestion, ...]:
    """The choices of ``f`` that ``text`` may mean (``GTXPro`` -> GTX Pro, ``technolgy``
    -> Technology): names compared without case, accents, spaces and punctuation, by
    edit similarity, in any of the choice's languages."""
    wanted = norm(text)
    scored = []
    for ch in f.active_choices:
        best = max(
            (similarity(wanted, norm(n)) for n in (ch.key, ch.label, *ch.labels.values())),
            default=0.0,
        )
        if best >= _SUGGEST_AT:
            scored.append(Suggestion(ch.key, ch.label, round(best, 2)))
    scored.sort(key=lambda s: -s.score)
    return tuple(scored[:limit])


def _choice_names(f: FieldSpec) -> set[str]:
    return {fold(str(n)) for c in f.active_choices for n in (c.key, c.label, *c.labels.values())}


def unknown_values(
    source: Any, spec: EntitySpec, mapping: Mapping, *, limit: int = 200, profile: Any = None
) -> dict[str, list[Unknown]]:
    """Field key -> the texts of its (picklist) column that match no choice and have no
    entry in the value table, most frequent first (at most ``limit`` per field), from the
    file's ``profile`` (``crm.imports.profile``) where it holds the column's values, else
    read in one pass over the file. Multi-select cells are split as the parser splits
    them."""
    wanted: dict[int, FieldSpec] = {}
    for c in mapping.mapped:
        f = spec.field(c.field)
        if f is not None and types.get(f.type).has_choices:
            wanted[c.column] = f
    if not wanted:
        return {}
    known = {i: _choice_names(f) for i, f in wanted.items()}
    tables = {c.column: {t.casefold() for t in c.values} for c in mapping.mapped}
    counts: dict[int, Counter] = {i: Counter() for i in wanted}

    def count(i: int, f: FieldSpec, cell: Any, times: int) -> None:
        if cell is None or str(cell).strip().casefold() in EMPTY_WORDS:
            return
        parts = str(cell).replace(";", ",").replace("|", ",").split(",")
        if not types.get(f.type).multi_valued:
            parts = [str(cell)]
        for part in (p.strip() for p in parts):
            if part and fold(part) not in known[i] and part.casefold() not in tables[i]:
                counts[i][part] += times

    profiled = {i: column_values(profile, i) for i in wanted}
    for i, values in profiled.items():
        for text, times in (values or {}).items():
            count(i, wanted[i], text, int(times))
    unread = {i: f for i, f in wanted.items() if profiled[i] is None}
    if unread:
        for row in source.rows():
            if not row.ok:
                continue
            for i, f in unread.items():
                count(i, f, row.values[i] if i < len(row.values) else None, 1)
    return {
        wanted[i].key: [Unknown(t, n, suggest(wanted[i], t)) for t, n in c.most_common(limit)]
        for i, c in counts.items()
        if c
    }
