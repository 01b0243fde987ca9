"""Configuration packages (issue 15): export, load, plan (diff and three-way merge), apply."""
