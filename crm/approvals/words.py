"""What a save that an approval rule held tells the person saving (the record pages and
the board show it instead of "Saved.")."""

from __future__ import annotations

from typing import Any

from flask import render_template
from flask_babel import gettext as _


def sent_for_approval(saved: Any) -> str:
    """ "Sent for approval." for a save (``records.Saved``) whose change was held; saying so
    when its other values were saved."""
    if saved.written:
        return _("Sent for approval. Your other changes are saved.")
    return _("Sent for approval. The change is saved once it is approved.")


def oob_notice(message: str) -> str:
    """An htmx out-of-band swap that shows ``message`` in the page's notice area."""
    return render_template("approvals/_oob_notice.html", message=message)
