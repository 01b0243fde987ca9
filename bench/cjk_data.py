"""Contacts with Chinese and Spanish/English names for the search benchmark (issue 13).

A company with a Shanghai office, a Madrid office and an English-speaking head office: 60 %
of the contacts are Chinese (surname by its real frequency, a one- or two-character given
name, a company named "<city><brand><trade><form>" or after a well-known short name), the
rest Spanish or English. The searchable fields are the name, the company, the city and the
e-mail; terms are picked so that the two-character ones (王伟, 华为) and the three-or-more-
character ones (王秀英, 华为技术) are of comparable frequency.
"""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta

from crm.extensions import db

# The most frequent Chinese surnames with their share (%) of the population, then a few
# compound ones (rare).
SURNAMES = {
    "王": 7.25, "李": 7.19, "张": 6.83, "刘": 5.38, "陈": 4.53, "杨": 3.08, "黄": 2.23,
    "赵": 1.91, "吴": 1.83, "周": 1.72, "徐": 1.26, "孙": 1.22, "马": 1.22, "朱": 1.14,
    "胡": 1.08, "郭": 0.98, "何": 0.94, "林": 0.89, "高": 0.88, "罗": 0.86, "郑": 0.80,
    "梁": 0.73, "谢": 0.65, "宋": 0.63, "唐": 0.62, "韩": 0.53, "冯": 0.53, "于": 0.52,
    "董": 0.51, "萧": 0.50, "程": 0.49, "曹": 0.48, "袁": 0.47, "邓": 0.47, "许": 0.46,
    "傅": 0.45, "沈": 0.43, "曾": 0.42, "彭": 0.41, "吕": 0.40, "苏": 0.39, "卢": 0.38,
    "蒋": 0.37, "蔡": 0.36, "贾": 0.35, "丁": 0.34, "魏": 0.33, "薛": 0.32, "叶": 0.31,
    "阎": 0.30, "余": 0.29, "潘": 0.28, "杜": 0.27, "戴": 0.26, "夏": 0.25, "钟": 0.24,
    "汪": 0.23, "田": 0.22, "任": 0.21, "姜": 0.20, "范": 0.19, "方": 0.18, "石": 0.17,
    "欧阳": 0.03, "司马": 0.01, "诸葛": 0.01, "上官": 0.01,
}  # fmt: skip
# Given names: one character (王伟, 李娜: two-character full names) or two (王秀英).
GIVEN_ONE = list(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚鹏华玲飞斌宇浩凯健俊帆旭宁龙欣颖琳晶婷雪慧莹倩峰毅"
)
GIVEN_TWO = [
    "秀英", "桂英", "秀兰", "玉兰", "桂兰", "志强", "建华", "建国", "建军", "晓明", "晓东",
    "海燕", "春梅", "丽娟", "子涵", "梓涵", "一诺", "欣怡", "浩然", "宇轩", "子轩", "雨涵",
    "思远", "嘉怡", "文博", "俊杰", "雅婷", "佳琪", "明辉", "国庆", "红梅", "小红", "金凤",
    "立新", "振华", "德华", "少华", "志明", "丽华", "淑珍",
]  # fmt: skip
SHORT_NAMES = [
    "华为", "腾讯", "阿里", "百度", "京东", "小米", "美团", "网易", "联想", "海尔", "格力",
    "中兴", "万科", "平安", "招商", "顺丰", "携程", "滴滴", "快手", "蔚来", "理想", "小鹏",
]  # fmt: skip
BRAND = list("华信达盛泰丰源通恒兴宏鑫金天中新东海联创科瑞博德安嘉汇隆聚凯星辰鼎永")
CITIES_CN = ["上海", "北京", "深圳", "杭州", "广州", "成都", "南京", "苏州"]
TRADES = ["技术", "科技", "贸易", "实业", "电子", "物流", "网络", "医药", "食品", "建设"]
FORMS = ["有限公司", "股份有限公司", "集团"]
FIRST = ["María", "José", "Carmen", "Juan", "Antonio", "Laura", "David", "Ana", "Lucía",
         "Javier", "Elena", "Pablo", "John", "Emma", "Oliver", "Sophie"]  # fmt: skip
LAST = ["García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez",
        "Pérez", "Gómez", "Martín", "Smith", "Johnson", "Brown", "Taylor"]  # fmt: skip
COMPANIES = ["Iberia Logística S.L.", "Grupo Prado S.A.", "Acme Corp", "Northwind Ltd",
             "Solara Energía", "Mercado Verde", "Atlas Partners"]  # fmt: skip
CITIES = [*CITIES_CN, "Madrid", "Barcelona", "Valencia", "London", "New York"]

FIELDS = [
    {"key": "name", "type": "text", "label": "Name"},
    {"key": "company", "type": "text", "label": "Company"},
    {"key": "city", "type": "text", "label": "City"},
    {"key": "email", "type": "email", "label": "E-mail"},
]
SEARCHABLE = ("name", "company", "city", "email")

# Timed terms, by class. Two characters, common: full names (王伟: surname + a one-character
# given name), company short names and a city (上海: one contact in ten); rare: compound
# surnames, a brand's two characters and one matching nothing. Three or more, Chinese: full
# names, a company name's start; Latin: names, a company, a city, an e-mail and a term
# matching nothing. One character: surnames, a brand's character, one matching nothing.
TERMS = {
    "two_common": ["王伟", "李娜", "张敏", "刘洋", "陈静", "华为", "腾讯", "小米", "上海"],
    "two_rare": ["欧阳", "司马", "诸葛", "上官", "鑫鼎", "辰聚", "魑魅"],
    "three_cjk": ["王秀英", "张志强", "李建华", "陈晓明", "华为技术", "腾讯科技", "深圳恒信",
                  "欧阳子涵"],
    "three_latin": ["María García", "Grupo Prado", "Smith", "Madrid", "c123456@", "zzq7"],
    "one_char": ["王", "鑫", "伟", "魑"],
}  # fmt: skip
# Classes pooled for the target: two characters against three or more (the trigram path).
POOLED = {"two_chars": ("two_common", "two_rare"), "three_plus": ("three_cjk", "three_latin")}


def _person(rnd: random.Random, names: list[str], weights: list[float]) -> str:
    given = rnd.choice(GIVEN_ONE) if rnd.random() < 0.45 else rnd.choice(GIVEN_TWO)
    return rnd.choices(names, weights)[0] + given


def _company(rnd: random.Random) -> str:
    if rnd.random() < 0.2:
        return rnd.choice(SHORT_NAMES) + rnd.choice(TRADES) + rnd.choice(FORMS)
    brand = rnd.choice(BRAND) + rnd.choice(BRAND)
    return rnd.choice(CITIES_CN) + brand + rnd.choice(TRADES) + rnd.choice(FORMS)


def rows(n: int, seed: int = 13):
    """``n`` contacts as tuples (owner_id, created_at, updated_at, name, company, city,
    email), oldest first."""
    rnd = random.Random(seed)
    names, weights = list(SURNAMES), list(SURNAMES.values())
    base = datetime(2021, 1, 1)
    for i in range(n):
        when = (base + timedelta(seconds=30 * i)).isoformat(sep=" ")
        if rnd.random() < 0.6:
            name, company = _person(rnd, names, weights), _company(rnd)
            city = rnd.choice(CITIES_CN)
        else:
            name = f"{rnd.choice(FIRST)} {rnd.choice(LAST)}"
            company, city = rnd.choice(COMPANIES), rnd.choice(CITIES[len(CITIES_CN) :])
        yield (rnd.randint(1, 200), when, when, name, company, city, f"c{i}@example.com")


def fill(kind: str, table: str, n: int) -> float:
    """Bulk-load ``n`` contacts into ``table`` (COPY on PostgreSQL, executemany on SQLite);
    returns the seconds it took."""
    cols = "owner_id, created_at, updated_at, name, company, city, email"
    start = time.perf_counter()
    raw = db.session.connection().connection.dbapi_connection
    if kind == "postgresql":
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
            for row in rows(n):
                copy.write_row(row)
    else:
        cur = raw.cursor()
        batch: list[tuple] = []
        insert = f"INSERT INTO {table} ({cols}) VALUES (?, ?, ?, ?, ?, ?, ?)"  # noqa: S608
        for row in rows(n):
            batch.append(row)
            if len(batch) == 50_000:
                cur.executemany(insert, batch)
                batch = []
        if batch:
            cur.executemany(insert, batch)
    db.session.commit()
    return time.perf_counter() - start
