"""Columns of a file matched to fields automatically, each match with a score and a reason.

A column matches a field by its key, its label, a translation of its label (any language),
or a common synonym in English, Chinese or Spanish (``e-mail``/``邮箱``/``correo`` for an
e-mail field); a lookup field also by its target entity's names (``account`` for a lookup
to Accounts). Names are compared folded: case, accents, full-width forms, spaces and
punctuation ignored (``E-Mail Address`` = ``email_address``). A column named after the
entity and a field (``Account Name`` on Accounts) matches that field.

Never two columns on one field: the best score wins, then the leftmost column; the other
is left unmatched and says why. Only fields the importing user may edit are offered;
a column that names a hidden or read-only field is left unmatched with that reason.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from crm.access import policy
from crm.imports.owners import OWNER
from crm.metadata import types
from crm.metadata.spec import EntitySpec, FieldSpec

__all__ = ["SYNONYMS", "Match", "auto_match", "norm", "similarity"]

# Score of each kind of match (the higher wins).
KEY, LABEL, TRANSLATION, NAME, SYNONYM, TARGET, SIMILAR = 100, 95, 90, 85, 80, 75, 60
_SIMILAR_AT = 0.86

# Words people use for the same thing in files from other systems, in the three languages.
# A field whose key or label is one of a group's words matches a column named by any other.
SYNONYMS: tuple[frozenset[str], ...] = tuple(
    frozenset(group.split("|"))
    for group in (
        "email|e-mail|mail|email address|e-mail address|emailaddress|邮箱|电子邮件|电子邮箱"
        "|邮件|电邮|correo|correo electrónico|correo electronico|e-mail de contacto",
        "phone|tel|telephone|phone number|mobile|mobile phone|cell|cell phone|cellphone"
        "|电话|电话号码|联系电话|手机|手机号|手机号码|teléfono|telefono|móvil|movil|celular",
        "company|account|account name|company name|organization|organisation|customer"
        "|customer name|公司|公司名称|客户|客户名称|单位|企业|empresa|cuenta|compañía|compania"
        "|organización|cliente|razón social",
        "name|full name|姓名|名称|名字|nombre|nombre completo",
        "first name|given name|名|nombre de pila",
        "last name|surname|family name|姓|apellido|apellidos",
        "owner|owner email|owner e-mail|owner name|account owner|sales agent|sales rep"
        "|salesperson|assigned to|负责人|负责人邮箱|所有者|销售|销售员|propietario"
        "|responsable|vendedor|comercial",
        "address|street|street address|地址|详细地址|dirección|direccion|domicilio",
        "city|town|城市|市|ciudad|localidad",
        # not "estado": Spanish for a status as often as for a state (see "status")
        "state|province|region|省|省份|地区|provincia|región",
        "country|国家|país|pais",
        "zip|zip code|postal code|postcode|邮编|邮政编码|código postal|codigo postal",
        "website|web|url|site|homepage|网站|网址|主页|sitio web|página web|pagina web",
        "industry|sector|行业|industria",
        "title|job title|position|职位|职务|cargo|puesto",
        "amount|value|deal value|close value|金额|成交金额|importe|monto|valor",
        "stage|deal stage|阶段|销售阶段|etapa|fase",
        "notes|note|description|comments|comment|remarks|备注|描述|说明|notas|nota"
        "|descripción|descripcion|comentarios|observaciones",
        "employees|headcount|员工数|员工人数|empleados",
        "revenue|annual revenue|营收|收入|营业额|ingresos|facturación",
        "product|产品|产品名称|producto",
        "quantity|qty|数量|cantidad",
        "price|unit price|价格|单价|precio|precio unitario",
        "status|状态|estado",
        "source|lead source|来源|线索来源|origen|fuente",
    )
)


def norm(text: Any) -> str:
    """A name as names are compared: case, accents, full-width forms, spaces and
    punctuation ignored (letters and digits of any script kept)."""
    decomposed = unicodedata.normalize("NFKD", str(text).casefold())
    return "".join(c for c in decomposed if c.isalnum() and not unicodedata.combining(c))


_GROUPS: tuple[frozenset[str], ...] = tuple(frozenset(norm(w) for w in g) for g in SYNONYMS)
_FIRST_NAME = next(g for g in _GROUPS if norm("first name") in g)
_LAST_NAME = next(g for g in _GROUPS if norm("last name") in g)


def joinable(f: FieldSpec) -> bool:
    """Whether several columns may go into ``f``, their texts joined in the file's order
    ("First name" + "Last name" -> "Name"): one-line text fields only (the type that
    names records: not e-mails, phones, choices or links)."""
    return types.get(f.type).names_new_entities


def similarity(a: str, b: str) -> float:
    """How alike two normalized names are, 0 to 1 (difflib's ratio)."""
    if not a or not b:
        return 0.0
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


@dataclass(frozen=True)
class Match:
    """What the automatic matching proposes for one column: ``field`` (None: left
    unmatched), ``score`` (0-100), ``reason`` ("key", "label", "translation", "name" (the
    entity's name field, by the word "name"), "synonym",
    "target", "similar"; for an unmatched column "taken" (a better column has the field),
    "not_editable" (the field it names is hidden or read-only for this user) or "none")
    and ``names`` the field it names when it is not offered (not_editable, taken)."""

    column: int
    name: str
    field: str | None
    score: int
    reason: str
    names: str | None = None


def _names(spec: EntitySpec, f: FieldSpec) -> list[tuple[str, int, str]]:
    """(normalized name, score, reason) a column may match ``f`` by."""
    out = [(norm(f.key), KEY, "key"), (norm(f.label), LABEL, "label")]
    for text in f.translations.get("label", {}).values():
        out.append((norm(text), TRANSLATION, "translation"))
    own = {n for n, _s, _r in out}
    if spec.name_field == f.key:
        own.add("name")
        # "Name" (or "Customer name" on Customers: the entity's words are stripped first)
        # is the record's own name before any synonym of another field ("customer name"
        # also names the company a contact belongs to)
        out.append(("name", NAME, "name"))
    for group in _GROUPS:
        if own & group:
            out.extend((word, SYNONYM, "synonym") for word in group)
    target = types.lookup_target(f)
    if target:
        from crm.metadata import specs

        other = specs.current().entity(target)
        if other is not None:
            words = {other.key, other.label_singular, other.label_plural}
            for part in ("singular", "plural"):
                words.update(other.translations.get(part, {}).values())
            out.extend((norm(w), TARGET, "target") for w in words)
    return [(n, s, r) for n, s, r in out if n]


def _entity_words(spec: EntitySpec) -> list[str]:
    """The names of the entity a column may start with (``Account`` Name), the synonyms
    of those names included (``Customer`` name, ``客户``名称 on Accounts)."""
    words = {spec.key, spec.label_singular, spec.label_plural}
    for part in ("singular", "plural"):
        words.update(spec.translations.get(part, {}).values())
    own = {norm(w) for w in words} - {""}
    for group in _GROUPS:
        if own & group and "name" not in group:
            own |= group
    return sorted(own, key=len, reverse=True)


def _score(column: str, names: list[tuple[str, int, str]], prefixes: list[str]):
    """The best (score, reason) of one column against one field's names."""
    wanted = norm(column)
    if not wanted:
        return 0, "none"
    forms = [wanted] + [wanted[len(p) :] for p in prefixes if wanted.startswith(p)]
    best = (0, "none")
    for form in forms:
        if not form:
            continue
        for name, score, reason in names:
            if form == name:
                best = max(best, (score - (form != wanted), reason))
            elif len(form) >= 4 and reason in ("key", "label", "translation"):
                ratio = similarity(form, name)
                if ratio >= _SIMILAR_AT:
                    best = max(best, (int(SIMILAR * ratio), "similar"))
    return best


def candidates(spec: EntitySpec, columns: Sequence[str], fields: Iterable[FieldSpec]):
    """Every (score, column index, field key, reason) above zero."""
    prefixes = _entity_words(spec)
    table = [(f, _names(spec, f)) for f in fields]
    out = []
    for i, column in enumerate(columns):
        for f, names in table:
            score, reason = _score(column, names, prefixes)
            if score > 0:
                out.append((score, i, f.key, reason))
    return out


def _owner_candidates(spec: EntitySpec, columns: Sequence[str]):
    """(score, column index, OWNER, reason) of the columns naming the record's owner."""
    names = [(word, SYNONYM, "synonym") for group in _GROUPS if "owner" in group for word in group]
    prefixes = _entity_words(spec)
    out = []
    for i, column in enumerate(columns):
        score, reason = _score(column, names, prefixes)
        if score > 0:
            out.append((score, i, OWNER, reason))
    return out


def auto_match(user: Any, spec: EntitySpec, columns: Sequence[str]) -> list[Match]:
    """One ``Match`` per column, in column order (see the module's docstring)."""
    editable = {f.key for f in policy.visible_fields(user, spec, "edit")}
    if policy.can(user, "assign", spec.key):
        editable.add(OWNER)  # the owner column needs the right to give records to others
    readable = {f.key for f in policy.visible_fields(user, spec, "read")}
    # Hidden fields are not matched at all: the user is not told they exist.
    found = candidates(spec, columns, [f for f in spec.active_fields if f.key in readable])
    found += _owner_candidates(spec, columns)
    # The best first; at equal scores the leftmost column, then the entity's name field.
    found.sort(key=lambda c: (-c[0], c[1], c[2] != spec.name_field))
    taken: set[str] = set()
    chosen: dict[int, Match] = {}
    blocked: dict[int, Match] = {}
    for score, i, key, reason in found:
        if i in chosen:
            continue
        if key not in editable:
            blocked.setdefault(i, Match(i, columns[i], None, 0, "not_editable", key))
        elif key in taken:
            blocked.setdefault(i, Match(i, columns[i], None, 0, "taken", key))
        else:
            taken.add(key)
            chosen[i] = Match(i, columns[i], key, score, reason)
    name = spec.field(spec.name_field) if spec.name_field else None
    if name is not None and name.key in editable and name.key not in taken and joinable(name):
        # a file with a first and a last name, an entity with one name: both go into it
        first = [i for i, c in enumerate(columns) if i not in chosen and norm(c) in _FIRST_NAME]
        last = [i for i, c in enumerate(columns) if i not in chosen and norm(c) in _LAST_NAME]
        if len(first) == 1 and len(last) == 1:
            for i in (first[0], last[0]):
                chosen[i] = Match(i, columns[i], name.key, SYNONYM, "joined")
    return [
        chosen.get(i) or blocked.get(i) or Match(i, name, None, 0, "none")
        for i, name in enumerate(columns)
    ]
