"""The unit-of-work helper: commit, rollback (DDL included), error mapping, nesting, hooks."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import event, inspect, select, text
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from crm import uow
from crm.auth.models import AppSetting
from crm.errors import Conflict, NotFound, ValidationFailed
from crm.extensions import db
from crm.uow import unit_of_work


def stored(key: str) -> str | None:
    """The value of a setting as another transaction sees it (nothing cached)."""
    db.session.rollback()
    return db.session.scalar(select(AppSetting.value).where(AppSetting.key == key))


@pytest.fixture
def commits(app):
    """How many real COMMITs reached the database (a savepoint's release is not one)."""
    seen: list[int] = []
    listener = lambda _connection: seen.append(1)  # noqa: E731
    event.listen(db.engine, "commit", listener)
    yield seen
    event.remove(db.engine, "commit", listener)


def test_the_block_is_committed_when_it_ends(app, commits):
    with unit_of_work():
        db.session.add(AppSetting(key="colour", value="teal"))
    assert len(commits) == 1
    assert stored("colour") == "teal"


def test_an_error_rolls_back_rows_and_ddl_and_passes_through(app):
    with pytest.raises(NotFound, match="gone"), unit_of_work():
        db.session.add(AppSetting(key="colour", value="teal"))
        db.session.flush()
        db.session.execute(text("CREATE TABLE uow_probe (id INTEGER PRIMARY KEY)"))
        raise NotFound("gone")
    assert stored("colour") is None
    assert "uow_probe" not in inspect(db.session.connection()).get_table_names()
    assert not uow.in_unit()


def test_a_unique_clash_becomes_a_conflict_and_leaves_nothing(app):
    with unit_of_work():
        db.session.add(AppSetting(key="colour", value="teal"))
    with pytest.raises(Conflict) as info, unit_of_work():
        db.session.add(AppSetting(key="size", value="large"))
        db.session.flush()
        db.session.add(AppSetting(key="colour", value="red"))
    assert isinstance(info.value.__cause__, IntegrityError)
    assert "must be unique" in info.value.message
    assert stored("colour") == "teal"
    assert stored("size") is None


def test_a_service_can_name_its_own_error_for_a_kind(app):
    with unit_of_work():
        db.session.add(AppSetting(key="colour", value="teal"))
    mine = ValidationFailed("Taken.", errors={"key": ["This key is taken."]})
    with pytest.raises(ValidationFailed) as info, unit_of_work(on_error={uow.UNIQUE: mine}):
        db.session.add(AppSetting(key="colour", value="red"))
    assert info.value.errors == {"key": ["This key is taken."]}
    by_function = {uow.UNIQUE: lambda exc: ValidationFailed("colour")}
    with pytest.raises(ValidationFailed, match="colour"), unit_of_work(on_error=by_function):
        db.session.add(AppSetting(key="colour", value="red"))


def test_nested_units_commit_once_at_the_outermost(app, commits):
    with unit_of_work():
        db.session.add(AppSetting(key="outer", value="1"))
        with unit_of_work():
            db.session.add(AppSetting(key="inner", value="1"))
        assert commits == []
        assert uow.in_unit()
    assert len(commits) == 1
    assert stored("outer") == "1" and stored("inner") == "1"


def test_a_failed_nested_unit_undoes_only_its_own_part(app, commits):
    with unit_of_work():
        db.session.add(AppSetting(key="outer", value="1"))
        with pytest.raises(ValidationFailed), unit_of_work():
            db.session.add(AppSetting(key="inner", value="1"))
            db.session.flush()
            raise ValidationFailed("no")
        with pytest.raises(Conflict), unit_of_work():
            db.session.add(AppSetting(key="outer", value="2"))  # a unique clash
    assert len(commits) == 1
    assert stored("outer") == "1" and stored("inner") is None


def test_a_failed_outer_unit_drops_what_a_nested_unit_did(app, commits):
    with pytest.raises(RuntimeError), unit_of_work():
        with unit_of_work():
            db.session.add(AppSetting(key="inner", value="1"))
        raise RuntimeError("later")
    assert commits == []
    assert stored("inner") is None


def test_after_commit_hooks_run_only_after_the_outermost_commit(app):
    ran: list[str] = []
    with unit_of_work(after_commit=[lambda: ran.append("outer")]) as unit:
        with unit_of_work(after_commit=[lambda: ran.append("inner")]):
            pass
        unit.after_commit(lambda: ran.append("added"))
        with pytest.raises(NotFound), unit_of_work(after_commit=[lambda: ran.append("failed")]):
            raise NotFound()
        assert ran == []
    assert ran == ["outer", "inner", "added"]
    ran.clear()
    with pytest.raises(NotFound), unit_of_work(after_commit=[lambda: ran.append("x")]):
        raise NotFound()
    assert ran == []


def test_a_clean_or_fresh_unit_refuses_changes_made_outside_it(app):
    db.session.add(AppSetting(key="stray", value="1"))
    with pytest.raises(RuntimeError, match="clean session"), unit_of_work(clean=True):
        pass
    with pytest.raises(RuntimeError, match="clean session"), unit_of_work(fresh=True):
        pass
    db.session.rollback()
    with unit_of_work(fresh=True):
        db.session.add(AppSetting(key="ok", value="1"))
    assert stored("ok") == "1"


class _Driver(Exception):
    """A driver error as psycopg or sqlite3 raise it."""

    def __init__(self, message: str, *, sqlstate: str | None = None, name: str | None = None):
        super().__init__(message)
        self.sqlstate = sqlstate
        if name is not None:
            self.sqlite_errorname = name


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (IntegrityError("x", {}, _Driver("dup", sqlstate="23505")), Conflict),
        (IntegrityError("x", {}, _Driver("fk", sqlstate="23503")), Conflict),
        (IntegrityError("x", {}, _Driver("nn", sqlstate="23502")), ValidationFailed),
        (OperationalError("x", {}, _Driver("lock", sqlstate="55P03")), Conflict),
        (OperationalError("x", {}, _Driver("deadlock", sqlstate="40P01")), Conflict),
        (DataError("x", {}, _Driver("range", sqlstate="22003")), ValidationFailed),
        (OperationalError("x", {}, sqlite3.OperationalError("database is locked")), Conflict),
        (
            IntegrityError("x", {}, _Driver("UNIQUE constraint failed: t.c", name="x")),
            Conflict,
        ),
        (
            IntegrityError("x", {}, _Driver("nope", name="SQLITE_CONSTRAINT_FOREIGNKEY")),
            Conflict,
        ),
    ],
)
def test_database_errors_map_to_domain_errors(error, expected):
    assert type(uow.domain_error(error)) is expected


def test_errors_people_cannot_act_on_are_not_mapped():
    assert uow.domain_error(OperationalError("x", {}, _Driver("disk I/O error"))) is None
    assert uow.domain_error(ValueError("no")) is None


def test_the_busy_mapping_names_the_kind():
    busy = OperationalError("x", {}, _Driver("lock", sqlstate="55P03"))
    assert uow.classify(busy) == uow.BUSY
    mapped = uow.domain_error(busy, {uow.BUSY: Conflict("The table is busy.")})
    assert mapped.message == "The table is busy."


def test_checkpoint_commits_the_one_open_unit_and_refuses_elsewhere(app):
    """``checkpoint`` commits a long job's unit so far; outside a unit, or in a nested
    one (where a savepoint would pass for a commit), it refuses."""
    import pytest

    from crm import uow

    with pytest.raises(RuntimeError):
        uow.checkpoint()
    with uow.unit_of_work():
        uow.checkpoint()
        with pytest.raises(RuntimeError), uow.unit_of_work():
            uow.checkpoint()
