"""The pipeline editor's form: the pipeline's settings (WTForms) and its stage rows.

Stage rows are posted in the order the administrator arranged them (dragging reorders
the rows, so their inputs): each row has a ``stage_row`` token and its own inputs named
``<token>.<attr>`` (``s3.name``, ``s3.required_fields`` several times ...). This form only
parses; ``crm.pipelines.service.save_pipeline`` checks the meaning and keys every problem
(``stages.<n>.<attr>`` with n the row's index among the stages sent).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, SelectField, StringField

from crm.pipelines.service import MAX_STAGES, StageInput
from forms.base import BaseForm
from forms.designer import translations_from

ROW_TOKEN = re.compile(r"^[a-z0-9]{1,16}$")
# Enough rows for the service to say "at most 40 stages", not so many that a crafted post
# makes work.
MAX_ROWS = MAX_STAGES + 10
STAGE_ATTRS = ("name", "key", "probability", "category", "color", "required_fields", "stale_days")


class PipelineForm(BaseForm):
    # No validators: the pipeline service checks names and keys and says what is wrong.
    name = StringField(_l("Name"))
    key = StringField(
        _l("Key"),
        description=_l("Made from the name when left empty; it cannot change later."),
    )
    is_default = BooleanField(_l("Default pipeline for new records"))
    amount_field = SelectField(_l("Amount summed on the board"), choices=[], validate_choice=False)
    close_field = SelectField(
        _l("Expected close date (forecast)"), choices=[], validate_choice=False
    )
    probability_override = BooleanField(_l("People may type a probability other than the stage's"))
    add_stage = HiddenField()


@dataclass
class StageRowData:
    """One row of the stages table, as shown (from storage or from a post)."""

    token: str
    key: str = ""
    stored: bool = False  # the key is saved: shown fixed
    name: str = ""
    translations: dict = field(default_factory=dict)  # locale -> text
    probability: Any = ""
    category: str = "open"
    color: str = "gray"
    required_fields: list[str] = field(default_factory=list)
    stale_days: Any = ""
    removed: bool = False
    move_to: str = ""
    count: int = 0  # live records in the stored stage
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def blank(self) -> bool:
        """A new row nobody filled in: not a stage (so an extra empty row is harmless)."""
        return not self.stored and not self.key.strip() and not self.name.strip()

    def to_input(self) -> StageInput:
        return StageInput(
            key=self.key,
            name=self.name,
            probability=self.probability,
            category=self.category,
            color=self.color,
            required_fields=list(self.required_fields),
            stale_days=self.stale_days,
            translations={"name": self.translations} if self.translations else None,
        )


def row_from_stage(token: str, stage: Any, count: int = 0) -> StageRowData:
    """A row showing a stored stage (``StageSpec`` with plain labels)."""
    return StageRowData(
        token=token,
        key=stage.key,
        stored=True,
        name=stage.name,
        translations=dict(stage.translations.get("name") or {}),
        probability=stage.probability,
        category=stage.category,
        color=stage.color,
        required_fields=list(stage.required_fields),
        stale_days="" if stage.stale_days is None else stage.stale_days,
        count=count,
    )


def _one(data: Any, name: str) -> str:
    value = data.get(name, "")
    return value if isinstance(value, str) else ""


def rows_from_form(data: Any, stored: dict[str, Any]) -> list[StageRowData]:
    """The stage rows of a post, in the order sent. ``stored``: the pipeline's saved active
    stages by key (their rows keep their translations when the post has none, and their
    keys are fixed). Unknown or repeated row tokens are ignored, never an error."""
    tokens = [t for t in data.getlist("stage_row") if isinstance(t, str) and ROW_TOKEN.match(t)]
    rows: list[StageRowData] = []
    for token in list(dict.fromkeys(tokens))[:MAX_ROWS]:
        p = f"{token}."
        key = _one(data, p + "key").strip()
        translated = translations_from(data, p + "tr_name")
        known = stored.get(key)
        if translated is None:
            translated = dict(known.translations.get("name") or {}) if known else {}
        rows.append(
            StageRowData(
                token=token,
                key=key,
                stored=known is not None,
                name=_one(data, p + "name"),
                translations={k: v for k, v in translated.items() if isinstance(v, str)},
                probability=_one(data, p + "probability").strip(),
                category=_one(data, p + "category"),
                color=_one(data, p + "color"),
                required_fields=[g for g in data.getlist(p + "required_fields") if g][:200],
                stale_days=_one(data, p + "stale_days").strip(),
                removed=bool(data.get(p + "remove")),
                move_to=_one(data, p + "move_to"),
            )
        )
    return [r for r in rows if not r.blank]


def card_fields_from(data: Any) -> list[str]:
    return [k for k in data.getlist("card_fields") if isinstance(k, str) and k][:100]
