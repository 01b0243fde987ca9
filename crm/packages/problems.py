"""What is wrong with a package: problems located by JSON pointer, and the error carrying
them all (``PackageInvalid``), raised before anything is written."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from crm.errors import ValidationFailed

# Beyond this many, a package is hopeless: the list says how many more there were.
MAX_PROBLEMS = 500


def pointer(*parts: str | int) -> str:
    """The RFC 6901 JSON pointer of a path ("" for the whole document): each part with
    ``~`` written ``~0`` and ``/`` written ``~1``."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


@dataclass(frozen=True)
class Problem:
    """One problem: where it is (a JSON pointer into the package) and what it is, in words
    for people (in the language of the request that loaded the package)."""

    pointer: str
    message: str


class PackageInvalid(ValidationFailed):
    """A package refused before any write. ``problems`` lists every problem found, in
    document order; ``errors`` holds the same messages keyed by JSON pointer."""

    title = _l("This package cannot be used")

    def __init__(self, problems: Iterable[Problem]):
        self.problems: list[Problem] = list(problems)
        errors: dict[str, list[str]] = {}
        for p in self.problems:
            errors.setdefault(p.pointer, []).append(p.message)
        super().__init__(errors=errors)

    def __str__(self) -> str:
        lines = [self.message]
        lines += [f"{p.pointer or '/'}: {p.message}" for p in self.problems]
        return "\n".join(lines)
