"""The live duplicate warning of a record form (issue 18, on entry).

A form field that an enabled duplicate rule reads posts the whole form here when it
changes (htmx); the answer is the ``duplicates`` block of ``records/_duplicates.html``:
the matching records the user may read, and for blocking rules how many others match that
they may not read, or nothing. Reads only; the save's own check is the record service's
(``crm.dedupe.entry.guard``).
"""

from __future__ import annotations

from flask import Response, make_response, request
from flask_login import current_user
from jinja2_fragments.flask import render_block

from crm.access import policy
from crm.dedupe import entry
from crm.ids import optional_id
from crm.records import service as records
from crm.records.views import bp, entity_for
from crm.web.htmx import vary
from forms.records import raw_values


@bp.post("/<key>/duplicates")
def duplicates(key: str) -> Response:
    """The possible duplicates of the record a form holds: of a new record, or with
    ``record`` of that record being edited (which never matches itself). 403 / 404 as
    the form itself (create right; edit right on the record)."""
    spec = entity_for(key)
    record_id = optional_id(request.args.get("record"), field="record")
    record = None
    if record_id:
        record = records.get(current_user, spec, record_id, action="edit")
    else:
        policy.require(current_user, "create", spec.key)
    wanted = entry.watched(spec, creating=record is None)
    fields = [f for f in policy.visible_fields(current_user, spec, "edit") if f.key in wanted]
    values = entry.typed_values(spec, raw_values(fields, request.form))
    found = entry.warnings(current_user, spec, values, record=record) if fields else []
    body = render_block("records/_duplicates.html", "duplicates", spec=spec, found=found)
    return vary(make_response(body))
