"""Frozen specs: what the runtime reads instead of metadata rows.

A spec is built from rows once per metadata version (see ``crm.metadata.registry``) and
never changes; everything derived from it (SQLAlchemy tables, form classes, permission
maps) can be cached under the same version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

# Translations of labels, as compiled: {"label": {"zh_Hans": "…"}, "help": {…}} (field),
# {"singular": {…}, "plural": {…}} (entity), {locale: text} (a choice, a section). Empty
# when none: the plain labels, in the company's default language, show to everyone.
EMPTY = MappingProxyType({})

SPINE_COLUMNS = (
    "id",
    "owner_id",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
    "version",
    "deleted_at",
)


@dataclass(frozen=True)
class Choice:
    """One value of a picklist or multi-select picklist. ``key`` is what is stored."""

    key: str
    label: str
    color: str = ""
    order: int = 0
    archived: bool = False
    # locale -> the label in that language
    labels: MappingProxyType = field(default_factory=lambda: EMPTY)


@dataclass(frozen=True)
class FieldSpec:
    """One field of an entity, as the runtime sees it.

    ``label``, ``help_text`` and the choices' labels are the plain ones (the company's
    default language) in the specs the schema service and the designer's edit screens read
    (``specs.raw()``), and the reader's language in those of a request
    (``specs.current()``, see ``crm.metadata.labels``); ``translations`` holds them all.

    ``options`` holds the type options (``max_length``, ``decimal_places``, ``currency``,
    ``target`` and ``on_delete`` for lookups, ``prefix`` for auto-numbers ...); ``choices``
    the picklist values in display order.
    """

    key: str
    type: str
    label: str
    help_text: str = ""
    required: bool = False
    unique: bool = False
    default: Any = None
    position: int = 0
    searchable: bool = False
    archived: bool = False
    options: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    choices: tuple[Choice, ...] = ()
    # "label"/"help" -> {locale: text}
    translations: MappingProxyType = field(default_factory=lambda: EMPTY)

    @property
    def column(self) -> str:
        """The column name in the entity table (the key itself: readable by reporting tools)."""
        return self.key

    def option(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)

    def choice(self, key: str) -> Choice | None:
        return next((c for c in self.choices if c.key == key), None)

    @property
    def active_choices(self) -> tuple[Choice, ...]:
        return tuple(c for c in self.choices if not c.archived)


@dataclass(frozen=True)
class EntitySpec:
    """One entity: its labels, its table and its fields (archived ones included)."""

    key: str
    label_singular: str
    label_plural: str
    description: str = ""
    icon: str = ""
    color: str = ""
    name_field: str | None = None
    archived: bool = False
    fields: tuple[FieldSpec, ...] = ()
    # "singular"/"plural" -> {locale: text}
    translations: MappingProxyType = field(default_factory=lambda: EMPTY)

    @property
    def table_name(self) -> str:
        return f"x_{self.key}"

    @property
    def active_fields(self) -> tuple[FieldSpec, ...]:
        """Fields the runtime shows, in position order (archived ones are hidden everywhere)."""
        return tuple(f for f in self.fields if not f.archived)

    def field(self, key: str, *, include_archived: bool = False) -> FieldSpec | None:
        for f in self.fields:
            if f.key == key and (include_archived or not f.archived):
                return f
        return None
