"""Duplicate rules (issue 18), the core: no screens yet.

- ``normalize``: pure normal forms (text, company, phone E.164, e-mail, domain, names);
- ``models``: the ``duplicate_rules`` and ``dedupe_keys`` tables (migration 0026);
- ``rules``: rules as frozen ``Rule``s, ``check`` / ``save``, the default person and
  company rules as data;
- ``match``: blocking keys, ``score``, the live ``candidates`` / ``check`` of a record
  being typed (scoped to the reader; hidden matches counted for blocking rules);
- ``groups``: ``find_groups`` over all records from the key table (SQL, not n²);
- ``keys``: the key table kept in step (``refresh`` for written records, ``rebuild`` and
  the ``dedupe.rebuild`` job).
"""
