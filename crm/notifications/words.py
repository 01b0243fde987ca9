"""The words people read for each kind of notification (the bell, the e-mail choices)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from crm.notifications.models import (
    APPROVAL,
    APPROVAL_OUTCOME,
    POOL_WARNING,
    RULE,
    TASK_ASSIGNED,
    TASK_REMINDER,
)

KIND_LABELS = {
    RULE: _l("Automation rules: messages a rule sends me"),
    TASK_REMINDER: _l("Reminders of my tasks before they are due"),
    TASK_ASSIGNED: _l("Someone assigned me a task"),
    APPROVAL: _l("A change waits for my approval"),
    APPROVAL_OUTCOME: _l("A change I asked for was approved or rejected"),
    POOL_WARNING: _l("A record of mine is about to return to its customer pool"),
}
