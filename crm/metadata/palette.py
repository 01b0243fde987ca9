"""The colour palette for entities and picklist values.

Colours are names, not hex codes: our CSS styles each (``.c-<name>``), which keeps the
Content-Security-Policy free of inline styles and every colour legible on light backgrounds.
"""

PALETTE: tuple[str, ...] = (
    "gray",
    "slate",
    "red",
    "orange",
    "amber",
    "yellow",
    "lime",
    "green",
    "teal",
    "cyan",
    "blue",
    "indigo",
    "violet",
    "pink",
    "brown",
)
