"""Probes of the board routes: the board page (cards, "show more", sums) and moving a card,
on the world's one entity with a pipeline ("deal": stages "new" and "won")."""

from __future__ import annotations

import html
import re

from tests.authz import oracle
from tests.authz.harness import Run
from tests.authz.probes_lists import positions, readable

PIPELINE_ENTITY = "deal"  # the world gives this entity a pipeline (world.py)
CARD_RE = re.compile(r'data-card="(\d+)"')
MORE_RE = re.compile(r'hx-get="(/r/[a-z_]+/board/[a-z_]+/more\?[^"]+)"')


def probe_board(run: Run, entity: str) -> None:
    """The board and its columns' next cards: exactly the readable records, sums only
    for those who may see the amount; an entity without pipelines has no board."""
    a, w = run.actor, run.world
    allowed = oracle.may_entity(a, entity, "read")
    page = run.get(f"/r/{entity}/board")
    if entity != PIPELINE_ENTITY:
        run.read_case("pipelines.board[no pipeline]", entity, "entity", False, page)
        more = run.get(f"/r/{entity}/board/new/more", hx=True)
        run.read_case("pipelines.column_more[no pipeline]", entity, "entity", False, more)
        return
    if not run.read_case("pipelines.board", entity, "entity", allowed, page) or not allowed:
        more = run.get(f"/r/{entity}/board/new/more?pipeline=sales", hx=True)
        run.read_case("pipelines.column_more", entity, "entity", allowed, more)
        return
    body = page.data.decode()
    run.case(
        "pipelines.board[sums]",
        entity,
        "entity",
        oracle.can_see_field(a, entity, "amount"),
        "data-total-amount" in body,
    )
    ids = {int(i) for i in CARD_RE.findall(body)}
    for _ in range(20):
        found = MORE_RE.search(body)
        if not found:
            break
        more = run.get(html.unescape(found.group(1)), hx=True)
        if not run.read_case("pipelines.column_more", entity, "entity", True, more):
            break
        body = more.data.decode()
        ids |= {int(i) for i in CARD_RE.findall(body)}
    else:
        run.case("pipelines.column_more[ends]", entity, "entity", True, False)
    run.membership(
        "pipelines.board[cards]", entity, list(w.live(entity)), lambda r: readable(run, r), ids
    )


def probe_move(run: Run, entity: str) -> None:
    """Moving a card: only records the actor may edit move (one stage-history row, the
    stage and version written); any other is refused with nothing written."""
    if entity != PIPELINE_ENTITY:
        return
    a, w = run.actor, run.world
    for position, rec in positions(run, entity):
        version = w.snapshot_value(entity, rec.id, "version")
        r = run.post(
            f"/r/{entity}/{rec.id}/move",
            {"stage": "won", "version": str(version), "from": "new"},
            hx=True,
        )
        run.write_case(
            "pipelines.move",
            rec,
            position,
            oracle.may(a, "edit", rec.rec),
            r,
            lambda row, n=version + 1: (
                row is not None and row["stage"] == "won" and row["version"] == n
            ),
        )
