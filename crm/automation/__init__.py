"""Automation rules: triggers, conditions and actions stored as metadata, evaluated in the
background job queue (events through the outbox, time-based rules by a periodic job)."""
