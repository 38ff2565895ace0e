"""Verity's own state: feedback (SQLite) and the event log (SQLite, or VERITY_DATABASE_URL)."""
