"""Managed choice types: a record's pipeline and its stage (``crm.pipelines``).

They store and behave like a picklist (a key in a short string column; filters, cells,
chips, exports and translated labels all come from the choices), but their choices are not
typed in the designer: they are compiled from the entity's pipelines and stages
(``crm.pipelines.compile``), and only the pipeline service adds or changes these fields.
What a move between stages requires (gates, a lost reason, the probability) is checked by
the record service on every channel (``crm.pipelines.rules``).
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from crm.metadata.types import importing
from crm.metadata.types.base import FieldType, fixed
from crm.metadata.types.choices import (
    choice_value,
    format_picklist,
    parse_picklist,
    picklist_cell,
    picklist_filter,
    picklist_html,
)
from crm.metadata.types.forms import PicklistField, form_field

_MANAGED = {
    "has_choices": True, "managed": True, "filter_value": choice_value, "storage": "string",
    "aggregates": ("count",), "sa_type": fixed(sa.String, 41),
    "form_field": form_field(PicklistField), "widget": "select", "parse": parse_picklist,
    "format": format_picklist, "operators": ("in", "not_in", "empty", "not_empty"),
    "filter_sql": picklist_filter, "html": picklist_html, "cell": picklist_cell,
    "can_be_unique": False, "takes_default": False, "index_by_default": True,
    "parse_import": importing.choices(multi=False),
}  # fmt: skip

ENTRIES = (
    FieldType(
        key="pipeline", label=_l("Pipeline"),
        description=_l("Which of the entity's pipelines a record follows."),
        position=104, **_MANAGED,
    ),
    FieldType(
        key="stage", label=_l("Stage"),
        description=_l("Where a record is in its pipeline."),
        position=105, **_MANAGED,
    ),
)  # fmt: skip
