"""Rules for keys (stable identifiers) and labels (free text) of metadata.

Keys become table and column names, so they are strict: ``^[a-z][a-z0-9_]{0,40}$``, not a
reserved word of SQL, PostgreSQL, SQLite or Python, not a spine column. Labels are free
Unicode text; they are only cleaned of characters that can never be meant (NUL and other
control characters) and limited in length.
"""

from __future__ import annotations

import keyword
import re
import unicodedata

from anyascii import anyascii
from flask_babel import gettext as _

from crm.metadata.spec import SPINE_COLUMNS

KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
MAX_LABEL = 200

# SQL:2016 reserved words, PostgreSQL's reserved and type-function words, and SQLite's
# keywords. A key never needs quoting, in any tool that reads the database.
SQL_RESERVED = frozenset(
    """
    abort action add after all alter always analyze and any array as asc asymmetric
    attach authorization autoincrement before begin between bigint binary bit boolean both
    by cascade case cast char character check collate collation column commit concurrently
    conflict constraint create cross current current_catalog current_date current_role
    current_schema current_time current_timestamp current_user database date day dec decimal
    default deferrable deferred delete desc detach distinct do double drop each else end
    escape except exclude exclusive exists explain false fetch filter first float following
    for foreign freeze from full function generated glob grant group groups having hour if
    ignore ilike immediate in index indexed initially inner insert instead int integer
    intersect interval into is isnull join key lateral last leading left like limit
    localtime localtimestamp match materialized minute month natural no not nothing notnull
    null nulls numeric of offset on only or order others outer over overlaps partition plan
    placing pragma preceding primary procedure query raise range real recursive references
    regexp reindex release rename replace restrict returning revoke right role rollback row
    rows savepoint schema second select session_user set similar smallint some symmetric
    table temp temporary then ties time timestamp to trailing transaction trigger true
    unbounded union unique update user using vacuum values varchar variadic verbose view
    virtual when where window with without year zone
    """.split()
)
PYTHON_RESERVED = (
    frozenset(keyword.kwlist)
    | frozenset(keyword.softkwlist)
    | {
        "none",
        "true",
        "false",
        "self",
        "cls",
    }
)
SPINE = frozenset(SPINE_COLUMNS)
# Names the runtime itself uses in forms, URLs and exports.
APP_RESERVED = frozenset({"csrf_token", "q", "page", "sort", "view", "owner", "x"})
# Quick search's own tables are named ``x_<entity>__fts`` and ``x_<entity>__fts_cjk`` (FTS5
# adds ``_data``, ``_idx``... to each): no key may hold ``__fts``, so no entity's table can
# take one of those names. (FTS5 keeps ``rowid`` and ``rank`` as column names too, but its
# columns are the field keys prefixed, ``crm.schema.search.fts_column``: any key works.)
SEARCH_MARK = "__fts"
# Keys that read like the names SQLAlchemy generates for a statement's values (``version_1``,
# ``id_1``, ``param_1``) are fine: statements that write records name their values
# explicitly (``crm.binds``), so a column key is never a bind name.


# Messages about a key or a label name what they are about inside the sentence (the noun's
# gender and article differ by language), one sentence set per kind. Marked with ``N_``
# for extraction; translated when a problem is reported (``_``).
def N_(message: str) -> str:
    return message


_KEY_MESSAGES: dict[str, dict[str, str]] = {
    "key": {
        "empty": N_("Enter a key."),
        "long": N_("The key is too long: use at most %(max)d characters."),
        "start": N_("The key must start with a lowercase letter (a–z)."),
        "lower": N_("The key must be lowercase: try “%(suggestion)s”."),
        "chars": N_(
            "The key may use only lowercase letters a–z, digits and underscores, "
            "starting with a letter."
        ),
        "spine": N_("“%(key)s” is a column every record already has; choose another key."),
        "reserved": N_("“%(key)s” is a reserved word; choose another key."),
        "search": N_("“%(key)s” is a name quick search keeps for itself; choose another key."),
    },
    "entity key": {
        "empty": N_("Enter an entity key."),
        "long": N_("The entity key is too long: use at most %(max)d characters."),
        "start": N_("The entity key must start with a lowercase letter (a–z)."),
        "lower": N_("The entity key must be lowercase: try “%(suggestion)s”."),
        "chars": N_(
            "The entity key may use only lowercase letters a–z, digits and underscores, "
            "starting with a letter."
        ),
        "spine": N_("“%(key)s” is a column every record already has; choose another entity key."),
        "reserved": N_("“%(key)s” is a reserved word; choose another entity key."),
        "search": N_(
            "“%(key)s” is a name quick search keeps for itself; choose another entity key."
        ),
    },
    "field key": {
        "empty": N_("Enter a field key."),
        "long": N_("The field key is too long: use at most %(max)d characters."),
        "start": N_("The field key must start with a lowercase letter (a–z)."),
        "lower": N_("The field key must be lowercase: try “%(suggestion)s”."),
        "chars": N_(
            "The field key may use only lowercase letters a–z, digits and underscores, "
            "starting with a letter."
        ),
        "spine": N_("“%(key)s” is a column every record already has; choose another field key."),
        "reserved": N_("“%(key)s” is a reserved word; choose another field key."),
        "search": N_(
            "“%(key)s” is a name quick search keeps for itself; choose another field key."
        ),
    },
}
KEY_KINDS = tuple(_KEY_MESSAGES)


def key_problems(key: str, *, what: str = "key") -> list[str]:
    """Every reason ``key`` cannot be used, in words an administrator understands (in the
    request's language). ``what``: one of ``KEY_KINDS``, which the messages name."""
    words = _KEY_MESSAGES.get(what, _KEY_MESSAGES["key"])
    if not isinstance(key, str) or key == "":
        return [_(words["empty"])]
    problems: list[str] = []
    if len(key) > 41:
        problems.append(_(words["long"], max=41))
    if not KEY_RE.match(key[:41]):
        if key[:1].isdigit() or key[:1] == "_":
            problems.append(_(words["start"]))
        elif key.lower() != key and KEY_RE.match(key.lower()[:41]):
            problems.append(_(words["lower"], suggestion=key.lower()))
        else:
            problems.append(_(words["chars"]))
    lowered = key.lower()
    if lowered in SPINE:
        problems.append(_(words["spine"], key=key))
    elif lowered in SQL_RESERVED or lowered in PYTHON_RESERVED or lowered in APP_RESERVED:
        problems.append(_(words["reserved"], key=key))
    elif SEARCH_MARK in lowered:
        problems.append(_(words["search"], key=key))
    return problems


_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn"}


def clean_label(label: str) -> str:
    """Normalise a label: NFC, outer whitespace stripped, control characters removed.

    Right-to-left text, emoji and CJK are kept as typed. Format characters (zero-width
    joiners, direction marks) are kept inside the text (emoji sequences and Arabic need
    them) but a label made only of them is empty.
    """
    text = unicodedata.normalize("NFC", label or "")
    text = "".join(ch for ch in text if unicodedata.category(ch) not in {"Cc", "Cs", "Co"})
    text = " ".join(text.split())
    if all(unicodedata.category(ch) in _INVISIBLE for ch in text):
        return ""
    return text


_LABEL_MESSAGES: dict[str, tuple[str, str]] = {
    "label": (N_("Enter a label."), N_("The label is too long: use at most %(max)d characters.")),
    "singular label": (
        N_("Enter a singular label."),
        N_("The singular label is too long: use at most %(max)d characters."),
    ),
    "plural label": (
        N_("Enter a plural label."),
        N_("The plural label is too long: use at most %(max)d characters."),
    ),
    "field label": (
        N_("Enter a field label."),
        N_("The field label is too long: use at most %(max)d characters."),
    ),
    "choice label": (
        N_("Enter a label of choice “%(choice)s”."),
        N_("The label of choice “%(choice)s” is too long: use at most %(max)d characters."),
    ),
}
LABEL_KINDS = tuple(_LABEL_MESSAGES)


def label_problems(
    label: str, *, what: str = "label", required: bool = True, choice: str = ""
) -> list[str]:
    """Problems with a (raw) label: empty after cleaning, or too long. ``what``: one of
    ``LABEL_KINDS``, which the messages name (``choice``: the key of the picklist value a
    "choice label" belongs to)."""
    empty, long = _LABEL_MESSAGES.get(what, _LABEL_MESSAGES["label"])
    cleaned = clean_label(label)
    if required and not cleaned:
        return [_(empty, choice=choice)]
    if len(cleaned) > MAX_LABEL:
        return [_(long, max=MAX_LABEL, choice=choice)]
    return []


def suggest_key(label: str, *, taken: set[str] | frozenset[str] = frozenset()) -> str:
    """A valid key suggested from a label: transliterated to Latin (客户 -> ke_hu,
    Заказчик -> zakazchik), snake_case, not reserved, not taken. The designer lets the
    administrator edit it before saving."""
    latin = anyascii(clean_label(label))
    # anyascii writes CJK syllables as "KeHu": split them into words.
    latin = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", latin)
    ascii_text = latin.lower()
    base = re.sub(r"[^a-z0-9]+", "_", ascii_text).strip("_")[:36]
    if not base or not base[0].isalpha():
        base = f"f_{base}" if base else "item"
    candidate, n = base, 2
    while key_problems(candidate) or candidate in taken:
        candidate = f"{base}_{n}"
        n += 1
    return candidate


def new_key(
    label: str, taken: set[str] | frozenset[str], wanted: str | None = None
) -> tuple[str, list[str]]:
    """The key of a new item (a role, a shared list view): ``wanted`` when it is given and
    usable, else one suggested from ``label`` (``suggest_key``); with the problems of
    ``wanted`` (empty: the key is good). Keys never change after creation."""
    if wanted is None or wanted == "":
        return suggest_key(label, taken=taken), []
    problems = key_problems(wanted)
    if not problems and wanted in taken:
        problems = [_("The key “%(key)s” is already used.", key=wanted)]
    return wanted, problems


def slug(label: str, *, taken: set[str] | frozenset[str] = frozenset(), limit: int = 64) -> str:
    """A lowercase ``a-z0-9_`` identifier from a label (for picklist value keys, which
    need not avoid reserved words): 客户 -> ke_hu. Never empty; never in ``taken``."""
    latin = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", anyascii(clean_label(label)))
    base = re.sub(r"[^a-z0-9]+", "_", latin.lower()).strip("_")[: limit - 4] or "value"
    candidate, n = base, 2
    while candidate in taken:
        candidate = f"{base}_{n}"
        n += 1
    return candidate


def suggest_plural(label: str) -> str:
    """An English plural for a Latin-script label (Member -> Members, Company -> Companies,
    Box -> Boxes); other scripts, which rarely inflect, keep the label as it is."""
    text = clean_label(label)
    if not text or not re.search(r"[A-Za-z]$", text):
        return text
    lower = text.lower()
    if lower.endswith(("s", "x", "z", "ch", "sh")):
        return text + "es"
    if lower.endswith("y") and len(lower) > 1 and lower[-2] not in "aeiou":
        return text[:-1] + "ies"
    return text + "s"
