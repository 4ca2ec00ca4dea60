"""Scoring: output parsing, task metrics, error categories, statistics and the code sandbox."""
