"""The authorization matrix over HTTP: one actor's run through every route of the app.

``ROUTES`` is the route table: every endpoint of ``app.url_map`` (but the public ones in
``PUBLIC``) with the methods the matrix sends it and the probe that exercises it. A probe
sends real requests as the actor, for an entity and for the record in each position, and
records a ``Case`` per (route, entity, position): what the oracle expects (allow / deny)
and what happened. "What happened" is read from the response status *and* the stored
data: an allowed write must have written, a refused one must leave the record's raw row
(every column, version and updated_at included) and the shares, notes, history and list
views exactly as they were.

Every response body is also scanned for data the actor must not see: the name, reference,
secret or amount of a record they cannot read, and the value of a field hidden from them.
"""

from __future__ import annotations

import csv
import html
import io
import re
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from crm.extensions import db
from tests.authz import declare as d
from tests.authz import oracle
from tests.authz.world import Record, World

PICK_RE = re.compile(r'name="pick" value="(\d+):(\d+)"')
MORE_RE = re.compile(r'hx-get="([^"]+)" hx-target="#more-row"')
LOOKUP_RE = re.compile(r'data-id="(\d+)"')
NAME_RE = re.compile(r"Nm\.([a-z]+)\.([A-Za-z0-9]+)-([A-Za-z0-9]+)\.(live|binned)\.")
REF_RE = re.compile(r"REF-([A-Z]+)-([LB])(\d{3})")
SECRET_RE = re.compile(r"S3CRET([A-Z]+?)([LB])(\d{3})[xy]")
AMOUNT_RE = re.compile(r"9,?137,?(\d)(\d{2})")

ALLOWED_READ = (200,)
DENIED = (403, 404)


@dataclass
class Case:
    actor: str
    entity: str
    route: str
    position: str
    expected: bool
    observed: bool | None  # None: neither a clean allow nor a clean deny
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.expected == self.observed

    def __str__(self) -> str:
        want = "allow" if self.expected else "deny"
        got = {True: "allowed", False: "denied", None: "neither"}[self.observed]
        return (
            f"{self.actor:8} {self.route:34} {self.entity:8} {self.position:28} "
            f"expected {want}, {got} {self.detail}"
        )


def position_label(actor: str, record: Record) -> str:
    """The record's position for ``actor`` (one of ``declare.POSITIONS``), else its slot."""
    for name, slot_of in d.POSITIONS.items():
        if slot_of(actor) == record.slot:
            return name if record.live else f"{name} (binned)"
    tag = d.slot_tag(record.slot)
    return f"slot {tag}" if record.live else f"slot {tag} (binned)"


class Run:
    """One actor's pass through the matrix."""

    def __init__(self, world: World, actor: str):
        self.world = world
        self.actor = actor
        self.client = world.clients[actor]
        self.cases: list[Case] = []
        self.leaks: list[str] = []
        self.requests = 0
        self.exercised: set[str] = set()

    # --- requests -------------------------------------------------------------------------

    def get(self, url: str, *, hx: bool = False, headers: dict | None = None, where: str = ""):
        h = {"HX-Request": "true"} if hx else {}
        response = self.client.get(url, headers={**h, **(headers or {})})
        self._after(response, where or url)
        return response

    def post(self, url: str, data: dict | None = None, *, hx: bool = False, where: str = ""):
        if hx:
            response = self.client.hx_post(url, data or {})
        else:
            response = self.client.submit(url, data or {})
        self._after(response, where or url)
        return response

    def _after(self, response, where: str) -> None:
        self.requests += 1
        self.scan(body_text(response), where)

    # --- leaks ------------------------------------------------------------------------------

    def _record_at(self, entity_upper: str, kind: str, index: str) -> Record | None:
        entity = entity_upper.lower()
        if entity not in d.ENTITIES:
            return None
        slot = d.SLOTS[int(index)] if int(index) < len(d.SLOTS) else None
        if slot is None:
            return None
        return self.world.records.get((entity, slot, kind == "L"))

    def _may_show(self, record: Record | None) -> bool:
        """May this actor be shown anything of ``record`` (a live record they read, a binned
        one in their recycle bin)?"""
        if record is None:
            return True  # not one of ours (a record created by the matrix itself)
        action = "read" if record.live else "delete"
        return oracle.may(self.actor, action, record.rec)

    def scan(self, body: str, where: str) -> None:
        """Record every piece of data in ``body`` this actor must not see."""
        a = self.actor
        for m in NAME_RE.finditer(body):
            entity, kind, who, state = m.groups()
            record = self.world.records.get((entity, (kind, who), state == "live"))
            if not oracle.can_see_field(a, entity, "name"):
                self.leaks.append(f"{where}: hidden name {m.group(0)}")
            elif not self._may_show(record):
                self.leaks.append(f"{where}: name of a record out of reach {m.group(0)}")
        for m in REF_RE.finditer(body):
            record = self._record_at(*m.groups())
            if not self._may_show(record):
                self.leaks.append(f"{where}: reference of a record out of reach {m.group(0)}")
        for m in SECRET_RE.finditer(body):
            record = self._record_at(*m.groups())
            entity = m.group(1).lower()
            if entity in d.ENTITIES and not oracle.can_see_field(a, entity, "secret"):
                self.leaks.append(f"{where}: hidden secret {m.group(0)}")
            elif not self._may_show(record):
                self.leaks.append(f"{where}: secret of a record out of reach {m.group(0)}")
        for m in AMOUNT_RE.finditer(body):
            block, rest = int(m.group(1)), int(m.group(2))
            entity_index, binned = divmod(block, 2)
            if entity_index >= len(d.ENTITY_ORDER):
                continue
            entity = d.ENTITY_ORDER[entity_index]
            index = (block % 2) * 100 + rest
            if binned:
                index -= 100
            if not oracle.can_see_field(a, entity, "amount"):
                self.leaks.append(f"{where}: hidden amount {m.group(0)}")
            elif index < len(d.SLOTS):
                record = self.world.records.get((entity, d.SLOTS[index], not binned))
                if not self._may_show(record):
                    self.leaks.append(f"{where}: amount of a record out of reach {m.group(0)}")

    # --- cases ------------------------------------------------------------------------------

    def case(
        self, route: str, entity: str, position: str, expected: bool, observed, detail: str = ""
    ) -> None:
        self.exercised.add(route.split("[")[0])
        self.cases.append(Case(self.actor, entity, route, position, expected, observed, detail))

    def read_case(self, route: str, entity: str, position: str, expected: bool, response) -> bool:
        status = response.status_code
        observed = True if status in ALLOWED_READ else False if status in DENIED else None
        self.case(route, entity, position, expected, observed, f"(HTTP {status})")
        return observed is True

    def membership(
        self, route: str, entity: str, records: Iterable[Record], expect, seen: set[int]
    ) -> None:
        """One case per record: is it among ``seen`` ids, as ``expect(record)`` says?"""
        for r in records:
            self.case(route, entity, position_label(self.actor, r), expect(r), r.id in seen)

    # --- writes -----------------------------------------------------------------------------

    def counters(self) -> tuple:
        return self.world.counters()

    def write_case(
        self,
        route: str,
        record: Record,
        position: str,
        expected: bool,
        response,
        effect: Callable[[dict | None], bool],
        *,
        ok_status: tuple[int, ...] = (200, 204, 302, 303),
    ) -> None:
        """Classify one write: allowed = an OK status and ``effect(row after)``; denied =
        403/404 and the stored row byte-for-byte as it was, nothing else written either."""
        status = response.status_code
        entity = record.entity
        before = self.world.snapshot_row(entity, record.id)
        after_raw = self.world.row(entity, record.id)
        after = self.world.as_dict(entity, after_raw)
        effected = effect(after)
        untouched = after_raw == before and self.counters() == self.world.snapshot_counters
        if status in ok_status and effected:
            observed = True
        elif status in DENIED and untouched:
            observed = False
        else:
            observed = None
        detail = f"(HTTP {status})"
        if status in DENIED and not untouched:
            detail += " refused, but the stored data changed: " + "; ".join(self.world.diff())
        self.case(route, entity, position, expected, observed, detail)
        if not untouched:
            self.world.reset()

    def finish_group(self, label: str) -> None:
        """After a group of requests: nothing may be left changed (collateral writes)."""
        left = self.world.diff()
        if left:
            self.leaks.append(f"{self.actor} {label}: stored data left changed: {left}")
            self.world.reset()


def body_text(response) -> str:
    data = response.get_data()
    if data[:2] == b"PK":  # an xlsx: every XML part of the workbook
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return "\n".join(
                z.read(n).decode("utf-8", "replace") for n in z.namelist() if n.endswith(".xml")
            )
    return data.decode("utf-8", "replace")


# --- probes -------------------------------------------------------------------------------


def positions(run: Run, entity: str) -> list[tuple[str, Record]]:
    w, a = run.world, run.actor
    return [(p, w.record(entity, d.POSITIONS[p](a))) for p in d.RECORD_POSITIONS]


def readable(run: Run, r: Record) -> bool:
    return oracle.may(run.actor, "read", r.rec)


def probe_list(run: Run, entity: str) -> None:
    """The list page, its htmx fragments (results, rows, "show more") and quick search."""
    a, w = run.actor, run.world
    allowed = oracle.may_entity(a, entity, "read")
    live = list(w.live(entity))
    page = run.get(f"/r/{entity}/")
    if run.read_case("records.record_list[page]", entity, "entity", allowed, page) and allowed:
        ids = {int(i) for i, _ in PICK_RE.findall(page.data.decode())}
        run.membership(
            "records.record_list[page rows]", entity, live, lambda r: readable(run, r), ids
        )
    # the rows fragment, then "show more" until the end
    rows = run.get(f"/r/{entity}/?size=10", hx=True, headers={"HX-Target": "rows"})
    if run.read_case("records.record_list[rows]", entity, "entity", allowed, rows) and allowed:
        body = rows.data.decode()
        assert "<html" not in body, "the rows fragment is a whole page"
        ids = {int(i) for i, _ in PICK_RE.findall(body)}
        for _ in range(20):
            more = MORE_RE.search(body)
            if not more:
                break
            page_n = run.get(
                html.unescape(more.group(1)), hx=True, headers={"HX-Target": "more-row"}
            )
            body = page_n.data.decode()
            if page_n.status_code != 200:
                run.case(
                    "records.record_list[more]",
                    entity,
                    "entity",
                    True,
                    None,
                    f"(HTTP {page_n.status_code})",
                )
                break
            ids |= {int(i) for i, _ in PICK_RE.findall(body)}
        run.membership(
            "records.record_list[rows+more]", entity, live, lambda r: readable(run, r), ids
        )
    # someone else's private view is not there for anyone (not even a full administrator)
    other = w.private_views[entity]
    for path in ("/", "/count", "/export.csv"):
        r = run.get(f"/r/{entity}{path}?view={other}", hx=path == "/count")
        run.read_case(
            f"records.record_list[another user's view {path}]", entity, "entity", False, r
        )
    search = run.get(f"/r/{entity}/?q=REF-{entity.upper()}-L", hx=True)
    if run.read_case("records.record_list[search]", entity, "entity", allowed, search) and allowed:
        ids = {int(i) for i, _ in PICK_RE.findall(search.data.decode())}
        run.membership("records.record_list[search]", entity, live, lambda r: readable(run, r), ids)


def probe_count(run: Run, entity: str) -> None:
    allowed = oracle.may_entity(run.actor, entity, "read")
    r = run.get(f"/r/{entity}/count", hx=True)
    if run.read_case("records.record_count", entity, "entity", allowed, r) and allowed:
        n = int(re.search(r"([\d,]+)", r.data.decode()).group(1).replace(",", ""))
        want = sum(1 for x in run.world.live(entity) if readable(run, x))
        run.case(
            "records.record_count[n]",
            entity,
            "entity",
            True,
            n == want,
            f"(counted {n}, expected {want})",
        )


def _export_refs(response, fmt: str) -> set[str]:
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    else:
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(response.data), read_only=True)
        rows = [
            [c if c is not None else "" for c in row]
            for row in book.active.iter_rows(values_only=True)
        ]
        book.close()
    header = rows[0]
    col = header.index(d.FIELD_LABELS["ref"])
    return {row[col] for row in rows[1:]}


def probe_export(run: Run, entity: str) -> None:
    a, w = run.actor, run.world
    allowed = oracle.may_entity(a, entity, "export")
    live = list(w.live(entity))
    for fmt in ("csv", "xlsx"):
        r = run.get(f"/r/{entity}/export.{fmt}")
        if run.read_case(f"records.record_export[{fmt}]", entity, "entity", allowed, r) and allowed:
            refs = _export_refs(r, fmt)
            ids = {x.id for x in live if x.ref in refs}
            run.membership(
                f"records.record_export[{fmt} rows]",
                entity,
                live,
                lambda x: oracle.may(a, "export", x.rec),
                ids,
            )


def probe_lookup(run: Run, entity: str) -> None:
    """Lookup autocomplete, ten at most: asked for ten references at a time."""
    allowed = oracle.may_entity(run.actor, entity, "read")
    live = sorted(run.world.live(entity), key=lambda r: r.index)
    for start in range(0, len(live), 10):
        prefix = d.ref_value(entity, start)[:-1]  # REF-ACCOUNT-L00 .. L03
        chunk = [r for r in live if r.ref.startswith(prefix)]
        r = run.get(f"/r/{entity}/lookup?q={prefix}&field=x", hx=True)
        if run.read_case("records.lookup", entity, f"refs {prefix}*", allowed, r) and allowed:
            ids = {int(i) for i in LOOKUP_RE.findall(r.data.decode())}
            run.membership(
                "records.lookup[options]", entity, chunk, lambda x: readable(run, x), ids
            )


def probe_bin(run: Run, entity: str) -> None:
    a, w = run.actor, run.world
    allowed = oracle.may_entity(a, entity, "delete")
    r = run.get(f"/r/{entity}/bin")
    if run.read_case("records.recycle_bin", entity, "entity", allowed, r) and allowed:
        ids = {int(i) for i in re.findall(rf"/r/{entity}/(\d+)/restore", r.data.decode())}
        run.membership(
            "records.recycle_bin[rows]",
            entity,
            list(w.binned(entity)),
            lambda x: oracle.may(a, "delete", x.rec),
            ids,
        )


def probe_bulk_input(run: Run, entity: str) -> None:
    allowed = oracle.may_entity(run.actor, entity, "read")
    r = run.get(f"/r/{entity}/bulk/input?field=memo", hx=True)
    run.read_case("records.bulk_input", entity, "entity", allowed, r)


def probe_save_view(run: Run, entity: str) -> None:
    allowed = oracle.may_entity(run.actor, entity, "read")
    before = run.counters()
    r = run.post(f"/r/{entity}/views", {"name": f"Mine {run.actor}", "sort": "ref"})
    written = run.counters() != before
    observed = (
        True
        if r.status_code in (302, 303) and written
        else False
        if r.status_code in DENIED and not written
        else None
    )
    run.case("records.save_view", entity, "entity", allowed, observed, f"(HTTP {r.status_code})")
    if written:
        run.world.reset()


def _new_rows(run: Run, entity: str) -> list[dict]:
    top = max(run.world.snapshot_ids(entity))
    db.session.rollback()
    return run.world.rows_after(entity, top)


def probe_new(run: Run, entity: str) -> None:
    """The create form (page and quick), creating, and creating with a lookup to a record in
    each position (allowed only when the user may read that record)."""
    a, w = run.actor, run.world
    allowed = oracle.may_entity(a, entity, "create")
    run.read_case("records.record_new[GET]", entity, "entity", allowed, run.get(f"/r/{entity}/new"))
    quick = run.get(f"/r/{entity}/new?quick=1", hx=True)
    run.read_case("records.record_new[GET quick]", entity, "entity", allowed, quick)
    for variant, hx, data in (
        ("POST", False, {"name": f"Made by {a}"}),
        ("POST quick", True, {"name": f"Quick by {a}", "quick": "1"}),
    ):
        r = run.post(f"/r/{entity}/new", data, hx=hx)
        made = _new_rows(run, entity)
        dirty = bool(made) or run.counters() != w.snapshot_counters
        ok = (200,) if hx else (302, 303)
        observed = (
            True
            if r.status_code in ok and len(made) == 1
            else False
            if r.status_code in DENIED and not dirty
            else None
        )
        run.case(
            f"records.record_new[{variant}]",
            entity,
            "entity",
            allowed,
            observed,
            f"(HTTP {r.status_code}, {len(made)} made)",
        )
        if dirty:
            w.reset()
    lookups = d.ENTITIES[entity]["lookups"]
    if not lookups:
        return
    key = sorted(lookups)[0]
    target = lookups[key]
    for position, _ in positions(run, target):
        t = w.record(target, d.POSITIONS[position](a))
        expected = allowed and oracle.can_set_field(a, entity, key) and oracle.may(a, "read", t.rec)
        r = run.post(f"/r/{entity}/new", {"name": f"Linked by {a}", key: str(t.id)})
        made = _new_rows(run, entity)
        dirty = bool(made) or run.counters() != w.snapshot_counters
        linked = len(made) == 1 and made[0][key] == t.id
        # refused: a 400 by the field (or 403) writing nothing, or -- when the user may not
        # set the field at all -- the record made without the link
        refused = (r.status_code in (400, *DENIED) and not dirty) or (
            r.status_code in (302, 303) and len(made) == 1 and made[0][key] is None
        )
        observed = True if r.status_code in (302, 303) and linked else False if refused else None
        run.case(
            f"records.record_new[lookup {key}]",
            entity,
            f"{target}: {position}",
            expected,
            observed,
            f"(HTTP {r.status_code})",
        )
        if dirty:
            w.reset()


def probe_validate(run: Run, entity: str) -> None:
    a = run.actor
    r = run.post(f"/r/{entity}/validate/memo", {"memo": "x"}, hx=True)
    run.read_case(
        "records.validate_field[create]",
        entity,
        "entity",
        oracle.may_entity(a, entity, "create"),
        r,
    )
    for position, rec in positions(run, entity):
        r = run.post(f"/r/{entity}/validate/memo?record={rec.id}", {"memo": "x"}, hx=True)
        run.read_case(
            "records.validate_field[record]", entity, position, oracle.may(a, "edit", rec.rec), r
        )
    run.finish_group(f"validate {entity}")


def probe_record_page(run: Run, entity: str) -> None:
    a = run.actor
    for position, rec in positions(run, entity):
        r = run.get(f"/r/{entity}/{rec.id}")
        if run.read_case(
            "records.record_page", entity, position, oracle.may(a, "read", rec.rec), r
        ):
            body = r.data.decode()
            has_edit = f'href="/r/{entity}/{rec.id}/edit"' in body
            has_delete = f'action="/r/{entity}/{rec.id}/delete"' in body
            run.case(
                "records.record_page[edit button]",
                entity,
                position,
                oracle.may(a, "edit", rec.rec),
                has_edit,
            )
            run.case(
                "records.record_page[delete button]",
                entity,
                position,
                oracle.may(a, "delete", rec.rec),
                has_delete,
            )


def related_sources(entity: str) -> list[tuple[str, str]]:
    return [
        (source, key)
        for source in d.ENTITY_ORDER
        for key, target in d.ENTITIES[source]["lookups"].items()
        if target == entity
    ]


def probe_related(run: Run, entity: str) -> None:
    a, w = run.actor, run.world
    for source, key in related_sources(entity):
        for position, rec in positions(run, entity):
            expected = (
                oracle.may(a, "read", rec.rec)
                and oracle.may_entity(a, source, "read")
                and oracle.can_see_field(a, source, key)
            )
            r = run.get(f"/r/{entity}/{rec.id}/related/{source}/{key}", hx=True)
            route = "records.related_list"
            if run.read_case(route, entity, f"{position} ({source}.{key})", expected, r):
                ids = {int(i) for i in re.findall(rf'href="/r/{source}/(\d+)"', r.data.decode())}
                run.membership(
                    f"{route}[rows]",
                    source,
                    w.children(rec, source, key),
                    lambda x: readable(run, x),
                    ids,
                )


def probe_inline(run: Run, entity: str) -> None:
    a, w = run.actor, run.world
    for position, rec in positions(run, entity):
        may_read, may_edit = oracle.may(a, "read", rec.rec), oracle.may(a, "edit", rec.rec)
        base = f"/r/{entity}/{rec.id}/field/memo"
        run.read_case("records.field_value", entity, position, may_read, run.get(base, hx=True))
        run.read_case(
            "records.field_edit", entity, position, may_edit, run.get(f"{base}/edit", hx=True)
        )
        version = w.snapshot_value(entity, rec.id, "version")
        value = f"inline {a} {rec.id}"
        r = run.post(base, {"memo": value, "version": str(version)}, hx=True)
        run.write_case(
            "records.field_save",
            rec,
            position,
            may_edit,
            r,
            lambda row, v=value: row is not None and row["memo"] == v,
        )


def probe_edit(run: Run, entity: str) -> None:
    a, w = run.actor, run.world
    for position, rec in positions(run, entity):
        may_edit = oracle.may(a, "edit", rec.rec)
        url = f"/r/{entity}/{rec.id}/edit"
        run.read_case("records.record_edit[GET]", entity, position, may_edit, run.get(url))
        version = w.snapshot_value(entity, rec.id, "version")
        value = f"edited {a} {rec.id}"
        r = run.post(url, {"memo": value, "version": str(version)})
        run.write_case(
            "records.record_edit[POST]",
            rec,
            position,
            may_edit,
            r,
            lambda row, v=value, n=version + 1: (
                row is not None and row["memo"] == v and row["version"] == n
            ),
        )


def probe_note(run: Run, entity: str) -> None:
    a = run.actor
    for position, rec in positions(run, entity):
        before = run.counters()[1]
        r = run.post(f"/r/{entity}/{rec.id}/notes", {"body": f"note by {a}"}, hx=True)
        run.write_case(
            "records.note_add",
            rec,
            position,
            oracle.may(a, "read", rec.rec),
            r,
            lambda row, b=before: run.counters()[1] > b,
            ok_status=(200,),
        )


def probe_delete(run: Run, entity: str) -> None:
    a = run.actor
    for position, rec in positions(run, entity):
        r = run.post(f"/r/{entity}/{rec.id}/delete")
        run.write_case(
            "records.record_delete",
            rec,
            position,
            oracle.may(a, "delete", rec.rec),
            r,
            lambda row: row is not None and row["deleted_at"] is not None,
        )


def probe_restore_purge(run: Run, entity: str) -> None:
    a, w = run.actor, run.world
    for position, _ in positions(run, entity):
        rec = w.record(entity, d.POSITIONS[position](a), live=False)
        may_delete = oracle.may(a, "delete", rec.rec)
        r = run.post(f"/r/{entity}/{rec.id}/restore")
        run.write_case(
            "records.record_restore",
            rec,
            f"{position} (binned)",
            may_delete,
            r,
            lambda row: row is not None and row["deleted_at"] is None,
        )
        r = run.post(f"/r/{entity}/{rec.id}/purge")
        run.write_case(
            "records.record_purge",
            rec,
            f"{position} (binned)",
            may_delete and oracle.may_configure(a),
            r,
            lambda row: row is None,
        )


def probe_bulk(run: Run, entity: str) -> None:
    """Bulk edit, assign and delete of every live record at once (each judged alone)."""
    a, w = run.actor, run.world
    live = list(w.live(entity))
    picks = [f"{r.id}:{w.snapshot_value(entity, r.id, 'version')}" for r in live]
    spare = w.user_id("spare")
    actions = (
        (
            "records.bulk_edit",
            "bulk_edit",
            "/bulk/edit",
            {"field": "memo", "value": f"bulk {a}"},
            lambda row: row["memo"] == f"bulk {a}",
        ),
        (
            "records.bulk_assign",
            "assign",
            "/bulk/assign",
            {"owner_id": str(spare)},
            lambda row: row["owner_id"] == spare,
        ),
        (
            "records.bulk_delete",
            "delete",
            "/bulk/delete",
            {},
            lambda row: row["deleted_at"] is not None,
        ),
    )
    for route, action, path, data, effect in actions:
        allowed_entity = oracle.may_entity(a, entity, action)
        r = run.post(f"/r/{entity}{path}", {"pick": picks, **data}, hx=True)
        status = r.status_code
        run.case(
            f"{route}[entity]",
            entity,
            "entity",
            allowed_entity,
            True if status == 200 else False if status in DENIED else None,
            f"(HTTP {status})",
        )
        changed_anything = False
        for rec in live:
            before = w.snapshot_row(entity, rec.id)
            after_raw = w.row(entity, rec.id)
            after = w.as_dict(entity, after_raw)
            untouched = after_raw == before
            changed_anything |= not untouched
            observed = (
                True if (after is not None and effect(after)) else False if untouched else None
            )
            detail = "" if observed is not None else "(refused, but the row changed)"
            run.case(
                route,
                entity,
                position_label(a, rec),
                oracle.may(a, action, rec.rec),
                observed,
                detail,
            )
        if changed_anything or run.counters() != w.snapshot_counters:
            w.reset()
        run.finish_group(f"{route} {entity}")


def probe_sharing(run: Run, entity: str) -> None:
    """The sharing panel, sharing, stopping a share, and ownership transfer."""
    a, w = run.actor, run.world
    for position, rec in positions(run, entity):
        may_read, may_edit = oracle.may(a, "read", rec.rec), oracle.may(a, "edit", rec.rec)
        may_assign = oracle.may(a, "assign", rec.rec)
        base = f"/r/{entity}/{rec.id}"
        r = run.get(f"{base}/sharing", hx=True)
        if run.read_case("records.sharing_panel", entity, position, may_read, r):
            body = r.data.decode()
            run.case(
                "records.sharing_panel[share form]",
                entity,
                position,
                may_edit,
                'class="share-form"' in body,
            )
            run.case(
                "records.sharing_panel[owner form]",
                entity,
                position,
                may_assign,
                'class="owner-form"' in body,
            )
        target = w.user_id("boss")
        r = run.post(f"{base}/sharing", {"target": f"user:{target}", "access": "edit"}, hx=True)
        run.write_case(
            "records.share_add",
            rec,
            position,
            may_edit,
            r,
            lambda row, t=target, i=rec.id: w.has_share(entity, i, t),
        )
        share_id = w.spare_share(entity, rec.id)
        r = run.post(f"{base}/sharing/{share_id}/remove", hx=True)
        run.write_case(
            "records.share_remove",
            rec,
            position,
            may_edit,
            r,
            lambda row, i=rec.id: not w.has_share(entity, i, w.user_id("spare")),
        )
        spare = w.user_id("spare")
        version = w.snapshot_value(entity, rec.id, "version")
        r = run.post(f"{base}/owner", {"owner_id": str(spare), "version": str(version)}, hx=True)
        run.write_case(
            "records.owner_transfer",
            rec,
            position,
            may_assign,
            r,
            lambda row, s=spare: row is not None and row["owner_id"] == s,
        )


def probe_binned(run: Run, entity: str) -> None:
    """A record in the recycle bin is out of reach of every route but restore and purge --
    even for the user who could change it before it was deleted, even for administrators."""
    a, w = run.actor, run.world
    rec = w.record(entity, ("own", a), live=False)
    base = f"/r/{entity}/{rec.id}"
    version = str(w.snapshot_value(entity, rec.id, "version"))
    pos = "own (binned)"
    run.read_case("records.record_page", entity, pos, False, run.get(base))
    run.read_case("records.record_edit[GET]", entity, pos, False, run.get(f"{base}/edit"))
    run.read_case("records.sharing_panel", entity, pos, False, run.get(f"{base}/sharing", hx=True))
    unchanged = lambda row: False  # noqa: E731 - nothing may change
    writes = (
        ("records.record_edit[POST]", f"{base}/edit", {"memo": "x", "version": version}, False),
        ("records.field_save", f"{base}/field/memo", {"memo": "x", "version": version}, True),
        ("records.note_add", f"{base}/notes", {"body": "x"}, True),
        ("records.record_delete", f"{base}/delete", {}, False),
        (
            "records.share_add",
            f"{base}/sharing",
            {"target": f"user:{w.user_id('boss')}", "access": "edit"},
            True,
        ),
        (
            "records.owner_transfer",
            f"{base}/owner",
            {"owner_id": str(w.user_id("spare")), "version": version},
            True,
        ),
    )
    for route, url, data, hx in writes:
        run.write_case(route, rec, pos, False, run.post(url, data, hx=hx), unchanged)
    # a share of a record out of reach, removed through the URL of one's own record
    mine = w.record(entity, ("own", a))
    theirs = w.record(entity, ("user", "support"))
    r = run.post(
        f"/r/{entity}/{mine.id}/sharing/{w.spare_share(entity, theirs.id)}/remove", hx=True
    )
    run.write_case(
        "records.share_remove", theirs, "other_dept via my record's URL", False, r, unchanged
    )


def probe_access_panel(run: Run, entity: str) -> None:
    """The administrators' "who can see this and why": allowed to access managers on records
    they read; what it says must agree with the oracle for every actor."""
    a = run.actor
    for position, rec in positions(run, entity):
        expected = oracle.may_manage_access(a) and oracle.may(a, "read", rec.rec)
        r = run.get(f"/r/{entity}/{rec.id}/access", hx=True)
        if run.read_case("records.access_panel", entity, position, expected, r):
            body = r.data.decode()
            readers = set(re.findall(r'<li class="reader">\s*<strong>Actor (\w+)</strong>', body))
            editors_line = re.search(r"<strong>Can edit:</strong>(.*?)</p>", body, re.S)
            editors = set(re.findall(r"Actor (\w+)", editors_line.group(1) if editors_line else ""))
            for other in d.ACTORS:
                run.case(
                    "records.access_panel[says reads]",
                    entity,
                    f"{position} / {other}",
                    oracle.may(other, "read", rec.rec),
                    other in readers,
                )
                run.case(
                    "records.access_panel[says edits]",
                    entity,
                    f"{position} / {other}",
                    oracle.may(other, "edit", rec.rec),
                    other in editors,
                )


def probe_filters(run: Run, entity: str) -> None:
    """The "Add filter" builder (page and fragment), its inputs, applying a filter, and the
    names of the records a lookup filter picked (only those the user may read)."""
    a, w = run.actor, run.world
    allowed = oracle.may_entity(a, entity, "read")
    base = f"/r/{entity}"
    run.read_case(
        "records.filter_builder[page]", entity, "entity", allowed, run.get(f"{base}/filters/new")
    )
    run.read_case(
        "records.filter_builder[fragment]",
        entity,
        "entity",
        allowed,
        run.get(f"{base}/filters/new", hx=True),
    )
    run.read_case(
        "records.filter_input",
        entity,
        "entity",
        allowed,
        run.get(f"{base}/filter-input?field=ref&op=contains", hx=True),
    )
    r = run.get(f"{base}/filters/apply?field=ref&op=contains&value=REF&q=x")
    status = r.status_code
    run.case(
        "records.filter_apply",
        entity,
        "entity",
        allowed,
        True if status == 303 else False if status in DENIED else None,
        f"(HTTP {status})",
    )
    for key, target in d.ENTITIES[entity]["lookups"].items():
        if not (allowed and oracle.can_see_field(a, entity, key)):
            continue
        parents = list(w.live(target))
        values = "&".join(f"value={p.id}" for p in parents)
        # the list filtered by every parent: its chip names only those the user may read
        r = run.get(f"{base}/?{values.replace('value=', f'f.{key}.in=')}")
        if run.read_case("records.record_list[lookup filter]", entity, key, True, r):
            body = r.data.decode()
            ids = {int(i) for i, _ in PICK_RE.findall(body)}
            run.membership(
                f"records.record_list[filtered by {key}]",
                entity,
                list(w.live(entity)),
                lambda x: readable(run, x),
                ids,
            )
            run.membership(
                f"records.record_list[chip names of {key}]",
                target,
                parents,
                lambda x, t=target: (
                    oracle.may(a, "read", x.rec) and oracle.can_see_field(a, t, "name")
                ),
                {p.id for p in parents if p.name in body},
            )
        r = run.get(f"{base}/filters/new?field={key}&op=in&{values}", hx=True)
        if run.read_case("records.filter_builder[lookup picks]", entity, key, True, r):
            body = r.data.decode()
            named = {p.id for p in parents if p.name in body}
            run.membership(
                f"records.filter_builder[names of {key}]",
                target,
                parents,
                lambda x, t=target: (
                    oracle.may(a, "read", x.rec) and oracle.can_see_field(a, t, "name")
                ),
                named,
            )


def probe_home(run: Run) -> None:
    r = run.get("/")
    run.read_case("web.home", "-", "-", True, r)
    nav = re.search(r'<nav class="nav".*?</nav>', r.data.decode(), re.S)
    links = nav.group(0) if nav else ""
    for entity in d.ENTITY_ORDER:
        run.case(
            "web.home[nav link]",
            entity,
            "entity",
            oracle.may_entity(run.actor, entity, "read"),
            f'href="/r/{entity}/"' in links,
        )


# --- the administration areas: one right each, checked before anything else --------------


def admin_sample(world: World, name: str, allowed: bool):
    """A value for a URL argument of an administration route. Allowed users get ids that
    exist for pages (GET) and ids that do not for writes, so nothing is changed."""
    real = {
        "key": "account",
        "entity_key": "account",
        "field_key": "memo",
        "view_id": world.views["account"],
        "department_id": world.dept_id("B"),
        "role_id": world.role_ids["clerk"],
        "user_id": world.user_id("spare"),
    }
    return real[name]


MISSING = {
    "key": "nosuchentity",
    "entity_key": "nosuchentity",
    "field_key": "nosuchfield",
    "view_id": 999999,
    "department_id": 999999,
    "role_id": 999999,
    "user_id": 999999,
}


def probe_gate(run: Run, endpoint: str, rule, right: str) -> None:
    """An administration route: 403 without the right (and nothing changed), never 403 with
    it. With the right, writes go to things that do not exist (404) or carry empty forms."""
    a, w = run.actor, run.world
    gate = oracle.may_configure(a) if right == "configure" else oracle.may_manage_access(a)
    for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
        write = method == "POST"
        allowed = oracle.is_admin(a) if (write and endpoint in FULL_ADMIN_ONLY) else gate
        values = {
            n: (MISSING[n] if (write and allowed) else admin_sample(w, n, allowed))
            for n in rule.arguments
        }
        url = build(rule, values)
        before = w.admin_state()
        r = run.post(url, {}) if write else run.get(url)
        status = r.status_code
        changed = w.admin_state() != before
        if allowed:
            observed = None if (status >= 500 or (write and changed)) else status != 403
        else:
            observed = False if (status == 403 and not changed) else None if changed else True
        run.case(
            f"{endpoint}[{method}]",
            "-",
            right,
            allowed,
            observed,
            f"(HTTP {status}{', changed stored data' if changed else ''})",
        )
        if changed:  # nothing to undo it with: stop here, the report names the route
            raise AssertionError(f"{a}: {method} {url} changed users, roles or metadata")


def build(rule, values: dict) -> str:
    url = rule.rule
    for name in rule.arguments:
        url = re.sub(rf"<(?:[a-z]+(?:\([^)]*\))?:)?{name}>", str(values[name]), url)
    return url


# --- the route table ------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    methods: frozenset[str]
    probes: tuple[Callable, ...] = ()  # probe(run, entity) for runtime routes
    right: str | None = None  # "configure" / "manage_access" for administration routes
    note: str = ""


def _r(methods: str, *probes: Callable, note: str = "") -> Route:
    return Route(frozenset(methods.split()), probes, note=note)


# Routes that need more than their blueprint's right: only full administrators change the
# department tree (access managers see it), crm/access/departments.py.
FULL_ADMIN_ONLY = {
    "access.department_new",
    "access.department_save",
    "access.department_move",
    "access.department_delete",
}

RECORD_ROUTES: dict[str, Route] = {
    "records.record_list": _r("GET", probe_list, note="page, results, rows, more, search"),
    "records.record_count": _r("GET", probe_count),
    "records.record_export": _r("GET", probe_export, note="csv and xlsx"),
    "records.lookup": _r("GET", probe_lookup),
    "records.recycle_bin": _r("GET", probe_bin),
    "records.bulk_input": _r("GET", probe_bulk_input),
    "records.save_view": _r("POST", probe_save_view),
    "records.record_new": _r("GET POST", probe_new, note="page, quick, lookups per position"),
    "records.validate_field": _r("POST", probe_validate),
    "records.record_page": _r("GET", probe_record_page, probe_binned),
    "records.related_list": _r("GET", probe_related),
    "records.field_value": _r("GET", probe_inline),
    "records.field_edit": _r("GET", probe_inline),
    "records.field_save": _r("POST", probe_inline),
    "records.record_edit": _r("GET POST", probe_edit),
    "records.note_add": _r("POST", probe_note),
    "records.record_delete": _r("POST", probe_delete),
    "records.record_restore": _r("POST", probe_restore_purge),
    "records.record_purge": _r("POST", probe_restore_purge),
    "records.bulk_edit": _r("POST", probe_bulk),
    "records.bulk_assign": _r("POST", probe_bulk),
    "records.bulk_delete": _r("POST", probe_bulk),
    "records.sharing_panel": _r("GET", probe_sharing),
    "records.share_add": _r("POST", probe_sharing),
    "records.share_remove": _r("POST", probe_sharing),
    "records.owner_transfer": _r("POST", probe_sharing),
    "records.access_panel": _r("GET", probe_access_panel),
    "records.filter_builder": _r("GET", probe_filters),
    "records.filter_input": _r("GET", probe_filters),
    "records.filter_apply": _r("GET", probe_filters),
}
OTHER_ROUTES: dict[str, Route] = {"web.home": _r("GET", note="nav shows readable entities")}
# Routes that need no data right: signing in and out, first-run setup, one's own password,
# accepting an invitation, the health check, static files.
PUBLIC = {
    "static": "static files",
    "auth.login": "signing in (public)",
    "auth.logout": "signing out (any signed-in user)",
    "auth.setup": "first-run setup, refused once an administrator exists",
    "auth.change_password": "one's own password (any signed-in user)",
    "web.healthz": "health check (public)",
    "invite.accept": "accepting an invitation with a one-time token (public)",
}
ADMIN_BLUEPRINTS = {"designer": "configure", "access": "manage_access"}


def route_table(app) -> dict[str, Route]:
    """Every route the matrix covers: the runtime routes above, and each administration
    route of ``app`` under the right its blueprint demands."""
    table = {**RECORD_ROUTES, **OTHER_ROUTES}
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.split(".")[0]
        if blueprint in ADMIN_BLUEPRINTS:
            table[rule.endpoint] = Route(
                frozenset(rule.methods - {"HEAD", "OPTIONS"}), right=ADMIN_BLUEPRINTS[blueprint]
            )
    return table
