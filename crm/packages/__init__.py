"""Configuration packages (issue 15): export, load, plan and apply; see docs/packages.md."""
