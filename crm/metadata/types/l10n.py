"""Local formats: numbers, money, percentages, dates and moments as the user's language
writes them (Babel's CLDR data), and read back from what people type.

``Formats`` holds one language and one time zone; ``formats(locale, zone)`` builds it once
per pair and ``current()`` gives the request's (Flask-Babel's ``get_locale`` and
``get_timezone``, English and UTC outside a request). The field types format with it
(``FieldType.show``) and read typed input with it (``FieldType.read``).

Writing: 1,234.50 (en, zh_Hans) and 1.234,50 (es); money with the symbol where the
language puts it (€1,234.50, 1.234,50 €, ¥1,234.50); 12.5% and 12,5 %; dates in the
language's medium form (Apr 3, 2026 / 3 abr 2026 / 2026年4月3日); moments in the user's
time zone, to the minute.

Reading, what a person may type (spaces and full-width characters are fine):

- numbers in the language's form, grouped or not (``1.234,50`` or ``1234,50`` in
  Spanish), and always the plain machine form with a point (``1234.50``: what browsers,
  files and links send). The one text both could mean, a Spanish ``1.234`` (one point,
  three digits after it, no comma), is read as the language writes it (1234) unless the
  field keeps three or more decimal places, where only the machine reading fits its
  stored values (then it is 1.234). A number in another language's form (``1,234.50``
  in Spanish) is refused, never guessed;
- dates as the language orders them (``12/31/2026`` in English, ``31/12/2026`` in
  Spanish, ``2026/12/31`` and ``2026年12月31日`` in Chinese; ``/``, ``.`` or ``-`` between
  the parts, a four-digit year), with a month's name (``3 abr 2026``, ``Apr 3, 2026``),
  and always ISO ``2026-12-31`` (what ``<input type=date>`` sends). A date whose order
  the language does not say (``03/04/2026`` in Chinese) is refused;
- moments as a date and a time (``31/12/2026 14:30``, ``12/31/2026 2:30 PM``, ISO
  ``2026-12-31T14:30`` as ``<input type=datetime-local>`` sends), read in the user's time
  zone (``crm.timeutil`` says what happens on the nights the clocks change); with an
  explicit offset (``Z``, ``+02:00``) they mean exactly that moment.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from babel import Locale, UnknownLocaleError
from babel import dates as babel_dates
from babel import numbers as babel_numbers

from crm import timeutil

DEFAULT_LOCALE = "en"
DEFAULT_ZONE = "UTC"

_SPACES = dict.fromkeys(map(ord, " \u00a0\u2009\u202f\u2007\t"))
_MINUS = {ord("\u2212"): "-", ord("\u2012"): "-", ord("\u2013"): "-"}
_MACHINE = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")
_YEAR_FIRST = re.compile(r"([0-9]{4})\s*[-/.年]\s*([0-9]{1,2})\s*[-/.月]\s*([0-9]{1,2})\s*日?")
_YEAR_LAST = re.compile(r"([0-9]{1,2})\s*[-/.]\s*([0-9]{1,2})\s*[-/.]\s*([0-9]{4})")
_OFFSET = re.compile(r"(?:Z|[+-][0-9]{2}:?[0-9]{2})$", re.IGNORECASE)
_TIME = re.compile(
    r"(?P<pre>上午|下午|晚上|早上|中午)?\s*(?P<h>[0-9]{1,2})[:：](?P<m>[0-9]{2})"
    r"(?::(?P<s>[0-9]{2})(?:\.(?P<f>[0-9]{1,6}))?)?\s*"
    r"(?P<ampm>a\.?\s?m\.?|p\.?\s?m\.?)?\s*$",
    re.IGNORECASE,
)
_SPLIT_MOMENT = re.compile(
    r"^(?P<date>.*?[0-9日])\s*(?:T|,|\s)\s*(?P<time>(?:上午|下午|晚上|早上|中午)?\s*[0-9]{1,2}[:：][0-9].*)$"
)
_WORD = re.compile(r"[^\W\d_]+\.?|[0-9]+")
# Words that may stand around a month's name: "3 de abril de 2026", "the 3rd of April".
_FILLERS = frozenset({"de", "del", "of", "the"})

_EXAMPLE_DAY = date(2026, 12, 31)


def _decimal(value: Any) -> Decimal:
    """A stored number as a Decimal (floats through their shortest repr)."""
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _normalise(text: str) -> str:
    """Full-width digits and punctuation as ASCII (NFKC), dashes as a minus sign."""
    return unicodedata.normalize("NFKC", text).translate(_MINUS).strip()


@lru_cache(maxsize=16)
def _locale(name: str) -> Locale:
    return Locale.parse(_known(name))


@lru_cache(maxsize=16)
def _known(name: str | None) -> str:
    """``name`` when Babel knows it, else English."""
    try:
        Locale.parse(name)
    except (UnknownLocaleError, ValueError, TypeError, AttributeError):
        return DEFAULT_LOCALE
    return str(name)


@dataclass(frozen=True)
class Formats:
    """How one language writes and reads numbers and dates, in one time zone."""

    locale: str
    zone: str
    decimal: str = "."
    group: str = ","
    order: str = "mdy"  # the order of a numeric date: "mdy", "dmy" or "ymd"
    date_separator: str = "/"
    percent_affixes: tuple[str, str, str, str] = ("", "%", "-", "%")
    months: dict[str, int] = field(default_factory=dict, compare=False)
    _swap: dict[int, str] | None = field(default=None, compare=False)

    @property
    def key(self) -> tuple[str, str]:
        """What caches of anything drawn with these formats are keyed by."""
        return (self.locale, self.zone)

    @property
    def babel(self) -> Locale:
        return _locale(self.locale)

    # --- writing numbers --------------------------------------------------------------------

    def number(self, value: Any, places: int | None = None, *, grouping: bool = True) -> str:
        """``value`` with ``places`` decimal places (None: an integer, or a decimal as it
        is), grouped by thousands unless ``grouping`` is False."""
        if places is None and isinstance(value, int):
            text = f"{value:,}" if grouping else str(value)
        else:
            d = value if isinstance(value, Decimal) else _decimal(value)
            spec = (
                f"{',' if grouping else ''}.{places}f"
                if places is not None
                else (",f" if grouping else "f")
            )
            text = format(d, spec)
        return text.translate(self._swap) if self._swap else text

    def plain_number(self, value: Any, places: int | None = None) -> str:
        """``value`` as a form input shows it: the language's decimal sign, no grouping."""
        return self.number(value, places, grouping=False)

    def number_writer(self, places: int) -> Callable[[Any], str]:
        """A function writing numbers with ``places`` decimal places, grouped: what a
        list's cells call (the language resolved once)."""
        spec, swap = f",.{places}f", self._swap

        def write(value: Any) -> str:
            d = value if type(value) is Decimal else _decimal(value)
            text = format(d, spec)
            return text.translate(swap) if swap else text

        return write

    def currency(self, value: Any, code: str, places: int) -> str:
        """An amount with its currency's symbol where the language puts it."""
        return self.currency_writer(code, places)(value)

    def currency_affixes(self, code: str) -> tuple[str, str, str, str]:
        """What stands before and after an amount of ``code``: positive, then negative."""
        return _currency_affixes(self.locale, code)

    def currency_writer(self, code: str, places: int) -> Callable[[Any], str]:
        """A function writing amounts of ``code`` (see ``number_writer``)."""
        pos_pre, pos_suf, neg_pre, neg_suf = _currency_affixes(self.locale, code)
        spec, swap = f",.{places}f", self._swap

        def write(value: Any) -> str:
            d = value if type(value) is Decimal else _decimal(value)
            if d < 0:
                text = format(-d, spec)
                return neg_pre + (text.translate(swap) if swap else text) + neg_suf
            text = format(d, spec)
            return pos_pre + (text.translate(swap) if swap else text) + pos_suf

        return write

    def percent(self, value: Any, places: int) -> str:
        """A percentage (12.5 is 12.5 %), without trailing zeros."""
        d = value if isinstance(value, Decimal) else _decimal(value)
        text = format(abs(d), f",.{places}f")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        if self._swap:
            text = text.translate(self._swap)
        pos_pre, pos_suf, neg_pre, neg_suf = self.percent_affixes
        return f"{neg_pre}{text}{neg_suf}" if d < 0 else f"{pos_pre}{text}{pos_suf}"

    def currency_symbols(self, code: str) -> tuple[str, ...]:
        """What people write for ``code``: the code, this language's symbol, the usual one."""
        found = {code}
        for loc in (self.locale, DEFAULT_LOCALE):
            with suppress(KeyError, ValueError):
                found.add(babel_numbers.get_currency_symbol(code, _locale(loc)))
        return tuple(sorted((s for s in found if s), key=len, reverse=True))

    # --- reading numbers --------------------------------------------------------------------

    def read_decimal(self, text: str, places: int, affixes: tuple[str, ...] = ()) -> Decimal | None:
        """A number typed in this language or in the machine form (see the module's
        docstring); ``affixes`` (a currency's symbols, "%") may stand before or after it.
        None when the text is not a number."""
        s = _normalise(text).translate(_SPACES)
        if not s or len(s) > 80:
            return None
        sign = ""
        for _ in range(2):  # "-€5" and "€-5" alike
            if s[:1] in "+-":
                sign, s = ("-" if s[0] == "-" else sign), s[1:]
            for a in affixes:
                if a and s.startswith(a):
                    s = s[len(a) :]
                    break
        for a in affixes:
            if a and s.endswith(a):
                s = s[: -len(a)]
                break
        if not s:
            return None
        local = self._local_number(s)
        machine = s if _MACHINE.fullmatch(s) else None
        if local is not None and machine is not None and local != machine:
            # Only a Spanish "1.234": a decimal point where the field keeps 3 places or
            # more (its stored values read that way), else a thousands separator.
            chosen = machine if places >= 3 else local
        else:
            chosen = local if local is not None else machine
        if chosen is None:
            return None
        try:
            d = Decimal(sign + (chosen if not chosen.startswith(".") else "0" + chosen))
        except InvalidOperation:
            return None
        return d if d.is_finite() else None

    def _local_number(self, s: str) -> str | None:
        """``s`` in this language's form as machine text, or None."""
        whole, sep, fraction = s.partition(self.decimal)
        if sep and (not fraction.isdigit() if fraction else not whole):
            return None
        if self.decimal in fraction:
            return None
        if whole and not whole.isdigit():
            groups = whole.split(self.group)
            if not (
                all(g.isdigit() for g in groups)
                and 1 <= len(groups[0]) <= 3
                and all(len(g) == 3 for g in groups[1:])
            ):
                return None
            whole = "".join(groups)
        if not whole.isascii() or (fraction and not fraction.isascii()):
            return None
        return f"{whole or '0'}.{fraction}" if fraction else whole

    # --- dates ------------------------------------------------------------------------------

    def day(self, value: date) -> str:
        """A calendar day in the language's medium form (Apr 3, 2026)."""
        return _format_date(self.locale, value)

    def long_day(self, value: date) -> str:
        """A day spelled out (April 3, 2026 / 3 de abril de 2026): "read as" hints."""
        return babel_dates.format_date(value, "long", locale=self.babel)

    def moment(self, value: datetime) -> str:
        """A stored moment (naive UTC) in the user's time zone, to the minute."""
        return _format_moment(self.locale, timeutil.to_local(value, self.zone))

    def date_example(self, value: date = _EXAMPLE_DAY) -> str:
        """``value`` as this language types a date with digits (31/12/2026)."""
        parts = {"d": f"{value.day:02d}", "m": f"{value.month:02d}", "y": f"{value.year:04d}"}
        return self.date_separator.join(parts[c] for c in self.order)

    def moment_example(self) -> str:
        """A date and time as this language types them (31/12/2026 14:30)."""
        clock = "2:30 PM" if self.am_pm_clock else "14:30"
        return f"{self.date_example()} {clock}"

    @property
    def am_pm_clock(self) -> bool:
        return "a" in self.babel.time_formats["short"].pattern

    def local_input(self, value: datetime) -> str:
        """A stored moment as ``<input type=datetime-local>`` shows it, in the user's
        zone (2026-12-31T14:30)."""
        local = timeutil.to_local(value, self.zone)
        return local.isoformat(timespec="seconds" if local.second else "minutes")

    def today(self) -> date:
        """The user's today, in their time zone."""
        return timeutil.local_today(self.zone)

    def read_date(self, text: str) -> date | None:
        """A day typed in this language or as ISO (see the module's docstring); None when
        the text does not have a date's shape. ValueError when it has one but names no
        day (2026-02-30)."""
        s = _normalise(text)
        found = _date_parts(s, self)
        if found is None:
            return None
        y, m, d = found
        try:
            return date(y, m, d)
        except (ValueError, OverflowError):  # 2026-02-30; a year of 12 digits
            raise ValueError(s) from None

    def read_moment(self, text: str) -> datetime | None:
        """A date and time typed in this language or as ISO, in the user's time zone (an
        explicit offset wins), as naive UTC. None when the text does not have the shape of
        one; ``ValueError`` when it names no real day or time, ``NonexistentTime`` when
        the clocks skip that time in the user's zone."""
        s = _normalise(text)
        if _OFFSET.search(s) and "-" in s[:10]:
            try:
                moment = datetime.fromisoformat(re.sub(r"z$", "+00:00", s, flags=re.I))
            except ValueError:
                return None
            return timeutil.to_utc(moment, self.zone)
        parts = _SPLIT_MOMENT.match(s)
        if parts is None:
            return None
        clock = _TIME.fullmatch(parts["time"].strip())
        day_parts = _date_parts(parts["date"].strip(), self)
        if clock is None or day_parts is None:
            return None
        hour, minute = int(clock["h"]), int(clock["m"])
        second = int(clock["s"] or 0)
        micro = int((clock["f"] or "0").ljust(6, "0"))
        marker = (clock["ampm"] or "").lower().replace(".", "").replace(" ", "")
        pre = clock["pre"] or ""
        if marker or pre:
            if not 1 <= hour <= 12 and not (pre and hour <= 23):
                raise ValueError(s)
            afternoon = marker == "pm" or pre in ("下午", "晚上") or (pre == "中午" and hour < 11)
            if hour < 12 and afternoon:
                hour += 12
            elif hour == 12 and marker == "am":
                hour = 0
        try:
            local = datetime(*day_parts, hour, minute, second, micro)
        except ValueError:
            raise ValueError(s) from None
        return timeutil.to_utc(local, self.zone)


def _date_parts(s: str, fm: Formats) -> tuple[int, int, int] | None:
    """(year, month, day) of a date's text, unchecked; None when it has no date's shape."""
    m = _ISO_DATE.fullmatch(s) or _YEAR_FIRST.fullmatch(s)
    if m:
        return int(m[1]), int(m[2]), int(m[3])
    m = _YEAR_LAST.fullmatch(s)
    if m:
        if fm.order == "dmy":
            return int(m[3]), int(m[2]), int(m[1])
        if fm.order == "mdy":
            return int(m[3]), int(m[1]), int(m[2])
        return None  # a language that writes the year first says nothing of this order
    return _named_month(s, fm)


def _named_month(s: str, fm: Formats) -> tuple[int, int, int] | None:
    """A date written with a month's name: "3 abr 2026", "Apr 3, 2026", "3 de abril"."""
    month = None
    numbers: list[int] = []
    for word in _WORD.findall(s.lower()):
        if word.isdigit():
            numbers.append(int(word))
            continue
        name = word.rstrip(".")
        if name in fm.months and month is None:
            month = fm.months[name]
        elif name not in _FILLERS:
            return None
    if month is None or len(numbers) != 2:
        return None
    years = [n for n in numbers if n >= 1000]
    days = [n for n in numbers if n < 100]
    if len(years) != 1 or len(days) != 1:
        return None
    return years[0], month, days[0]


@lru_cache(maxsize=8192)
def _format_date(locale: str, value: date) -> str:
    return babel_dates.format_date(value, "medium", locale=_locale(locale))


@lru_cache(maxsize=8192)
def _format_moment(locale: str, local: datetime) -> str:
    loc = _locale(locale)
    day = babel_dates.format_date(local.date(), "medium", locale=loc)
    clock = babel_dates.format_time(local.replace(tzinfo=None), "short", locale=loc)
    return (
        babel_dates.get_datetime_format("medium", locale=loc)
        .replace("{1}", day)
        .replace("{0}", clock)
    )


@lru_cache(maxsize=256)
def _currency_affixes(locale: str, code: str) -> tuple[str, str, str, str]:
    loc = _locale(locale)
    pattern = babel_numbers.parse_pattern(loc.currency_formats["standard"])
    try:
        symbol = babel_numbers.get_currency_symbol(code, loc) if code else ""
    except (KeyError, ValueError):
        symbol = code
    pre, suf = pattern.prefix, pattern.suffix

    def put(affix: str) -> str:
        return affix.replace("¤", symbol) if symbol else affix.replace("¤", "").strip()

    return put(pre[0]), put(suf[0]), put(pre[1]), put(suf[1])


@lru_cache(maxsize=64)
def formats(locale: str | None, zone: str | None) -> Formats:
    """The formats of ``locale`` (a Babel name: en, es, zh_Hans) in ``zone`` (IANA)."""
    name = _known(locale)
    loc = _locale(name)
    decimal = babel_numbers.get_decimal_symbol(loc)
    group = babel_numbers.get_group_symbol(loc)
    swap = None if (decimal, group) == (".", ",") else str.maketrans({",": group, ".": decimal})
    short = loc.date_formats["short"].pattern
    letters = [c for c in short if c in "yMd"]
    order = "".join(dict.fromkeys(c.lower() for c in letters)) or "mdy"
    separator = next((c for c in short if c in "/.-"), "/")
    percent = babel_numbers.parse_pattern(loc.percent_formats[None])
    months: dict[str, int] = {}
    for context in ("format", "stand-alone"):
        for width in ("wide", "abbreviated"):
            try:
                names = loc.months[context][width]
            except KeyError:
                continue
            for number, text in names.items():
                months.setdefault(text.lower().rstrip("."), number)
    return Formats(
        locale=name,
        zone=timeutil.zone_info(zone or DEFAULT_ZONE).key,
        decimal=decimal,
        group=group,
        order=order if len(order) == 3 else "mdy",
        date_separator=separator,
        percent_affixes=(
            percent.prefix[0],
            percent.suffix[0],
            percent.prefix[1],
            percent.suffix[1],
        ),
        months=months,
        _swap=swap,
    )


DEFAULT = formats(DEFAULT_LOCALE, DEFAULT_ZONE)


def current() -> Formats:
    """The formats of the request: its language and time zone (Flask-Babel's
    ``get_locale``/``get_timezone``: the user's, else the browser's or company's); English
    and UTC outside a request or an application context."""
    from flask import g

    if not g:
        return DEFAULT
    from flask_babel import get_locale, get_timezone

    loc, tz = get_locale(), get_timezone()
    cached = g.get("_crm_formats")
    if cached is not None and cached[0] is loc and cached[1] is tz:
        return cached[2]
    found = formats(str(loc) if loc else None, str(tz) if tz else None)
    g._crm_formats = (loc, tz, found)
    return found
