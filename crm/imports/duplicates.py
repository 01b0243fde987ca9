"""What an import does with a row that duplicates a record under the entity's duplicate
rules (issue 18): skip it, update the matched record, or create it anyway.

The import's option (``OPTIONS``; ``SKIP`` when none was chosen) applies to the rows the
import would create (mode create or both, no record found by the match fields). Their
duplicates are found a batch at a time by ``crm.dedupe.batch.BatchMatcher``, among the
live records and the rows of the file kept before them; ``decide`` turns a row's
duplicates into what happens:

- ``SKIP``: the row is skipped and reported with the record (or line) it duplicates;
- ``UPDATE``: the best match is updated, when there is exactly one best match, it is a
  record of the import's entity and the user may read it; otherwise skipped and reported;
- ``CREATE``: the row is created, unless a blocking rule found it (skipped, reported).

A record the user may not read still counts, and is never named beyond "an existing
record you cannot see".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _

from crm.dedupe.batch import Hit, best_of
from crm.dedupe.rules import Rule
from crm.i18n import pick, request_locale
from crm.metadata import specs

SKIP, UPDATE, CREATE = "skip", "update", "create"
OPTIONS = (SKIP, UPDATE, CREATE)
REPORT_KEY = "@duplicate"  # the reasons key of a skipped duplicate in ``import_problems``

__all__ = ["CREATE", "OPTIONS", "REPORT_KEY", "SKIP", "UPDATE", "Decision", "decide", "option_of"]


def option_of(word: Any) -> str:
    """The option ``word`` names; ``SKIP`` for none (or an unknown word)."""
    text = str(word or "").strip().casefold()
    return text if text in OPTIONS else SKIP


@dataclass(frozen=True)
class Decision:
    """What happens to one row: ``action`` create, update (``hit``: the record or line
    to update) or skip (``message``: why, for the report)."""

    action: str
    hit: Hit | None = None
    message: str | None = None


def rule_name(rule: Rule) -> str:
    """The rule's name in the reader's language (else as typed)."""
    names = (rule.translations or {}).get("name") if rule.translations else None
    return pick(rule.name, names if isinstance(names, dict) else None, request_locale())


def describe(hit: Hit) -> str:
    """What the row duplicates, in words: a line of the file, a record the user may read
    (its entity, name and number), or "an existing record you cannot see"."""
    rule = rule_name(hit.rule)
    if hit.record_id is None:
        return _("Duplicate of line %(line)s of this file (rule “%(rule)s”).",
                 line=hit.line, rule=rule)  # fmt: skip
    if not hit.visible:
        return _("Duplicate of an existing record you cannot see (rule “%(rule)s”).", rule=rule)
    target = specs.current().entity(hit.entity_key)
    return _(
        "Duplicate of %(entity)s “%(name)s” (#%(id)s, rule “%(rule)s”).",
        entity=target.label_singular if target is not None else hit.entity_key,
        name=hit.name or "", id=hit.record_id, rule=rule,
    )  # fmt: skip


def decide(option: str, hits: Sequence[Hit], entity_key: str) -> Decision:
    """What ``option`` does with a row whose duplicates are ``hits`` (best first) in an
    import into ``entity_key`` (see the module)."""
    if not hits:
        return Decision(CREATE)
    if option == CREATE:
        blocking = [h for h in hits if h.rule.blocks]
        if not blocking:
            return Decision(CREATE)
        return Decision(
            SKIP,
            message=describe(blocking[0]) + " " + _("The rule does not allow creating it anyway."),
        )
    if option == UPDATE:
        best, ambiguous = best_of(hits)
        if ambiguous:
            return Decision(
                SKIP,
                message=_("Several records match this row equally well, so none was updated."),
            )
        assert best is not None
        if best.record_id is not None and (not best.visible or best.entity_key != entity_key):
            return Decision(SKIP, message=describe(best))
        return Decision(UPDATE, hit=best)
    return Decision(SKIP, message=describe(hits[0]))
