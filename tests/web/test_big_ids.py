"""An id larger than a system table's 32-bit key names nothing: the page is a 404, on
PostgreSQL too (which would refuse such a number as out of range, not find no row)."""

from __future__ import annotations

import pytest

from crm.schema import service as schema

BIG = 2**40


@pytest.mark.parametrize(
    "url",
    [
        f"/admin/access/roles/{BIG}",
        f"/admin/access/users/{BIG}",
        f"/admin/access/departments/{BIG}",
        f"/admin/entities/account/views/{BIG}/edit",
        f"/admin/access/roles/{2**31}",
    ],
)
def test_an_id_too_large_for_its_table_is_not_found(admin, login_as, url):
    schema.create_entity(
        "account", "Account", fields=[{"key": "name", "type": "text", "label": "Name"}]
    )
    assert login_as(admin).get(url).status_code == 404
