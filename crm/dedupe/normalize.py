"""Normal forms of the values duplicate rules compare: pure functions, no database.

Each function takes what a person typed (or ``None``) and returns the form two spellings of
the same thing share, or ``""`` / ``None`` when nothing is left to compare: a blank never
matches a blank (two records without a phone are not duplicates of each other).

- ``text``: NFKC (full-width letters and digits become half-width), case-folded, accents
  removed and other Latin-like letters spelled in ASCII (``anyascii``), while Chinese,
  Japanese and Korean characters stay as they are; punctuation and symbols dropped, spaces
  collapsed, and spaces between two CJK characters removed ("张 三" == "张三").
- ``company``: ``text`` without legal forms (Ltd, GmbH, S.A., 有限公司 ...) or a leading "The".
- ``phone``: E.164 through ``phonenumbers`` with a default region for numbers written
  without a country code; ``None`` when it does not parse, never an exception.
- ``email``: trimmed and lower-cased; Gmail's dots and "+tags" dropped (see ``email``).
- ``domain``: the host of a website or of an e-mail address, without "www.".
- ``person_name``: a name whose word order does not matter ("Smith John" == "John Smith").
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import phonenumbers
from anyascii import anyascii

# Scripts kept as they are: Han (with the extensions and compatibility blocks), kana,
# Hangul, bopomofo. Matching them through a romanisation would merge 王 and 汪 (both "wang").
_CJK = re.compile(
    "[\u2e80-\u2fdf\u3005-\u3007\u3021-\u3029\u3040-\u30ff\u3100-\u312f\u3190-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f]"
)
_SPACES = re.compile(r"\s+")
_CJK_GAP = re.compile(f"(?<={_CJK.pattern}) (?={_CJK.pattern})")


def is_cjk(ch: str) -> bool:
    """True for a Chinese, Japanese or Korean character (kept as is by ``text``)."""
    return bool(_CJK.match(ch))


def _fold(ch: str) -> str:
    """One character of a decomposed (NFD) non-CJK character, without accents: letters
    and digits of other scripts in ASCII, punctuation and symbols a space."""
    category = unicodedata.category(ch)
    if category[0] in "PSZC":  # punctuation, symbols, separators, controls
        return " "
    if category[0] == "M":  # a combining mark left over: an accent
        return ""
    if ch.isascii():
        return ch
    return anyascii(ch).lower()


def text(value: Any) -> str:
    """``value`` in the form two spellings of the same words share: NFKC, case-folded,
    accents removed (``anyascii`` for non-CJK letters), CJK kept, punctuation dropped,
    spaces collapsed and removed between CJK characters. ``""`` for ``None`` or blank."""
    if value is None:
        return ""
    s = unicodedata.normalize("NFKC", str(value)).casefold()
    out = "".join(
        ch if is_cjk(ch) else "".join(_fold(c) for c in unicodedata.normalize("NFD", ch))
        for ch in s
    )
    out = _SPACES.sub(" ", out).strip()
    return _CJK_GAP.sub("", out)


# Legal forms, as the words ``text`` leaves of them ("S.A." -> "s a", "S.p.A." -> "s p a").
# Matched as whole words at the end of the name, repeatedly ("Acme Holdings Co., Ltd.").
_LEGAL_WORDS = (
    "ltd", "limited", "llc", "llp", "lp", "inc", "incorporated", "corp", "corporation",
    "co", "company", "plc", "pty", "pte", "holdings", "holding", "group",
    "gmbh", "ag", "kg", "ug", "mbh", "ev", "se",
    "sa", "sl", "slu", "sarl", "sas", "sasu", "sca", "spa", "srl", "sro", "sp", "zoo",
    "bv", "nv", "vof", "oy", "oyj", "ab", "as", "asa", "aps", "kk", "kft", "zrt", "ooo",
    "ltda", "cia", "eirl", "sab",
)  # fmt: skip
_LEGAL_PHRASES = tuple(
    tuple(p.split())
    for p in (
        "s a|s l|s l u|s a s|s a r l|s p a|s r l|s r o|s c a|b v|n v|a g|s a b|s de r l|"
        "s a de c v|sa de cv|s a b de c v|sab de cv|s de rl|co ltd|pty ltd|sp z o o|"
        "gmbh co kg|k k|l l c|p l c"
    ).split("|")
)
_LEGAL_CJK = (
    "股份有限公司", "有限责任公司", "有限責任公司", "有限公司", "集团公司", "集團公司",
    "控股", "集团", "集團", "公司", "株式会社", "有限会社", "合同会社", "주식회사",
)  # fmt: skip
_LEADING = ("the", "la", "el", "le", "les", "los", "las", "die", "der")


def _strip_words(words: list[str]) -> list[str]:
    changed = True
    while changed and len(words) > 1:
        changed = False
        for phrase in sorted(_LEGAL_PHRASES, key=len, reverse=True):
            n = len(phrase)
            if len(words) > n and tuple(words[-n:]) == phrase:
                words = words[:-n]
                changed = True
                break
        else:
            if words[-1] in _LEGAL_WORDS:
                words = words[:-1]
                changed = True
    return words


def _strip_cjk(s: str) -> str:
    changed = True
    while changed:
        changed = False
        for form in _LEGAL_CJK:
            if s.endswith(form) and len(s) > len(form):
                s = s[: -len(form)].rstrip()
                changed = True
            elif s.startswith(form) and len(s) > len(form) and form in ("株式会社", "有限会社"):
                s = s[len(form) :].lstrip()
                changed = True
    return s


def company(value: Any) -> str:
    """A company name without its legal form and a leading article: "The Acme Co., Ltd."
    -> "acme", "Siemens AG" -> "siemens", "Telefónica, S.A." -> "telefonica",
    "华为技术有限公司" -> "华为技术". A name that is nothing but a legal form is kept."""
    s = _strip_cjk(text(value))
    words = s.split()
    if len(words) > 1 and words[0] in _LEADING:
        words = words[1:]
    return _strip_cjk(" ".join(_strip_words(words)))


# The region a number written without its country code belongs to, by the company's
# language when no region is set (``crm.dedupe.match.default_region``).
LOCALE_REGIONS = {"zh_Hans": "CN", "zh": "CN", "es": "ES", "en": "US"}


def region_for_locale(locale: str | None) -> str:
    """The default phone region of a locale ("zh_Hans" -> "CN", "es_MX" -> "MX", "en" ->
    "US"): the locale's own region when it names one, else its language's."""
    if not locale:
        return "US"
    parts = locale.replace("-", "_").split("_")
    for part in parts[1:]:
        if len(part) == 2 and part.isalpha():
            return part.upper()
    return LOCALE_REGIONS.get(locale, LOCALE_REGIONS.get(parts[0], "US"))


def phone(value: Any, region: str | None = "US") -> str | None:
    """The number in E.164 ("+8613800138000"), reading numbers without a country code as
    numbers of ``region`` (ISO 3166 code). ``None`` for a blank, for text that is not a
    phone number, or for a number that cannot exist; never raises."""
    if value is None:
        return None
    raw = unicodedata.normalize("NFKC", str(value)).strip()
    if not raw or sum(ch.isdigit() for ch in raw) < 5:
        return None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# Providers whose mailboxes ignore dots and "+tags" in the local part (Google documents
# both: "john.smith@gmail.com" and "johnsmith+crm@gmail.com" reach the same inbox).
_DOTLESS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def email(value: Any) -> str | None:
    """The address trimmed and lower-cased, or ``None`` when it has no "@" with text on
    both sides. For Gmail (and googlemail.com) the dots and the "+tag" of the local part are
    dropped, because Google delivers all of them to one mailbox: the same person. Other
    providers keep both: at many of them "a.b" and "ab" are different people, and a
    "+tag" is only sometimes an alias, so merging them would risk a false duplicate."""
    if value is None:
        return None
    s = unicodedata.normalize("NFKC", str(value)).strip().strip("<>").lower()
    if s.startswith("mailto:"):
        s = s[len("mailto:") :]
    local, at, host = s.rpartition("@")
    if not at or not local or not host or " " in s:
        return None
    host = host.rstrip(".")
    if host in _DOTLESS:
        local = local.split("+", 1)[0].replace(".", "")
        host = _DOTLESS[host]
    return f"{local}@{host}" if local else None


def domain(value: Any) -> str | None:
    """The host of a website ("https://www.acme.com/about" -> "acme.com") or of an e-mail
    address, lower-cased and without "www."; ``None`` when there is none."""
    if value is None:
        return None
    s = unicodedata.normalize("NFKC", str(value)).strip().lower()
    if "@" in s and "/" not in s:
        s = s.rpartition("@")[2]
    s = re.sub(r"^[a-z][a-z0-9+.-]*://", "", s)
    s = s.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    s = s.rpartition("@")[2].split(":", 1)[0].strip(".")
    if s.startswith("www."):
        s = s[4:]
    return s if "." in s and " " not in s else None


def person_name(*parts: Any) -> str:
    """A person's name from its parts (one full name, or given and family names) with its
    words sorted, so the order they were typed in does not matter: ("Smith", "John") and
    "John Smith" both give "john smith"; "张 三" gives "张三"."""
    words = " ".join(text(p) for p in parts if p is not None).split()
    return " ".join(sorted(words))
