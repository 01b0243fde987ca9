"""The record page's timeline as a block of its own: what a change made elsewhere on the
page (a task done, a note) sends back to be swapped in."""

from __future__ import annotations

from flask_login import current_user
from jinja2_fragments.flask import render_block

from crm.access import directory, policy
from crm.metadata.spec import EntitySpec
from crm.records import present
from crm.records import service as records


def timeline_block(spec: EntitySpec, record_id: int, *, oob: bool = False) -> str:
    """The timeline of the record as the signed-in user may read it, rendered alone
    (``oob``: marked to be swapped out of band, beside another answer)."""
    return render_block(
        "records/record.html",
        "timeline",
        spec=spec,
        row={"id": record_id},
        oob=oob,
        users=directory.user_names(),
        visible={f.key: f for f in policy.visible_fields(current_user, spec, "read")},
        timeline=present.readable_timeline(
            current_user, spec, records.timeline(current_user, spec, record_id)
        ),
    )
