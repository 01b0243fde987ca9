"""One unit of work: every service that writes runs its transaction through ``unit_of_work``.

    with unit_of_work(after_commit=[policy.forget]) as unit:
        ...  # read, check, write; raise a domain error to refuse
    # committed here; the hooks have run

The outermost unit commits on success and rolls back on any exception, so a refused or
failed change leaves nothing behind. A unit opened inside another one (a service calling
another service) runs in a savepoint: it never commits, its failure undoes only its own
part, and its after-commit hooks wait for the outermost commit.

Database errors become the domain errors of ``crm.errors`` with messages for people (a
unique or foreign key clash, a lock timeout or busy database, a value out of range); a
service may give its own error for a kind (``on_error={"unique": ...}``). Other errors pass
through unchanged after the rollback.

Atomic DDL on SQLite needs the engine to emit ``BEGIN`` itself (Python's ``sqlite3``
driver would otherwise commit before an ``ALTER``); ``crm.db.configure_engine`` does that
for every engine the app makes, so a unit may hold DDL on both databases.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from flask_babel import gettext as _
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from crm.errors import Conflict, DomainError, ValidationFailed
from crm.extensions import db

Hook = Callable[[], Any]
ErrorFor = DomainError | Callable[[DBAPIError], DomainError]

# The kinds of database error a unit maps, and what people are told by default.
UNIQUE = "unique"
FOREIGN_KEY = "foreign_key"
NOT_NULL = "not_null"
BUSY = "busy"
OUT_OF_RANGE = "out_of_range"

_INFO_KEY = "atelier.units"  # the stack of open units, kept on the session


def _defaults() -> dict[str, Callable[[], DomainError]]:
    # Built per error (DomainError instances carry state and must not be shared), in the
    # language of the request that meets it.
    return {
        UNIQUE: lambda: Conflict(
            _(
                "Someone saved the same value just now, and it must be unique. "
                "Nothing was changed; reload the page and try again."
            ),
            errors={"__all__": [_("This value is already taken.")]},
        ),
        FOREIGN_KEY: lambda: Conflict(
            _(
                "Something this change refers to was removed just now, or something still "
                "refers to what it removes. Nothing was changed; reload the page and try again."
            ),
            errors={"__all__": [_("A related record changed meanwhile.")]},
        ),
        NOT_NULL: lambda: ValidationFailed(
            _("A value that is needed is missing. Nothing was changed."),
            errors={"__all__": [_("A value that is needed is missing.")]},
        ),
        BUSY: lambda: Conflict(
            _(
                "The database is busy (another task is using the same data). Nothing was "
                "changed; try again in a moment."
            )
        ),
        OUT_OF_RANGE: lambda: ValidationFailed(
            _("A value is too large or too long to store. Nothing was changed."),
            errors={"__all__": [_("A value is too large or too long to store.")]},
        ),
    }


# SQLSTATE codes (PostgreSQL) and sqlite3's extended error names, by kind.
_SQLSTATES = {
    "23505": UNIQUE,
    "23503": FOREIGN_KEY,
    "23502": NOT_NULL,
    "55P03": BUSY,  # lock_not_available: lock_timeout ran out
    "40P01": BUSY,  # deadlock_detected
    "40001": BUSY,  # serialization_failure
    "57014": BUSY,  # query_canceled (statement_timeout)
    "22003": OUT_OF_RANGE,  # numeric_value_out_of_range
    "22001": OUT_OF_RANGE,  # string_data_right_truncation
    "22008": OUT_OF_RANGE,  # datetime_field_overflow
}
_SQLITE_NAMES = {
    "SQLITE_CONSTRAINT_UNIQUE": UNIQUE,
    "SQLITE_CONSTRAINT_PRIMARYKEY": UNIQUE,
    "SQLITE_CONSTRAINT_FOREIGNKEY": FOREIGN_KEY,
    "SQLITE_CONSTRAINT_NOTNULL": NOT_NULL,
    "SQLITE_BUSY": BUSY,
    "SQLITE_BUSY_SNAPSHOT": BUSY,
    "SQLITE_LOCKED": BUSY,
    "SQLITE_TOOBIG": OUT_OF_RANGE,
}
# Older drivers give only the message; these fragments are SQLite's own wording.
_SQLITE_MESSAGES = (
    ("unique constraint failed", UNIQUE),
    ("foreign key constraint failed", FOREIGN_KEY),
    ("not null constraint failed", NOT_NULL),
    ("database is locked", BUSY),
    ("database table is locked", BUSY),
    ("integer overflow", OUT_OF_RANGE),
    ("too big", OUT_OF_RANGE),
)


def classify(exc: BaseException) -> str | None:
    """The kind of database error ``exc`` is (``UNIQUE``, ``FOREIGN_KEY``, ``NOT_NULL``,
    ``BUSY``, ``OUT_OF_RANGE``), or None for anything a person cannot act on."""
    if not isinstance(exc, DBAPIError):
        return None
    orig = getattr(exc, "orig", None)
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code in _SQLSTATES:
        return _SQLSTATES[code]
    name = getattr(orig, "sqlite_errorname", None)
    if name in _SQLITE_NAMES:
        return _SQLITE_NAMES[name]
    if code is None:
        text = str(orig if orig is not None else exc).lower()
        for fragment, kind in _SQLITE_MESSAGES:
            if fragment in text:
                return kind
    if isinstance(exc, IntegrityError):
        return FOREIGN_KEY if "foreign" in str(orig).lower() else UNIQUE
    if isinstance(exc, DataError):
        return OUT_OF_RANGE
    return None


def domain_error(
    exc: BaseException, on_error: Mapping[str, ErrorFor] | None = None
) -> DomainError | None:
    """The domain error that stands for database error ``exc`` (``on_error`` first, then
    the defaults), or None when ``exc`` is not one people can act on (it is re-raised)."""
    kind = classify(exc)
    if kind is None:
        return None
    chosen = (on_error or {}).get(kind)
    if chosen is None:
        return _defaults()[kind]()
    if isinstance(chosen, DomainError):
        return chosen
    return chosen(exc)  # type: ignore[arg-type]


class Unit:
    """An open unit of work; ``after_commit(fn)`` runs ``fn`` once the outermost unit has
    committed (never when it, or the nested unit that added the hook, rolls back)."""

    def __init__(self, parent: Unit | None):
        self.parent = parent
        self.hooks: list[Hook] = []
        self.closing: list[Hook] = []
        self.discarded = False
        # What features keep on the unit while it is open (``lookup`` reads up the chain):
        # the automation's event depth and the events it gathers for one job.
        self.info: dict[str, Any] = {}

    @property
    def outermost(self) -> bool:
        return self.parent is None

    def after_commit(self, hook: Hook) -> None:
        """Run ``hook`` after the outermost commit (in the order hooks were added)."""
        self.hooks.append(hook)

    def before_commit(self, hook: Hook) -> None:
        """Run ``hook`` at the end of this unit's block, inside its transaction, just
        before it commits (or releases its savepoint): work gathered during the unit and
        written once (one outbox job for many changes). Not run when the unit fails or
        is discarded; a hook that raises fails the unit."""
        self.closing.append(hook)

    def lookup(self, key: str, default: Any = None) -> Any:
        """``info[key]`` of this unit or of the nearest enclosing unit that has it."""
        unit: Unit | None = self
        while unit is not None:
            if key in unit.info:
                return unit.info[key]
            unit = unit.parent
        return default

    def discard(self) -> None:
        """Keep nothing of this unit: it rolls back when the block ends, as on an error,
        and its hooks do not run (a change that turned out to change nothing, whose
        version bump must not stay; a preview that writes to measure)."""
        self.discarded = True


def _stack() -> list[Unit]:
    return db.session.info.setdefault(_INFO_KEY, [])


def in_unit() -> bool:
    """True while a unit of work is open on this session."""
    return bool(db.session.info.get(_INFO_KEY))


def current_unit() -> Unit:
    """The innermost open unit of work (what an outbox adds its after-commit hook to).

    Raises ``RuntimeError`` when no unit is open: work that must commit together with a
    change has to be asked for inside that change's unit."""
    stack = db.session.info.get(_INFO_KEY)
    if not stack:
        raise RuntimeError("No unit of work is open; open one with unit_of_work().")
    return stack[-1]


def checkpoint() -> None:
    """Commit what the one unit of work open now has done so far, and keep it open: a long
    job (an import) commits batch by batch, so that a kill loses only the batch under way.
    The unit's after-commit hooks still wait for its end.

    Raises ``RuntimeError`` outside a unit of work or inside a nested one (a savepoint is
    not a commit: the caller would believe its work kept when it is not)."""
    stack = db.session.info.get(_INFO_KEY)
    if not stack or len(stack) != 1:
        raise RuntimeError("checkpoint() needs exactly one unit of work open.")
    db.session.commit()


def end_reads() -> None:
    """End the read transaction of the one unit of work open (a job's), so none is open
    during a network call (a webhook, an e-mail); inside a nested unit (a caller's own),
    leave it: what it did is not this function's to commit."""
    stack = db.session.info.get(_INFO_KEY)
    if stack and len(stack) == 1:
        checkpoint()


@contextmanager
def unit_of_work(
    *,
    fresh: bool = False,
    clean: bool = False,
    after_commit: Iterable[Hook] = (),
    on_error: Mapping[str, ErrorFor] | None = None,
) -> Iterator[Unit]:
    """Run the block as one transaction: commit when it ends, roll back on any exception.

    ``fresh``: start from a new transaction (the metadata writers: their first statement
    takes the version row's lock, before anything is read), which needs ``clean``.
    ``clean``: refuse (``RuntimeError``) a session holding changes made outside any unit,
    which this unit would otherwise commit. Both apply only to the outermost unit.
    ``after_commit``: hooks run after the outermost commit. ``on_error``: the domain
    error (or a function of the database error making one) to raise for a kind of
    database error, instead of the default.

    Raises whatever the block raises (after the rollback), database errors mapped to
    ``Conflict`` or ``ValidationFailed`` as ``classify`` reads them.
    """
    stack = _stack()
    unit = Unit(stack[-1] if stack else None)
    for hook in after_commit:
        unit.after_commit(hook)
    session = db.session
    if unit.outermost:
        if (fresh or clean) and (session.new or session.dirty or session.deleted):
            raise RuntimeError("This service needs a clean session; commit your work first.")
        if fresh:
            session.rollback()
        savepoint = None
    else:
        savepoint = session.begin_nested()
    stack.append(unit)
    try:
        try:
            yield unit
            if not unit.discarded:
                for closing in unit.closing:
                    closing()
            if unit.discarded:
                (savepoint or session).rollback()
            elif savepoint is not None:
                savepoint.commit()
            else:
                session.commit()
        except BaseException as exc:
            if savepoint is not None:
                # A failed flush leaves the savepoint inactive but open: close it too.
                savepoint.rollback()
            else:
                session.rollback()
            mapped = domain_error(exc, on_error)
            if mapped is not None:
                raise mapped from exc
            raise
    finally:
        stack.pop()
    if unit.discarded:
        return
    if unit.parent is not None:
        unit.parent.hooks.extend(unit.hooks)  # they wait for the outermost commit
    else:
        for hook in unit.hooks:
            hook()
