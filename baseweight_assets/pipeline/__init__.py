"""The graph described without Dagster: the stage registry (and, beside it, the records and layout)."""
