"""The catalogs hold every marked message, translated, none fuzzy, compiled."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _i18n_script():
    spec = importlib.util.spec_from_file_location("i18n_script", ROOT / "scripts" / "i18n.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_marked_message_is_translated_in_every_catalog():
    problems = _i18n_script().check()
    assert not problems, "\n".join(problems[:50]) + f"\n({len(problems)} problems)"
