"""Reporting a run: report.json, the self-contained report.html, the gate against a baseline."""
