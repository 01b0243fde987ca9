"""Imports (issue 16): reading files as people have them, parsing their values, mapping,
running and undoing imports.

Today: ``read`` (open a CSV, TSV or XLSX upload and stream its rows, reporting the
malformed ones) and ``values`` (cell text as people write it, through the field-type
registry's ``parse_import`` hooks).
"""
