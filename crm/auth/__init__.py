"""Signing in: log-in and log-out, sessions, passwords, lock-out, the first administrator."""
