"""Grams for scripts written without spaces: what lets a one- or two-character quick search
(王伟, 华为, 王, すし, 김민) be answered by an index.

A trigram index cannot answer a term shorter than three characters, which is how most
Chinese personal names and many company short names are searched. So the characters of the
scripts below ("gram characters") are indexed once more, as **grams**: every gram character
on its own (unigram) and every two adjacent gram characters (bigram). A term of one or two
gram characters is then a substring of a value exactly when it is one of the value's grams,
so the index gives the same records as a substring search (these scripts have no case:
case-insensitive and case-sensitive matching agree).

Which scripts: Han (CJK unified ideographs with their extensions, compatibility ideographs,
radicals, the iteration and closing marks and the ideographic zero), Hiragana, Katakana
(with the phonetic extensions and half-width forms), Bopomofo and Hangul (syllables and
jamo). Chinese and Japanese are written without spaces; Korean is, but its personal names
are two or three syllables typed without one, so a two-syllable search is common there too.
Latin, Cyrillic and other spaced scripts keep the bounded scan for terms of one or two
characters (a one-letter search is not a name). A two-character term mixing scripts ("王A")
is narrowed by its gram character's index entry, then tested as a substring.

The grams are worked out by the database itself (SQLite: an expression in the triggers that
feed the FTS5 table; PostgreSQL: the immutable function ``crm_cjk_grams`` an expression
index is built on), so rows written by any path, bulk loads included, are indexed. This
module holds the one definition of the character set that both are generated from, and a
Python version of the same grams for tests.
"""

from __future__ import annotations

# Code point ranges of gram characters (inclusive), the most frequent first.
RANGES: tuple[tuple[int, int], ...] = (
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0xAC00, 0xD7FF),  # Hangul syllables, Hangul jamo extended-B
    (0x3400, 0x4DBF),  # CJK extension A
    (0x20000, 0x3FFFF),  # CJK extensions B-H, compatibility ideographs supplement
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0x3005, 0x3007),  # iteration mark, closing mark, ideographic zero
    (0x3100, 0x31BF),  # Bopomofo, Hangul compatibility jamo, Kanbun, Bopomofo extended
    (0x31F0, 0x31FF),  # Katakana phonetic extensions
    (0x1100, 0x11FF),  # Hangul jamo
    (0xA960, 0xA97F),  # Hangul jamo extended-A
    (0x2E80, 0x2FDF),  # CJK radicals supplement, Kangxi radicals
    (0xFF66, 0xFFDC),  # half-width Katakana and Hangul
)
LOWEST = min(lo for lo, _ in RANGES)
MAX_GRAM = 2  # unigrams and bigrams
PG_FUNCTION = "crm_cjk_grams"


def is_gram_char(char: str) -> bool:
    cp = ord(char)
    return cp >= LOWEST and any(lo <= cp <= hi for lo, hi in RANGES)


def grams(value: str | None) -> set[str]:
    """The grams of ``value``: its gram characters and pairs of adjacent ones."""
    if not value:
        return set()
    found = set()
    for i, char in enumerate(value):
        if is_gram_char(char):
            found.add(char)
            if i + 1 < len(value) and is_gram_char(value[i + 1]):
                found.add(value[i : i + 2])
    return found


def probe(q: str) -> tuple[str, bool] | None:
    """For a term too short for a trigram (one or two characters): the gram to look up,
    and whether finding it is the answer (``True``: the term is that gram) or only narrows
    it (``False``: e.g. "王A", the records holding 王, of which those holding "王a" match).
    None when the term holds no gram character (the bounded scan answers it)."""
    if not q or len(q) > MAX_GRAM:
        return None
    if all(is_gram_char(c) for c in q):
        return q, True
    inside = [c for c in q if is_gram_char(c)]
    return (inside[0], False) if inside else None


# --- SQLite ---------------------------------------------------------------------------------


def sqlite_token(gram: str) -> str:
    """A gram as the FTS5 token that stands for it: the hex of its UTF-8 bytes (what SQLite's
    ``hex()`` gives for text), plain ASCII whatever tokenizer rules say about CJK marks."""
    return gram.encode("utf-8").hex().upper()


def _gram_class() -> str:
    """A bracket expression (SQLite GLOB, PostgreSQL regular expression) matching one gram
    character: the characters themselves, none of which is special inside brackets."""
    return "[" + "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in RANGES) + "]"


def sqlite_grams(value: str) -> str:
    """An SQL expression: the grams of the text expression ``value`` as space-separated
    tokens (``sqlite_token``), NULL when it has none. ``value`` is trusted SQL (a quoted
    column of ``new``/``old`` or of the table). A value without gram characters costs one
    GLOB; otherwise positions come from ``json_each`` over an array of as many zeros as
    the value has characters (SQLite has no series function built in)."""
    one = _gram_class()
    positions = (
        f"json_each('[' || rtrim(replace(hex(zeroblob(length({value}))), '00', '0,'), ',') || ']')"
    )
    # Trusted pieces only: ``value`` is a quoted column, the rest constants.
    return (
        f"CASE WHEN {value} GLOB '*{one}*' THEN ("
        f"SELECT group_concat(hex(substr({value}, p.key + 1, w.n)), ' ') "
        f"FROM {positions} AS p, "
        f"(SELECT 1 AS n, '{one}' AS pattern UNION ALL SELECT 2, '{one}{one}') AS w "
        f"WHERE substr({value}, p.key + 1, w.n) GLOB w.pattern) END"
    )


# --- PostgreSQL -----------------------------------------------------------------------------


def pg_function_body() -> str:
    """The body of ``crm_cjk_grams(text) -> text[]``: the distinct grams of the value's runs
    of gram characters ('{}' when none)."""
    runs = f"regexp_matches(value, '{_gram_class()}+', 'g')"
    return (
        "SELECT coalesce(array_agg(DISTINCT substr(r.run, i, w.n)), '{}'::text[]) "
        f"FROM (SELECT m[1] AS run FROM {runs} AS m) AS r, "
        "generate_series(1, char_length(r.run)) AS i, (VALUES (1), (2)) AS w(n) "
        "WHERE i + w.n - 1 <= char_length(r.run)"
    )


def pg_function_ddl() -> str:
    """CREATE OR REPLACE the immutable function the gram indexes are built on."""
    return (
        f"CREATE OR REPLACE FUNCTION {PG_FUNCTION}(value text) RETURNS text[] "
        "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE "
        f"AS $grams${pg_function_body()}$grams$"
    )
