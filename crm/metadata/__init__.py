"""Metadata: entities and fields stored as rows, compiled into frozen specs."""
