"""What the page frame offers a user: the entities in the top bar and the links they may
follow. Templates reach these through ``crm.web.templating``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from flask_login import current_user

from crm.access import policy
from crm.metadata import specs
from crm.metadata.spec import EntitySpec


def may(action: str, entity: str | None = None, record: int | None = None) -> bool:
    """``may("configure")``, ``may("read", "deal")``: the access policy's answer for the
    signed-in user, so templates show only the links they may follow."""
    return policy.can(current_user, action, entity, record)


def runtime_entities(user: Any) -> list[EntitySpec]:
    """The active entities ``user`` may read, by plural label: the top bar's links. Empty
    for someone not signed in, and when the specs cannot be read (an error page must still
    render)."""
    if not getattr(user, "is_authenticated", False):
        return []
    try:
        entities = [e for e in specs.current().active_entities if policy.can(user, "read", e.key)]
    except Exception:  # noqa: BLE001 - an error page must render even if this fails
        return []
    return sorted(entities, key=lambda e: e.label_plural.lower())


def unread_notifications(user: Any) -> int:
    """How many unread notifications ``user`` has (the bell's badge): one indexed COUNT.
    0 for someone not signed in, and when it cannot be read (an error page must render)."""
    if not getattr(user, "is_authenticated", False):
        return 0
    from crm.notifications import service

    try:
        return service.unread_count(user)
    except Exception:  # noqa: BLE001 - an error page must render even if this fails
        return 0


class OnFirstUse:
    """A list worked out when a template first reads it: the page frame's entities are
    offered to every template, and a fragment (a board's card page, a notice) never
    reads them."""

    def __init__(self, work: Callable[[], list]):
        self._work = work
        self._value: list | None = None

    def _get(self) -> list:
        if self._value is None:
            self._value = self._work()
        return self._value

    def __iter__(self) -> Iterator:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())

    def __bool__(self) -> bool:
        return bool(self._get())

    def __getitem__(self, index):
        return self._get()[index]


def analytics_link(user: Any) -> bool:
    """Whether the top bar offers "Analytics": to anyone signed in who may read an entity
    with a pipeline (dashboards are everyone's, pipeline figures need one). False when it
    cannot be worked out (an error page must render)."""
    if not getattr(user, "is_authenticated", False):
        return False
    try:
        from crm.analytics.views import pipeline_entities

        return bool(pipeline_entities(user))
    except Exception:  # noqa: BLE001 - an error page must render even if this fails
        return False
