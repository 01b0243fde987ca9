"""Message templates that quote a record's fields: "Deal {{ record.name }} won by
{{ record.owner_id }}".

A template is checked when it is saved (``check``) and rendered per recipient (``render``):

- Only ``{{ record.<field key> }}`` (or ``record["key"]``) and ``{{ record_name }}`` may
  appear, with literal text around them: no statements, no calls, no filters, no other
  names. The check walks the parsed template, so nothing else ever reaches the renderer.
- Rendering runs in Jinja's immutable sandbox on plain strings: even a template that
  skipped the check could reach no attribute of any Python object.
- A field the template's author may not read is refused at the check; at rendering, a field
  the *recipient* may not read is left out (shown as "—"), so no notification or e-mail
  ever shows a value its reader could not see on the record page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from crm.access import policy
from crm.metadata import types
from crm.metadata.spec import EntitySpec
from crm.records import present

MAX_LENGTH = 4000
HIDDEN = "—"

_ENV = ImmutableSandboxedEnvironment(autoescape=False, undefined=StrictUndefined)


def _field_of(node: nodes.Node) -> str | None:
    """The field key of ``record.key`` / ``record["key"]``; None for anything else."""
    if not isinstance(node, nodes.Getattr | nodes.Getitem):
        return None
    if not isinstance(node.node, nodes.Name) or node.node.name != "record":
        return None
    if isinstance(node, nodes.Getattr):
        return node.attr
    return str(node.arg.value) if isinstance(node.arg, nodes.Const) else None


def quoted_fields(text: str) -> list[str]:
    """The field keys ``text`` quotes, in order, once each.

    Raises ``ValueError`` with a message for people when the template is not one this
    module renders (bad syntax, a statement, a call, a filter, an unknown name)."""
    if len(text) > MAX_LENGTH:
        raise ValueError(_("A message may be at most %(n)d characters long.", n=MAX_LENGTH))
    try:
        tree = _ENV.parse(text)
    except TemplateSyntaxError as exc:
        raise ValueError(_("The message cannot be read: %(error)s", error=exc.message)) from None
    keys: list[str] = []
    for body in tree.body:
        if not isinstance(body, nodes.Output):
            raise ValueError(
                _(
                    "A message may only quote fields as {{ record.field_key }}; "
                    "it cannot hold {% … %} statements."
                )
            )
        for part in body.nodes:
            if isinstance(part, nodes.TemplateData):
                continue
            if isinstance(part, nodes.Name) and part.name == "record_name":
                continue
            key = _field_of(part)
            if key is None:
                raise ValueError(
                    _(
                        "A message may only quote fields as {{ record.field_key }} "
                        "or {{ record_name }}."
                    )
                )
            if key not in keys:
                keys.append(key)
    return keys


def check(text: str, spec: EntitySpec, author: Any) -> list[str]:
    """The problems of ``text`` as a template about records of ``spec`` written by
    ``author`` (a user, or None for the system): the syntax, then every quoted field that
    does not exist or that ``author`` may not read. Empty when the template is fine."""
    try:
        keys = quoted_fields(text)
    except ValueError as exc:
        return [str(exc)]
    fields = {f.key for f in spec.active_fields}
    readable = fields if author is None else {f.key for f in policy.visible_fields(author, spec)}
    problems = []
    for key in keys:
        if key not in fields:
            problems.append(
                _("The message quotes %(key)s, which is not a field of this entity.", key=key)
            )
        elif key not in readable:
            problems.append(_("The message quotes %(key)s, a field you may not read.", key=key))
    return problems


def render(text: str, spec: EntitySpec, row: Mapping[str, Any], reader: Any) -> str:
    """``text`` with the record ``row``'s values as ``reader`` may see them: a field hidden
    from them, unknown or archived, shows as "—". A template that no longer passes the
    check renders as its own text, unquoted (it never raises)."""
    try:
        keys = quoted_fields(text)
    except ValueError:
        return text
    visible = {f.key: f for f in policy.visible_fields(reader, spec)}
    shown = [visible[k] for k in keys if k in visible]
    display = present.Display(reader, spec, shown, [row]) if shown else None
    values: dict[str, str] = {}
    for key in keys:
        f = visible.get(key)
        if f is None or display is None:
            values[key] = HIDDEN
            continue
        value = types.get(f.type).text(f, row.get(f.key), display.names(f))
        values[key] = value or ""
    name = present.record_name(spec, row, reader)
    try:
        return _ENV.from_string(text).render(record=values, record_name=name)
    except Exception:  # noqa: BLE001 - the sandbox refused what the check let through
        return text
