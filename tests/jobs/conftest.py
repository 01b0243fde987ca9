"""Job handlers of the tests' own, registered for one test and forgotten after it."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import pytest

from crm.errors import ValidationFailed
from crm.extensions import db
from crm.jobs import registry
from crm.packages.models import PackageUpload
from crm.timeutil import utcnow


def note(user_id: int, label: str = "note") -> PackageUpload:
    """A row written in the current transaction (any system row would do: a change)."""
    row = PackageUpload(
        token=secrets.token_urlsafe(24),
        user_id=user_id,
        filename=label,
        data=b"{}",
        created_at=utcnow(),
    )
    db.session.add(row)
    db.session.flush()
    return row


def notes(label: str) -> int:
    count = db.session.query(PackageUpload).filter_by(filename=label).count()
    db.session.rollback()
    return count


@pytest.fixture
def handlers() -> Iterator[Callable]:
    """``handlers(kind, fn)`` registers a handler for this test only."""
    added: list[str] = []

    def add(kind: str, fn: Callable, describe: Callable | None = None) -> Callable:
        registry.handler(kind, describe=describe)(fn)
        added.append(kind)
        return fn

    yield add
    for kind in added:
        registry.forget(kind)


@pytest.fixture
def echo(handlers) -> list:
    """A ``test.echo`` job kind: records each run's payload, writes a row, returns it."""
    runs: list = []

    def run(ctx):
        runs.append(dict(ctx.payload))
        ctx.progress(1, 1, "echo")
        if ctx.user_id is not None:
            note(ctx.user_id, "echo")
        return {"echo": ctx.payload.get("say")}

    handlers("test.echo", run)
    return runs


@pytest.fixture
def failing(handlers) -> None:
    """``test.refuse`` raises a domain error after writing; ``test.crash`` any error."""

    def refuse(ctx):
        note(ctx.user_id, "refused")
        raise ValidationFailed("Refused.", errors={"/x": ["X is wrong."]})

    def crash(ctx):
        note(ctx.user_id, "crashed")
        raise RuntimeError("boom")

    handlers("test.refuse", refuse)
    handlers("test.crash", crash)
