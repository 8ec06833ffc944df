"""Notifications to citizens from the event log, exactly once (docs/server.md)."""
