"""Scoring observations: the metrics, offline and LLM-judged faithfulness, the trade-off curve.

Each metric is a small class whose scoring is a pure function (metrics.py).
"""
