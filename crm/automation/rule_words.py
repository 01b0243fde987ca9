"""Automation rules in words for the configuration screens: "When Stage becomes Won",
"Notify the owner, Finance (department)", and the people, roles and departments a rule
editor offers. Plain text (templates escape it), in the reader's language."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import select

from crm.access import directory, names
from crm.access.models import Department, Role
from crm.extensions import db
from crm.i18n import pick, request_locale
from crm.metadata import list_views as lv
from crm.metadata import specs as spec_cache
from crm.metadata import types
from crm.metadata.spec import EntitySpec
from crm.pipelines.spec import EntityPipelines

TRIGGER_WORDS = {
    "created": _l("A record is created"),
    "updated": _l("A record is changed"),
    "changed": _l("A field changes"),
    "stage_entered": _l("A record enters a stage"),
    "stage_left": _l("A record leaves a stage"),
    "date": _l("A date is reached"),
    "held": _l("A condition holds for some days"),
}
ACTION_WORDS = {
    "set": _l("Set fields"),
    "assign": _l("Assign"),
    "task": _l("Create a task"),
    "notify": _l("Notify"),
    "email": _l("Send an e-mail"),
    "webhook": _l("Call a webhook"),
    "pool": _l("Return to the customer pool"),
}
STATUS_WORDS = {
    "done": _l("Done"),
    "failed": _l("Failed"),
    "skipped": _l("Skipped"),
    "loop": _l("Stopped: a loop"),
}
HOW_WORDS = {"round_robin": _l("round-robin"), "least_loaded": _l("least loaded")}
PRIORITY_WORDS = {"low": _l("Low"), "normal": _l("Normal"), "high": _l("High")}


@dataclass(frozen=True)
class Directory:
    """Who a rule may name: people, roles and departments by id, in the reader's words."""

    people: Mapping[int, str]
    roles: Mapping[int, str]
    departments: Mapping[int, str]

    def recipient(self, r: Any) -> str:
        """One recipient in words."""
        if r == "owner":
            return _("the owner")
        if r == "manager":
            return _("the owner's manager")
        if isinstance(r, Mapping) and len(r) == 1:
            ((kind, rid),) = r.items()
            if kind == "user":
                return self.people.get(rid) or _("user #%(id)s", id=rid)
            if kind == "role":
                name = self.roles.get(rid) or "#" + str(rid)
                return _("%(name)s (role)", name=name)
            if kind == "department":
                name = self.departments.get(rid) or "#" + str(rid)
                return _("%(name)s (department)", name=name)
        return "?"


def directory_now() -> Directory:
    """Active people, roles and departments, names in the reader's language (reads only)."""
    locale = request_locale()
    roles = {
        r.id: names.shown(r.name, r.translations, locale)
        for r in db.session.scalars(select(Role).order_by(Role.name))
    }
    depts = {
        d.id: names.shown(d.name, d.translations, locale)
        for d in db.session.scalars(select(Department).order_by(Department.path))
    }
    return Directory(directory.user_names(), roles, depts)


def is_temporal(f: Any) -> bool:
    """Whether a date trigger may follow field ``f`` (the type registry says)."""
    return types.get(f.type).temporal


def rule_name(row: Any) -> str:
    """A rule's name in the reader's language."""
    return pick(row.name, (row.translations or {}).get("name"), request_locale())


def _pipes(entity: EntitySpec) -> EntityPipelines:
    return spec_cache.current().pipelines.get(entity.key) or EntityPipelines(entity.key)


def stage_name(entity: EntitySpec, key: str | None) -> str:
    """A stage's name in the reader's language (its key when unknown)."""
    stage = _pipes(entity).stage(key)
    if stage is None:
        return str(key or "")
    return pick(stage.name, stage.translations.get("name"), request_locale())


def _field(entity: EntitySpec, key: Any) -> str:
    f = lv.field_for(entity, key)
    return str(f.label) if f is not None else str(key)


def describe_trigger(entity: EntitySpec, t: Mapping[str, Any]) -> str:
    """ "When Stage becomes Won", "7 days before Birthday, every year"."""
    kind = t.get("type")
    if kind == "changed":
        if t.get("to"):
            return _(
                "%(field)s changes to “%(value)s”",
                field=_field(entity, t.get("field")),
                value=t["to"],
            )
        return _("%(field)s changes", field=_field(entity, t.get("field")))
    if kind == "stage_entered":
        return _("Enters the stage %(stage)s", stage=stage_name(entity, t.get("stage")))
    if kind == "stage_left":
        return _("Leaves the stage %(stage)s", stage=stage_name(entity, t.get("stage")))
    if kind == "date":
        field, days = _field(entity, t.get("field")), int(t.get("offset_days") or 0)
        if days < 0:
            words = ngettext(
                "%(num)d day before %(field)s", "%(num)d days before %(field)s", -days, field=field
            )
        elif days > 0:
            words = ngettext(
                "%(num)d day after %(field)s", "%(num)d days after %(field)s", days, field=field
            )
        else:
            words = _("On %(field)s", field=field)
        return _("%(when)s, every year", when=words) if t.get("yearly") else words
    if kind == "held":
        days = int(t.get("days") or 0)
        if t.get("what") == "in_stage":
            return ngettext(
                "In the stage %(stage)s for %(num)d day",
                "In the stage %(stage)s for %(num)d days",
                days,
                stage=stage_name(entity, t.get("stage")),
            )
        return ngettext("No activity for %(num)d day", "No activity for %(num)d days", days)
    return str(TRIGGER_WORDS.get(kind, kind or ""))


def describe_action(entity: EntitySpec, a: Mapping[str, Any], d: Directory) -> str:
    """One action in words: "Notify the owner, Finance (department)"."""
    kind = a.get("type")
    if kind == "set":
        parts = [f"{_field(entity, k)} = {v}" for k, v in (a.get("values") or {}).items()]
        return _("Set %(values)s", values="; ".join(parts))
    if kind == "assign":
        who = d.recipient(a.get("to"))
        if a.get("how"):
            return _("Assign to %(who)s, %(how)s", who=who, how=HOW_WORDS.get(a["how"], a["how"]))
        return _("Assign to %(who)s", who=who)
    if kind == "task":
        assignee = d.recipient(a.get("assignee") or "owner")
        return ngettext(
            "Task “%(subject)s” for %(who)s, due in %(num)d day",
            "Task “%(subject)s” for %(who)s, due in %(num)d days",
            int(a.get("due_in_days") or 0),
            subject=a.get("subject", ""),
            who=assignee,
        )
    if kind in ("notify", "email"):
        who = ", ".join(d.recipient(r) for r in a.get("to") or ())
        if kind == "notify":
            return _("Notify %(who)s: “%(title)s”", who=who, title=a.get("title", ""))
        return _("E-mail %(who)s: “%(subject)s”", who=who, subject=a.get("subject", ""))
    if kind == "webhook":
        return _("Call %(url)s", url=a.get("url", ""))
    if kind == "pool":
        return _("Return to the pool %(pool)s: “%(reason)s”", pool=a.get("pool") or "—",
                 reason=a.get("reason", ""))  # fmt: skip
    return str(kind)
