"""The authorization world as DATA: departments, people, roles, entities and record slots.

Everything the matrix expects is computed from these tables by ``oracle.py``; nothing here
asks ``crm.access.policy``. Levels are plain integers in the documented order
(none < own < department < department-and-below < all).
"""

from __future__ import annotations

NONE, OWN, DEPT, SUBTREE, ALL = 0, 1, 2, 3, 4
LEVEL_NAMES = {NONE: "none", OWN: "own", DEPT: "dept", SUBTREE: "subtree", ALL: "all"}
HIDDEN, READ, EDIT = "hidden", "read", "edit"
ACTIONS = ("create", "read", "edit", "delete", "export", "import", "bulk_edit", "assign")

# name -> parent (a tree: root -> A -> A1 -> A1x; root -> B)
DEPARTMENTS = {"root": None, "A": "root", "A1": "A", "A1x": "A1", "B": "root"}


def _all(level: int, **overrides: int) -> dict[str, int]:
    return {a: level for a in ACTIONS} | overrides


# Role name -> grants per entity ("*" = every entity without its own row for that action),
# field rights per (entity, field), administration rights.
ROLES: dict[str, dict] = {
    "rep": {
        "grants": {
            "*": _all(NONE, create=ALL, read=OWN, edit=OWN, delete=OWN, export=OWN),
            "account": {"read": ALL, "export": NONE},
            "ticket": {"read": NONE},
        },
        "fields": {
            ("account", "secret"): HIDDEN,
            ("deal", "locked"): READ,
            ("contact", "amount"): READ,
        },
    },
    "dept_lead": {
        "configure": True,
        "grants": {
            "*": _all(DEPT, create=ALL) | {"import": NONE},
            "ticket": {"delete": NONE, "edit": OWN},
            "deal": {"assign": OWN, "create": OWN},
        },
        "fields": {("contact", "secret"): HIDDEN, ("ticket", "locked"): READ},
    },
    "manager": {
        "manage_access": True,
        "grants": {
            "*": _all(SUBTREE, create=ALL),
            "account": {"read": ALL, "export": ALL},
            "ticket": {"read": ALL, "edit": DEPT, "bulk_edit": ALL},
            "contact": {"delete": ALL, "assign": ALL},
        },
        "fields": {
            ("deal", "secret"): HIDDEN,
            ("deal", "amount"): HIDDEN,
            ("account", "locked"): READ,
            ("ticket", "account"): HIDDEN,
        },
    },
    "auditor": {
        "grants": {
            "*": _all(NONE, read=ALL, export=ALL),
            "deal": {"export": SUBTREE},
            "ticket": {"export": OWN},
            "contact": {"export": DEPT},
        },
        "fields": {("ticket", "secret"): HIDDEN, ("account", "secret"): READ},
    },
    "clerk": {
        "grants": {
            "*": _all(NONE, read=OWN),
            "contact": {"read": DEPT, "create": ALL, "edit": OWN, "bulk_edit": OWN},
            "ticket": {
                "read": SUBTREE,
                "edit": OWN,
                "bulk_edit": ALL,
                "assign": DEPT,
                "delete": OWN,
                "export": OWN,
                "create": ALL,
            },
            "deal": {"read": NONE, "edit": ALL},
            "account": {"edit": ALL, "delete": ALL},
        },
        "fields": {
            ("ticket", "name"): HIDDEN,
            ("ticket", "secret"): HIDDEN,
            ("contact", "locked"): READ,
            ("contact", "secret"): HIDDEN,
            ("account", "amount"): HIDDEN,
        },
    },
}
# The people who act in the matrix, all in department A. "admin" is a full administrator;
# "combo" holds two roles (the widest grant of each wins; field rights only count from
# roles that may read the entity).
ACTORS = {
    "rep": ("rep",),
    "lead": ("dept_lead",),
    "manager": ("manager",),
    "auditor": ("auditor",),
    "clerk": ("clerk",),
    "combo": ("rep", "clerk"),
    "admin": (),
}
ADMINS = {"admin"}
ACTOR_DEPARTMENT = "A"

# Other owners: (department). "spare" owns nothing: bulk assign gives records to them.
OWNERS = {
    "colleague": "A",
    "north": "A1",
    "keyacct": "A1x",
    "support": "B",
    "boss": "root",
    "spare": "B",
}


def department_of(user: str) -> str:
    return ACTOR_DEPARTMENT if user in ACTORS else OWNERS[user]


# Entities: fields in order (key, type, extra). Every entity has the naming field "name",
# a visible searchable "ref" (to find records in every channel), a "secret" text and an
# "amount" integer (hidden for some roles), a "locked" text (read-only for some) and a
# "memo" everyone who may edit may change.
ENTITIES: dict[str, dict] = {
    "account": {"lookups": {}},
    "contact": {"lookups": {"account": "account"}},
    "deal": {"lookups": {"account": "account", "contact": "contact"}},
    "ticket": {"lookups": {"contact": "contact", "account": "account"}},
}
ENTITY_ORDER = ("account", "contact", "deal", "ticket")
LABELS = {
    "account": ("Account", "Accounts"),
    "contact": ("Contact", "Contacts"),
    "deal": ("Deal", "Deals"),
    "ticket": ("Ticket", "Tickets"),
}
# Which parent slot a lookup points at: the record's own slot, or the next slot in SLOTS.
LOOKUP_SHIFT = {("deal", "contact"): 1, ("ticket", "account"): 1}


def fields_of(entity: str) -> list[str]:
    return ["name", "ref", *ENTITIES[entity]["lookups"], "secret", "amount", "locked", "memo"]


# Field labels are distinctive so a hidden field's label can be looked for too.
FIELD_LABELS = {
    "name": "Name",
    "ref": "Reference",
    "secret": "Secret code",
    "amount": "Amount due",
    "locked": "Locked note",
    "memo": "Memo",
}
LOOKUP_LABELS = {
    ("contact", "account"): "Company",
    ("deal", "account"): "Deal account",
    ("deal", "contact"): "Deal contact",
    ("ticket", "contact"): "Requester",
    ("ticket", "account"): "Billing account",
}


def field_label(entity: str, key: str) -> str:
    return LOOKUP_LABELS.get((entity, key)) or FIELD_LABELS[key]


# Record slots: (kind, who). Owner and shares follow from the kind:
#   own/<actor>      owned by the actor
#   user/<owner>     owned by one of OWNERS
#   sr/<actor>       owned by support (B), shared to read with the actor
#   se/<actor>       owned by support (B), shared to edit with the actor
#   dr/A             owned by support, shared to read with department A
#   de/root          owned by support, shared to edit with department root (above A)
#   db/A1            owned by support, shared to edit with A1 (below A: reaches no actor)
SLOTS: list[tuple[str, str]] = (
    [("own", a) for a in ACTORS]
    + [("user", o) for o in OWNERS if o != "spare"]
    + [("sr", a) for a in ACTORS]
    + [("se", a) for a in ACTORS]
    + [("dr", "A"), ("de", "root"), ("db", "A1")]
)


def slot_owner(slot: tuple[str, str]) -> str:
    kind, who = slot
    if kind in ("own", "user"):
        return who
    return "support"


def slot_shares(slot: tuple[str, str]) -> list[tuple[str, str, str]]:
    """(target kind "user"/"department", target name, access) of the slot's shares."""
    kind, who = slot
    return {
        "sr": [("user", who, "read")],
        "se": [("user", who, "edit")],
        "dr": [("department", who, "read")],
        "de": [("department", who, "edit")],
        "db": [("department", who, "edit")],
    }.get(kind, [])


def slot_tag(slot: tuple[str, str]) -> str:
    return f"{slot[0]}-{slot[1]}"


# The positions of a record relative to the acting user (who is in department A).
POSITIONS = {
    "own": lambda actor: ("own", actor),
    "same_dept": lambda actor: ("user", "colleague"),
    "below": lambda actor: ("user", "north"),
    "below_deep": lambda actor: ("user", "keyacct"),
    "other_dept": lambda actor: ("user", "support"),
    "above": lambda actor: ("user", "boss"),
    "shared_read": lambda actor: ("sr", actor),
    "shared_edit": lambda actor: ("se", actor),
    "dept_shared_read": lambda actor: ("dr", "A"),
    "parent_dept_shared_edit": lambda actor: ("de", "root"),
    "child_dept_shared_edit": lambda actor: ("db", "A1"),
}

# The positions every single-record route is tried in: own, same department, a department
# below (two levels down), another department, shared with me to read, shared with me to
# edit. The list-like routes -- list pages and fragments, search, count, lookups, exports,
# the recycle bin, the bulk actions, related lists and lookup filter names -- judge every
# record of the world at once: every position above plus the direct child department, the
# parent department, department shares (read with my department, edit with the one above
# it, edit with the one below it) and everyone else's own records.
RECORD_POSITIONS = (
    "own",
    "same_dept",
    "below_deep",
    "other_dept",
    "shared_read",
    "shared_edit",
)


# Values: unique, greppable markers per record.
def name_value(entity: str, slot: tuple[str, str], live: bool = True) -> str:
    return f"Nm.{entity}.{slot_tag(slot)}.{'live' if live else 'binned'}."


def ref_value(entity: str, index: int, live: bool = True) -> str:
    return f"REF-{entity.upper()}-{'L' if live else 'B'}{index:03d}"


def secret_value(entity: str, index: int, live: bool = True) -> str:
    return f"S3CRET{entity.upper()}{'L' if live else 'B'}{index:03d}x"


def amount_value(entity: str, index: int, live: bool = True) -> int:
    # 9,137,EII: E = entity, II = index; formatted "9,137,xyz": greppable either way
    return 9_137_000 + ENTITY_ORDER.index(entity) * 200 + index + (0 if live else 100)


def amount_pattern(entity: str) -> str:
    """A regex matching any amount of ``entity``, raw or formatted."""
    first = ENTITY_ORDER.index(entity) * 2
    return rf"9,?137,?[{first}{first + 1}][0-9]{{2}}"
