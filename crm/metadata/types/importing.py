"""Values as people write them in files: the import side of the field types.

``FieldType.import_value(spec, raw, ctx)`` cleans a cell (outer spaces, no-break spaces
included; the words that mean "empty": ``NULL``, ``N/A``...; a lone space) and hands it to
the type's ``parse_import(spec, value, ctx)`` hook, built here: numbers in either
convention (1,234.5 / 1.234,5 / 1 234,5) with currency symbols; dates in several forms
(ISO, the column's or the language's day/month order, ``yyyymmdd``, Excel serials, ``0``
for unknown); yes/no words in three languages; text with its no-break and CJK padding
spaces tidied, leading zeros and formula-looking text kept. Cells of an XLSX come typed
(numbers, dates, booleans) and are read as such.

What is ambiguous is settled by ``ImportContext``: ``date_order`` ("dmy"/"mdy") for
``03/04/2026`` and ``decimal_mark`` ("."/",") for ``1,234``, which a screen sets per
column (``crm.imports.values.guess_date_order`` and ``guess_decimal_mark`` look at the
column's values); without them the importing user's language decides (``formats``).
Each failure is a ``ValueProblem`` whose message quotes the value and says how to write
it ("“abc” is not a date: write it as 2024-03-01.").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

from flask_babel import gettext as _

from crm import timeutil
from crm.metadata.spec import FieldSpec
from crm.metadata.types import l10n
from crm.metadata.types.l10n import Formats

EMPTY_WORDS = frozenset({"null", "n/a", "#n/a", "(null)", "\\n", "(blank)"})
TRUE_WORDS = frozenset(
    {"yes", "y", "true", "t", "1", "on", "是", "对", "真", "sí", "si", "s", "verdadero"}
)
FALSE_WORDS = frozenset({"no", "n", "false", "f", "0", "off", "否", "不", "错", "假", "falso"})
_NO_ALIASES: Mapping[str, Mapping[str, str]] = MappingProxyType({})

_MINUS = {ord("\u2212"): "-", ord("\u2012"): "-", ord("\u2013"): "-", ord("\ufe63"): "-"}
_INNER_SPACES = dict.fromkeys(map(ord, "\u00a0\u2007\u202f\u2009"), " ")
_NUMBER_SPACES = dict.fromkeys(map(ord, " \u00a0\u2007\u202f\u2009\t'’"))
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff01-\uff60\u3005\u3007"
_CJK_PADDING = re.compile(f"(?<=[{_CJK}])[ \u3000]+(?=[{_CJK}])")
_CODE = re.compile(r"^[A-Z]{3}(?=[\s\d.,(+-])|(?<=[\s\d.,)])[A-Z]{3}$")
_YMD = re.compile(r"([0-9]{4})\s*[-/.年]\s*([0-9]{1,2})\s*[-/.月]\s*([0-9]{1,2})\s*日?")
_XY_YEAR = re.compile(r"([0-9]{1,2})\s*[-/.]\s*([0-9]{1,2})\s*[-/.]\s*([0-9]{4})")
_COMPACT = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})")
_SPLIT_TIME = re.compile(r"(?P<day>.+?)(?:\s*[T\s]\s*)(?P<clock>[0-9]{1,2}[:：][0-9]{2}.*)")
_MIDNIGHT = re.compile(r"0{1,2}[:：]00(?::00(?:[.,]0+)?)?")
_FRACTION = re.compile(r"([.,][0-9]{6})[0-9]+")
_PLAIN_NUMBER = re.compile(r"-?[0-9]{1,18}(?:\.[0-9]{1,18})?")
_GROUPED_POINT = re.compile(r"-?[0-9]{1,3}(?:,[0-9]{3})+\.[0-9]+|-?[0-9]{1,3}(?:,[0-9]{3}){2,}")
_GROUPED_COMMA = re.compile(r"-?[0-9]{1,3}(?:\.[0-9]{3})+,[0-9]+|-?[0-9]{1,3}(?:\.[0-9]{3}){2,}")
_INVISIBLE = "\u200b\ufeff"
_nothing_to_tidy = str.isascii  # text without no-break spaces or CJK padding to tidy
_AMBIGUOUS = re.compile(r"-?[1-9][0-9]{0,2}\.[0-9]{3}")  # 1.234: Spanish 1234
_DIGITS = re.compile(r"[0-9.,]*[0-9][0-9.,]*")
_LETTERS_AND_SIGN = re.compile(r"^[A-Z]{1,3}(\$)")
_EXCEL_EPOCH = date(1899, 12, 30)
_SERIAL_MAX = 2_958_465  # 9999-12-31


class ValueProblem(ValueError):
    """A cell that cannot be read for a field; the message quotes the value. ``code``
    names what went wrong when callers may word it otherwise ("not_a_date")."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ImportContext:
    """How one column's values are read (see the module's docstring). ``empty_words``
    and the yes/no words are compared case-folded; ``choice_aliases`` maps a field key to
    {text as written in the file, case-folded: choice key} (the mapping screen's table)."""

    formats: Formats = l10n.DEFAULT
    date_order: str | None = None
    decimal_mark: str | None = None
    empty_words: frozenset[str] = EMPTY_WORDS
    zero_date_is_empty: bool = True
    excel_serials: bool = True
    percent_fractions: bool = False
    true_words: frozenset[str] = TRUE_WORDS
    false_words: frozenset[str] = FALSE_WORDS
    join_cjk_padding: bool = True
    choice_aliases: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: _NO_ALIASES)
    # field key -> what a text matching no choice and no alias becomes: "" (the row fails)
    # or ``SKIP`` (the field is left empty and the row imported)
    choice_otherwise: Mapping[str, str] = field(default_factory=lambda: _NO_ALIASES)


def shown(value: Any) -> str:
    """A value as a message quotes it: one line, at most 40 characters."""
    text = " ".join(str(value).split())
    return text if len(text) <= 40 else text[:39] + "…"


def clean(raw: Any, ctx: ImportContext) -> Any:
    """A cell without its outer spaces; None for empty cells, a lone space and the
    context's words for "empty" (NULL, N/A...). Typed cells pass as they are (NaN: None)."""
    if raw is None:
        return None
    if isinstance(raw, str):
        s = raw.strip()
        if s and (s[0] in _INVISIBLE or s[-1] in _INVISIBLE):
            s = s.strip(_INVISIBLE).strip()
        if not s or s.casefold() in ctx.empty_words:
            return None
        return s
    if isinstance(raw, float) and raw != raw:
        return None
    return raw


def explained(value: Any, reason: str) -> ValueProblem:
    """A registry message about a value, prefixed with the value."""
    return ValueProblem(_("“%(value)s”: %(reason)s", value=shown(value), reason=reason))


def generic(
    parse: Callable[[FieldSpec, Any], Any],
) -> Callable[[FieldSpec, Any, ImportContext], Any]:
    """The default hook: the type's ``parse`` on the cleaned cell (typed cells as text)."""

    def read(spec: FieldSpec, value: Any, ctx: ImportContext) -> Any:
        try:
            return parse(spec, as_text(value) if not isinstance(value, str) else value)
        except ValueError as exc:
            raise explained(value, str(exc)) from None

    return read


# --- text -------------------------------------------------------------------------------------


def as_text(value: Any) -> str:
    """A typed cell as text: 720.0 as "720", float noise removed, a midnight as its day."""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, float):
        return _plain(denoise(Decimal(repr(value))))
    if isinstance(value, Decimal):
        return _plain(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(" ")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


def _plain(d: Decimal) -> str:
    return str(int(d)) if d == d.to_integral_value() else f"{d.normalize():f}"


def text(parse: Callable[[FieldSpec, Any], Any], *, one_line: bool = True):
    """Text as people typed it: no-break spaces as spaces, padding between CJK characters
    removed (新 希 望 -> 新希望) on one-line text; leading zeros and ``=...`` kept."""

    def read(spec: FieldSpec, value: Any, ctx: ImportContext) -> Any:
        if value.__class__ is str and _nothing_to_tidy(value):  # ASCII: no such spaces
            try:
                return parse(spec, value)
            except ValueError as exc:
                raise explained(value, str(exc)) from None
        s = value.translate(_INNER_SPACES) if isinstance(value, str) else as_text(value)
        if one_line and ctx.join_cjk_padding and (" " in s or "\u3000" in s):
            s = _CJK_PADDING.sub("", s)
        try:
            return parse(spec, s)
        except ValueError as exc:
            raise explained(value, str(exc)) from None

    return read


# --- numbers ----------------------------------------------------------------------------------


def denoise(d: Decimal) -> Decimal:
    """Float noise removed: 0.07200000000000001 -> 0.072 (16+ significant digits that
    round, at 15, to a number of at most 12); other numbers as they are."""
    digits = d.as_tuple().digits
    if len(digits) < 16 or not d.is_finite():
        return d
    rounded = Decimal(format(d, ".15g"))
    return rounded if len(rounded.normalize().as_tuple().digits) <= 12 else d


def _no_number(value: Any, ctx: ImportContext) -> ValueProblem:
    example = ctx.formats.plain_number(Decimal("1234.50"), 2)
    return ValueProblem(
        _("“%(value)s” is not a number: write it as %(example)s.", value=shown(value),
          example=example)
    )  # fmt: skip


def read_number(
    value: Any, ctx: ImportContext, *, percent: bool = False, code: str = ""
) -> Decimal:
    """A number as written in a file (see the module's docstring); ``percent`` allows a
    "%" after it; ``code``: the field's currency (another currency's code is refused)."""
    if isinstance(value, bool):
        raise _no_number(value, ctx)
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float | Decimal):
        d = denoise(Decimal(repr(value)) if isinstance(value, float) else value)
        return d * 100 if percent and ctx.percent_fractions and isinstance(value, float) else d
    if not isinstance(value, str):
        raise _no_number(value, ctx)
    if _PLAIN_NUMBER.fullmatch(value) and (  # the machine form: most cells of most files
        not _AMBIGUOUS.fullmatch(value) or (ctx.decimal_mark or ctx.formats.decimal) == "."
    ):
        return denoise(Decimal(value))
    if len(value) <= 60:  # grouped thousands both marks say (1,234.50 1.234,50 1,234,567)
        if _GROUPED_POINT.fullmatch(value):
            return denoise(Decimal(value.replace(",", "")))
        if _GROUPED_COMMA.fullmatch(value):
            return denoise(Decimal(value.replace(".", "").replace(",", ".")))
        if percent and value[-1:] == "%":
            plain = value[:-1]
            if _PLAIN_NUMBER.fullmatch(plain) and (
                not _AMBIGUOUS.fullmatch(plain) or (ctx.decimal_mark or ctx.formats.decimal) == "."
            ):
                return denoise(Decimal(plain))
    s = unicodedata.normalize("NFKC", value).translate(_MINUS).strip()
    negative = False
    if s.startswith("(") and s.endswith(")"):  # accounting: (1,234.00)
        negative, s = True, s[1:-1].strip()
    for _round in range(3):  # signs, symbols and codes on either side, in any order
        before = s
        if s[:1] in "+-":
            negative, s = negative or s[0] == "-", s[1:].strip()
        if s[-1:] == "-":
            negative, s = True, s[:-1].strip()
        if percent and s.endswith("%"):
            s = s[:-1].strip()
        s = _LETTERS_AND_SIGN.sub(r"\1", s)  # US$, HK$, R$
        while s and _is_symbol(s[0]):
            s = s[1:].strip()
        while s and _is_symbol(s[-1]):
            s = s[:-1].strip()
        found = _CODE.search(s)
        if found:
            if code and found.group() not in (code, "RMB" if code == "CNY" else code):
                raise ValueProblem(
                    _("“%(value)s” is an amount in %(found)s; this field holds %(code)s.",
                      value=shown(value), found=found.group(), code=code)
                )  # fmt: skip
            s = (s[: found.start()] + s[found.end() :]).strip()
        if s == before:
            break
    s = s.translate(_NUMBER_SPACES)
    if not s or len(s) > 60 or not _DIGITS.fullmatch(s):
        raise _no_number(value, ctx)
    digits = _machine(s, ctx)
    if digits is None:
        raise _no_number(value, ctx)
    try:
        d = Decimal(("-" if negative else "") + digits)
    except InvalidOperation:
        raise _no_number(value, ctx) from None
    return denoise(d)


def _is_symbol(c: str) -> bool:
    """A currency sign ($ € £ ¥ ...; 元 and 圆 are letters to Unicode)."""
    return unicodedata.category(c) == "Sc" or c in "元圆"


def _machine(s: str, ctx: ImportContext) -> str | None:
    """Digits with separators as machine text (1234.5), or None when the groups are wrong."""
    dots, commas = s.count("."), s.count(",")
    if dots and commas:
        mark = "." if s.rfind(".") > s.rfind(",") else ","
    elif dots > 1 or commas > 1:
        mark = "," if dots else "."
    elif dots or commas:
        sep = "." if dots else ","
        whole, frac = s.split(sep)
        if len(frac) == 3 and 1 <= len(whole) <= 3 and not whole.startswith("0"):
            mark = ctx.decimal_mark or ctx.formats.decimal  # 1,234: the one real ambiguity
            mark = mark if mark in ".," else "."
        else:
            mark = sep
    else:
        return s
    group = "," if mark == "." else "."
    whole, _sep, frac = s.partition(mark)
    if mark in frac or group in frac:
        return None
    if group in whole:
        parts = whole.split(group)
        if not (1 <= len(parts[0]) <= 3 and all(len(p) == 3 for p in parts[1:])):
            return None
        whole = "".join(parts)
    return f"{whole or '0'}.{frac}" if frac else whole


def number(
    parse: Callable[[FieldSpec, Any], Any], *, percent: bool = False, currency: bool = False
):
    """The hook of a number type: ``read_number``, then the type's own checks (range,
    decimal places) on the Decimal."""

    def read(spec: FieldSpec, value: Any, ctx: ImportContext) -> Any:
        code = str(spec.option("currency", "")) if currency else ""
        d = read_number(value, ctx, percent=percent, code=code)
        try:
            return parse(spec, d)
        except ValueError as exc:
            raise explained(value, str(exc)) from None

    return read


# --- yes / no ---------------------------------------------------------------------------------


def boolean(spec: FieldSpec, value: Any, ctx: ImportContext) -> bool:
    """Yes/No, 1/0, true/false, 是/否, Sí/No, Y/N (the context's words)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    word = unicodedata.normalize("NFKC", str(value)).strip().casefold().rstrip(".")
    if word in ctx.true_words:
        return True
    if word in ctx.false_words:
        return False
    raise ValueProblem(
        _("“%(value)s” is not yes or no: write Yes or No (or 1 and 0).", value=shown(value))
    )


# --- dates ------------------------------------------------------------------------------------


def _no_date(value: Any) -> ValueProblem:
    return ValueProblem(
        _("“%(value)s” is not a date: write it as %(example)s.", value=shown(value),
          example="2024-03-01"),
        "not_a_date",
    )  # fmt: skip


def _serial(n: Any, value: Any) -> datetime:
    """An Excel serial number (days since 1899-12-30; Excel's 1900-02-29 does not exist)."""
    try:
        days = Decimal(repr(n)) if isinstance(n, float) else Decimal(n)
    except InvalidOperation:
        raise _no_date(value) from None
    if not 1 <= days <= _SERIAL_MAX or int(days) == 60:
        raise _no_date(value)
    whole = int(days)
    start = datetime.combine(_EXCEL_EPOCH, time()) + timedelta(days=whole + (whole < 60))
    seconds = round((days - whole) * 86400)
    return start + timedelta(seconds=seconds)


def _day_month(a: int, b: int, year: int, value: Any, ctx: ImportContext) -> tuple[int, int]:
    """(month, day) of a/b/yyyy: the only reading that fits, else the column's order,
    else the language's; ValueProblem when none says."""
    order = ctx.date_order
    fits = [o for o, (m, d) in (("mdy", (a, b)), ("dmy", (b, a))) if 1 <= m <= 12 and d <= 31]
    if order in ("mdy", "dmy"):
        if order not in fits:
            words = _("month/day/year") if order == "mdy" else _("day/month/year")
            raise ValueProblem(
                _("“%(value)s” is not a date in the order %(order)s chosen for this column.",
                  value=shown(value), order=words)
            )  # fmt: skip
        chosen = order
    elif len(fits) == 1:
        chosen = fits[0]
    elif fits and ctx.formats.order in ("mdy", "dmy"):
        chosen = ctx.formats.order
    elif fits:
        first, second = f"{year}-{a:02d}-{b:02d}", f"{year}-{b:02d}-{a:02d}"
        raise ValueProblem(
            _("“%(value)s” could be %(first)s or %(second)s: choose the order of day and "
              "month for this column.", value=shown(value), first=first, second=second)
        )  # fmt: skip
    else:
        raise _no_date(value)
    return (a, b) if chosen == "mdy" else (b, a)


def read_day(value: Any, ctx: ImportContext) -> date | None:
    """A calendar day from a cell: typed dates, ISO and ``年月日``, a/b/yyyy, yyyymmdd, an
    Excel serial (5 digits as text; any from an XLSX), the language's named months; ``0``
    is "unknown" (None) unless the context says otherwise."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        if ctx.zero_date_is_empty and value == 0:
            return None
        if not ctx.excel_serials:
            raise _no_date(value)
        return _serial(value, value).date()
    s = unicodedata.normalize("NFKC", str(value)).strip()
    if ctx.zero_date_is_empty and s.strip("0-/.") == "" and "0" in s:
        return None
    parts: tuple[int, int, int] | None = None
    if (m := _YMD.fullmatch(s)) or (m := _COMPACT.fullmatch(s)):
        parts = int(m[1]), int(m[2]), int(m[3])
    elif m := _XY_YEAR.fullmatch(s):
        month, day = _day_month(int(m[1]), int(m[2]), int(m[3]), value, ctx)
        parts = int(m[3]), month, day
    elif ctx.excel_serials and s.isdigit() and len(s) == 5:
        return _serial(int(s), value).date()
    else:
        found = None
        for fm in (ctx.formats, l10n.DEFAULT):  # month names in English are read anywhere
            try:
                found = fm.read_date(s)
            except ValueError:
                raise _no_date(value) from None
            if found is not None:
                return found
        raise _no_date(value)
    try:
        return date(*parts)
    except ValueError:
        raise _no_date(value) from None


def day(spec: FieldSpec, value: Any, ctx: ImportContext) -> date | None:
    """The hook of a date field: a day; a time of day other than midnight is refused (the
    field keeps only the day: map the column to a date-and-time field)."""
    if isinstance(value, datetime) and value.time() != time():
        raise _has_time(value)
    if isinstance(value, str):
        split = _SPLIT_TIME.fullmatch(unicodedata.normalize("NFKC", value).strip())
        if split:
            if not _MIDNIGHT.fullmatch(split["clock"].strip()):
                raise _has_time(value)
            value = split["day"]
    return read_day(value, ctx)


def _has_time(value: Any) -> ValueProblem:
    return ValueProblem(
        _("“%(value)s” has a time of day, and this field keeps only the date: map the "
          "column to a date-and-time field, or remove the times.", value=shown(value))
    )  # fmt: skip


def moment(spec: FieldSpec, value: Any, ctx: ImportContext) -> datetime | None:
    """The hook of a date-and-time field: a moment in the importing user's time zone (an
    explicit offset wins), stored as naive UTC; a day alone is its midnight."""
    zone = ctx.formats.zone
    try:
        if isinstance(value, datetime):  # an XLSX cell: the wall clock of the user's zone
            return timeutil.to_utc(value, zone)
        if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            if ctx.zero_date_is_empty and value == 0:
                return None
            if not ctx.excel_serials:
                raise _no_moment(value)
            return timeutil.to_utc(_serial(value, value), zone)
        if isinstance(value, date):
            return timeutil.to_utc(datetime.combine(value, time()), zone)
        s = _FRACTION.sub(r"\1", unicodedata.normalize("NFKC", str(value)).strip())
        split = _SPLIT_TIME.fullmatch(s)
        if split is None:
            found = read_day(s, ctx)
            return None if found is None else timeutil.to_utc(datetime.combine(found, time()), zone)
        if re.search(r"(?:Z|[+-][0-9]{2}:?[0-9]{2})$", s, re.IGNORECASE):
            found = ctx.formats.read_moment(s)
            if found is None:
                raise _no_moment(value)
            return found
        first = read_day(split["day"], ctx)
        if first is None:
            return None
        found = ctx.formats.read_moment(f"{first.isoformat()} {split['clock']}")
        if found is None:
            raise _no_moment(value)
        return found
    except timeutil.NonexistentTime as exc:
        raise ValueProblem(
            _("“%(value)s” does not exist in the time zone %(zone)s: the clocks go forward "
              "that night.", value=shown(value), zone=exc.zone)
        ) from None  # fmt: skip
    except ValueProblem as exc:
        if exc.code == "not_a_date":
            raise _no_moment(value) from None
        raise
    except ValueError:
        raise _no_moment(value) from None


def _no_moment(value: Any) -> ValueProblem:
    return ValueProblem(
        _("“%(value)s” is not a date and time: write it as %(example)s.", value=shown(value),
          example="2024-03-01 14:30")
    )  # fmt: skip


# --- choices ----------------------------------------------------------------------------------


def fold(text: str) -> str:
    """Text compared without case, accents, full-width forms or inner spacing."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c) and not c.isspace())


_KNOWN: dict[int, tuple[Any, dict[str, str]]] = {}


def _names(spec: FieldSpec) -> dict[str, str]:
    """Folded key, label and translated labels -> choice key, once per choices tuple
    (a spec is compiled once per metadata version; the tuple is kept to check identity)."""
    found = _KNOWN.get(id(spec.choices))
    if found is not None and found[0] is spec.choices:
        return found[1]
    known: dict[str, str] = {}
    for c in spec.active_choices:
        for name in (c.key, c.label, *c.labels.values()):
            known.setdefault(fold(str(name)), c.key)
    if len(_KNOWN) > 512:
        _KNOWN.clear()
    _KNOWN[id(spec.choices)] = (spec.choices, known)
    return known


SKIP = "+empty"  # an alias's target, or a column's ``choice_otherwise``: read as empty


def choices(multi: bool):
    """The hook of a choice type: each value matched to a choice by key, label or label
    in any language (case, accents and spaces ignored) or the context's aliases; several
    values split at commas, semicolons and vertical bars."""

    def read(spec: FieldSpec, value: Any, ctx: ImportContext) -> Any:
        known = _names(spec)
        aliases = ctx.choice_aliases.get(spec.key, {})
        parts = re.split(r"[,;|]", str(value)) if multi else [as_text(value)]
        keys = []
        for part in (p.strip() for p in parts):
            if not part:
                continue
            key = aliases.get(part.casefold()) or known.get(fold(part))
            if key == SKIP or (key is None and ctx.choice_otherwise.get(spec.key) == SKIP):
                continue
            if key is None:
                names = ", ".join(c.label for c in spec.active_choices[:6])
                raise ValueProblem(
                    _("“%(value)s” is not one of the choices (%(names)s).", value=shown(part),
                      names=names)
                )  # fmt: skip
            if key not in keys:
                keys.append(key)
        if not multi:
            return keys[0] if keys else None
        order = [c.key for c in spec.choices]
        return sorted(keys, key=order.index) or None

    return read
