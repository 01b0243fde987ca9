"""Factories for test data, shared by every folder of the suite.

- ``people``: users (``make_user``, password ``PASSWORD``), departments, roles with grants
  and field rights;
- ``schema``: entities through the real schema service, and builders for fields of every
  type (``field``, ``text``, ``picklist``, ``multi_picklist``, ``lookup``);
- ``records``: records through the record service or by direct insert, shares, list views.
"""

from tests.factories.people import (
    PASSWORD,
    make_department,
    make_departments,
    make_role,
    make_user,
)
from tests.factories.records import (
    insert_rows,
    make_list_view,
    make_record,
    make_share,
    stored,
)
from tests.factories.schema import (
    choices,
    field,
    lookup,
    make_entity,
    multi_picklist,
    picklist,
    text,
)

__all__ = [
    "PASSWORD",
    "choices",
    "field",
    "insert_rows",
    "lookup",
    "make_department",
    "make_departments",
    "make_entity",
    "make_list_view",
    "make_record",
    "make_role",
    "make_share",
    "make_user",
    "multi_picklist",
    "picklist",
    "stored",
    "text",
]
