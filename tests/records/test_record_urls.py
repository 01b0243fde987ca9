"""The record page builds its links from one ``url_for``: each must be the route's own."""

from __future__ import annotations

from flask import url_for

from crm.records.present import RecordUrls


def test_every_link_is_what_url_for_builds(app):
    with app.test_request_context("/"):
        urls = RecordUrls("deal", 42)
        same = {
            urls.page: url_for("records.record_page", key="deal", record_id=42),
            urls.edit: url_for("records.record_edit", key="deal", record_id=42),
            urls.delete: url_for("records.record_delete", key="deal", record_id=42),
            urls.notes: url_for("records.note_add", key="deal", record_id=42),
            urls.sharing: url_for("records.sharing_panel", key="deal", record_id=42),
            urls.field_edit.replace("FIELD", "amount"): url_for(
                "records.field_edit", key="deal", record_id=42, field_key="amount"
            ),
            urls.related("contact", "deal"): url_for(
                "records.related_list", key="deal", record_id=42, source="contact",
                field_key="deal",
            ),
        }  # fmt: skip
        assert all(ours == theirs for ours, theirs in same.items()), same
