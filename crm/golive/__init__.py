"""Going live: the base-data pack (departments, users, then every entity in lookup order)
and the checklist page that shows what is loaded and what is still missing.

``plan`` orders the steps and runs a pack as chained jobs; ``checklist`` reads the state;
``views`` is the page at ``/admin/go-live/`` (full administrators only).
"""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Register the go-live page's blueprint."""
    from crm.golive.views import bp

    app.register_blueprint(bp)
