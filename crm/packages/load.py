"""Reading a configuration package safely: bytes in, a validated ``Package`` out, or
``PackageInvalid`` listing every problem with its JSON pointer, before anything is written.

The steps, each refusing what the next could not survive: the size (before parsing); UTF-8;
the syntax (JSON, or YAML through a loader that builds only plain strings, numbers,
booleans, nulls, lists and mappings and refuses tags, anchors and aliases, so no object is
constructed and no billion laughs expand); duplicate keys in any object; nesting depth;
numbers that JSON cannot hold; the format and its version; the JSON Schema
(``schemas/package.schema.json``, every error); then the references and rules the schema
cannot say (``crm.packages.semantics``), against the package and, optionally, the target
installation's current entities.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from flask_babel import gettext as _
from jsonschema import Draft202012Validator

from crm.metadata.keys import N_
from crm.metadata.spec import EntitySpec
from crm.packages import schema_errors, semantics
from crm.packages.problems import MAX_PROBLEMS, PackageInvalid, Problem, pointer

FORMAT = "atelier.package"
FORMAT_VERSIONS = (1,)
MAX_BYTES = 10 * 1024 * 1024
MAX_DEPTH = 32
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "package.schema.json"


@dataclass(frozen=True)
class Package:
    """A package that passed every check: its data (plain JSON values) and the SHA-256 of
    its canonical JSON (``canonical``), the same whatever the key order or the file's
    form (JSON or YAML): what provenance records."""

    data: Mapping[str, Any]
    content_hash: str

    @property
    def name(self) -> str:
        return self.data["package"]["name"]

    @property
    def version(self) -> str:
        return self.data["package"]["version"]


def canonical(data: Any) -> bytes:
    """The canonical JSON of package data: sorted keys, no spaces, UTF-8."""
    return json.dumps(
        data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode("utf-8")


def content_hash(data: Any) -> str:
    """The hex SHA-256 of ``canonical(data)``."""
    return hashlib.sha256(canonical(data)).hexdigest()


@cache
def schema() -> dict:
    """The package format's JSON Schema, as a dict."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def _inlined(node: Any, defs: dict, seen: tuple[str, ...] = ()) -> Any:
    """``node`` with every local ``{"$ref": "#/$defs/X"}`` replaced by X itself (its own
    other keywords kept beside it), except where X refers back to itself: a package of
    5,000 fields otherwise spends three quarters of its validation resolving references."""
    if isinstance(node, list):
        return [_inlined(n, defs, seen) for n in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/") and ref[8:] in defs:
        name = ref[8:]
        if name not in seen:
            target = _inlined(defs[name], defs, (*seen, name))
            rest = {k: _inlined(v, defs, seen) for k, v in node.items() if k != "$ref"}
            if not rest:
                return target
            if isinstance(target, dict) and not set(rest) & set(target):
                return {**target, **rest}
    return {k: _inlined(v, defs, seen) for k, v in node.items()}


@cache
def _validator() -> Draft202012Validator:
    raw = schema()
    return Draft202012Validator(_inlined(raw, raw.get("$defs") or {}))


# --- reading the text ----------------------------------------------------------------------


class _Refused(Exception):
    """The text cannot be read: ``message`` (marked, not yet translated) at a position."""

    def __init__(
        self, message: str, line: int | None = None, column: int | None = None, value: str = ""
    ):
        super().__init__(message)
        self.message, self.line, self.column, self.value = message, line, column, value


class _Object(dict):
    """A mapping as parsed, remembering the keys it held more than once."""

    duplicates: tuple[str, ...] = ()


def _object(pairs: list[tuple[Any, Any]]) -> _Object:
    out = _Object()
    seen: list[str] = []
    for key, value in pairs:
        if key in out and key not in seen:
            seen.append(key)
        out[key] = value
    out.duplicates = tuple(seen)
    return out


def _no_constant(name: str) -> Any:
    raise _Refused(N_("“%(value)s” is not a number a package may hold."), value=name)


def _read_json(text: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_object, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise _Refused(N_("The file is not valid JSON."), exc.lineno, exc.colno) from None
    except RecursionError:
        raise _Refused(N_("The file nests objects and lists too deeply.")) from None
    except ValueError:  # an integer with thousands of digits
        raise _Refused(N_("The file holds a number too long to read.")) from None


_YAML = "tag:yaml.org,2002:"
_PLAIN_TAGS = frozenset(_YAML + t for t in ("str", "int", "float", "bool", "null", "seq", "map"))


class _StrictLoader(yaml.SafeLoader):
    """YAML as plain data only: no tags but the plain ones, no anchors or aliases, no
    dates (they stay text), only ``true``/``false`` as booleans (``no`` is text), nesting
    at most ``MAX_DEPTH`` deep, duplicate keys remembered (``_Object``)."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):  # type: ignore[override]
        event = self.peek_event()
        mark = event.start_mark
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _Refused(
                N_("YAML anchors and aliases (“&” and “*”) are not allowed in a package."),
                mark.line + 1,
                mark.column + 1,
            )
        self._depth += 1
        if self._depth > MAX_DEPTH + 1:
            raise _Refused(
                N_("The file nests objects and lists too deeply."), mark.line + 1, mark.column + 1
            )
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node, deep=False):  # type: ignore[override]
        if node.tag not in _PLAIN_TAGS:
            raise _Refused(
                N_("YAML tags such as “%(value)s” are not allowed in a package."),
                node.start_mark.line + 1,
                node.start_mark.column + 1,
                node.tag.removeprefix(_YAML)[:80],
            )
        return super().construct_object(node, deep)


def _construct_map(loader: _StrictLoader, node: yaml.MappingNode) -> _Object:
    pairs = []
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            raise _Refused(
                N_("Every key in a package is text."),
                key_node.start_mark.line + 1,
                key_node.start_mark.column + 1,
            )
        pairs.append((key, loader.construct_object(value_node, deep=True)))
    return _object(pairs)


def _construct_seq(loader: _StrictLoader, node: yaml.SequenceNode) -> list:
    return [loader.construct_object(child, deep=True) for child in node.value]


# YAML 1.2's plain scalars: drop YAML 1.1's dates, merge keys and yes/no/on/off booleans.
_StrictLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in (_YAML + "timestamp", _YAML + "merge", _YAML + "bool")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(
    _YAML + "bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)
_StrictLoader.add_constructor(_YAML + "map", _construct_map)
_StrictLoader.add_constructor(_YAML + "seq", _construct_seq)


def _read_yaml(text: str) -> Any:
    try:
        # The loader is ours: SafeLoader narrowed further (see ``_StrictLoader``).
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise _Refused(N_("The file is not valid YAML."), line, column) from None
    except yaml.YAMLError:
        raise _Refused(N_("The file is not valid YAML.")) from None
    except RecursionError:
        raise _Refused(N_("The file nests objects and lists too deeply.")) from None


def _is_yaml(text: str, filename: str | None) -> bool:
    suffix = Path(filename).suffix.lower() if filename else ""
    if suffix in (".yaml", ".yml"):
        return True
    if suffix == ".json":
        return False
    return not text.lstrip().startswith(("{", "["))


def _refusal(exc: _Refused) -> Problem:
    message = _(exc.message, value=exc.value)
    if exc.line is not None:
        message = _(
            "%(problem)s (line %(line)d, column %(column)d)",
            problem=message,
            line=exc.line,
            column=exc.column or 1,
        )
    return Problem("", message)


# --- the tree as parsed ---------------------------------------------------------------------


def _plain(value: Any, path: tuple, problems: list[Problem]) -> Any:
    """A plain copy of parsed data; problems for duplicate keys, too deep nesting and
    numbers JSON cannot hold."""
    if isinstance(value, dict | list) and len(path) >= MAX_DEPTH:
        problems.append(
            Problem(
                pointer(*path),
                _("Nesting deeper than %(max)d levels is not allowed.", max=MAX_DEPTH),
            )
        )
        return None
    if isinstance(value, dict):
        for key in getattr(value, "duplicates", ()):
            problems.append(
                Problem(
                    pointer(*path, key),
                    _("The key “%(key)s” appears more than once in this object.", key=key[:80]),
                )
            )
        return {k: _plain(v, (*path, k), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, (*path, i), problems) for i, v in enumerate(value)]
    if isinstance(value, float) and not math.isfinite(value):
        problems.append(Problem(pointer(*path), _("This number is too large or not a number.")))
        return None
    return value


def _format_problems(data: Any) -> list[Problem]:
    if not isinstance(data, dict):
        return [Problem("", _("A package is an object of named sections; this file is not."))]
    problems = []
    if data.get("format") != FORMAT:
        problems.append(
            Problem(
                pointer("format"),
                _(
                    "This is not an Atelier CRM package: “format” must be “%(format)s”.",
                    format=FORMAT,
                ),
            )
        )
    version = data.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version not in FORMAT_VERSIONS:
        problems.append(
            Problem(
                pointer("format_version"),
                _(
                    "Format version “%(version)s” is not one this CRM reads (it reads "
                    "version %(known)s): export the package again from a matching version.",
                    version=str(version)[:20],
                    known=", ".join(map(str, FORMAT_VERSIONS)),
                ),
            )
        )
    return problems


def _dedupe(problems: list[Problem]) -> list[Problem]:
    kept = list(dict.fromkeys(problems))
    if len(kept) > MAX_PROBLEMS:
        more = len(kept) - MAX_PROBLEMS
        kept = kept[:MAX_PROBLEMS]
        kept.append(Problem("", _("Further problems not listed: %(count)d.", count=more)))
    return kept


def load(
    data: bytes,
    *,
    filename: str | None = None,
    existing: Mapping[str, EntitySpec] | None = None,
    seeded: Mapping[str, Collection[str]] | None = None,
) -> Package:
    """Read and check a package file's bytes (JSON, or YAML when ``filename`` ends in
    .yaml/.yml or the text is not JSON). ``existing``: the target installation's current
    entities (``specs.raw().entities``), against which references the package does not
    itself satisfy are checked; ``seeded``: the seed "@key"s the installation already
    holds, by entity (``crm.packages.seed.seeded_keys()``), which seed records' lookups
    may name besides the package's own. Writes nothing.

    Raises ``PackageInvalid`` with every problem found (JSON pointer and message); reading
    stops early only where the rest could not be read (size, encoding, syntax, format)."""
    if len(data) > MAX_BYTES:
        size = f"{len(data) / 1024 / 1024:.1f}"
        raise PackageInvalid(
            [
                Problem(
                    "",
                    _(
                        "The file is %(size)s MB; a package may be at most %(max)d MB.",
                        size=size,
                        max=MAX_BYTES // 1024 // 1024,
                    ),
                )
            ]
        )
    try:
        text = bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PackageInvalid(
            [Problem("", _("The file is not UTF-8 text (byte %(offset)d).", offset=exc.start))]
        ) from None
    try:
        parsed = _read_yaml(text) if _is_yaml(text, filename) else _read_json(text)
    except _Refused as exc:
        raise PackageInvalid([_refusal(exc)]) from None
    problems: list[Problem] = []
    plain = _plain(parsed, (), problems)
    if problems:
        raise PackageInvalid(_dedupe(problems))
    problems = _format_problems(plain)
    if problems:
        raise PackageInvalid(problems)
    for error in _validator().iter_errors(plain):
        problems.extend(schema_errors.problems(error))
    problems.extend(semantics.check(plain, existing or {}, seeded))
    if problems:
        raise PackageInvalid(_dedupe(problems))
    return Package(plain, content_hash(plain))
