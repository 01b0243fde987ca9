"""Lookup columns: the names a file gives (``Acme Ltd``) resolved to the ids of records.

A lookup field's column is matched against the target entity's name field or another
unique field, through the scoped query layer (the importing user finds only the records
they may read; the recycle bin is not searched), case and outer spaces ignored. Values
are resolved per batch: one query for each batch of distinct values, never one per row.

What happens when no record or several records match is the mapping's choice
(``LookupRule``): leave the field empty, create the record (by its name, or the field it
is matched on: the run engine calls ``Resolver.create_missing`` in the batch's transaction,
through the record service, once per name), or fail the row. ``creation_problem`` says
up front why a user could not create them (no create right on the target, a field they
may not set, another required field).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func

from crm.access import policy
from crm.errors import Conflict, Forbidden, ValidationFailed
from crm.extensions import db
from crm.metadata import specs, types
from crm.metadata.spec import EntitySpec, FieldSpec
from crm.records import service as records
from crm.records.query import scoped, table_of

__all__ = [
    "CREATE", "EMPTY", "FAIL", "WHEN_NONE", "WHEN_SEVERAL", "LookupRule", "Resolved",
    "Resolver", "creation_problem", "match_fields", "name_key",
]  # fmt: skip

EMPTY, CREATE, FAIL = "empty", "create", "fail"
WHEN_NONE = (EMPTY, CREATE, FAIL)
WHEN_SEVERAL = (EMPTY, FAIL)
_CHUNK = 500  # values per query (well under every engine's bound-parameter limit)


@dataclass(frozen=True)
class LookupRule:
    """How one lookup column is resolved: ``match_on`` the target's field compared with
    the file's text (None: its name field); ``when_none`` "empty", "create" or "fail";
    ``when_several`` "empty" or "fail"."""

    match_on: str | None = None
    when_none: str = FAIL
    when_several: str = FAIL

    def to_json(self) -> dict[str, Any]:
        return {
            "match_on": self.match_on,
            "when_none": self.when_none,
            "when_several": self.when_several,
        }

    @classmethod
    def from_json(cls, data: Any) -> LookupRule:
        data = data if isinstance(data, dict) else {}
        return cls(
            match_on=data.get("match_on") or None,
            when_none=str(data.get("when_none") or FAIL),
            when_several=str(data.get("when_several") or FAIL),
        )


@dataclass
class Resolved:
    """What one text of the file became: ``id`` (None: empty), ``create`` (a record to
    create by that name) or ``problem`` (the row fails with that message)."""

    id: int | None = None
    create: bool = False
    problem: str | None = None


def match_fields(user: Any, target: EntitySpec) -> tuple[FieldSpec, ...]:
    """The target's fields a lookup column may be matched on: its name field and its
    unique fields, when ``user`` may read them."""
    readable = policy.visible_fields(user, target, "read")
    return tuple(
        f
        for f in readable
        if (f.key == target.name_field or f.unique) and types.get(f.type).textual
    )


def name_key(text: Any) -> str:
    """A name as lookups compare it: case and outer or repeated spaces ignored."""
    return " ".join(str(text).split()).casefold()


_key = name_key


def creation_problem(user: Any, target: EntitySpec, match_on: FieldSpec) -> str | None:
    """Why ``user`` could not create records of ``target`` by ``match_on`` alone (None:
    they can): no create right, ``match_on`` not theirs to set, or another required field
    without a default."""
    if not policy.can(user, "create", target.key):
        return _("You may not create %(entity)s, so missing ones cannot be created.",
                 entity=target.label_plural)  # fmt: skip
    editable = {f.key for f in policy.visible_fields(user, target, "edit")}
    if match_on.key not in editable:
        return _("You may not set “%(field)s” of %(entity)s, so missing ones cannot be "
                 "created.", field=match_on.label, entity=target.label_plural)  # fmt: skip
    others = [
        f.label
        for f in target.active_fields
        if f.required and f.default is None and f.key != match_on.key
        and not types.get(f.type).assigned
    ]  # fmt: skip
    if others:
        return _("Missing %(entity)s cannot be created from a name alone: they also need "
                 "%(fields)s.", entity=target.label_plural, fields=", ".join(others))  # fmt: skip
    return None


@dataclass
class Resolver:
    """Resolves one lookup column's texts for ``user``: ``resolve(texts)`` runs one query
    per batch of distinct texts not met before, and remembers what it found for the next
    batches (names created by the run are added with ``created``)."""

    user: Any
    field: FieldSpec
    target: EntitySpec
    match_on: FieldSpec
    rule: LookupRule
    known: dict[str, list[int]] = field(default_factory=dict)
    queries: int = 0
    refused: dict[str, str] = field(default_factory=dict)  # name -> why it was not created

    @classmethod
    def build(cls, user: Any, f: FieldSpec, rule: LookupRule) -> Resolver:
        """A resolver for lookup field ``f``; ValueError (a message for people) when its
        target is gone or the rule's field cannot be matched on."""
        target = specs.current().entity(types.lookup_target(f) or "")
        if target is None:
            raise ValueError(_("The entity this field looks up no longer exists."))
        allowed = {m.key: m for m in match_fields(user, target)}
        key = rule.match_on or target.name_field
        if key not in allowed:
            raise ValueError(
                _("Records of %(entity)s can be found by their name or by a unique field you "
                  "may read.", entity=target.label_plural)
            )  # fmt: skip
        return cls(user, f, target, allowed[key], rule)

    def fetch(self, texts: Iterable[Any]) -> None:
        """Look up the texts not yet known (one query per ``_CHUNK`` of them)."""
        wanted = sorted({_key(t) for t in texts if t is not None and str(t).strip()})
        wanted = [w for w in wanted if w not in self.known]
        table = table_of(self.target)
        column = table.c[self.match_on.key]
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            query = scoped(self.user, self.target, "read", columns=[table.c.id, column]).where(
                func.lower(func.trim(column)).in_(chunk)
            )
            self.queries += 1
            for chunk_key in chunk:
                self.known.setdefault(chunk_key, [])
            for record_id, value in db.session.execute(query):
                self.known.setdefault(_key(value), []).append(record_id)

    def created(self, text: Any, record_id: int) -> None:
        """A record the run created for ``text``: later rows find it."""
        self.known[_key(text)] = [record_id]

    def create_missing(self, texts: Iterable[Any]) -> list[tuple[str, int]]:
        """Create a record of the target for each of ``texts`` that no record matches
        (once per name: case and inner spaces ignored), through the record service as
        ``user``, in the caller's transaction; returns (name, id) of each created. A name
        the service refuses is remembered with its reason: its rows fail with it."""
        made = []
        names = {_key(t): " ".join(str(t).split()) for t in texts if t and str(t).strip()}
        for key, text in names.items():
            if self.known.get(key) or key in self.refused:
                continue
            try:
                record_id = records.create(self.user, self.target, {self.match_on.key: text})
            except (ValidationFailed, Forbidden, Conflict) as exc:
                reasons = [m for ms in (exc.errors or {}).values() for m in ms] or [exc.message]
                self.refused[key] = _(
                    "The %(entity)s “%(value)s” could not be created: %(reason)s",
                    entity=self.target.label_singular, value=text[:60], reason=" ".join(reasons),
                )  # fmt: skip
                continue
            self.created(text, record_id)
            made.append((text, record_id))
        return made

    def resolve(self, text: Any) -> Resolved:
        """One text (already ``fetch``ed) as the rule says."""
        if text is None or not str(text).strip():
            return Resolved()
        ids = self.known.get(_key(text))
        if ids is None:
            self.fetch([text])
            ids = self.known[_key(text)]
        shown = " ".join(str(text).split())[:60]
        if len(ids) == 1:
            return Resolved(ids[0])
        if not ids:
            if _key(text) in self.refused:
                return Resolved(problem=self.refused[_key(text)])
            if self.rule.when_none == CREATE:
                return Resolved(create=True)
            if self.rule.when_none == EMPTY:
                return Resolved()
            return Resolved(
                problem=_("No %(entity)s named “%(value)s” was found.",
                          entity=self.target.label_singular, value=shown)
            )  # fmt: skip
        if self.rule.when_several == EMPTY:
            return Resolved()
        return Resolved(
            problem=_("%(count)s %(entity)s match “%(value)s”: match on a unique field, or "
                      "make the names differ.", count=len(ids), entity=self.target.label_plural,
                      value=shown)
        )  # fmt: skip
