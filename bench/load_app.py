"""The app the load test serves under gunicorn: the real app, plus the hand-written pages.

``gunicorn 'bench.load_app:create()'`` with the settings in the environment
(``DATABASE_URL``, ``SECRET_KEY``, ``ATELIER_INSTANCE_PATH``) on a database filled by
``bench.list_data`` (``bench.load_bench`` does all of this).
"""

from __future__ import annotations

from flask import Flask

from app import create_app
from bench import list_pages


def create() -> Flask:
    """The application of ``app.create_app()`` with ``bench.list_pages`` registered on it.

    Raises what ``create_app`` raises (an unmigrated database), and ``KeyError`` when the
    database holds no benchmark data (no "account" entity)."""
    app = create_app()
    with app.app_context():
        list_pages.register(app)
    return app
