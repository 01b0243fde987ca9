"""A seeded generator of people with known duplicates, for measuring duplicate rules.

Each person has a name (Latin or Chinese), an e-mail and a phone (US, Spanish or Chinese,
always written so a US-default reader can place it). About a third get one or two
duplicates, each changed the way people re-type a contact: a typo in the name, the name
order swapped, a space inside a Chinese name, full-width letters, accents dropped, the
e-mail in capitals or blank, the phone blank or in another format (never both blank: a
duplicate with nothing in common is not findable by any rule). Some different people share
a phone (colleagues behind one switchboard, a couple at home): the rules must keep them
apart. ``entity`` of each row says which person it is.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass

GIVEN = (
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Nancy Daniel Lisa "
    "Matthew Betty Anthony Margaret Mark Sandra Donald Ashley Steven Kimberly Paul Emily "
    "José María Antonio Carmen Manuel Lucía Francisco Sofía Javier Martina Álvaro Inés "
    "Sergio Paula Jorge Elena Alejandro Núria Pablo Begoña"
).split()
FAMILY = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
    "Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson "
    "White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott "
    "Torres Nguyen Hill Flores García Fernández González Rodríguez López Martínez Sánchez "
    "Pérez Gómez Martín Jiménez Ruiz Hernández Díaz Moreno Muñoz Álvarez Romero Navarro"
).split()
CN_FAMILY = "王 李 张 刘 陈 杨 黄 赵 吴 周 徐 孙 马 朱 胡 郭 何 高 林 罗 欧阳 司马".split()
CN_GIVEN = "伟 芳 娜 秀英 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 秀兰 霞 平 刚 桂英 建华".split()
PINYIN = "wang li zhang liu chen yang huang zhao wu zhou xu sun ma zhu hu guo he gao".split()


@dataclass
class Person:
    entity: int
    full_name: str
    email: str | None
    phone: str | None


def _ascii(s: str) -> str:
    return "".join(
        c for c in unicodedata.normalize("NFD", s) if unicodedata.category(c)[0] != "M"
    ).lower()


def _phone(rnd: random.Random) -> tuple[str, str, str]:
    """(country, national digits, country code)."""
    country = rnd.choice(("US", "US", "ES", "CN"))
    if country == "US":
        area, exchange, line = rnd.randint(201, 989), rnd.randint(200, 999), rnd.randint(0, 9999)
        return country, f"{area}{exchange}{line:04d}", "1"
    if country == "ES":
        return country, f"{rnd.choice('679')}{rnd.randint(10_000_000, 99_999_999)}", "34"
    return country, f"1{rnd.choice('3456789')}{rnd.randint(0, 999_999_999):09d}", "86"


def write_phone(rnd: random.Random, country: str, digits: str, code: str) -> str:
    """The number in one of the ways people write it (readable with a US default)."""
    if country == "US":
        a, b, c = digits[:3], digits[3:6], digits[6:]
        return rnd.choice((f"({a}) {b}-{c}", f"{a}.{b}.{c}", f"+1 {a} {b} {c}",
                           f"1-{a}-{b}-{c}", f"{a}{b}{c}"))  # fmt: skip
    spaced = " ".join(digits[i : i + 3] for i in range(0, len(digits), 3))
    return rnd.choice((f"+{code} {spaced}", f"+{code}{digits}", f"(+{code}) {digits}",
                       f"011 {code} {digits}"))  # fmt: skip


def _typo(rnd: random.Random, word: str) -> str:
    if len(word) < 4:
        return word
    i = rnd.randint(1, len(word) - 2)
    kind = rnd.choice(("sub", "del", "ins", "swap"))
    letter = rnd.choice("abcdefghijklmnopqrstuvwxyz")
    if kind == "sub":
        return word[:i] + letter + word[i + 1 :]
    if kind == "del":
        return word[:i] + word[i + 1 :]
    if kind == "ins":
        return word[:i] + letter + word[i:]
    return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]


def _full_width(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)


def _variant(rnd: random.Random, p: Person, parts: tuple[str, str], chinese: bool, phone):
    given, family = parts
    name, email, number = p.full_name, p.email, p.phone
    changes = rnd.sample(("name", "name", "email", "phone"), rnd.randint(1, 2))
    if "name" in changes:
        if chinese:
            name = rnd.choice((f"{family} {given}", f" {family}{given} ", f"{family}　{given}"))
        else:
            how = rnd.choice(("typo", "swap", "accents", "full_width", "typo_swap"))
            if how == "typo":
                words = name.split()
                j = rnd.randrange(len(words))
                words[j] = _typo(rnd, words[j])
                name = " ".join(words)
            elif how == "swap":
                name = rnd.choice((f"{family} {given}", f"{family}, {given}"))
            elif how == "accents":
                name = _ascii(name).upper()
            elif how == "full_width":
                name = _full_width(name)
            else:
                name = f"{_typo(rnd, family)} {given}"
    blank_email = blank_phone = False
    if "email" in changes:
        if rnd.random() < 0.5:
            email, blank_email = None, True
        else:
            email = f"  {p.email.upper()} "
    if "phone" in changes and not blank_email and rnd.random() < 0.4:
        number, blank_phone = None, True
    if not blank_phone:
        number = write_phone(rnd, *phone)  # always another writing of the same number
    return Person(p.entity, name, email, number)


def generate(n: int, seed: int = 18, dup_share: float = 0.33, shared_phones: float = 0.05):
    """``n`` people (entities) and their duplicates, shuffled: a list of ``Person``."""
    rnd = random.Random(seed)
    out: list[Person] = []
    phones = []
    for i in range(n):
        chinese = rnd.random() < 0.25
        if chinese:
            family, given = rnd.choice(CN_FAMILY), rnd.choice(CN_GIVEN)
            name, local = f"{family}{given}", f"{rnd.choice(PINYIN)}{rnd.choice(PINYIN)}"
        else:
            given, family = rnd.choice(GIVEN), rnd.choice(FAMILY)
            name, local = f"{given} {family}", f"{_ascii(given)}.{_ascii(family)}"
        phone = _phone(rnd)
        if phones and rnd.random() < shared_phones:
            phone = rnd.choice(phones)  # a colleague's switchboard, a partner's home phone
        phones.append(phone)
        domain = rnd.choice(("gmail.com", "example.com", "acme.es", "qq.com", "163.com"))
        p = Person(i, name, f"{local}{i}@{domain}", write_phone(rnd, *phone))
        out.append(p)
        if rnd.random() < dup_share:
            for _ in range(rnd.choice((1, 1, 1, 2))):
                out.append(_variant(rnd, p, (given, family), chinese, phone))
    rnd.shuffle(out)
    return out


def true_pairs(ids_by_row: list[tuple[int, Person]]) -> set[tuple[int, int]]:
    """The pairs of record ids that are the same person."""
    by_entity: dict[int, list[int]] = {}
    for record_id, p in ids_by_row:
        by_entity.setdefault(p.entity, []).append(record_id)
    pairs = set()
    for ids in by_entity.values():
        ids.sort()
        pairs.update((a, b) for i, a in enumerate(ids) for b in ids[i + 1 :])
    return pairs
