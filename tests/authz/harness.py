"""The matrix's harness: one actor's run (``Run``) sends real requests, records a ``Case``
per (route, entity, position) -- what the oracle expects (allow / deny) and what happened --
and scans every response for data the actor must not see.

"What happened" is read from the response status *and* the stored data: an allowed write
must have written, a refused one must leave the record's raw row (every column, version and
updated_at included) and the shares, notes, history and list views exactly as they were.
The scanner fails on the name, reference, secret or amount of a record the actor cannot
read, and on the value of a field hidden from them, wherever it appears.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tests.authz import declare as d
from tests.authz import oracle
from tests.authz.world import Record, World

PICK_RE = re.compile(r'name="pick" value="(\d+):(\d+)"')
MORE_RE = re.compile(r'hx-get="([^"]+)" hx-target="#more-row"')
LOOKUP_RE = re.compile(r'data-id="(\d+)"')
NAME_RE = re.compile(r"Nm\.([a-z]+)\.([A-Za-z0-9]+)-([A-Za-z0-9]+)\.(live|binned)\.")
REF_RE = re.compile(r"REF-([A-Z]+)-([LB])(\d{3})")
SECRET_RE = re.compile(r"S3CRET([A-Z]+?)([LB])(\d{3})[xy]")
# Not inside a longer run of letters and digits: a hex token on the page (a CSRF token, a
# value's fingerprint) may hold "9137579" by chance, which is no amount.
AMOUNT_RE = re.compile(r"(?<![0-9A-Za-z])9,?137,?(\d)(\d{2})(?![0-9A-Za-z])")

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
