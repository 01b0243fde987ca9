"""The built-in starters: the configuration packages in ``schemas/starters/`` that a new
installation's first-run page offers (issue 15).

Every ``schemas/starters/<name>.json`` is a starter, keyed by its package name: the files
are read and checked once (``crm.packages.load``) and kept until one of them changes. The
registry below gives the ones we ship a title, a description and an icon in the product's
languages; a file without an entry still shows, titled by its package name with its own
(English) description. ``summary`` says what a starter contains, with its labels in the
reader's language (the package's own translations). ``install`` plans and applies one
through ``crm.packages.apply``, as the administrator who chose it, into an installation
that has no entities yet: a starter never lands over a company's configuration.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm.access import policy
from crm.errors import Conflict, NotFound
from crm.i18n import pick
from crm.metadata import specs
from crm.packages.apply import Result, apply, plan_package
from crm.packages.load import load
from crm.packages.problems import PackageInvalid

log = logging.getLogger(__name__)

FOLDER = Path(__file__).resolve().parents[2] / "schemas" / "starters"
DEFAULT_ICON = "📦"

# key -> (title, description, icon): the product's words for the starters it ships.
REGISTRY: dict[str, tuple[Any, Any, str]] = {
    "b2b-sales": (
        _l("B2B sales"),
        _l("Accounts, contacts, leads and deals through a sales pipeline, with activities."),
        "🤝",
    ),
    "membership-retail": (
        _l("Membership and retail"),
        _l(
            "Members with tiers, points and birthdays, their purchases in your stores, and "
            "care follow-ups that keep them coming back."
        ),
        "💳",
    ),
    "after-sales-service": (
        _l("After-sales service"),
        _l(
            "Customers and the products they own, by serial number and warranty; tickets "
            "through a service pipeline; field engineers' visits."
        ),
        "🛠️",
    ),
}


@dataclass(frozen=True)
class Starter:
    """One starter: its key (the package name), its file's bytes and checked data."""

    key: str
    raw: bytes
    data: Mapping[str, Any]

    @property
    def title(self) -> str:
        """The starter's title in the request's language (its package name when the
        registry does not know it)."""
        known = REGISTRY.get(self.key)
        return str(known[0]) if known else self.key

    @property
    def description(self) -> str:
        known = REGISTRY.get(self.key)
        if known:
            return str(known[1])
        return str((self.data.get("package") or {}).get("description") or "")

    @property
    def icon(self) -> str:
        known = REGISTRY.get(self.key)
        return known[2] if known else DEFAULT_ICON


@dataclass(frozen=True)
class EntityLine:
    key: str
    icon: str
    color: str
    label: str


@dataclass(frozen=True)
class PipelineLine:
    entity: str
    name: str
    stages: int


@dataclass(frozen=True)
class Summary:
    """What a starter contains, labelled for one reader."""

    entities: tuple[EntityLine, ...]
    pipelines: tuple[PipelineLine, ...]
    roles: tuple[str, ...]


# --- reading the folder (cached until a file changes) ---------------------------------------

_lock = threading.Lock()
_cached: tuple[tuple, tuple[Starter, ...]] | None = None


def _signature(folder: Path) -> tuple:
    if not folder.is_dir():
        return ()
    return tuple(
        (p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(folder.glob("*.json"))
    )


def _read(folder: Path) -> tuple[Starter, ...]:
    found: list[Starter] = []
    for path in sorted(folder.glob("*.json")):
        data = path.read_bytes()
        try:
            package = load(data, filename=path.name)
        except PackageInvalid as exc:  # a broken file is left out, never a broken page
            log.warning("starter %s left out: %s", path.name, exc.problems[:3])
            continue
        found.append(Starter(key=package.name, raw=data, data=package.data))
    # The registry's order first (the most common kind of business leads), others by key.
    order = list(REGISTRY)
    found.sort(key=lambda s: (order.index(s.key) if s.key in order else len(order), s.key))
    return tuple(found)


def available(folder: Path | None = None) -> tuple[Starter, ...]:
    """Every starter in ``folder`` (default ``schemas/starters/``), in the registry's
    order (then by key). Read and
    checked once; read again when a file is added, removed or changed."""
    global _cached
    folder = folder or FOLDER
    signature = (str(folder), *_signature(folder))
    with _lock:
        if _cached is None or _cached[0] != signature:
            _cached = (signature, _read(folder))
        return _cached[1]


def get(key: Any) -> Starter | None:
    """The starter ``key``, or None (anything that is not a starter's key)."""
    if not isinstance(key, str):
        return None
    return next((s for s in available() if s.key == key), None)


def _part(translations: Any, part: str) -> Mapping[str, str] | None:
    found = translations.get(part) if isinstance(translations, Mapping) else None
    return found if isinstance(found, Mapping) else None


def summary(starter: Starter, locale: str | None) -> Summary:
    """The entities (icon, colour, plural label), pipelines (entity, name, number of
    stages) and roles of ``starter``, labelled for a reader of ``locale`` with the
    package's own translations (its plain labels where it has none)."""
    entities, pipelines = [], []
    for key, e in sorted((starter.data.get("entities") or {}).items()):
        if e.get("archived"):
            continue
        tr = e.get("translations")
        label = pick(e.get("label_plural") or key, _part(tr, "plural"), locale)
        entities.append(EntityLine(key, e.get("icon") or "", e.get("color") or "", label))
        for p in (e.get("pipelines") or {}).values():
            if p.get("archived"):
                continue
            stages = [s for s in p.get("stages") or [] if not s.get("archived")]
            name = pick(p.get("name") or "", _part(p.get("translations"), "name"), locale)
            pipelines.append(PipelineLine(label, name, len(stages)))
    roles = tuple(
        pick(r.get("name") or key, _part(r.get("translations"), "name"), locale)
        for key, r in sorted((starter.data.get("roles") or {}).items())
    )
    return Summary(tuple(entities), tuple(pipelines), roles)


# --- installing -------------------------------------------------------------------------------


def installation_is_empty() -> bool:
    """True while the installation has no entity at all (archived ones count: a company
    that archived its entities is not a new installation)."""
    return not specs.raw().entities


def install(key: Any, user: Any) -> tuple[Starter, Result]:
    """Apply the starter ``key`` to this installation as ``user`` (plan, then apply
    through ``crm.packages.apply``, one transaction).

    Raises ``Forbidden`` unless ``user`` may configure; ``NotFound`` for anything that is
    not a starter's key; ``Conflict`` when the installation already has entities (a
    starter never lands over a company's configuration, nor twice); ``ValidationFailed``
    or ``PackageInvalid`` for what the package or the writers refuse. Nothing changes
    then."""
    policy.require(user, policy.CONFIGURE)
    starter = get(key)
    if starter is None:
        raise NotFound(_("There is no such starter. Choose one of those shown."))
    if not installation_is_empty():
        raise Conflict(
            _("This CRM already has entities: starters are offered only to a new installation.")
        )
    package = load(starter.raw, filename=f"{starter.key}.json", existing=specs.raw().entities)
    result = apply(plan_package(package.data), actor_id=user.id)
    return starter, result
