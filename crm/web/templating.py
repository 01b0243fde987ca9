"""The one place that gives templates their globals, filters and context.

Every name a template uses without being passed it is registered here, from the module
where it lives (web filters, presenters, the list page's URL helpers, navigation), so no
view module changes the Jinja environment (``tests/web/test_house_rules.py`` checks).
"""

from __future__ import annotations

from flask import Flask
from flask_login import current_user


def register(app: Flask) -> None:
    """Install the filters, globals and context processor on ``app``'s Jinja environment."""
    from flask_babel import get_locale

    from crm import i18n
    from crm.analytics.present import month_label
    from crm.metadata import types
    from crm.metadata.palette import PALETTE
    from crm.pipelines.views import board_link
    from crm.pools.views import pool_membership, pools_seen
    from crm.records.present import entity_urls, record_urls
    from crm.records.rows import render_rows
    from crm.records.views import filters as list_page
    from crm.web import navigation
    from crm.web.filters import date_short, datetime_short, number, options, urlencode_without

    env = app.jinja_env
    env.trim_blocks = True
    env.lstrip_blocks = True
    env.filters.update(
        datetime_short=datetime_short,
        date_short=date_short,
        number=number,
        urlencode_without=urlencode_without,
        date_month=month_label,  # analytics: "Dec 2026" / "2026年12月"
    )
    env.globals.update(
        field_types=types.REGISTRY,
        palette=PALETTE,
        record_rows=render_rows,
        record_urls=record_urls,
        entity_urls=entity_urls,
        options=options,
        # the list page: its filter chips, sort links, URL state and out-of-band parts
        list_filters=list_page.list_filters,
        list_sort_url=list_page.sort_url,
        list_state=list_page.list_state,
        list_oob=list_page.oob_fragment,
        label_languages=i18n.label_languages,
        board_link=board_link,  # the list page's "List | Board" switch
        # customer pools: the record page's "In pool X since ...", the list page's links
        pool_membership=pool_membership,
        pools_seen=pools_seen,
    )

    @app.context_processor
    def _page_frame() -> dict:
        # Per request: both depend on who is signed in.
        return {
            "html_lang": i18n.html_lang(str(get_locale() or i18n.DEFAULT_LOCALE)),
            "may": navigation.may,
            # the bell's unread count: one COUNT, only when a full page's frame reads it
            "bell_count": lambda: navigation.unread_notifications(current_user),
            "analytics_link": lambda: navigation.analytics_link(current_user),
            "runtime_entities": navigation.OnFirstUse(
                lambda: navigation.runtime_entities(current_user)
            ),
        }
