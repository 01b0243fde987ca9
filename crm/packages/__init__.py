"""Configuration packages (issue 15): export, load and validate, plan, apply; starters.
The format is ``docs/packages.md``; its contract ``schemas/package.schema.json``."""
