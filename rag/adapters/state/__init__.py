"""Verity's own state (feedback) in SQLite under VERITY_DATA_DIR."""
