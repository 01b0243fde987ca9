"""The interface's message catalogs: extract, update, compile, check.

    python scripts/i18n.py update   # extract marked strings, merge them into every catalog, compile
    python scripts/i18n.py compile  # .po -> .mo (the .mo files are committed)
    python scripts/i18n.py check    # what the catalog test checks; exit 1 on any problem
    python scripts/i18n.py fill F.json [...]  # put translations into the catalogs, compile
        # F.json: {"zh_Hans": {"msgid": "translation" or [plural forms], ...}, "es": {...}}

Marked strings are extracted as ``babel.cfg`` says (``_``, ``gettext``, ``ngettext``,
their lazy forms ``_l``/``lazy_gettext``/``lazy_ngettext``, and Jinja's ``{% trans %}``).
English is the source language: its catalog holds no translations, the others must hold
every message, translated, none fuzzy, every plural form filled.
"""

from __future__ import annotations

import io
import sys
from configparser import RawConfigParser
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
CATALOGS = ROOT / "crm" / "translations"
LOCALES = ("en", "zh_Hans", "es")
SOURCE_LOCALE = "en"
KEYWORDS = {
    **DEFAULT_KEYWORDS,
    "_l": None,
    "lazy_gettext": None,
    "_n": (1, 2),
    "lazy_ngettext": (1, 2),
}


def _mapping() -> tuple[list[tuple[str, str]], dict[str, dict[str, str]]]:
    parser = RawConfigParser()
    parser.read(ROOT / "babel.cfg", encoding="utf-8")
    method_map, options_map = [], {}
    for section in parser.sections():
        method, pattern = (part.strip() for part in section.split(":", 1))
        method_map.append((pattern, method))
        options_map[pattern] = dict(parser.items(section))
    return method_map, options_map


def extract() -> Catalog:
    """Every marked message in the source, as a template catalog (no locations: catalogs
    then change only when messages do)."""
    method_map, options_map = _mapping()
    template = Catalog(project="Atelier CRM", charset="utf-8", fuzzy=False)
    for _filename, lineno, message, comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",)
    ):
        template.add(message, None, [], auto_comments=comments, context=context)
        del lineno
    return template


def po_path(locale: str) -> Path:
    return CATALOGS / locale / "LC_MESSAGES" / "messages.po"


def read(locale: str) -> Catalog:
    with po_path(locale).open("rb") as handle:
        return read_po(handle, locale=locale)


# Fixed header dates: a catalog's file changes only when its messages do (no merge
# conflicts between branches over a timestamp).
_STAMP = datetime(2026, 12, 1, tzinfo=UTC)


def _write_po(catalog: Catalog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    catalog.creation_date = _STAMP
    catalog.revision_date = _STAMP
    buffer = io.BytesIO()
    write_po(buffer, catalog, omit_header=False, sort_output=True, width=100, no_location=True)
    path.write_bytes(buffer.getvalue())


def mo_bytes(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    return buffer.getvalue()


def update() -> None:
    template = extract()
    _write_po(template, CATALOGS / "messages.pot")
    for locale in LOCALES:
        path = po_path(locale)
        if path.exists():
            catalog = read(locale)
            catalog.update(template, no_fuzzy_matching=True)
            catalog.obsolete.clear()
        else:
            catalog = Catalog(locale=locale, project="Atelier CRM", fuzzy=False)
            catalog.update(template, no_fuzzy_matching=True)
        _write_po(catalog, path)
    compile_all()


def compile_all() -> None:
    for locale in LOCALES:
        path = po_path(locale)
        path.with_suffix(".mo").write_bytes(mo_bytes(read(locale)))


def fill(paths: list[str]) -> None:
    """Put the translations of JSON files into the catalogs (messages they name that the
    source no longer has are ignored), then compile."""
    import json

    tables: dict[str, dict] = {}
    for name in paths:
        for locale, table in json.loads(Path(name).read_text(encoding="utf-8")).items():
            tables.setdefault(locale, {}).update(table)
    for locale, table in tables.items():
        catalog = read(locale)
        for message in catalog:
            key = message.id if isinstance(message.id, str) else message.id[0]
            if message.id and key in table:
                value = table[key]
                message.string = tuple(value) if isinstance(message.id, tuple) else value
                message.flags.discard("fuzzy")
        _write_po(catalog, po_path(locale))
    compile_all()


def _untranslated(message) -> bool:
    if isinstance(message.string, (tuple, list)):
        return any(not s for s in message.string)
    return not message.string


def check() -> list[str]:
    """Problems with the catalogs, one line each (none: all is well)."""
    problems: list[str] = []
    wanted = {m.id if isinstance(m.id, str) else m.id[0]: m for m in extract() if m.id}
    for locale in LOCALES:
        path = po_path(locale)
        if not path.exists():
            problems.append(f"{locale}: no catalog at {path.relative_to(ROOT)}")
            continue
        catalog = read(locale)
        have = {m.id if isinstance(m.id, str) else m.id[0]: m for m in catalog if m.id}
        for key in sorted(set(wanted) - set(have)):
            problems.append(f"{locale}: missing {key!r} (run `make messages`)")
        for key in sorted(set(have) - set(wanted)):
            problems.append(f"{locale}: {key!r} is no longer in the source (run `make messages`)")
        if locale != SOURCE_LOCALE:
            for key, message in sorted(have.items()):
                if key not in wanted:
                    continue
                if message.fuzzy:
                    problems.append(f"{locale}: fuzzy {key!r}")
                elif _untranslated(message):
                    problems.append(f"{locale}: untranslated {key!r}")
        mo = path.with_suffix(".mo")
        if not mo.exists() or mo.read_bytes() != mo_bytes(catalog):
            problems.append(f"{locale}: {mo.relative_to(ROOT)} is stale (run `make messages`)")
    return problems


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "check"
    if command == "update":
        update()
    elif command == "fill":
        fill(argv[2:])
    elif command == "compile":
        compile_all()
    elif command == "check":
        problems = check()
        for line in problems:
            print(line)
        return 1 if problems else 0
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
