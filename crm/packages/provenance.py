"""Provenance: which package (name, version, content hash) each applied item came from.

``record`` writes, inside the apply's transaction, every item of the package as it said
it (the "base" of the next plan); ``base_for`` reads them back as a configuration in the
package format, for ``plan(mine, theirs, base)``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, insert, select

from crm.extensions import db
from crm.packages.models import PackageItem
from crm.packages.plan import items
from crm.timeutil import utcnow


def content_hash(package: Mapping[str, Any]) -> str:
    """SHA-256 of the package's canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(package, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _meta(package: Mapping[str, Any]) -> tuple[str, str]:
    meta = package.get("package") or {}
    return str(meta.get("name") or ""), str(meta.get("version") or "")


def _rows(package: Mapping[str, Any]) -> dict[str, Any]:
    return {path: value for path, (_kind, _e, value) in items(package).items()}


def unchanged(package: Mapping[str, Any]) -> bool:
    """True when the stored provenance already is this package's, item for item."""
    name, version = _meta(package)
    digest = content_hash(package)
    stored = db.session.scalars(select(PackageItem).where(PackageItem.package_name == name)).all()
    wanted = _rows(package)
    return len(stored) == len(wanted) and all(
        r.path in wanted
        and r.base == wanted[r.path]
        and r.package_version == version
        and r.content_hash == digest
        for r in stored
    )


def record(package: Mapping[str, Any]) -> None:
    """Remember every item of ``package`` as its base (in the open transaction: the
    caller's unit of work commits or rolls it back with the rest of the apply)."""
    name, version = _meta(package)
    digest = content_hash(package)
    wanted = _rows(package)
    db.session.execute(
        delete(PackageItem).where(
            (PackageItem.package_name == name) | PackageItem.path.in_(list(wanted))
        )
    )
    if not wanted:
        return
    now = utcnow()
    # One multi-row INSERT (thousands of items for a big package), not an object each.
    db.session.execute(
        insert(PackageItem),
        [
            {
                "path": path,
                "package_name": name,
                "package_version": version,
                "content_hash": digest,
                "base": value,
                "applied_at": now,
            }
            for path, value in sorted(wanted.items())
        ],
    )


def base_for(name: str) -> dict[str, Any] | None:
    """What package ``name`` said, item by item, when it was last applied (None when it
    never was): a configuration in the package format."""
    rows = db.session.scalars(select(PackageItem).where(PackageItem.package_name == name)).all()
    if not rows:
        return None
    out: dict[str, Any] = {"entities": {}, "roles": {}}
    for row in rows:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in row.path.split("/")[1:]]
        if parts[0] in ("roles", "rules", "duplicate_rules", "pools"):
            out.setdefault(parts[0], {})[parts[1]] = row.base
            continue
        entity = out["entities"].setdefault(parts[1], {})
        if len(parts) == 2:
            entity.update(row.base or {})
        else:
            entity.setdefault(parts[2], {})[parts[3]] = row.base
    return out
