"""Offline answer-quality evaluation: golden sets, runner, metrics."""
