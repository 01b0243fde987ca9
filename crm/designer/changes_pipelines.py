"""The change log's words for pipeline changes (``save_pipeline``, ``archive_pipeline``).

Their before/after are the pipeline as ``crm.pipelines.service._public`` writes it (name,
translations, default, options, stages with their settings): this turns two of them into
lines a person reads ("stages added: Negotiation", "probability of Proposal: 60 → 70").
Anything missing or malformed in a stored entry reads as "—", never an error.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from crm.designer.views_changes import (
    Line,
    colour_text,
    field_label,
    plain_text,
    translation_lines,
)
from crm.metadata.spec import EntitySpec
from crm.pipelines.service import CATEGORY_WORDS


def _stages(side: Any) -> list[dict]:
    raw = side.get("stages") if isinstance(side, dict) else None
    return [s for s in raw or [] if isinstance(s, dict) and isinstance(s.get("key"), str)]


def _active(side: Any) -> dict[str, dict]:
    return {s["key"]: s for s in _stages(side) if not s.get("archived")}


def _name(stage: dict) -> str:
    return plain_text(stage.get("name") or stage.get("key"))


def _fields(entity: EntitySpec | None, keys: Any) -> str:
    if not isinstance(keys, list) or not keys:
        return "—"
    if entity is None:
        return plain_text([k for k in keys if isinstance(k, str)])
    return plain_text([field_label(entity, k) for k in keys if isinstance(k, str)])


def _percent(value: Any) -> str:
    return f"{value} %" if isinstance(value, int) else plain_text(value)


def _category(value: Any) -> str:
    return str(CATEGORY_WORDS[value]) if value in CATEGORY_WORDS else plain_text(value)


def _summary(stages: dict[str, dict]) -> str:
    return ", ".join(f"{_name(s)} ({_percent(s.get('probability'))})" for s in stages.values())


def _stage_lines(old: dict, new: dict, entity: EntitySpec | None) -> list[Line]:
    """What changed in one stage kept by the change."""
    name = _name(new)
    lines: list[Line] = []
    if old.get("name") != new.get("name"):
        lines.append(Line(_("stage renamed"), _name(old), name))
    checks = (
        ("probability", _("probability of %(stage)s", stage=name), _percent),
        ("category", _("category of %(stage)s", stage=name), _category),
        ("color", _("colour of %(stage)s", stage=name), colour_text),
        ("stale_days", _("stale after (days) of %(stage)s", stage=name), plain_text),
    )
    for attr, words, show in checks:
        if old.get(attr) != new.get(attr):
            lines.append(Line(words, show(old.get(attr)), show(new.get(attr))))
    if (old.get("required_fields") or []) != (new.get("required_fields") or []):
        lines.append(
            Line(
                _("required fields of %(stage)s", stage=name),
                _fields(entity, old.get("required_fields")),
                _fields(entity, new.get("required_fields")),
            )
        )
    if (old.get("translations") or {}) != (new.get("translations") or {}):
        for line in translation_lines(old.get("translations"), new.get("translations")):
            line.key = _("%(setting)s of %(stage)s", setting=line.key, stage=name)
            lines.append(line)
    return lines


def pipeline_lines(before: Any, after: Any, entity: EntitySpec | None) -> list[Line]:
    """The lines of one pipeline change: created (only ``after``), archived (only
    ``before``) or changed (both)."""
    subject = after if isinstance(after, dict) else before if isinstance(before, dict) else {}
    lines = [Line(_("pipeline"), after=plain_text(subject.get("name") or subject.get("key")))]
    if not isinstance(before, dict) or not isinstance(after, dict):
        if isinstance(after, dict):
            lines.append(Line(_("stages"), after=_summary(_active(after)) or "—"))
        return lines
    if before.get("name") != after.get("name"):
        lines.append(Line(_("name"), plain_text(before.get("name")), plain_text(after.get("name"))))
    lines += translation_lines(before.get("translations"), after.get("translations"))
    if bool(before.get("is_default")) != bool(after.get("is_default")):
        lines.append(
            Line(
                _("default pipeline"),
                plain_text(bool(before.get("is_default"))),
                plain_text(bool(after.get("is_default"))),
            )
        )
    if bool(before.get("archived")) != bool(after.get("archived")):
        lines.append(
            Line(_("archived"), plain_text(bool(before.get("archived"))), plain_text(False))
        )
    old_o = before.get("options") if isinstance(before.get("options"), dict) else {}
    new_o = after.get("options") if isinstance(after.get("options"), dict) else {}
    if old_o.get("amount_field") != new_o.get("amount_field"):
        lines.append(
            Line(
                _("amount field"),
                _fields(entity, [old_o["amount_field"]] if old_o.get("amount_field") else []),
                _fields(entity, [new_o["amount_field"]] if new_o.get("amount_field") else []),
            )
        )
    if (old_o.get("card_fields") or []) != (new_o.get("card_fields") or []):
        lines.append(
            Line(
                _("fields on the cards"),
                _fields(entity, old_o.get("card_fields")),
                _fields(entity, new_o.get("card_fields")),
            )
        )
    if bool(old_o.get("probability_override")) != bool(new_o.get("probability_override")):
        lines.append(
            Line(
                _("probability may be overridden"),
                plain_text(bool(old_o.get("probability_override"))),
                plain_text(bool(new_o.get("probability_override"))),
            )
        )
    old, new = _active(before), _active(after)
    added = [_name(s) for k, s in new.items() if k not in old]
    removed = [_name(s) for k, s in old.items() if k not in new]
    if added:
        lines.append(Line(_("stages added"), after=", ".join(added)))
    if removed:
        lines.append(Line(_("stages removed"), before=", ".join(removed)))
    for key, stage in new.items():
        if key in old:
            lines += _stage_lines(old[key], stage, entity)
    kept_before = [k for k in old if k in new]
    kept_after = [k for k in new if k in old]
    if kept_before != kept_after:
        lines.append(
            Line(_("stages reordered"), after=", ".join(_name(new[k]) for k in kept_after))
        )
    return lines
