"""Record and list pages build their links from one ``url_for``: each must be the route's own."""

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


def test_every_list_link_is_what_url_for_builds(app):
    from crm.records.present import EntityUrls

    with app.test_request_context("/"):
        urls = EntityUrls("deal")
        same = {
            urls.list: url_for("records.record_list", key="deal"),
            f"{urls.record_prefix}42": url_for("records.record_page", key="deal", record_id=42),
            urls.new: url_for("records.record_new", key="deal"),
            urls.quick_new: url_for("records.record_new", key="deal", quick=1),
            urls.bin: url_for("records.recycle_bin", key="deal"),
            urls.count: url_for("records.record_count", key="deal"),
            urls.export_csv: url_for("records.record_export", key="deal", fmt="csv"),
            urls.export_xlsx: url_for("records.record_export", key="deal", fmt="xlsx"),
            urls.bulk_edit: url_for("records.bulk_edit", key="deal"),
            urls.bulk_input: url_for("records.bulk_input", key="deal"),
            urls.bulk_assign: url_for("records.bulk_assign", key="deal"),
            urls.bulk_delete: url_for("records.bulk_delete", key="deal"),
        }
        assert all(ours == theirs for ours, theirs in same.items()), same
