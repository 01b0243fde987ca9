"""The one schema pipeline: validate -> plan -> apply -> bump (ARCHITECTURE.md §3)."""
