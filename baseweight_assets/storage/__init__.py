"""Atomic file writes and JSON artifacts (pure; the Dagster IO manager delegates here)."""
