"""Seed records' values (docs/packages.md, "Seed records"): which fields a seed record may
set, each value read by its field type's own parser from the registry, lookups between
seed records by "@key", and the order they are made in. Pure: reads no database (what the
installation already holds comes in as arguments).

A value is plain JSON as export writes it: the type's JSON form (``FieldType.to_json``:
text, numbers, booleans, ISO dates and moments, a picklist's choice key, a list of keys),
read back by the type's ``parse``; a lookup names the target record's "@key" (capability
``reference == "record"``). Fields the CRM fills itself (``assigned``, a probability that
follows the stage) and references to users (people are not part of a package) are not
seedable.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from flask_babel import gettext as _

from crm.metadata import types
from crm.metadata.spec import Choice, EntitySpec, FieldSpec
from crm.metadata.types.base import is_empty
from crm.packages.problems import Problem, pointer
from crm.pipelines.compile import with_choices
from crm.pipelines.spec import FOLLOWS_STAGE, EntityPipelines, PipelineSpec, StageSpec

KEY = "@key"
KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def _obj(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


# -- the fields a seed record may name ------------------------------------------------------


def _package_field(key: str, raw: dict, old: FieldSpec | None) -> FieldSpec | None:
    ftype = types.REGISTRY.get(raw.get("type")) if isinstance(raw.get("type"), str) else None
    if ftype is None:
        return None
    options = {**ftype.default_options, **_obj(raw.get("options"))}
    if old is not None and old.option(FOLLOWS_STAGE):
        options[FOLLOWS_STAGE] = True
    choices = tuple(
        Choice(
            key=c["key"], label=str(c.get("label", "")), order=i, archived=bool(c.get("archived"))
        )
        for i, c in enumerate(_list(raw.get("choices")))
        if isinstance(c, dict) and isinstance(c.get("key"), str)
    )
    if ftype.managed and old is not None:
        choices = old.choices
    return FieldSpec(
        key=key,
        type=ftype.key,
        label=str(raw.get("label") or key),
        archived=bool(raw.get("archived")),
        options=MappingProxyType(options),
        choices=choices,
    )


def _pipelines(entity_key: str, raw: Any) -> EntityPipelines:
    out = []
    for pkey, p in _obj(raw).items():
        p = _obj(p)
        stages = tuple(
            StageSpec(
                key=s["key"],
                name=str(s.get("name", "")),
                pipeline=pkey,
                category=str(s.get("category", "open")),
                archived=bool(s.get("archived")),
            )
            for s in _list(p.get("stages"))
            if isinstance(s, dict) and isinstance(s.get("key"), str)
        )
        out.append(
            PipelineSpec(
                key=pkey,
                entity_key=entity_key,
                name=str(p.get("name", "")),
                archived=bool(p.get("archived")),
                stages=stages,
                options=MappingProxyType(_obj(p.get("options"))),
            )
        )
    return EntityPipelines(entity_key, tuple(out))


def entity_fields(
    entity_key: str, package_entity: Any, existing: EntitySpec | None
) -> dict[str, FieldSpec]:
    """The fields of ``entity_key`` as a seed record reads them: the installation's
    (``existing``, compiled), overlaid by the package's own definitions (its choices; the
    choices of the managed pipeline and stage fields from the package's pipelines, with
    the installation's besides)."""
    out = {f.key: f for f in existing.fields} if existing is not None else {}
    package_entity = _obj(package_entity)
    for key, raw in _obj(package_entity.get("fields")).items():
        f = _package_field(key, _obj(raw), out.get(key))
        if f is not None:
            out[key] = f
    pipelines = _pipelines(entity_key, package_entity.get("pipelines"))
    if pipelines.pipelines:
        shell = EntitySpec(entity_key, "", "", fields=tuple(out.values()))
        compiled = with_choices({entity_key: shell}, {entity_key: pipelines})[entity_key]
        for f in compiled.fields:
            if types.get(f.type).managed:
                new = {c.key for c in f.choices}
                kept = tuple(c for c in out[f.key].choices if c.key not in new)
                f = replace(f, choices=f.choices + kept)
            out[f.key] = f
    return out


def not_seedable(f: FieldSpec) -> str | None:
    """Why a seed record may not set ``f`` (None: it may)."""
    ftype = types.get(f.type)
    if ftype.assigned or f.option(FOLLOWS_STAGE):
        return _("“%(field)s” is filled in by the CRM: a seed record cannot set it.", field=f.key)
    if ftype.reference == "user":
        return _(
            "“%(field)s” names a user, and users are not part of a package: a seed record "
            "cannot set it.",
            field=f.key,
        )
    return None


def seedable(spec: EntitySpec) -> tuple[FieldSpec, ...]:
    """The active fields of ``spec`` a seed record may set (and export writes)."""
    return tuple(f for f in spec.active_fields if not_seedable(f) is None)


def target(f: FieldSpec) -> str | None:
    """The entity whose seed "@key"s a field's values are (a lookup), else None."""
    return types.lookup_target(f)


def canonical(f: FieldSpec, value: Any) -> Any:
    """A seed value as export writes it: read by the type's ``parse`` and written by its
    ``to_json`` (None for empty); a lookup's "@key" as it is. ValueError with a message
    for people when the type does not read it."""
    if target(f) is not None:
        if value is None:
            return None
        if not isinstance(value, str) or not KEY_RE.match(value):
            raise ValueError(
                _("Give the “@key” of a seed record of “%(entity)s”.", entity=target(f))
            )
        return value
    ftype = types.get(f.type)
    parsed = ftype.parse(f, value)
    return None if is_empty(parsed) else ftype.to_json(f, parsed)


def stored(f: FieldSpec, value: Any) -> Any:
    """A stored (non-lookup) value in the seed format (None for empty)."""
    if is_empty(value):
        return None
    return types.get(f.type).to_json(f, value)


def typed(f: FieldSpec, value: Any) -> Any:
    """A seed value (canonical, not a lookup) as the record service takes it (the type's
    ``parse``: a Decimal, a date ...)."""
    return types.get(f.type).parse(f, value)


# -- checks and order -----------------------------------------------------------------------


def _records(seed: Any) -> Iterator[tuple[str, int, dict]]:
    for entity, records in _obj(seed).items():
        for i, record in enumerate(_list(records)):
            if isinstance(record, dict):
                yield entity, i, record


def _keys(seed: Any) -> dict[str, dict[str, int]]:
    """The seed's "@key"s: entity -> {key: index of its first record}."""
    out: dict[str, dict[str, int]] = {}
    for entity, i, record in _records(seed):
        key = record.get(KEY)
        if isinstance(key, str):
            out.setdefault(entity, {}).setdefault(key, i)
    return out


def problems(
    data: Mapping[str, Any],
    existing: Mapping[str, EntitySpec],
    seeded: Mapping[str, Collection[str]] | None = None,
) -> list[Problem]:
    """Every problem of package ``data``'s seed records: unknown entities and fields,
    fields a seed cannot set, values their type does not read, "@key"s used twice, lookups
    naming a "@key" that is neither in the package's seed nor already seeded here
    (``seeded``: entity -> keys), and lookups in a circle."""
    seed = _obj(data.get("seed"))
    entities = _obj(data.get("entities"))
    seeded = seeded or {}
    known = set(existing) | set(entities)
    out: list[Problem] = []
    keys = _keys(seed)
    edges: dict[tuple[str, str], list[tuple[tuple[str, str], tuple]]] = {}
    for entity, records in seed.items():
        if entity not in known:
            out.append(
                Problem(
                    pointer("seed", entity),
                    _("There is no entity with the key “%(key)s”.", key=str(entity)[:41]),
                )
            )
            continue
        fields = entity_fields(entity, entities.get(entity), existing.get(entity))
        seen: set[str] = set()
        for i, record in enumerate(_list(records)):
            record = _obj(record)
            rkey = record.get(KEY)
            if isinstance(rkey, str):
                if rkey in seen:
                    out.append(
                        Problem(
                            pointer("seed", entity, i, KEY),
                            _(
                                "Two seed records of “%(entity)s” have the key “%(key)s”.",
                                entity=entity,
                                key=rkey,
                            ),
                        )
                    )
                seen.add(rkey)
            for name, value in record.items():
                if name == KEY:
                    continue
                at = pointer("seed", entity, i, name)
                f = fields.get(name)
                if f is None or f.archived:
                    out.append(
                        Problem(
                            at,
                            _(
                                "“%(field)s” is not a field of “%(entity)s”.",
                                field=str(name)[:41],
                                entity=entity,
                            ),
                        )
                    )
                    continue
                why = not_seedable(f)
                if why is not None:
                    out.append(Problem(at, why))
                    continue
                try:
                    value = canonical(f, value)
                except ValueError as exc:
                    out.append(Problem(at, str(exc)))
                    continue
                goal = target(f)
                if goal is None or value is None:
                    continue
                if value in keys.get(goal, {}):
                    if isinstance(rkey, str):
                        edges.setdefault((entity, rkey), []).append(
                            ((goal, value), ("seed", entity, i, name))
                        )
                elif value not in seeded.get(goal, ()):
                    out.append(
                        Problem(
                            at,
                            _(
                                "There is no seed record “%(key)s” of “%(entity)s” in this package "
                                "or in this CRM.",
                                key=value,
                                entity=goal,
                            ),
                        )
                    )
    out.extend(_cycles(edges))
    return out


def _cycles(edges: Mapping[tuple[str, str], list]) -> list[Problem]:
    """A problem for each circle of lookups, at the lookup that closes it."""
    out: list[Problem] = []
    state: dict[tuple[str, str], int] = {}  # 1 on the path, 2 done
    for start in sorted(edges):
        if state.get(start):
            continue
        path: list[tuple[str, str]] = [start]
        state[start] = 1
        stack = [iter(edges.get(start, ()))]
        while stack:
            step = next(stack[-1], None)
            if step is None:
                state[path.pop()] = 2
                stack.pop()
                continue
            node, where = step
            if state.get(node) == 1:
                chain = [*path[path.index(node) :], node]
                words = " → ".join(f"{e}/{k}" for e, k in chain)
                out.append(
                    Problem(
                        pointer(*where),
                        _(
                            "These seed records refer to each other in a circle: %(chain)s. "
                            "Leave one of these lookups out.",
                            chain=words,
                        ),
                    )
                )
            elif not state.get(node):
                state[node] = 1
                path.append(node)
                stack.append(iter(edges.get(node, ())))
    return out


def order(seed: Any, fields_of: Mapping[str, Mapping[str, FieldSpec]]) -> list[tuple[str, int]]:
    """The seed's records as (entity, index), each after the seed records its lookups name
    (the loader refused circles); otherwise in the package's order."""
    keys = _keys(seed)
    deps: dict[tuple[str, int], list[tuple[str, int]]] = {}
    for entity, i, record in _records(seed):
        fields = fields_of.get(entity, {})
        for name, value in record.items():
            f = fields.get(name)
            goal = target(f) if f is not None and name != KEY else None
            if goal is not None and value in keys.get(goal, {}):
                deps.setdefault((entity, i), []).append((goal, keys[goal][value]))
    out: list[tuple[str, int]] = []
    done: set[tuple[str, int]] = set()
    for entity, i, _record in _records(seed):
        # Depth first without recursion (a chain of parent accounts may be long).
        stack = [((entity, i), iter(deps.get((entity, i), ())))]
        if (entity, i) in done:
            continue
        done.add((entity, i))
        while stack:
            node, pending = stack[-1]
            dep = next(pending, None)
            if dep is None:
                out.append(node)
                stack.pop()
            elif dep not in done:
                done.add(dep)
                stack.append((dep, iter(deps.get(dep, ()))))
    return out
