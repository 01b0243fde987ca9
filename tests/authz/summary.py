"""The matrix's tally, printed at the end of the run (``conftest.pytest_terminal_summary``)."""

from __future__ import annotations

RUNS: list = []
